package devjobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"sdatasync/feeds"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
)

// dispatch starts queued jobs whenever it is woken (a job queued or
// ended) and every dispatchEvery: for each device with queued jobs and
// none running, while workers are free, the newest queued job runs and
// the older ones are skipped.
func (s *Service) dispatch(ctx context.Context) {
	t := time.NewTicker(dispatchEvery)
	defer t.Stop()
	for {
		s.claim(ctx)
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-t.C:
		}
	}
}

// claim hands the jobs it starts to the workers.
func (s *Service) claim(ctx context.Context) {
	free := s.cfg.Workers - int(s.busy.Load())
	if free <= 0 {
		return
	}
	now := time.Now().UTC()
	started, skipped, err := s.st.ClaimDevJobs(ctx, free, now, s.cfg.ResultTTL)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("starting device jobs", "err", err)
		}
		return
	}
	for _, j := range skipped {
		s.audit(ctx, j, "devicejob.skipped", "", http.StatusOK, 0, 0, map[string]any{"supersededBy": j.SupersededBy})
		s.log.Info("device job skipped", "trackingID", j.UUID, "device", j.Device, "runName", runName(j.Device), "supersededBy", j.SupersededBy)
	}
	for _, j := range started {
		s.busy.Add(1)
		select {
		case s.work <- j: // never blocks: at most Workers jobs are busy
		case <-ctx.Done():
			return // it stays running in the store and resumes at the next start
		}
	}
}

// worker runs the jobs handed to it until the runtime closes.
func (s *Service) worker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-s.work:
			s.run(ctx, j)
			s.busy.Add(-1)
			s.wakeUp()
		}
	}
}

// run runs one job: the merge of each component the device sent rows for
// (results recorded with the mark that the component is merged), then the
// server's changes since the device's cursor, then the next cursor and the
// end of the job in one transaction. Interrupted by a shutdown, the job
// stays running in the store and resumes at the next start.
func (s *Service) run(ctx context.Context, j store.DevJob) {
	start := time.Now()
	dev := deviceOf(j.Fields, j.Principal)
	dev.Job, dev.RunStamp = j.UUID, runStamp(j)
	log := s.log.With("trackingID", j.UUID, "device", j.Device, "runName", runName(j.Device), "runStamp", runStamp(j))
	base, how, err := s.baseVersions(ctx, j)
	var next map[string]string
	if err == nil {
		next, err = s.steps(ctx, j, dev, base)
	}
	if err == nil {
		var done store.DevJob
		if done, err = s.finish(ctx, j, next); err == nil {
			s.audit(ctx, done, "devicejob.done", "", http.StatusOK, done.LocalRows+done.RemoteRows, time.Since(start),
				map[string]any{"localRows": done.LocalRows, "remoteRows": done.RemoteRows, "cursorFrom": how, "lastSyncDateTime": done.Cursor})
			log.Info("device job done", "localRows", done.LocalRows, "remoteRows", done.RemoteRows, "cursorFrom", how,
				"duration", time.Since(start))
			return
		}
	}
	if ctx.Err() != nil {
		log.Info("device job interrupted; it resumes at the next start", "err", err)
		return
	}
	reason := err.Error()
	log.Error("device job failed", "err", err)
	if ferr := s.st.FailDevJob(context.WithoutCancel(ctx), j.ID, reason, time.Now().UTC(), s.cfg.ResultTTL); ferr != nil {
		log.Error("recording a device job failure failed; it is retried at the next start", "err", ferr)
	}
	j.Status, j.Failure = store.DevJobFailed, reason
	s.audit(ctx, j, "devicejob.failed", "", http.StatusInternalServerError, 0, time.Since(start), map[string]any{"failure": reason})
}

// progress is what a job did so far, recorded with each step: per
// component alias, the chunks of its rows merged, the version reached and
// whether the component is done.
type progress map[string]*aliasProgress

type aliasProgress struct {
	Chunks  int    `json:"chunks"`
	Version string `json:"version"`
	Done    bool   `json:"done"`
}

// steps runs the job's synchronize calls: for each component the device
// sent rows for (in the order sent), then for the other components it
// receives, calls in chunks of at most the engine's MaxRows rows, then
// calls without rows while more server changes remain. Each call is
// recorded (results, changes, progress) in one transaction; a resumed job
// skips the calls recorded. It returns the versions the device holds at
// the end.
func (s *Service) steps(ctx context.Context, j store.DevJob, dev Device, base map[string]string) (map[string]string, error) {
	prog := progress{}
	if len(j.Progress) > 0 && string(j.Progress) != "[]" {
		if err := json.Unmarshal(j.Progress, &prog); err != nil {
			return nil, fmt.Errorf("the job's progress does not read: %w", err)
		}
	}
	var updates []componentRows
	if j.HasData {
		data, err := s.st.DevJobRequest(ctx, j)
		if err != nil {
			return nil, fmt.Errorf("reading the job's LocalDataUpdates: %w", err)
		}
		if updates, err = decodeUpdates(data); err != nil {
			return nil, fmt.Errorf("the job's LocalDataUpdates no longer read: %w", err)
		}
	}
	comps, err := s.eng.Components(ctx, dev)
	if err != nil {
		return nil, fmt.Errorf("listing the device's components: %w", err)
	}
	for _, c := range comps {
		if !slices.ContainsFunc(updates, func(u componentRows) bool { return u.Alias == c.Alias }) {
			updates = append(updates, componentRows{Alias: c.Alias})
		}
	}
	next := maps.Clone(base)
	max := max(s.eng.MaxRows(), 1)
	for _, u := range updates {
		p := prog[u.Alias]
		if p == nil {
			p = &aliasProgress{Version: base[u.Alias]}
			prog[u.Alias] = p
		}
		for !p.Done {
			var rows []Row
			if from := p.Chunks * max; from < len(u.Rows) {
				rows = u.Rows[from:min(from+max, len(u.Rows))]
			}
			start := time.Now()
			pg, err := s.eng.Sync(ctx, dev, u.Alias, p.Version, rows, s.cfg.PageRows)
			if err != nil {
				return nil, fmt.Errorf("synchronizing component %s: %w", u.Alias, err)
			}
			if len(pg.Results) != len(rows) {
				return nil, fmt.Errorf("synchronizing component %s: %d results for %d rows", u.Alias, len(pg.Results), len(rows))
			}
			if pg.More && len(pg.Changes) == 0 {
				return nil, fmt.Errorf("synchronizing component %s: the engine says more changes remain but sent none", u.Alias)
			}
			p.Chunks++
			p.Version = pg.Next
			p.Done = p.Chunks*max >= len(u.Rows) && !pg.More
			if err := s.record(ctx, j, u.Alias, pg, prog); err != nil {
				return nil, err
			}
			if len(rows) > 0 {
				s.auditMerge(ctx, j, u.Alias, pg.Results, time.Since(start))
			}
		}
		next[u.Alias] = p.Version
	}
	return next, nil
}

// record stores one step: the results, the changes (the device's own rows
// as they stand after the merge first: the engine does not send back what
// its answer to them carries) and the progress.
func (s *Service) record(ctx context.Context, j store.DevJob, alias string, pg Page, prog progress) error {
	results := make([][]byte, 0, len(pg.Results))
	changes := make([][]byte, 0, len(pg.Results)+len(pg.Changes))
	for _, r := range pg.Results {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		results = append(results, b)
		if r.RowStatus != nil && (*r.RowStatus == 0 || *r.RowStatus == 2) {
			own := Row{UID: r.UID, ActionID: r.ActionID, MDataRow: r.MDataRow}
			if b, err = json.Marshal(own); err != nil {
				return err
			}
			changes = append(changes, b)
		}
	}
	for _, r := range pg.Changes {
		r.RowStatus, r.Message = nil, ""
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		changes = append(changes, b)
	}
	pb, err := json.Marshal(prog)
	if err != nil {
		return err
	}
	return s.st.SaveDevStep(ctx, j.ID, alias, results, changes, pb)
}

// auditMerge writes the audit record of the merge of rows of a component.
func (s *Service) auditMerge(ctx context.Context, j store.DevJob, alias string, results []Row, d time.Duration) {
	statuses := map[string]int{}
	for _, r := range results {
		st := "none"
		if r.RowStatus != nil {
			st = fmt.Sprint(*r.RowStatus)
		}
		statuses[st]++
	}
	s.audit(ctx, j, "devicejob.merge", "", http.StatusOK, len(results), d, map[string]any{"alias": alias, "rows": len(results),
		"rowStatus": statuses})
}

// finish issues the job's cursor and ends it.
func (s *Service) finish(ctx context.Context, j store.DevJob, next map[string]string) (store.DevJob, error) {
	versions, err := json.Marshal(next)
	if err != nil {
		return j, err
	}
	issued := time.Now().UTC()
	if last, err := s.st.LastDevCursor(ctx, j.Device); err == nil && !issued.After(last.Issued) {
		issued = last.Issued.Add(time.Microsecond) // each value names one state, even within one clock tick
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return j, err
	}
	issued = issued.Truncate(time.Microsecond)
	c := store.DevCursor{Device: j.Device, Value: issued.Format(cursorLayout), Versions: versions, Issued: issued, JobUUID: j.UUID}
	return s.st.FinishDevJob(ctx, j.ID, c, time.Now().UTC(), s.cfg.ResultTTL, s.cfg.KeepCursors)
}

// How a job's LastSyncDateTime was read, for the audit log.
const (
	cursorFirst        = "first"        // empty: a first sync, everything is sent
	cursorIssued       = "issued"       // a value the server issued to the device: exact
	cursorConservative = "conservative" // a time the server did not issue: an earlier cursor the device read
	cursorFull         = "full"         // a value the server cannot place: everything is sent again
)

// baseVersions reads a job's LastSyncDateTime: a value the server issued
// to the device stands for its exact versions. Any other value is placed
// conservatively (duplicates, never gaps): a time is taken back by the
// skew margin and the newest cursor issued to the device before it, whose
// answer the device read to the end, stands in; without one, or for a
// value that is not a time, the device gets everything again.
func (s *Service) baseVersions(ctx context.Context, j store.DevJob) (map[string]string, string, error) {
	if j.LastSync == "" {
		return map[string]string{}, cursorFirst, nil
	}
	c, err := s.st.DevCursor(ctx, j.Device, j.LastSync)
	how := cursorIssued
	if errors.Is(err, store.ErrNotFound) {
		how = cursorFull
		t, perr := feeds.ParseTime(j.LastSync)
		if perr != nil {
			return map[string]string{}, how, nil
		}
		c, err = s.st.DevCursorBefore(ctx, j.Device, t.Add(-s.cfg.Skew))
		if errors.Is(err, store.ErrNotFound) {
			return map[string]string{}, how, nil
		}
		how = cursorConservative
	}
	if err != nil {
		return nil, how, err
	}
	v := map[string]string{}
	if err := json.Unmarshal(c.Versions, &v); err != nil {
		return nil, how, fmt.Errorf("cursor %s of device %s: %w", c.Value, j.Device, err)
	}
	return v, how, nil
}

// runStamp is the run stamp of a job: when it was posted.
func runStamp(j store.DevJob) string { return j.Created.UTC().Format(time.RFC3339Nano) }

// audit writes one audit record of a job event, tagged with the job's run
// (runName device:{DeviceExternalID}, runStamp its creation, trackingID
// its SyncJobUUID) and the device fields.
func (s *Service) audit(ctx context.Context, j store.DevJob, op, client string, status, count int, d time.Duration, detail map[string]any) {
	if detail == nil {
		detail = map[string]any{}
	}
	if _, ok := detail["fields"]; !ok && len(j.Fields) > 0 {
		detail["fields"] = json.RawMessage(j.Fields)
	}
	detail["device"] = j.Device
	b, _ := json.Marshal(detail)
	s.rt.Audit(ctx, store.AuditRecord{Dataset: site.DefaultDataset, Operation: op, TrackingID: j.UUID, RunName: runName(j.Device),
		RunStamp: runStamp(j), RunTime: j.Created, Client: client, Principal: j.Principal, Status: status, Count: count, Duration: d, Detail: string(b)})
}
