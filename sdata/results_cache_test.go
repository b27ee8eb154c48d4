package sdata

import (
	"bytes"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"sdatasync/feeds"
	"sdatasync/sdata/store"
)

func TestRecentResultsBounds(t *testing.T) {
	var rr recentResults
	t0 := time.Now()
	job := func(id int64, d time.Duration) store.Job { return store.Job{ID: id, Created: t0.Add(d)} }
	res := func(n int) []store.Result {
		out := make([]store.Result, n)
		for i := range out {
			out[i].Seq = i + 1
		}
		return out
	}
	rr.put(job(1, 0), res(5), nil)
	if got, _, ok := rr.get(job(1, 0), 1, 2); !ok || len(got) != 2 || got[0].Seq != 2 {
		t.Fatalf("range: %v %v", got, ok)
	}
	if got, _, ok := rr.get(job(1, 0), 4, 10); !ok || len(got) != 1 || got[0].Seq != 5 {
		t.Fatalf("range past the end: %v %v", got, ok)
	}
	if got, _, ok := rr.get(job(1, 0), 9, 10); !ok || len(got) != 0 {
		t.Fatalf("offset past the end: %v %v", got, ok)
	}
	// A job id that comes back names another job: not served from memory.
	if _, _, ok := rr.get(job(1, time.Second), 0, 5); ok {
		t.Fatal("results of a former job with the same id")
	}
	rr.put(job(1, time.Second), res(1), nil)
	if got, _, ok := rr.get(job(1, time.Second), 0, 5); !ok || len(got) != 1 {
		t.Fatalf("the newer job: %v %v", got, ok)
	}
	for id := int64(2); id <= maxRecentResults+1; id++ {
		rr.put(job(id, 0), res(1), nil)
	}
	if _, _, ok := rr.get(job(1, time.Second), 0, 5); ok {
		t.Fatal("the oldest job was not evicted")
	}
	if len(rr.jobs) != maxRecentResults {
		t.Fatalf("%d jobs kept", len(rr.jobs))
	}
	rr.drop(2)
	if _, _, ok := rr.get(job(2, 0), 0, 1); ok {
		t.Fatal("dropped job still served")
	}
}

// TestResultsFromMemoryMatchStore: the result feed of a job read right
// after it ran (from memory) and once evicted (from the store) say the same.
func TestResultsFromMemoryMatchStore(t *testing.T) {
	a, b := newProvider(t, 5), newProvider(t, 5)
	for i := 0; i < 5; i++ {
		a.create("tradingAccounts", ta("Acc "+itoa(i), "R"+itoa(i)))
	}
	q := "?runName=cache&runStamp=2026-11-22T10:00:00Z&trackingID="
	page := firstPage(t, a, b, "tradingAccounts", 100)
	st, h, body := do(t, http.MethodPost, b.kind("tradingAccounts")+"/$syncTarget"+q+uuid.NewString(), page)
	mustStatus(t, http.StatusAccepted, st, body)
	loc := h.Get("Location")
	st, fromMemory := poll(t, loc+"?count=3&startIndex=2")
	mustStatus(t, http.StatusOK, st, fromMemory)
	inMemory := func() bool {
		b.srv.results.mu.Lock()
		defer b.srv.results.mu.Unlock()
		for _, j := range b.srv.results.jobs {
			if j.id == 1 { // the first job of b
				if len(j.encoded) != len(j.results) || j.encoded[0] == nil {
					t.Fatal("the first job's result entries were not encoded while it ran")
				}
				return true
			}
		}
		return false
	}
	if !inMemory() {
		t.Fatal("the first target job's results are not kept in memory")
	}
	// Later jobs push this one out of memory.
	for i := 0; i < maxRecentResults; i++ {
		st, h, body = do(t, http.MethodPost, b.kind("tradingAccounts")+"/$syncTarget"+q+uuid.NewString(), page)
		mustStatus(t, http.StatusAccepted, st, body)
		st, body = poll(t, h.Get("Location"))
		mustStatus(t, http.StatusOK, st, body)
	}
	st, fromStore := poll(t, loc+"?count=3&startIndex=2")
	mustStatus(t, http.StatusOK, st, fromStore)
	m, s := parseFeed(t, fromMemory), parseFeed(t, fromStore)
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
	lf := parseFeed(t, later)
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
