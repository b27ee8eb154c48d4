package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"sdatasync/digest"
)

// TestJobsIdempotentAndExpire: the same tracking ID never makes a second
// job, and jobs past their expiry are deleted with what they hold.
func TestJobsIdempotentAndExpire(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	ep := testEndpoint(t, s)
	j1, created, err := s.CreateJob(ctx, Job{EndpointID: ep.ID, Type: JobSource, TrackingID: "t1", Request: []byte("x"), Expires: time.Now().Add(time.Hour)})
	if err != nil || !created || j1.Status != JobRunning {
		t.Fatalf("first: %+v %v %v", j1, created, err)
	}
	j2, created, err := s.CreateJob(ctx, Job{EndpointID: ep.ID, Type: JobSource, TrackingID: "t1", Expires: time.Now().Add(time.Hour)})
	if err != nil || created || j2.ID != j1.ID {
		t.Fatalf("repeat: %+v %v %v", j2, created, err)
	}
	// The same tracking ID for another job type is another job.
	if _, created, err := s.CreateJob(ctx, Job{EndpointID: ep.ID, Type: JobTarget, TrackingID: "t1", Expires: time.Now().Add(time.Hour)}); err != nil || !created {
		t.Fatalf("target job: %v %v", created, err)
	}
	if _, err := s.Create(ctx, ep, Write{Payload: []byte(`<x/>`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RunSource(ctx, ep, j1, ep0Digest()); err != nil {
		t.Fatal(err)
	}
	if n, err := s.ExpireJobs(ctx, time.Now()); err != nil || n != 0 {
		t.Fatalf("nothing expired yet: %d %v", n, err)
	}
	if n, err := s.ExpireJobs(ctx, time.Now().Add(2*time.Hour)); err != nil || n != 2 {
		t.Fatalf("expired %d %v, want 2", n, err)
	}
	if _, err := s.Job(ctx, ep.ID, JobSource, "t1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired job still there: %v", err)
	}
	var left int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM sync_job_entries`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d snapshot rows left behind (%v)", left, err)
	}
}

func ep0Digest() digest.Digest { return digest.Digest{} }

// TestTargetPageKeysAreDense: new resources of a target page get the next
// numeric keys, skipping keys clients chose, and the keys reserved for the
// page but not used go back (the next local create continues densely).
func TestTargetPageKeysAreDense(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	ep := testEndpoint(t, s)
	for _, k := range []string{"3", "5"} {
		if _, err := s.Create(ctx, ep, Write{Key: k, Payload: []byte(`<tradingAccount/>`)}); err != nil {
			t.Fatal(err)
		}
	}
	src := "http://elsewhere/sdata/app/gcrm/-/tradingAccounts"
	now := time.Now().UTC()
	var in []Incoming
	for i := 1; i <= 6; i++ {
		in = append(in, Incoming{UUID: fmt.Sprintf("00000000-0000-0000-0000-%012d", i), Method: "PUT",
			State: digest.SyncState{Endpoint: src, Tick: int64(i), Stamp: now}, Payload: []byte(`<tradingAccount/>`)})
	}
	// Entry 4 repeats entry 1 (an update, no new key).
	in[3].UUID = in[0].UUID
	fd := digest.Digest{}
	fd.Set(digest.Entry{Endpoint: src, Tick: 7, Stamp: now, ConflictPriority: 5})
	j, _, err := s.CreateJob(ctx, Job{EndpointID: ep.ID, Type: JobTarget, TrackingID: "keys", Expires: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	_, res, err := s.RunTarget(ctx, ep, j, fd, false, true, Entries(in))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range res {
		keys = append(keys, r.Key)
	}
	if want := []string{"1", "2", "4", "1", "6", "7"}; !slices.Equal(keys, want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	r, err := s.Create(ctx, ep, Write{Payload: []byte(`<tradingAccount/>`)})
	if err != nil {
		t.Fatal(err)
	}
	if r.Key != "8" {
		t.Fatalf("next local key %s, want 8 (unused page keys given back)", r.Key)
	}
}

// TestSelectionGivesEveryResourceAUUID: the first selection of resources
// without UUIDs (more than one batch of them) gives each its own, stored
// and in the snapshot.
func TestSelectionGivesEveryResourceAUUID(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	ep := testEndpoint(t, s)
	const n = 1234
	for i := 0; i < n; i++ {
		if _, err := s.Create(ctx, ep, Write{Payload: []byte(`<tradingAccount/>`)}); err != nil {
			t.Fatal(err)
		}
	}
	j, _, err := s.CreateJob(ctx, Job{EndpointID: ep.ID, Type: JobSource, TrackingID: "uuids", Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if j, err = s.RunSource(ctx, ep, j, digest.Digest{}); err != nil {
		t.Fatal(err)
	}
	entries, err := s.SourceEntries(ctx, j, 0, n+10)
	if err != nil || len(entries) != n {
		t.Fatalf("%d entries (%v)", len(entries), err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if _, err := uuid.Parse(e.UUID); err != nil || seen[e.UUID] {
			t.Fatalf("resource %s: uuid %q (repeated: %v)", e.Key, e.UUID, seen[e.UUID])
		}
		seen[e.UUID] = true
		stored, err := s.Get(ctx, ep, e.Key)
		if err != nil || stored.UUID != e.UUID {
			t.Fatalf("resource %s stores uuid %q, the snapshot %q (%v)", e.Key, stored.UUID, e.UUID, err)
		}
	}
}

// TestDeletedJobsArePurged: a freed job is gone at once (its tracking ID
// can start a new job) and what it held goes with PurgeDeletedJobs, over
// several transactions when it is big.
func TestDeletedJobsArePurged(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	ep := testEndpoint(t, s)
	src := "http://elsewhere/sdata/app/gcrm/-/tradingAccounts"
	now := time.Now().UTC()
	const n = purgeChunk + 150
	in := make([]Incoming, n)
	for i := range in {
		in[i] = Incoming{UUID: fmt.Sprintf("00000000-0000-7000-8000-%012d", i), Method: "PUT",
			State: digest.SyncState{Endpoint: src, Tick: int64(i + 1), Stamp: now}, Payload: []byte(`<tradingAccount/>`)}
	}
	fd := digest.Digest{}
	fd.Set(digest.Entry{Endpoint: src, Tick: n + 1, Stamp: now, ConflictPriority: 5})
	j, _, err := s.CreateJob(ctx, Job{EndpointID: ep.ID, Type: JobTarget, TrackingID: "big", Expires: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.RunTarget(ctx, ep, j, fd, false, true, Entries(in)); err != nil {
		t.Fatal(err)
	}
	count := func(q string) int {
		t.Helper()
		var c int
		if err := s.r.QueryRowContext(ctx, q).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	if err := s.DeleteJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Job(ctx, ep.ID, JobTarget, "big"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a freed job is still found: %v", err)
	}
	j2, created, err := s.CreateJob(ctx, Job{EndpointID: ep.ID, Type: JobTarget, TrackingID: "big", Expires: now.Add(time.Hour)})
	if err != nil || !created || j2.ID == j.ID {
		t.Fatalf("the freed tracking ID does not start a new job: %v %v", created, err)
	}
	if got := count(`SELECT count(*) FROM sync_job_results`); got != n {
		t.Fatalf("%d result rows before the purge, want %d (freeing is quick, purging comes after)", got, n)
	}
	if jobs, err := s.PurgeDeletedJobs(ctx); err != nil || jobs != 1 {
		t.Fatalf("purged %d jobs (%v), want 1", jobs, err)
	}
	if got := count(`SELECT count(*) FROM sync_job_results`); got != 0 {
		t.Fatalf("%d result rows left after the purge", got)
	}
	if got := count(`SELECT count(*) FROM sync_jobs`); got != 1 {
		t.Fatalf("%d jobs left, want the new one", got)
	}
	if _, err := s.Job(ctx, ep.ID, JobTarget, "big"); err != nil {
		t.Fatalf("the new job: %v", err)
	}
	if jobs, err := s.PurgeDeletedJobs(ctx); err != nil || jobs != 0 {
		t.Fatalf("a second purge removed %d jobs (%v)", jobs, err)
	}
}

// TestKeysByUUID: one query maps primary UUIDs and aliases (any case) to
// keys and leaves out UUIDs that name nothing.
func TestKeysByUUID(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	ep := testEndpoint(t, s)
	const first, second = "11111111-1111-7111-8111-111111111111", "22222222-2222-7222-8222-222222222222"
	const other, missing = "33333333-3333-7333-8333-333333333333", "44444444-4444-7444-8444-444444444444"
	for _, w := range []Write{{UUID: first}, {UUID: other}} {
		w.Payload = []byte(`<tradingAccount/>`)
		if _, err := s.Create(ctx, ep, w); err != nil {
			t.Fatal(err)
		}
	}
	// Relinking resource 1 to a new UUID keeps the first one as an alias.
	if _, err := s.Link(ctx, ep, "1", second, "test"); err != nil {
		t.Fatal(err)
	}
	got, err := s.KeysByUUID(ctx, ep, []string{strings.ToUpper(first), second, other, missing, second})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{first: "1", second: "1", other: "2"}
	if !maps.Equal(got, want) {
		t.Fatalf("KeysByUUID = %v, want %v", got, want)
	}
	if got, err := s.KeysByUUID(ctx, ep, nil); err != nil || len(got) != 0 {
		t.Fatalf("no uuids: %v %v", got, err)
	}
}

// TestKeysByUUIDSearchesIndexes: the one-query UUID lookup searches the
// indexes UUID by UUID; a plan that scans resources or aliases (which the
// planner chose before CROSS JOIN fixed the order) makes a 100k target
// pass dozens of times slower.
func TestKeysByUUIDSearchesIndexes(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	ep := testEndpoint(t, s)
	for i := 0; i < 50; i++ {
		if _, err := s.Create(ctx, ep, Write{UUID: NewUUID(), Payload: []byte(`<tradingAccount/>`)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.r.ExecContext(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	rows, err := s.r.QueryContext(ctx, `EXPLAIN QUERY PLAN `+keysByUUIDQuery, `["x"]`, ep.ID, `["x"]`, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	searches := 0
	for _, d := range plan {
		if strings.HasPrefix(d, "SCAN") && !strings.HasPrefix(d, "SCAN j") {
			t.Fatalf("the UUID lookup scans a table: %q in %q", d, plan)
		}
		if strings.HasPrefix(d, "SEARCH") {
			searches++
		}
	}
	if searches != 3 {
		t.Fatalf("plan %q: want three index searches (aliases, their resources, resources by uuid)", plan)
	}
}
