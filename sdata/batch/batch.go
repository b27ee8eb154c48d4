// Package batch serves $batch (SData core 13.3 to 13.6) of a resource kind.
//
// A batch is a feed POSTed to {kind}/$batch whose entries each carry an
// http:httpMethod (POST, PUT, DELETE or GET), optionally an http:ifMatch,
// and for POST and PUT an sdata:payload. PUT, DELETE and GET name their
// resource by the entry id (the resource URL) or by sdata:url or sdata:key
// on the payload. Entries run in order, each as an ordinary local request
// through the Create, Update and Delete of package resources, so every write
// that succeeds takes its own tick and is seen by synchronization; a failing entry
// never stops the others. The answer is a feed with one entry per request
// entry, in the same order, carrying http:httpStatus, http:httpMessage,
// http:httpMethod, http:location (creates), http:etag, the resulting payload
// and an sdata:diagnosis when the entry failed; the batch itself answers 200.
//
// With a trackingID query parameter the batch runs asynchronously, exactly
// like the sync URLs: 202 with Location {kind}/$batch('{trackingID}') and an
// sdata:tracking body; GET on it polls (202, then 200 with the result feed);
// DELETE frees it. The same trackingID never runs a batch twice: a repeated
// POST answers with the existing job. Without trackingID the batch runs
// synchronously and answers 200 with the result feed.
package batch

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/beevik/etree"

	"sdatasync/feeds"
	"sdatasync/sdata/auth"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/jobs"
	"sdatasync/sdata/resources"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
	"sdatasync/sdata/wire"
)

// Op is the URL segment of the batch service of a kind.
const Op = "$batch"

// MaxEntries is the most entries one batch may hold; a larger batch is
// refused as a whole (413) before anything of it runs.
const MaxEntries = 1000

// interrupted is the failure recorded for a batch job a previous process
// left running (a crash: a graceful shutdown finishes the job with the
// entries it did not reach reported 503).
const interrupted = "the batch was interrupted by a crash or kill of the provider before its results were recorded. " +
	"Entries processed before the interruption are applied (each is an ordinary local write); the others are not. " +
	"Read the resources to see which, and post what is missing again under a new trackingID"

// Outcomes recorded for successful batch entries (store.Result.Outcome).
// A failed entry records its diagnosis codes instead, as "sdataCode" or
// "sdataCode/applicationCode" (see diagOutcome).
const (
	outcomeCreated = "created"
	outcomeUpdated = "updated"
	outcomeDeleted = "deleted"
	outcomeRead    = "read"
)

// Config configures a Service.
type Config struct {
	Site      *site.Site
	Resources *resources.Service
	Store     store.Store
	Jobs      *jobs.Runtime
	Log       *slog.Logger
	MaxBody   int64
	Limits    feeds.Limits
}

// Service serves the batches of every kind of one provider.
type Service struct {
	site    *site.Site
	res     *resources.Service
	st      store.Store
	jobs    *jobs.Runtime
	log     *slog.Logger
	maxBody int64
	limits  feeds.Limits
}

// New builds the service; a batch job a previous process left running is
// failed (its entries were applied one by one and cannot be told apart
// from later writes: running it again could apply them twice).
func New(cfg Config) *Service {
	s := &Service{site: cfg.Site, res: cfg.Resources, st: cfg.Store, jobs: cfg.Jobs, log: cfg.Log, maxBody: cfg.MaxBody, limits: cfg.Limits}
	s.jobs.Handle(store.JobBatch, func(context.Context, site.Scope, store.Job) (func(context.Context), error) {
		return nil, errors.New(interrupted)
	})
	return s
}

// item is one prepared request entry of a batch.
type item struct {
	method  string         // POST, PUT, DELETE or GET
	key     string         // PUT, DELETE, GET: the resource named
	ifMatch []string       // http:ifMatch, if any
	payload *etree.Element // POST, PUT: the resource payload
	title   string         // the request entry's title, reported when the entry fails early
	path    string         // feed/entry[n], the prefix of payload paths
	err     *diag.Error    // set when the entry cannot run; it is reported as is
}

// audited runs h as jobs.Runtime.Audited does ("batch.post"...).
func (s *Service) audited(h jobs.RequestHandler) site.Handler { return s.jobs.Audited("batch", Op, h) }

// Post serves POST $batch: synchronously without a tracking ID, else as a
// job (idempotently: an existing job with that tracking ID is answered as
// is, whatever the body).
func (s *Service) Post() site.Handler {
	return s.audited(func(w http.ResponseWriter, r *http.Request, t site.Target, ru wire.Run) (int, error) {
		ctx := r.Context()
		if ru.Tracking != "" {
			j, err := s.st.Job(ctx, t.Endpoint.ID, store.JobBatch, ru.Tracking)
			if err == nil {
				if err := s.jobs.Owns(ctx, t.Scope, j); err != nil {
					return 0, err
				}
				return 0, s.jobs.WriteTracking(w, http.StatusAccepted, s.site.OpURL(t.Scope, Op, j.TrackingID), j)
			}
			if !errors.Is(err, store.ErrNotFound) {
				return 0, err
			}
		}
		body, err := wire.ReadBody(w, r, s.maxBody)
		if err != nil {
			return 0, err
		}
		items, err := s.prepare(t.Scope, body)
		if err != nil {
			return 0, err
		}
		usr := auth.Name(r)
		if ru.Tracking == "" {
			start := time.Now()
			results := s.apply(ctx, t.Scope, items, usr)
			s.audit(ctx, t.Scope, ru.Tracking, ru.Name, ru.Stamp, results, time.Since(start))
			return len(results), s.writeFeed(ctx, w, t.Scope, s.site.OpURL(t.Scope, Op, ""), results)
		}
		j, created, err := s.jobs.Create(ctx, t.Scope, store.JobBatch, ru, body)
		if err != nil {
			return 0, err
		}
		if created {
			s.jobs.Start(j, func(ctx context.Context) { s.runJob(ctx, t.Scope, j, items, usr) })
		}
		return len(items), s.jobs.WriteTracking(w, http.StatusAccepted, s.site.OpURL(t.Scope, Op, j.TrackingID), j)
	})
}

// Poll serves GET $batch('id'): 202 while the batch runs, a 500 diagnosis
// when it failed, else 200 with the whole result feed.
func (s *Service) Poll() site.Handler {
	return s.audited(func(w http.ResponseWriter, r *http.Request, t site.Target, ru wire.Run) (int, error) {
		j, err := s.jobs.Lookup(r.Context(), t.Scope, store.JobBatch, Op, ru.Tracking)
		if err != nil {
			return 0, err
		}
		loc := s.site.OpURL(t.Scope, Op, j.TrackingID)
		switch j.Status {
		case store.JobRunning:
			return 0, s.jobs.WriteTracking(w, http.StatusAccepted, loc, j)
		case store.JobFailed:
			return 0, jobs.Failed(store.JobBatch, j)
		}
		results, err := s.st.TargetResults(r.Context(), j, 0, max(j.Total, 1))
		if err != nil {
			return 0, err
		}
		return len(results), s.writeFeed(r.Context(), w, t.Scope, loc, results)
	})
}

// Free serves DELETE $batch('id').
func (s *Service) Free() site.Handler {
	return s.audited(func(w http.ResponseWriter, r *http.Request, t site.Target, ru wire.Run) (int, error) {
		j, err := s.jobs.Lookup(r.Context(), t.Scope, store.JobBatch, Op, ru.Tracking)
		if err != nil {
			return 0, err
		}
		if err := s.jobs.Free(r.Context(), j); err != nil {
			return 0, err
		}
		w.WriteHeader(http.StatusOK)
		return 0, nil
	})
}

// runJob runs a batch in the background and records its results. A
// shutdown stops it between entries: the entries not reached are recorded
// as 503, so the results always say exactly what was applied.
func (s *Service) runJob(ctx context.Context, sc site.Scope, j store.Job, items []item, usr string) {
	start := time.Now()
	results := s.apply(ctx, sc, items, usr)
	if _, err := s.st.SaveResults(context.WithoutCancel(ctx), j, results); err != nil {
		// Freed while it ran (DELETE) or a store failure: the writes stay
		// applied, only their report is lost.
		if errors.Is(err, store.ErrNotFound) {
			s.log.Warn("batch job freed before it finished; its results are dropped", "trackingID", j.TrackingID, "kind", sc.Kind.PluralName)
		} else {
			s.log.Error("batch results not recorded", "trackingID", j.TrackingID, "kind", sc.Kind.PluralName, "err", err)
			if !errors.Is(err, store.ErrConflict) {
				s.jobs.Fail(j, "recording the results failed: "+err.Error())
			}
		}
	}
	s.audit(context.WithoutCancel(ctx), sc, j.TrackingID, j.RunName, j.RunStamp, results, time.Since(start))
}

// audit records what a batch did: one summary with the count of entries
// per HTTP status.
func (s *Service) audit(ctx context.Context, sc site.Scope, tracking, runName, runStamp string, results []store.Result, d time.Duration) {
	counts := map[string]int{}
	for _, r := range results {
		counts[strconv.Itoa(r.Status)]++
	}
	detail, _ := jsonMarshal(map[string]any{"statuses": counts})
	s.jobs.Audit(ctx, store.AuditRecord{Dataset: sc.Dataset, Kind: sc.Kind.PluralName, Operation: "batch.applied", TrackingID: tracking,
		RunName: runName, RunStamp: runStamp, RunTime: wire.ParseRunStamp(runStamp), Status: http.StatusOK, Count: len(results),
		Duration: d, Detail: detail})
}
