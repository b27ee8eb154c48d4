package store

import (
	"context"
	"testing"

	"sdatasync/digest"
)

// TestLateJobWritesNeverLandOnAReusedRowID: a job freed and purged gives
// its row ID back to SQLite, and the next job may get it. A failure or a
// completion that arrives late for the freed job must not touch the new one.
func TestLateJobWritesNeverLandOnAReusedRowID(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	ep := testEndpoint(t, s)
	old, _, err := s.CreateJob(ctx, Job{EndpointID: ep.ID, Type: JobSource, TrackingID: "old"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteJob(ctx, old.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PurgeDeletedJobs(ctx); err != nil {
		t.Fatal(err)
	}
	cur, _, err := s.CreateJob(ctx, Job{EndpointID: ep.ID, Type: JobSource, TrackingID: "new"})
	if err != nil {
		t.Fatal(err)
	}
	if cur.ID != old.ID {
		t.Skipf("SQLite did not reuse row ID %d (got %d); nothing to check", old.ID, cur.ID)
	}
	if err := s.FailJob(ctx, old, "late failure of the freed job"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RunSource(ctx, ep, old, digest.Digest{}); err == nil {
		t.Log("late RunSource of the freed job returned no error")
	}
	got, err := s.Job(ctx, ep.ID, JobSource, "new")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != JobRunning || got.Failure != "" || got.Digest != nil {
		t.Fatalf("the new job was changed by the freed job's late writes: status %s failure %q digest %v", got.Status, got.Failure, got.Digest)
	}
}

// TestReplaceDigestNeverClaimsMoreOfTheOwnClock: a $syncDigest replacement
// may lower the provider's own tick (not below a stored change), keep it,
// or omit it, but never move it beyond the clock.
func TestReplaceDigestNeverClaimsMoreOfTheOwnClock(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	ep := testEndpoint(t, s)
	for i := 0; i < 3; i++ {
		if _, err := s.Create(ctx, ep, Write{Payload: []byte("<x/>"), Props: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	clock := ownTick(t, s, ep)
	for _, tc := range []struct {
		name  string
		claim int64
		want  int64
	}{
		{"far beyond the clock", 99999999, clock},
		{"one beyond the clock", clock + 1, clock},
		{"the clock", clock, clock},
		{"below a stored change", 1, clock},
	} {
		d := digest.Digest{Origin: ep.URL, Entries: []digest.Entry{{Endpoint: ep.URL, Tick: tc.claim, ConflictPriority: 3}}}
		if _, _, err := s.ReplaceDigest(ctx, ep, d); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := ownTick(t, s, ep); got != tc.want {
			t.Fatalf("%s: claim %d left the own tick at %d, want %d", tc.name, tc.claim, got, tc.want)
		}
	}
}
