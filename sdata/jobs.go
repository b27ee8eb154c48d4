package sdata

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"sdatasync/feeds"
	"sdatasync/sdata/store"
)

func newID() string { return uuid.NewString() }

// startJob runs fn in the background under the server's lifetime context.
func (s *Server) startJob(id int64, fn func(ctx context.Context)) {
	done := s.running.add(id)
	s.jobs.Add(1)
	go func() {
		defer s.jobs.Done()
		defer s.running.finish(id, done)
		fn(s.life)
	}()
}

// JobHold is how long a GET on a running sync job waits for the job to end
// before it answers 202 with a tracking document: engines polling a short
// job get their answer the moment it is ready, not at their next poll.
const JobHold = time.Second

// runningJobs signals the end of the background jobs of this process.
type runningJobs struct {
	mu   sync.Mutex
	done map[int64]chan struct{} // job id -> closed when the job's goroutine ends
}

func (rj *runningJobs) add(id int64) chan struct{} {
	rj.mu.Lock()
	defer rj.mu.Unlock()
	if rj.done == nil {
		rj.done = map[int64]chan struct{}{}
	}
	ch := make(chan struct{})
	rj.done[id] = ch
	return ch
}

func (rj *runningJobs) finish(id int64, ch chan struct{}) {
	rj.mu.Lock()
	defer rj.mu.Unlock()
	if rj.done[id] == ch {
		delete(rj.done, id)
	}
	close(ch)
}

// wait blocks until job id ends, hold passes or ctx is done; it returns at
// once for a job that does not run in this process.
func (rj *runningJobs) wait(ctx context.Context, id int64, hold time.Duration) {
	rj.mu.Lock()
	ch := rj.done[id]
	rj.mu.Unlock()
	if ch == nil {
		return
	}
	t := time.NewTimer(hold)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
	}
}

// pollJob finds the job a GET names; a job still running is given up to
// JobHold to end first.
func (s *Server) pollJob(ctx context.Context, sc scope, typ, tracking string) (store.Job, error) {
	j, err := s.jobOf(ctx, sc, typ, tracking)
	if err != nil || j.Status != store.JobRunning {
		return j, err
	}
	s.running.wait(ctx, j.ID, JobHold)
	return s.jobOf(ctx, sc, typ, tracking)
}

// Close stops the background jobs and the expiry sweeper and waits for them.
// A job interrupted here stays "running" in the store and resumes at the
// next start.
func (s *Server) Close() error {
	s.stop()
	s.jobs.Wait()
	return nil
}

// resumeJobs restarts the jobs a previous process left running: their
// request is persisted and their work commits in one transaction, so running
// them again is safe.
func (s *Server) resumeJobs(ctx context.Context) error {
	jobs, err := s.st.RunningJobs(ctx)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		sc, ok := s.scopeOf(j.EndpointID)
		if !ok || len(j.Request) == 0 {
			s.st.FailJob(ctx, j.ID, "interrupted by a restart and cannot be resumed")
			continue
		}
		s.log.Info("resuming sync job", "type", j.Type, "trackingID", j.TrackingID, "kind", sc.kind.PluralName,
			"runName", j.RunName, "runStamp", j.RunStamp)
		switch j.Type {
		case store.JobSource:
			target, err := feeds.ParseDigest(bytes.NewReader(j.Request), s.limits)
			if err != nil {
				s.st.FailJob(ctx, j.ID, "stored request unreadable: "+err.Error())
				continue
			}
			s.startJob(j.ID, func(ctx context.Context) { s.runSourceJob(ctx, sc, j, *target) })
		case store.JobTarget:
			tf, err := s.prepareTarget(sc, j.Request)
			if err != nil {
				s.st.FailJob(ctx, j.ID, "stored request unreadable: "+err.Error())
				continue
			}
			s.startJob(j.ID, func(ctx context.Context) { s.applyTarget(ctx, sc, j, tf) })
		case store.JobBatch:
			// Its entries were applied one by one and cannot be told apart
			// from later writes: running it again could apply them twice.
			s.st.FailJob(ctx, j.ID, batchInterrupted)
		default:
			s.st.FailJob(ctx, j.ID, "unknown job type "+j.Type)
		}
	}
	return nil
}

func (s *Server) scopeOf(endpointID int64) (scope, bool) {
	for k, ep := range s.eps {
		if ep.ID == endpointID {
			return scope{dataset: k.dataset, kind: s.cfg.Contract.Kind(k.kind), ep: ep}, true
		}
	}
	return scope{}, false
}

// sweep deletes expired jobs every interval until the server closes.
func (s *Server) sweep(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.life.Done():
			return
		case now := <-t.C:
			s.sweepOnce(now)
		}
	}
}

// purgeJobs removes what freed jobs held, in the background: one purge at
// a time, run again while jobs are freed meanwhile.
func (s *Server) purgeJobs() {
	s.purgePending.Store(true)
	if !s.purging.CompareAndSwap(false, true) {
		return
	}
	s.jobs.Add(1)
	go func() {
		defer s.jobs.Done()
		for {
			for s.purgePending.Swap(false) {
				if _, err := s.st.PurgeDeletedJobs(s.life); err != nil && s.life.Err() == nil {
					s.log.Error("purging freed sync jobs", "err", err)
				}
			}
			s.purging.Store(false)
			// A job freed between the last purge and now starts another round.
			if !s.purgePending.Load() || !s.purging.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}

// sweepOnce expires unclaimed jobs, purges freed ones and retires old UUID
// aliases.
func (s *Server) sweepOnce(now time.Time) {
	s.purgeJobs()
	if n, err := s.st.ExpireJobs(s.life, now); err != nil {
		if s.life.Err() == nil {
			s.log.Error("expiring sync jobs", "err", err)
		}
	} else if n > 0 {
		s.log.Info("expired sync jobs", "count", n)
	}
	ttl := s.cfg.AliasTTL
	if ttl <= 0 {
		ttl = DefaultAliasTTL
	}
	if n, err := s.st.RetireAliases(s.life, now.Add(-ttl)); err != nil {
		if s.life.Err() == nil {
			s.log.Error("retiring UUID aliases", "err", err)
		}
	} else if n > 0 {
		s.log.Info("retired UUID aliases", "count", n, "olderThan", ttl)
	}
}

func levelFor(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	if status >= 400 {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

func slogRun(ru run, kind, op, method string, status, count int) []slog.Attr {
	return []slog.Attr{slog.String("runName", ru.name), slog.String("runStamp", ru.stamp), slog.String("trackingID", ru.tracking),
		slog.String("kind", kind), slog.String("op", op), slog.String("method", method), slog.Int("status", status), slog.Int("count", count)}
}

// auditNS is the namespace of the audit record payload in $syncLog feeds.
const auditNS = "urn:sdatasync:audit"

// syncLog serves $syncLog for a dataset (kind "") or one kind: the audit
// log, newest first, paged, filtered by runName, runStamp, trackingID, kind,
// operation, since and until.
func (s *Server) syncLog(w http.ResponseWriter, r *http.Request, dataset, kind string) error {
	if err := allow(r, http.MethodGet); err != nil {
		return err
	}
	q := r.URL.Query()
	pg, err := parsePaging(q)
	if err != nil {
		return err
	}
	aq := store.AuditQuery{Dataset: dataset, Kind: kind, Operation: queryParam(q, "operation"), TrackingID: queryParam(q, "trackingID"),
		RunName: queryParam(q, "runName"), RunStamp: queryParam(q, "runStamp"), Offset: pg.start - 1, Limit: pg.count}
	if kind == "" {
		aq.Kind = queryParam(q, "kind")
	}
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"since", &aq.Since}, {"until", &aq.Until}} {
		if v := queryParam(q, p.name); v != "" {
			t, err := feeds.ParseTime(v)
			if err != nil {
				return errorf(http.StatusBadRequest, CodeBadQueryParameter, "%s must be an ISO 8601 date or time, got %q", p.name, v)
			}
			*p.t = t
		}
	}
	recs, total, err := s.st.AuditLog(r.Context(), aq)
	if err != nil {
		return err
	}
	self := s.datasetURL(dataset)
	if kind != "" {
		self += "/" + kind
	}
	self += "/$syncLog"
	head := &feeds.Feed{ID: self, Title: "Synchronization log", Updated: nowUTC(), TotalResults: total, StartIndex: pg.start,
		ItemsPerPage: pg.count, Links: pageLinks(self, q, pg, total)}
	w.Header().Set("Content-Type", typeFeed)
	fw, err := feeds.NewFeedWriter(w, head)
	if err != nil {
		return err
	}
	for _, a := range recs {
		el := auditElement(a)
		id := self + "('" + strconv.FormatInt(a.ID, 10) + "')"
		title := a.Operation + " " + a.Kind
		e := &feeds.Entry{ID: id, Title: title, Content: title, Updated: a.Time, Payload: el,
			Links: []feeds.Link{{Rel: "self", Type: typeEntry, Href: id}}}
		if err := fw.WriteEntry(e); err != nil {
			return err
		}
	}
	return fw.Close()
}

func auditElement(a store.AuditRecord) *etree.Element {
	el := etree.NewElement("syncLogEntry")
	el.CreateAttr("xmlns", auditNS)
	add := func(name, v string) {
		if v != "" {
			el.CreateElement(name).SetText(v)
		}
	}
	add("time", feeds.FormatTime(a.Time))
	add("dataset", a.Dataset)
	add("kind", a.Kind)
	add("operation", a.Operation)
	add("trackingID", a.TrackingID)
	add("runName", a.RunName)
	add("runStamp", a.RunStamp)
	if !a.RunTime.IsZero() {
		add("runTime", feeds.FormatTime(a.RunTime))
	}
	add("client", a.Client)
	add("httpStatus", strconv.Itoa(a.Status))
	add("count", strconv.Itoa(a.Count))
	add("durationMillis", strconv.FormatFloat(float64(a.Duration)/float64(time.Millisecond), 'f', 3, 64))
	add("detail", a.Detail)
	return el
}
