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
