package jobs

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"sdatasync/contracts"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
	"sdatasync/sdata/wire"
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
	for id := int64(2); id <= MaxRecentResults+1; id++ {
		rr.put(job(id, 0), res(1), nil)
	}
	if _, _, ok := rr.get(job(1, time.Second), 0, 5); ok {
		t.Fatal("the oldest job was not evicted")
	}
	if len(rr.jobs) != MaxRecentResults {
		t.Fatalf("%d jobs kept", len(rr.jobs))
	}
	rr.drop(2)
	if _, _, ok := rr.get(job(2, 0), 0, 1); ok {
		t.Fatal("dropped job still served")
	}
}

// failingStore is a real SQLite store whose FailJob fails the first fails
// times (a busy or full disk, injected).
type failingStore struct {
	*store.SQLite
	fails int
}

func (f *failingStore) FailJob(ctx context.Context, j store.Job, reason string) error {
	if f.fails > 0 {
		f.fails--
		return errors.New("injected: disk I/O error")
	}
	return f.SQLite.FailJob(ctx, j, reason)
}

// TestFailIsNeverDropped: a failure whose status write fails is answered
// as failed at once and recorded by the sweeper later; a job never stays
// "running" because a status write failed.
func TestFailIsNeverDropped(t *testing.T) {
	ctx := context.Background()
	sq, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "j.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	c, err := contracts.Builtin("gcrm")
	if err != nil {
		t.Fatal(err)
	}
	st := &failingStore{SQLite: sq, fails: failAttempts + 1}
	s, err := site.New(ctx, site.Config{Base: "http://127.0.0.1:1", App: "sdatasync", Contract: c, ConflictPriority: 5}, st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	rt := New(ctx, Config{Store: st, Site: s, Sweep: time.Hour})
	defer rt.Close()
	sc, _ := s.Scope(site.DefaultDataset, "tradingAccounts")
	j, _, err := rt.Create(ctx, sc, store.JobTarget, wire.Run{Tracking: "t1"}, []byte("<feed/>"))
	if err != nil {
		t.Fatal(err)
	}
	rt.Fail(j, "the page could not be applied")
	got, err := rt.Lookup(ctx, sc, store.JobTarget, "$syncTarget", "t1")
	if err != nil || got.Status != store.JobFailed || got.Failure != "the page could not be applied" {
		t.Fatalf("after an unrecorded failure: %+v %v", got, err)
	}
	if stored, _ := sq.Job(ctx, sc.Endpoint.ID, store.JobTarget, "t1"); stored.Status != store.JobRunning {
		t.Fatalf("the store already says %s", stored.Status)
	}
	rt.Sweep(ctx, time.Now()) // one more injected failure: still pending
	rt.Sweep(ctx, time.Now())
	stored, err := sq.Job(ctx, sc.Endpoint.ID, store.JobTarget, "t1")
	if err != nil || stored.Status != store.JobFailed || stored.Failure != "the page could not be applied" {
		t.Fatalf("the sweeper did not record the failure: %+v %v", stored, err)
	}
	rt.mu.Lock()
	pending := len(rt.failing)
	rt.mu.Unlock()
	if pending != 0 {
		t.Fatalf("%d failures still pending", pending)
	}
}
