package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"sdatasync/digest"
)

// cancellingPage cancels its context when RunTarget asks for entry at.
type cancellingPage struct {
	Entries
	at     int
	cancel context.CancelFunc
}

func (p *cancellingPage) At(i int) Incoming {
	if i == p.at {
		p.cancel()
	}
	return p.Entries.At(i)
}

// TestCancelledPageAppliesNothing: the statements of a page run without the
// context's cancellation, so it is checked between entries; a page whose
// context ends halfway stops there and rolls back whole: no resource, no
// result, the digest and the job as they were.
func TestCancelledPageAppliesNothing(t *testing.T) {
	s, _ := openTest(t)
	ep := testEndpoint(t, s)
	src := "http://elsewhere/sdata/app/gcrm/-/tradingAccounts"
	now := time.Now().UTC()
	bg := context.Background()
	digestBefore, err := s.Digest(bg, ep)
	if err != nil {
		t.Fatal(err)
	}
	j, _, err := s.CreateJob(bg, Job{EndpointID: ep.ID, Type: JobTarget, TrackingID: "cancelled", Expires: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	p := &cancellingPage{at: 150, cancel: cancel}
	for i := range 300 {
		p.Entries = append(p.Entries, Incoming{UUID: fmt.Sprintf("00000000-0000-7000-8000-%012d", i+1), Method: "PUT",
			State: digest.SyncState{Endpoint: src, Tick: int64(i + 1), Stamp: now}, Payload: []byte(`<tradingAccount/>`)})
	}
	fd := digest.Digest{}
	fd.Set(digest.Entry{Endpoint: src, Tick: 301, Stamp: now, ConflictPriority: 5})
	if _, _, err := s.RunTarget(ctx, ep, j, fd, false, true, p); !errors.Is(err, context.Canceled) {
		t.Fatalf("RunTarget with its context cancelled at entry 150: %v", err)
	}
	var resources, results int
	if err := s.r.QueryRow(`SELECT count(*) FROM resources`).Scan(&resources); err != nil {
		t.Fatal(err)
	}
	if err := s.r.QueryRow(`SELECT count(*) FROM sync_job_results`).Scan(&results); err != nil {
		t.Fatal(err)
	}
	if resources != 0 || results != 0 {
		t.Fatalf("%d resources and %d results stored by a cancelled page", resources, results)
	}
	digestAfter, err := s.Digest(bg, ep)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(digestAfter) != fmt.Sprint(digestBefore) {
		t.Fatalf("digest changed by a cancelled page:\nbefore %v\nafter  %v", digestBefore, digestAfter)
	}
	if got, err := s.Job(bg, ep.ID, JobTarget, "cancelled"); err != nil || got.Status == JobDone {
		t.Fatalf("job after a cancelled page: %+v, %v", got, err)
	}
}
