// Package jobs is the one runtime of the provider's asynchronous jobs: sync
// source and target jobs and batches. It creates them under their tracking
// IDs (the same tracking ID never starts a second job), runs them on
// goroutines it owns, holds a poll of a running job until the job ends,
// answers with tracking documents, keeps the results of the last jobs in
// memory, frees and purges jobs, expires unclaimed ones, marks failures
// durably, resumes after a restart the jobs a previous process left
// running, and writes the audit records of job events. Close cancels and
// waits for every goroutine it started.
package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"sdatasync/feeds"
	"sdatasync/sdata/auth"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
	"sdatasync/sdata/wire"
)

// Defaults of the runtime.
const (
	DefaultTTL    = 24 * time.Hour // how long an unclaimed job lives
	DefaultHold   = time.Second    // how long a GET on a running job waits for it to end
	DefaultSweep  = time.Minute    // how often expired jobs are deleted
	MinPollMillis = 1              // pollingMillis advised for a job that just started (its polls are held)
	MaxPollMillis = 2000           // pollingMillis advised for a long-running job
)

// Config configures a Runtime.
type Config struct {
	Store store.Store
	Site  *site.Site
	Log   *slog.Logger
	TTL   time.Duration // 0: DefaultTTL
	Hold  time.Duration // 0: DefaultHold
	Sweep time.Duration // 0: DefaultSweep
	// Observe, when set, sees every record Audit writes (metrics).
	Observe func(recs ...store.AuditRecord)
}

// Resumer restarts a job of its type that a previous process left running:
// it returns the work to run again (its request is persisted and its work
// commits in one transaction, so running it again is safe), or an error
// that fails the job with that reason.
type Resumer func(ctx context.Context, sc site.Scope, j store.Job) (func(ctx context.Context), error)

// Runtime runs the jobs of one provider.
type Runtime struct {
	st   store.Store
	site *site.Site
	log  *slog.Logger
	ttl  time.Duration
	hold time.Duration
	obs  func(recs ...store.AuditRecord)

	life context.Context // cancelled by Close: the lifetime of every goroutine
	stop context.CancelFunc
	wg   sync.WaitGroup

	running   runningJobs
	results   recentResults
	purgeWake chan struct{} // a buffered wake-up of the purger

	mu       sync.Mutex
	closed   bool
	resumers map[string]Resumer
	failing  map[int64]failure // failures not yet recorded in the store (retried by the sweeper)
}

// New starts a runtime: its sweeper (expiry, failed status writes) and its
// purger. Register the resumers, then call Resume.
func New(ctx context.Context, cfg Config) *Runtime {
	rt := &Runtime{st: cfg.Store, site: cfg.Site, log: cfg.Log, ttl: cfg.TTL, hold: cfg.Hold, obs: cfg.Observe,
		purgeWake: make(chan struct{}, 1), resumers: map[string]Resumer{}, failing: map[int64]failure{}}
	if rt.log == nil {
		rt.log = slog.New(slog.DiscardHandler)
	}
	if rt.ttl <= 0 {
		rt.ttl = DefaultTTL
	}
	if rt.hold <= 0 {
		rt.hold = DefaultHold
	}
	sweep := cfg.Sweep
	if sweep <= 0 {
		sweep = DefaultSweep
	}
	rt.life, rt.stop = context.WithCancel(context.WithoutCancel(ctx))
	rt.Every(sweep, rt.Sweep)
	rt.Go(rt.purger)
	return rt
}

// TTL is how long an unclaimed job lives.
func (rt *Runtime) TTL() time.Duration { return rt.ttl }

// Go runs fn on a goroutine the runtime owns: fn must return soon after
// its context is cancelled (by Close). It reports false, and runs nothing,
// once the runtime is closed.
func (rt *Runtime) Go(fn func(ctx context.Context)) bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed {
		return false
	}
	rt.wg.Add(1)
	go func() {
		defer rt.wg.Done()
		fn(rt.life)
	}()
	return true
}

// Close cancels every goroutine of the runtime and waits for them. A job
// interrupted here stays running in the store and resumes at the next start.
func (rt *Runtime) Close() {
	rt.mu.Lock()
	rt.closed = true
	rt.mu.Unlock()
	rt.stop()
	rt.wg.Wait()
}

// Handle registers the resumer of a job type.
func (rt *Runtime) Handle(typ string, r Resumer) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.resumers[typ] = r
}

// Resume restarts the jobs a previous process left running, or fails them
// when they cannot run again.
func (rt *Runtime) Resume(ctx context.Context) error {
	jobs, err := rt.st.RunningJobs(ctx)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		sc, ok := rt.site.ScopeOf(j.EndpointID)
		rt.mu.Lock()
		resume := rt.resumers[j.Type]
		rt.mu.Unlock()
		switch {
		case !ok || len(j.Request) == 0:
			rt.Fail(j, "interrupted by a restart and cannot be resumed")
			continue
		case resume == nil:
			rt.Fail(j, "unknown job type "+j.Type)
			continue
		}
		rt.log.Info("resuming job", "type", j.Type, "trackingID", j.TrackingID, "kind", sc.Kind.PluralName,
			"runName", j.RunName, "runStamp", j.RunStamp)
		run, err := resume(ctx, sc, j)
		if err != nil {
			rt.Fail(j, err.Error())
			continue
		}
		rt.Start(j, run)
	}
	return nil
}

// Create records a job of type typ for a request (its body kept to resume
// it), owned by the request's principal; created is false when the tracking
// ID names a job already, which only its owner (or an admin) may post to
// again (403 otherwise, audited).
func (rt *Runtime) Create(ctx context.Context, sc site.Scope, typ string, ru wire.Run, body []byte) (j store.Job, created bool, err error) {
	j, created, err = rt.st.CreateJob(ctx, store.Job{EndpointID: sc.Endpoint.ID, Type: typ, TrackingID: ru.Tracking,
		RunName: ru.Name, RunStamp: ru.Stamp, Request: body, Expires: time.Now().Add(rt.ttl), Owner: ownerName(ctx)})
	if err == nil && !created {
		err = rt.Owns(ctx, sc, j)
	}
	return j, created, err
}

// ownerName is the name a job of the request's principal is owned by.
func ownerName(ctx context.Context) string {
	if p := auth.From(ctx); p != nil {
		return p.Name
	}
	return ""
}

// Owns refuses (403, audited as denied.job) a request whose principal is
// neither the owner of the job nor an admin. Jobs created before
// authentication existed have no owner.
func (rt *Runtime) Owns(ctx context.Context, sc site.Scope, j store.Job) error {
	p := auth.From(ctx)
	if j.Owner == "" || p != nil && (p.Name == j.Owner || p.IsAdmin()) {
		return nil
	}
	name := ownerName(ctx)
	detail, _ := json.Marshal(map[string]string{"owner": j.Owner, "type": j.Type})
	rt.Audit(ctx, store.AuditRecord{Dataset: sc.Dataset, Kind: sc.Kind.PluralName, Operation: "denied.job", TrackingID: j.TrackingID,
		RunName: j.RunName, RunStamp: j.RunStamp, Principal: name, Status: http.StatusForbidden, Detail: string(detail)})
	return diag.New(diag.Forbidden, "the %s job %q belongs to another principal: only its owner or an admin may read or free it", j.Type, j.TrackingID)
}

// Start runs a job's work on a goroutine of the runtime; polls of the job
// are held until it ends. Once the runtime is closed the job is not run: it
// stays running in the store and resumes at the next start.
func (rt *Runtime) Start(j store.Job, fn func(ctx context.Context)) {
	done := rt.running.add(j.ID)
	if !rt.Go(func(ctx context.Context) {
		defer rt.running.finish(j.ID, done)
		if j.Owner != "" {
			// What the job audits names its owner.
			ctx = auth.WithPrincipal(ctx, &auth.Principal{Name: j.Owner})
		}
		fn(ctx)
	}) {
		rt.running.finish(j.ID, done)
	}
}

// Lookup finds the job of type typ that the URL (op('tracking')) or the
// trackingID parameter names.
func (rt *Runtime) Lookup(ctx context.Context, sc site.Scope, typ, op, tracking string) (store.Job, error) {
	if tracking == "" {
		return store.Job{}, diag.New(diag.BadParameter, "no tracking id: use %s('{trackingID}') or %s?trackingID=", op, op)
	}
	j, err := rt.st.Job(ctx, sc.Endpoint.ID, typ, tracking)
	if errors.Is(err, store.ErrNotFound) {
		return j, diag.New(diag.NoJob, "no %s job with tracking id %q (finished jobs expire after %s)", typ, tracking, rt.ttl)
	}
	if err != nil {
		return j, err
	}
	if err := rt.Owns(ctx, sc, j); err != nil {
		return store.Job{}, err
	}
	rt.mu.Lock()
	if f, ok := rt.failing[j.ID]; ok && f.job.TrackingID == j.TrackingID && j.Status == store.JobRunning {
		j.Status, j.Failure = store.JobFailed, f.reason
	}
	rt.mu.Unlock()
	return j, nil
}

// Poll is Lookup for a GET: a job still running in this process is given
// up to the hold to end first, so that a poll right after a short job
// answers with its result.
func (rt *Runtime) Poll(ctx context.Context, sc site.Scope, typ, op, tracking string) (store.Job, error) {
	j, err := rt.Lookup(ctx, sc, typ, op, tracking)
	if err != nil || j.Status != store.JobRunning {
		return j, err
	}
	rt.running.wait(ctx, j.ID, rt.hold)
	return rt.Lookup(ctx, sc, typ, op, tracking)
}

// Free deletes a job (its tracking ID is free again at once), forgets its
// results and wakes the purger for what it held.
func (rt *Runtime) Free(ctx context.Context, j store.Job) error {
	if err := rt.st.DeleteJob(ctx, j.ID); err != nil {
		return err
	}
	rt.results.drop(j.ID)
	rt.mu.Lock()
	delete(rt.failing, j.ID)
	rt.mu.Unlock()
	select {
	case rt.purgeWake <- struct{}{}:
	default: // a purge is pending already
	}
	return nil
}

// failAttempts is how often Fail tries to record a failure at once before
// leaving it to the sweeper.
const failAttempts = 3

// Fail marks a job failed with a reason. A failed status write is never
// dropped: it is retried, and while it cannot be recorded the runtime
// answers polls of the job as failed and the sweeper retries it.
func (rt *Runtime) Fail(j store.Job, reason string) {
	ctx := context.WithoutCancel(rt.life)
	var err error
	for attempt := 1; attempt <= failAttempts; attempt++ {
		if err = rt.st.FailJob(ctx, j, reason); err == nil {
			return
		}
		time.Sleep(time.Duration(attempt) * 10 * time.Millisecond)
	}
	rt.log.Error("recording a job failure failed; polls answer it as failed and the sweeper retries", "type", j.Type,
		"trackingID", j.TrackingID, "reason", reason, "err", err)
	rt.mu.Lock()
	rt.failing[j.ID] = failure{job: j, reason: reason}
	rt.mu.Unlock()
}

// failure is a job failure the store has yet to record. The job (its
// tracking ID) is kept so that a row ID reused after the job was freed never
// takes another job's failure.
type failure struct {
	job    store.Job
	reason string
}

// retryFailures records the failures Fail could not.
func (rt *Runtime) retryFailures(ctx context.Context) {
	rt.mu.Lock()
	pending := make(map[int64]failure, len(rt.failing))
	for id, f := range rt.failing {
		pending[id] = f
	}
	rt.mu.Unlock()
	for id, f := range pending {
		if err := rt.st.FailJob(ctx, f.job, f.reason); err != nil {
			if ctx.Err() == nil {
				rt.log.Error("recording a job failure failed again", "job", id, "err", err)
			}
			continue
		}
		rt.mu.Lock()
		delete(rt.failing, id)
		rt.mu.Unlock()
	}
}

// Every runs fn every interval, on a goroutine of the runtime, until the
// runtime closes.
func (rt *Runtime) Every(interval time.Duration, fn func(ctx context.Context, now time.Time)) {
	rt.Go(func(ctx context.Context) {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				fn(ctx, now)
			}
		}
	})
}

// Sweep runs one round of the sweeper now: expired jobs are deleted,
// unrecorded failures retried and the purger woken.
func (rt *Runtime) Sweep(ctx context.Context, now time.Time) {
	select {
	case rt.purgeWake <- struct{}{}:
	default:
	}
	rt.retryFailures(ctx)
	if n, err := rt.st.ExpireJobs(ctx, now); err != nil {
		if ctx.Err() == nil {
			rt.log.Error("expiring jobs", "err", err)
		}
	} else if n > 0 {
		rt.log.Info("expired jobs", "count", n)
	}
}

// purger removes what freed jobs held, whenever it is woken.
func (rt *Runtime) purger(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-rt.purgeWake:
		}
		if _, err := rt.st.PurgeDeletedJobs(ctx); err != nil && ctx.Err() == nil {
			rt.log.Error("purging freed jobs", "err", err)
		}
	}
}

// WriteTracking answers with the tracking document of a job (spec 3.13:
// 202 while it runs), its Location, and a polling advice that grows with
// the job's age.
func (rt *Runtime) WriteTracking(w http.ResponseWriter, status int, location string, j store.Job) error {
	var buf bytes.Buffer
	elapsed := time.Since(j.Created)
	poll := min(max(int(elapsed.Milliseconds()/4), MinPollMillis), MaxPollMillis)
	t := feeds.Tracking{Phase: "Running", PhaseDetail: j.Type + " job " + j.TrackingID, PollingMillis: poll,
		ElapsedSeconds: int(elapsed.Seconds())}
	switch j.Status {
	case store.JobDone:
		t.Phase, t.Progress = "Done", 100
	case store.JobFailed:
		t.Phase, t.PhaseDetail = "Failed", j.Failure
	}
	if err := feeds.WriteTracking(&buf, t); err != nil {
		return err
	}
	w.Header().Set("Location", location)
	w.Header().Set("Retry-After", "1")
	return wire.WriteBytes(w, wire.TypeXML, status, buf.Bytes())
}

// Failed is the 500 answer of a GET on a failed job.
func Failed(typ string, j store.Job) error {
	return diag.New(diag.JobFailed, "%s job %s failed: %s", typ, j.TrackingID, j.Failure)
}

// Audit appends records to the audit log, stamped now when they carry no
// time, naming the principal of ctx when they name none. The trail does
// not depend on the client still listening; a failed write is logged.
func (rt *Runtime) Audit(ctx context.Context, recs ...store.AuditRecord) {
	rt.Stamp(ctx, recs)
	if err := rt.st.Audit(context.WithoutCancel(ctx), recs...); err != nil {
		rt.log.Error("audit log write failed", "err", err)
	}
	rt.Observe(recs...)
}

// Stamp completes records written elsewhere (in a store transaction): the
// time now where they carry none, the principal of ctx where they name
// none.
func (rt *Runtime) Stamp(ctx context.Context, recs []store.AuditRecord) {
	now := time.Now().UTC()
	principal := ownerName(ctx)
	for i := range recs {
		if recs[i].Time.IsZero() {
			recs[i].Time = now
		}
		if recs[i].Principal == "" {
			recs[i].Principal = principal
		}
	}
}

// Observe hands records the audit log holds to the runtime's observer (the
// metrics), as Audit does for the records it writes.
func (rt *Runtime) Observe(recs ...store.AuditRecord) {
	if rt.obs != nil {
		rt.obs(recs...)
	}
}

// KeepResults keeps the results of a finished job in memory for the GETs
// that follow (encoded: the result entries already encoded, or nil).
func (rt *Runtime) KeepResults(j store.Job, res []store.Result, encoded [][]byte) {
	rt.results.put(j, res, encoded)
}

// Results returns results [offset, offset+limit) of a job from memory, with
// their encoded entries when kept; ok is false when they are not kept (read
// them from the store).
func (rt *Runtime) Results(j store.Job, offset, limit int) (res []store.Result, encoded [][]byte, ok bool) {
	return rt.results.get(j, offset, limit)
}

// String describes the runtime for logs.
func (rt *Runtime) String() string {
	return fmt.Sprintf("jobs runtime (ttl %s, hold %s)", rt.ttl, rt.hold)
}
