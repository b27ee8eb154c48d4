package sdata_test

import (
	"bytes"
	"context"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"sdatasync/feeds"
	"sdatasync/sdata/jobs"
	"sdatasync/sdata/store"
)

// TestResultsFromMemoryMatchStore: the result feed of a job read right
// after it ran (from memory) and once evicted (from the store) say the same.
func TestResultsFromMemoryMatchStore(t *testing.T) {
	a, b := newProvider(t, 5), newProvider(t, 5)
	for i := 0; i < 5; i++ {
		a.create("tradingAccounts", ta("Acc "+itoa(i), "R"+itoa(i)))
	}
	q := "?runName=cache&runStamp=2026-11-22T10:00:00Z&trackingID="
	page := firstPage(t, a, b, "tradingAccounts", 100)
	first := uuid.NewString()
	st, h, body := do(t, http.MethodPost, b.kind("tradingAccounts")+"/$syncTarget"+q+first, page)
	mustStatus(t, http.StatusAccepted, st, body)
	loc := h.Get("Location")
	st, fromMemory := poll(t, loc+"?count=3&startIndex=2")
	mustStatus(t, http.StatusOK, st, fromMemory)
	inMemory := func() bool {
		j, err := b.Store.Job(context.Background(), b.endpoint("tradingAccounts").ID, store.JobTarget, first)
		if err != nil {
			t.Fatal(err)
		}
		res, encoded, ok := b.Server.Jobs().Results(j, 0, j.Total)
		if ok && (len(encoded) != len(res) || encoded[0] == nil) {
			t.Fatal("the first job's result entries were not encoded while it ran")
		}
		return ok
	}
	// The job is done in the store (its transaction) a moment before its
	// goroutine hands the results to memory: a poll in between is served
	// from the store. Wait for the hand-over, without timing anything.
	kept := inMemory()
	for deadline := time.Now().Add(10 * time.Second); !kept && time.Now().Before(deadline); kept = inMemory() {
		time.Sleep(5 * time.Millisecond)
	}
	if !kept {
		t.Fatal("the first target job's results are not kept in memory")
	}
	// Later jobs push this one out of memory.
	for i := 0; i < jobs.MaxRecentResults; i++ {
		st, h, body = do(t, http.MethodPost, b.kind("tradingAccounts")+"/$syncTarget"+q+uuid.NewString(), page)
		mustStatus(t, http.StatusAccepted, st, body)
		st, body = poll(t, h.Get("Location"))
		mustStatus(t, http.StatusOK, st, body)
	}
	st, fromStore := poll(t, loc+"?count=3&startIndex=2")
	mustStatus(t, http.StatusOK, st, fromStore)
	m, s := parseFeedBytes(t, fromMemory), parseFeedBytes(t, fromStore)
	if len(m.Entries) != 3 {
		t.Fatalf("%d results, want 3", len(m.Entries))
	}
	if inMemory() {
		t.Fatal("the first job is still in memory: the second read did not come from the store")
	}
	m.Updated, s.Updated = time.Time{}, time.Time{}
	for i := range m.Entries {
		m.Entries[i].Updated, s.Entries[i].Updated = time.Time{}, time.Time{}
	}
	for i, e := range s.Entries {
		if e.Payload == nil {
			t.Fatalf("result %d from the store has no payload", i+1)
		}
	}
	// A resource changed since: its result keeps the ETag of the version
	// applied, without a payload (it is no longer stored).
	changed := feeds.PayloadKey(s.Entries[0].Payload)
	b.update("tradingAccounts", changed, `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><name>Changed</name></tradingAccount>`)
	st, later := poll(t, loc+"?count=3&startIndex=2")
	mustStatus(t, http.StatusOK, st, later)
	lf := parseFeedBytes(t, later)
	if lf.Entries[0].Payload != nil || lf.Entries[0].ETag != s.Entries[0].ETag || lf.Entries[1].Payload == nil {
		t.Fatalf("after a later change: payload %v, etag %q (want none, %q)", lf.Entries[0].Payload, lf.Entries[0].ETag, s.Entries[0].ETag)
	}
	var bm, bs bytes.Buffer
	if err := feeds.WriteFeed(&bm, m); err != nil {
		t.Fatal(err)
	}
	if err := feeds.WriteFeed(&bs, s); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(bm.String(), bs.String()) {
		t.Fatalf("from memory:\n%s\nfrom the store:\n%s", bm.String(), bs.String())
	}
}
