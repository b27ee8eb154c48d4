package store

import (
	"context"
	"errors"
	"testing"
	"time"

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
