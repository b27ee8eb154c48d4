package sdata

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestRunningJobsWait: a wait ends when the job ends, when the hold passes
// or at once for a job this process does not run.
func TestRunningJobsWait(t *testing.T) {
	var rj runningJobs
	ctx := context.Background()

	ended := make(chan struct{})
	ch := rj.add(7)
	go func() { rj.wait(ctx, 7, time.Hour); close(ended) }()
	rj.finish(7, ch)
	select {
	case <-ended:
	case <-time.After(time.Minute):
		t.Fatal("a wait on a finished job did not return")
	}
	if len(rj.done) != 0 {
		t.Fatalf("finished job still registered: %v", rj.done)
	}

	// Unknown job: no wait at all (a day-long hold would hang the test).
	rj.wait(ctx, 8, 24*time.Hour)

	// A job still running: the hold bounds the wait.
	ch = rj.add(9)
	rj.wait(ctx, 9, time.Millisecond)
	// A cancelled request stops waiting too.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	rj.wait(cctx, 9, 24*time.Hour)
	rj.finish(9, ch)
}

// TestPollHeldUntilDone: one GET on the Location right after the POST
// answers with the finished job (no 202 round trips for a short job).
func TestPollHeldUntilDone(t *testing.T) {
	a, b := newProvider(t, 5), newProvider(t, 5)
	for i := 0; i < 20; i++ {
		a.create("tradingAccounts", ta("Acc "+itoa(i), "R"+itoa(i)))
	}
	q := "?runName=hold&runStamp=2026-11-22T10:00:00Z&trackingID="
	page := firstPage(t, a, b, "tradingAccounts", 100)
	st, h, body := do(t, http.MethodPost, b.kind("tradingAccounts")+"/$syncTarget"+q+uuid.NewString(), page)
	mustStatus(t, http.StatusAccepted, st, body)
	st, _, res := do(t, http.MethodGet, h.Get("Location"), nil)
	mustStatus(t, http.StatusOK, st, res)
	if f := parseFeed(t, res); f.TotalResults != 20 {
		t.Fatalf("results for %d entries, want 20", f.TotalResults)
	}
}
