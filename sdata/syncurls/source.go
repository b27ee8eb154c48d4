package syncurls

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"sdatasync/digest"
	"sdatasync/feeds"
	"sdatasync/sdata/jobs"
	"sdatasync/sdata/payload"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
	"sdatasync/sdata/wire"
)

// readDigest reads and validates a digest request body.
func (s *Service) readDigest(w http.ResponseWriter, r *http.Request) (*digest.Digest, error) {
	body, err := wire.ReadBody(w, r, s.maxBody)
	if err != nil {
		return nil, err
	}
	return s.parseDigest(body)
}

// parseDigest parses a digest; the codec validates it as it decodes
// (digest.Digest.Validate), an invalid one is a 400 naming the field.
func (s *Service) parseDigest(body []byte) (*digest.Digest, error) {
	return feeds.ParseDigest(bytes.NewReader(body), s.limits)
}

// newTracking is the tracking id of a job the request did not name (a
// synchronous request).
func newTracking() string { return "sync-" + uuid.NewString() }

// StartSource serves POST $syncSource: the body is the target's digest.
// With a trackingID the selection runs as a job (202 + Location); without
// one it runs at once and the answer is the first page of the sync feed.
func (s *Service) StartSource() site.Handler {
	return s.audited(OpSource, func(w http.ResponseWriter, r *http.Request, t site.Target, ru wire.Run) (int, error) {
		body, err := wire.ReadBody(w, r, s.maxBody)
		if err != nil {
			return 0, err
		}
		target, err := s.parseDigest(body)
		if err != nil {
			return 0, err
		}
		if err := s.trust(r.Context(), digestEndpoints(*target)...); err != nil {
			return 0, err
		}
		async := ru.Tracking != ""
		if !async {
			ru.Tracking = newTracking()
		}
		j, created, err := s.jobs.Create(r.Context(), t.Scope, store.JobSource, ru, body)
		if err != nil {
			return 0, err
		}
		if !async {
			if j, err = s.st.RunSource(r.Context(), t.Endpoint, j, *target); err != nil {
				return 0, err
			}
			return s.sourcePage(w, r, t.Scope, j)
		}
		if created {
			s.jobs.Start(j, func(ctx context.Context) { s.runSourceJob(ctx, t.Scope, j, *target) })
		}
		return 0, s.jobs.WriteTracking(w, http.StatusAccepted, s.site.OpURL(t.Scope, OpSource, j.TrackingID), j)
	})
}

// PollSource serves GET $syncSource('id'): 202 while the selection runs,
// then a page of the sync feed.
func (s *Service) PollSource() site.Handler {
	return s.audited(OpSource, func(w http.ResponseWriter, r *http.Request, t site.Target, ru wire.Run) (int, error) {
		j, err := s.jobs.Poll(r.Context(), t.Scope, store.JobSource, OpSource, ru.Tracking)
		if err != nil {
			return 0, err
		}
		return s.sourcePage(w, r, t.Scope, j)
	})
}

// FreeSource serves DELETE $syncSource('id'): the job and its selection go.
func (s *Service) FreeSource() site.Handler {
	return s.audited(OpSource, func(w http.ResponseWriter, r *http.Request, t site.Target, ru wire.Run) (int, error) {
		return 0, s.free(w, r, t.Scope, store.JobSource, OpSource, ru.Tracking)
	})
}

// free serves the DELETE of a job.
func (s *Service) free(w http.ResponseWriter, r *http.Request, sc site.Scope, typ, op, tracking string) error {
	j, err := s.jobs.Lookup(r.Context(), sc, typ, op, tracking)
	if err != nil {
		return err
	}
	if err := s.jobs.Free(r.Context(), j); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// resumeSource runs a source job again after a restart.
func (s *Service) resumeSource(ctx context.Context, sc site.Scope, j store.Job) (func(context.Context), error) {
	target, err := feeds.ParseDigest(bytes.NewReader(j.Request), s.limits)
	if err != nil {
		return nil, fmt.Errorf("stored request unreadable: %w", err)
	}
	return func(ctx context.Context) { s.runSourceJob(ctx, sc, j, *target) }, nil
}

// runSourceJob makes the selection of a source job and audits it.
func (s *Service) runSourceJob(ctx context.Context, sc site.Scope, j store.Job, target digest.Digest) {
	start := time.Now()
	done, err := s.st.RunSource(ctx, sc.Endpoint, j, target)
	status := http.StatusOK
	if err != nil {
		status = http.StatusInternalServerError
		s.log.Error("source job failed", "trackingID", j.TrackingID, "kind", sc.Kind.PluralName, "runName", j.RunName, "runStamp", j.RunStamp, "err", err)
		if ctx.Err() == nil {
			s.jobs.Fail(j, "selection failed: "+err.Error())
		}
	}
	s.jobs.Audit(ctx, store.AuditRecord{Dataset: sc.Dataset, Kind: sc.Kind.PluralName, Operation: "source.selected", TrackingID: j.TrackingID,
		RunName: j.RunName, RunStamp: j.RunStamp, RunTime: wire.ParseRunStamp(j.RunStamp), Status: status, Count: done.Total, Duration: time.Since(start)})
}

// sourcePage answers a GET on a source job: 202 while it runs, then a page
// of the sync feed.
func (s *Service) sourcePage(w http.ResponseWriter, r *http.Request, sc site.Scope, j store.Job) (int, error) {
	loc := s.site.OpURL(sc, OpSource, j.TrackingID)
	switch j.Status {
	case store.JobRunning:
		return 0, s.jobs.WriteTracking(w, http.StatusAccepted, loc, j)
	case store.JobFailed:
		return 0, jobs.Failed(store.JobSource, j)
	}
	q := r.URL.Query()
	pg, err := wire.ParsePaging(q)
	if err != nil {
		return 0, err
	}
	entries, err := s.st.SourceEntries(r.Context(), j, pg.Offset(), pg.Count)
	if err != nil {
		return 0, err
	}
	head := &feeds.Feed{ID: loc, Title: payload.Label(sc.Kind) + " synchronization feed " + j.TrackingID, Updated: wire.NowUTC(),
		SyncMode: "catchUp", Digest: j.Digest, TotalResults: j.Total, StartIndex: pg.Start, ItemsPerPage: pg.Count,
		Links: pg.Links(loc, wire.KeepRunParams(q), j.Total)}
	fw, err := wire.StreamFeed(w, head)
	if err != nil {
		return 0, err
	}
	for _, res := range entries {
		e, err := Entry(s.site, sc, res)
		if err != nil {
			return 0, err
		}
		if err := fw.WriteEntry(e); err != nil {
			return 0, err
		}
	}
	return len(entries), fw.Close()
}

// Entry renders a selected change as a sync feed entry (catchUp pages and
// immediate pushes).
func Entry(st *site.Site, sc site.Scope, res store.Resource) (*feeds.Entry, error) {
	u := st.ResourceURL(sc.Dataset, sc.Kind, res.Key)
	state := res.State
	e := &feeds.Entry{ID: u, Title: res.Title, Content: res.Title, Updated: res.Updated, SyncState: &state,
		HTTPMethod: string(res.Change), Links: []feeds.Link{{Rel: "self", Type: wire.TypeEntry, Href: u}}}
	if !payload.HasChildLists(sc.Kind) {
		// The common case needs no tree: attributes go into the stored form.
		attrs := [][2]string{{"sdata:uuid", res.UUID}}
		if res.Deleted {
			attrs = append(attrs, [2]string{"sdata:isDeleted", "true"})
		}
		if len(res.Aliases) > 0 {
			attrs = append(attrs, [2]string{"xmlns:sx", payload.ExtNS}, [2]string{"sx:uuidAliases", strings.Join(res.Aliases, " ")})
		}
		if raw, ok := payload.WithAttrs(res.Payload, attrs...); ok {
			e.RawPayload = raw
			return e, nil
		}
	}
	el, err := payload.ParseStored(res.Payload)
	if err != nil {
		return nil, err
	}
	el.CreateAttr("sdata:uuid", res.UUID)
	if res.Deleted {
		el.CreateAttr("sdata:isDeleted", "true")
	}
	if len(res.Aliases) > 0 {
		el.CreateAttr("xmlns:sx", payload.ExtNS)
		el.CreateAttr("sx:uuidAliases", strings.Join(res.Aliases, " "))
	}
	payload.MarkComplete(sc.Kind, el)
	e.Payload = el
	return e, nil
}
