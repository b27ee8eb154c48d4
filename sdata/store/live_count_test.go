package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sdatasync/digest"
)

// TestLiveCountFollowsWrites: the count of live resources a listing reads
// (resource_counts) equals the live rows after every kind of write: local
// creates and deletes, sync pages that insert live rows and tombstones
// (counted once at the end of the page), update and delete rows, a page
// refused as a whole (immediate, with a gap) and a cancelled page.
func TestLiveCountFollowsWrites(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	ep := testEndpoint(t, s)
	src := "http://elsewhere/sdata/app/gcrm/-/tradingAccounts"
	now := time.Now().UTC()
	check := func(step string) {
		t.Helper()
		var counted, live int64
		if err := s.r.QueryRow(`SELECT coalesce((SELECT live FROM resource_counts WHERE endpoint_id = ?), 0)`, ep.ID).Scan(&counted); err != nil {
			t.Fatal(err)
		}
		if err := s.r.QueryRow(`SELECT count(*) FROM resources WHERE endpoint_id = ? AND deleted = 0`, ep.ID).Scan(&live); err != nil {
			t.Fatal(err)
		}
		if counted != live {
			t.Fatalf("after %s: counted %d live resources, the table holds %d", step, counted, live)
		}
	}
	jobs := 0
	page := func(step string, immediate bool, fdTick int64, entries ...Incoming) error {
		t.Helper()
		jobs++
		j, _, err := s.CreateJob(ctx, Job{EndpointID: ep.ID, Type: JobTarget, TrackingID: fmt.Sprint("job", jobs), Expires: now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		fd := digest.Digest{}
		fd.Set(digest.Entry{Endpoint: src, Tick: fdTick, Stamp: now, ConflictPriority: 5})
		_, _, err = s.RunTarget(ctx, ep, j, fd, immediate, true, Entries(entries))
		check(step)
		return err
	}
	entry := func(n, tick int64, deleted bool) Incoming {
		method := "PUT"
		if deleted {
			method = "DELETE"
		}
		return Incoming{UUID: fmt.Sprintf("00000000-0000-7000-8000-%012d", n), Method: method, Deleted: deleted,
			State: digest.SyncState{Endpoint: src, Tick: tick, Stamp: now}, Payload: []byte(`<tradingAccount/>`)}
	}

	check("nothing")
	for i := range 5 {
		if _, err := s.Create(ctx, ep, Write{Payload: []byte(fmt.Sprintf(`<tradingAccount><name>%d</name></tradingAccount>`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	check("five local creates")
	if _, err := s.Delete(ctx, ep, "2", "", nil); err != nil {
		t.Fatal(err)
	}
	check("a local delete")

	// New rows: 8 live, 2 tombstones.
	var first []Incoming
	for i := range int64(10) {
		first = append(first, entry(i+1, i+1, i >= 8))
	}
	if err := page("a page of new rows and tombstones", false, 11, first...); err != nil {
		t.Fatal(err)
	}
	// Updates: two live rows deleted, a tombstone revived, one new row.
	if err := page("a page of updates, deletes and a revival", false, 15,
		entry(1, 11, true), entry(2, 12, true), entry(9, 13, false), entry(11, 14, false)); err != nil {
		t.Fatal(err)
	}
	// Refused as a whole: the immediate page skips ticks.
	if err := page("a refused page", true, 40, entry(20, 30, false), entry(21, 31, false)); err == nil {
		t.Fatal("an immediate page with a gap was applied")
	}
	// Cancelled halfway.
	cctx, cancel := context.WithCancel(ctx)
	cp := &cancellingPage{at: 2, cancel: cancel}
	for i := range int64(4) {
		cp.Entries = append(cp.Entries, entry(30+i, 15+i, false))
	}
	jobs++
	j, _, err := s.CreateJob(ctx, Job{EndpointID: ep.ID, Type: JobTarget, TrackingID: "cancelled", Expires: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	fd := digest.Digest{}
	fd.Set(digest.Entry{Endpoint: src, Tick: 19, Stamp: now, ConflictPriority: 5})
	if _, _, err := s.RunTarget(cctx, ep, j, fd, false, true, cp); err == nil {
		t.Fatal("a cancelled page was applied")
	}
	check("a cancelled page")
	var live int64
	if err := s.r.QueryRow(`SELECT live FROM resource_counts WHERE endpoint_id = ?`, ep.ID).Scan(&live); err != nil || live != 4+8-2+1+1 {
		t.Fatalf("live count %d (%v), want 12", live, err)
	}
}
