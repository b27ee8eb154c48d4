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
	log := s.log.With("trackingID", j.UUID, "device", j.Device, "runName", runName(j.Device), "runStamp", runStamp(j))
	base, how, err := s.baseVersions(ctx, j)
	if err == nil {
		err = s.merge(ctx, j, dev, base)
	}
	var next map[string]string
	if err == nil {
		next, err = s.prepare(ctx, j, dev, base)
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

// merge applies the device's rows component by component, skipping the
// components a previous run of the job merged already.
func (s *Service) merge(ctx context.Context, j store.DevJob, dev Device, base map[string]string) error {
	if !j.HasData {
		return nil
	}
	data, err := s.st.DevJobRequest(ctx, j)
	if err != nil {
		return fmt.Errorf("reading the job's LocalDataUpdates: %w", err)
	}
	updates, err := decodeUpdates(data)
	if err != nil {
		return fmt.Errorf("the job's LocalDataUpdates no longer read: %w", err)
	}
	for _, u := range updates {
		if slices.Contains(j.Merged, u.Alias) {
			continue
		}
		start := time.Now()
		results, err := s.eng.Apply(ctx, dev, u.Alias, base[u.Alias], u.Rows)
		if err != nil {
			return fmt.Errorf("merging component %s: %w", u.Alias, err)
		}
		if len(results) != len(u.Rows) {
			return fmt.Errorf("merging component %s: %d results for %d rows", u.Alias, len(results), len(u.Rows))
		}
		enc := make([][]byte, len(results))
		statuses := map[string]int{}
		for i, r := range results {
			if enc[i], err = json.Marshal(r); err != nil {
				return err
			}
			st := "none"
			if r.RowStatus != nil {
				st = fmt.Sprint(*r.RowStatus)
			}
			statuses[st]++
		}
		if err := s.st.SaveDevMerge(ctx, j.ID, u.Alias, enc); err != nil {
			return err
		}
		s.audit(ctx, j, "devicejob.merge", "", http.StatusOK, len(u.Rows), time.Since(start), map[string]any{"alias": u.Alias,
			"rows": len(u.Rows), "rowStatus": statuses, "fromVersion": base[u.Alias] != ""})
	}
	return nil
}

// prepare stores the server's changes since the device's cursor, page by
// page, and returns the versions they bring the device to.
func (s *Service) prepare(ctx context.Context, j store.DevJob, dev Device, base map[string]string) (map[string]string, error) {
	if err := s.st.ResetDevRemote(ctx, j.ID); err != nil {
		return nil, err
	}
	comps, err := s.eng.Components(ctx, dev)
	if err != nil {
		return nil, fmt.Errorf("listing the device's components: %w", err)
	}
	next := maps.Clone(base)
	for _, c := range comps {
		v := base[c.Alias]
		for {
			rows, nv, more, err := s.eng.Changes(ctx, dev, c.Alias, v, s.cfg.PageRows)
			if err != nil {
				return nil, fmt.Errorf("server changes of component %s: %w", c.Alias, err)
			}
			enc := make([][]byte, len(rows))
			for i, r := range rows {
				r.RowStatus, r.Message = nil, ""
				if enc[i], err = json.Marshal(r); err != nil {
					return nil, err
				}
			}
			if len(enc) > 0 {
				if err := s.st.AddDevRemote(ctx, j.ID, c.Alias, enc); err != nil {
					return nil, err
				}
			}
			v = nv
			if !more {
				break
			}
			if len(rows) == 0 {
				return nil, fmt.Errorf("server changes of component %s: the engine says more remain but sent none", c.Alias)
			}
		}
		next[c.Alias] = v
	}
	return next, nil
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
		RunStamp: runStamp(j), RunTime: j.Created, Client: client, Status: status, Count: count, Duration: d, Detail: string(b)})
}
