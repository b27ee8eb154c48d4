package console

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"time"

	"sdatasync/sdata/auth"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/payload"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
	"sdatasync/sdata/syncurls"
)

// conflictOp and restoreOp are the audit operations of a conflict and of
// the restore of its losing version.
const (
	conflictOp = "target.conflict"
	restoreOp  = "console.restore"
)

func jsonUnmarshal(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, v)
}

// conflictJSON is a conflict as the pages read it.
type conflictJSON struct {
	ID       int64                    `json:"id"`
	Time     string                   `json:"time"`
	Dataset  string                   `json:"dataset"`
	Kind     string                   `json:"kind"`
	RunName  string                   `json:"runName"`
	RunStamp string                   `json:"runStamp"`
	Detail   *syncurls.ConflictDetail `json:"detail"`
}

func toConflict(a store.AuditRecord) conflictJSON {
	c := conflictJSON{ID: a.ID, Time: stamp(a.Time), Dataset: a.Dataset, Kind: a.Kind, RunName: a.RunName, RunStamp: a.RunStamp}
	var d syncurls.ConflictDetail
	if json.Unmarshal([]byte(a.Detail), &d) == nil {
		c.Detail = &d
	}
	return c
}

// Conflicts serves GET /console/api/conflicts: a page of conflicts, newest
// first, filtered by dataset, kind, runName, runStamp, since and until.
func (s *Service) Conflicts(w http.ResponseWriter, r *http.Request, t site.Target) error {
	if err := s.ready(); err != nil {
		return err
	}
	q := r.URL.Query()
	offset, limit, err := page(q)
	if err != nil {
		return err
	}
	aq := store.AuditQuery{Operation: conflictOp, Dataset: q.Get("dataset"), Kind: q.Get("kind"), RunName: q.Get("runName"),
		RunStamp: q.Get("runStamp"), Offset: offset, Limit: limit}
	if aq.Since, aq.Until, err = span(q); err != nil {
		return err
	}
	recs, total, err := s.st.AuditLog(r.Context(), aq)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"total": total, "offset": offset, "limit": limit, "conflicts": mapSlice(recs, toConflict)})
}

// conflict reads the conflict record named by the URL's id.
func (s *Service) conflict(r *http.Request, t site.Target) (store.AuditRecord, error) {
	id, err := strconv.ParseInt(t.ID, 10, 64)
	if err != nil || id <= 0 {
		return store.AuditRecord{}, diag.New(diag.BadURL, "conflict id %q: a positive integer", t.ID)
	}
	a, err := s.st.AuditRecordByID(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || err == nil && a.Operation != conflictOp {
		return store.AuditRecord{}, diag.New(diag.NoResource, "no conflict %d in the audit log", id)
	}
	return a, err
}

// Conflict serves GET /console/api/conflicts('{id}'): one conflict, both
// versions field by field, the current version of the resource and the
// restores made of it.
func (s *Service) Conflict(w http.ResponseWriter, r *http.Request, t site.Target) error {
	if err := s.ready(); err != nil {
		return err
	}
	a, err := s.conflict(r, t)
	if err != nil {
		return err
	}
	c := toConflict(a)
	out := map[string]any{"conflict": c}
	if d := c.Detail; d != nil && d.Won != nil && d.Lost != nil {
		out["fields"] = Diff(d.Won.Payload, d.Lost.Payload)
		if ep, ok := s.site.Endpoint(a.Dataset, a.Kind); ok && d.Key != "" {
			if cur, err := s.st.Get(r.Context(), ep, d.Key); err == nil {
				out["current"] = map[string]any{"key": cur.Key, "etag": cur.ETag, "title": cur.Title, "deleted": cur.Deleted,
					"payload": string(cur.Payload), "fields": Diff(string(cur.Payload), d.Lost.Payload)}
			}
		}
	}
	restores, _, err := s.st.AuditLog(r.Context(), store.AuditQuery{Operation: restoreOp, Dataset: a.Dataset, Kind: a.Kind,
		TrackingID: strconv.FormatInt(a.ID, 10), Limit: 20})
	if err != nil {
		return err
	}
	out["restores"] = mapSlice(restores, toRecord)
	return writeJSON(w, http.StatusOK, out)
}

// Restore serves POST /console/api/datasets/{dataset}/conflicts('{id}')/restore:
// a new local write of the resource carrying the losing version's content
// (every property it has; a tombstone deletes the resource), audited as
// console.restore with who did it. The request must be JSON (a page's
// fetch; a cross-site form cannot send it).
func (s *Service) Restore(w http.ResponseWriter, r *http.Request, t site.Target) error {
	if err := s.ready(); err != nil {
		return err
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return diag.New(diag.UnsupportedMediaType, "a restore is requested with Content-Type application/json")
	}
	a, err := s.conflict(r, t)
	if err != nil {
		return err
	}
	if a.Dataset != t.Dataset {
		return diag.New(diag.NoResource, "no conflict %d in dataset %q", a.ID, t.Dataset)
	}
	c := toConflict(a)
	if c.Detail == nil || c.Detail.Lost == nil || c.Detail.Key == "" {
		return diag.New(diag.Conflict, "conflict %d was recorded without its losing version: nothing to restore", a.ID)
	}
	sc, ok := s.site.Scope(a.Dataset, a.Kind)
	if !ok {
		return diag.New(diag.NoKind, "resource kind %q is not served any more", a.Kind)
	}
	sc.Key, sc.Single = c.Detail.Key, true
	user := auth.Name(r)
	lost := c.Detail.Lost
	var res store.Resource
	if lost.Deleted {
		res, err = s.res.Delete(r.Context(), sc, nil, user)
	} else {
		el, perr := payload.ParseStored([]byte(lost.Payload))
		if perr != nil {
			return diag.New(diag.Conflict, "the losing version of conflict %d does not parse: %v", a.ID, perr)
		}
		el.RemoveAttr("sdata:uuid") // the resource keeps the UUID it has
		res, err = s.res.Update(r.Context(), sc, el, nil, user)
	}
	if err != nil {
		return err
	}
	detail, _ := json.Marshal(map[string]any{"conflict": a.ID, "key": res.Key, "uuid": res.UUID, "etag": res.ETag, "by": user,
		"deleted": lost.Deleted})
	rec := store.AuditRecord{Time: time.Now().UTC(), Dataset: a.Dataset, Kind: a.Kind, Operation: restoreOp, TrackingID: strconv.FormatInt(a.ID, 10),
		Client: r.RemoteAddr, Status: http.StatusOK, Count: 1, Detail: string(detail)} // the tracking ID names the conflict

	if err := s.st.Audit(r.Context(), rec); err != nil {
		s.log.Error("audit of a restore failed", "conflict", a.ID, "err", err)
	}
	if s.metrics != nil {
		s.metrics.Restored(a.Kind)
	}
	s.log.Info("conflict's losing version restored", "conflict", a.ID, "dataset", a.Dataset, "kind", a.Kind, "key", res.Key, "by", user)
	return writeJSON(w, http.StatusOK, map[string]any{"key": res.Key, "etag": res.ETag, "title": res.Title, "deleted": res.Deleted, "by": user})
}
