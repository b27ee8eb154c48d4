package syncurls

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/beevik/etree"

	"sdatasync/digest"
	"sdatasync/feeds"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/jobs"
	"sdatasync/sdata/payload"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
	"sdatasync/sdata/wire"
)

// StartTarget serves POST $syncTarget: the body is a page of a sync feed.
// With a trackingID the page is applied as a job (202 + Location); without
// one it is applied at once and the answer is the whole result feed.
func (s *Service) StartTarget() site.Handler {
	return s.audited(OpTarget, func(w http.ResponseWriter, r *http.Request, t site.Target, ru wire.Run) (int, error) {
		body, err := wire.ReadBody(w, r, s.maxBody)
		if err != nil {
			return 0, err
		}
		tf, err := s.prepareTarget(r.Context(), t.Scope, body)
		if err != nil {
			return 0, err
		}
		if err := s.trust(r.Context(), append(digestEndpoints(tf.digest), stateEndpoints(tf.states)...)...); err != nil {
			return 0, err
		}
		if tf.immediate {
			// A gap refuses the whole request at once; the job re-checks it in
			// its transaction.
			cur, err := s.st.Digest(r.Context(), t.Endpoint)
			if err != nil {
				return 0, err
			}
			if err := digest.CheckImmediate(cur, tf.digest, tf.states); err != nil {
				return 0, diag.New(diag.BadRequest, "%v", err)
			}
		}
		async := ru.Tracking != ""
		if !async {
			ru.Tracking = newTracking()
		}
		j, created, err := s.jobs.Create(r.Context(), t.Scope, store.JobTarget, ru, body)
		if err != nil {
			return 0, err
		}
		if !async {
			j, err = s.applyTarget(r.Context(), t.Scope, j, tf)
			if err != nil {
				return 0, err
			}
			defer func() {
				if err := s.jobs.Free(context.WithoutCancel(r.Context()), j); err != nil {
					s.log.Error("freeing a synchronous target job failed; it expires with its TTL", "trackingID", j.TrackingID, "err", err)
				}
			}()
			return s.resultPage(w, r, t.Scope, j, true)
		}
		if created {
			s.jobs.Start(j, func(ctx context.Context) { s.applyTarget(ctx, t.Scope, j, tf) })
		}
		return tf.entries.Len(), s.jobs.WriteTracking(w, http.StatusAccepted, s.site.OpURL(t.Scope, OpTarget, j.TrackingID), j)
	})
}

// PollTarget serves GET $syncTarget('id'): 202 while the page is applied,
// then a page of the result feed.
func (s *Service) PollTarget() site.Handler {
	return s.audited(OpTarget, func(w http.ResponseWriter, r *http.Request, t site.Target, ru wire.Run) (int, error) {
		j, err := s.jobs.Poll(r.Context(), t.Scope, store.JobTarget, OpTarget, ru.Tracking)
		if err != nil {
			return 0, err
		}
		return s.resultPage(w, r, t.Scope, j, false)
	})
}

// FreeTarget serves DELETE $syncTarget('id'): the job and its results go.
func (s *Service) FreeTarget() site.Handler {
	return s.audited(OpTarget, func(w http.ResponseWriter, r *http.Request, t site.Target, ru wire.Run) (int, error) {
		return 0, s.free(w, r, t.Scope, store.JobTarget, OpTarget, ru.Tracking)
	})
}

// resumeTarget applies a target job's page again after a restart.
func (s *Service) resumeTarget(ctx context.Context, sc site.Scope, j store.Job) (func(context.Context), error) {
	tf, err := s.prepareTarget(ctx, sc, j.Request)
	if err != nil {
		return nil, fmt.Errorf("stored request unreadable: %w", err)
	}
	return func(ctx context.Context) { s.applyTarget(ctx, sc, j, tf) }, nil
}

// targetFeed is a parsed, validated sync feed page ready to apply.
type targetFeed struct {
	digest    digest.Digest
	immediate bool
	last      bool
	states    []digest.SyncState // of every entry (zero when it has none)
	entries   *preparedPage      // being prepared in the background
}

// prepareTarget parses a sync feed page and starts preparing its entries; a
// bad entry is marked invalid (reported 400 in the results), a bad feed is
// an error. Configured conflict priorities replace the feed's own.
func (s *Service) prepareTarget(ctx context.Context, sc site.Scope, body []byte) (*targetFeed, error) {
	f, err := feeds.ParseFeed(bytes.NewReader(body), s.limits)
	if err != nil {
		return nil, err
	}
	tf := &targetFeed{}
	switch f.SyncMode {
	case "", "catchUp":
	case "immediate":
		tf.immediate = true
	default:
		return nil, diag.New(diag.BadRequest, "unknown sync:syncMode %q (catchUp or immediate)", f.SyncMode)
	}
	// The codec validated the digest and every sync state, each against
	// the digest's claim (digest.Digest.Validate, SyncState.Validate,
	// Claims.Check).
	if f.Digest != nil {
		tf.digest = *f.Digest
		if err := s.configured(ctx, &tf.digest); err != nil {
			return nil, err
		}
	} else if !tf.immediate {
		return nil, diag.New(diag.BadRequest, "a catchUp sync feed must carry the source's sync:digest")
	}
	_, hasNext := f.Link("next")
	tf.last = !hasNext
	tf.states = make([]digest.SyncState, len(f.Entries))
	for i, e := range f.Entries {
		if e.SyncState != nil && e.SyncState.Endpoint != "" {
			tf.states[i] = *e.SyncState
		}
	}
	tf.entries = s.preparePage(sc, f.Entries)
	return tf, nil
}

// prepareEntry validates one entry of a page and makes its payload
// canonical; what is wrong with it is reported in its result.
func (s *Service) prepareEntry(sc site.Scope, i int, e *feeds.Entry) store.Incoming {
	in := store.Incoming{Method: strings.ToUpper(e.HTTPMethod)}
	path := fmt.Sprintf("feed/entry[%d]", i+1)
	bad := func(p, format string, args ...any) store.Incoming {
		in.Invalid, in.PayloadPath = fmt.Errorf(format, args...), p
		return in
	}
	switch {
	case e.SyncState == nil:
		// Without a sync state the entry cannot be placed in any clock. (A
		// sync state that is there but wrong fails the whole page: the
		// codec refuses it.)
		return bad(path+"/syncState", "the entry has no sync:syncState")
	}
	in.State = *e.SyncState
	if e.Payload == nil {
		return bad(path+"/payload", "the entry has no sdata:payload")
	}
	u := feeds.PayloadUUID(e.Payload)
	if !payload.ValidUUID(u) {
		return bad(path+"/payload/"+e.Payload.Tag+"/@sdata:uuid", "the payload has no valid sdata:uuid (%q)", u)
	}
	in.UUID = strings.ToLower(u)
	c := s.site.Contract
	in.Aliases = payload.PrepareIncoming(sc.Kind, e.Payload)
	in.Deleted = feeds.IsDeleted(e.Payload) || in.Method == http.MethodDelete
	switch in.Method {
	case "":
		in.Method = http.MethodPut
		if in.Deleted {
			in.Method = http.MethodDelete
		}
	case http.MethodPost, http.MethodPut, http.MethodDelete:
	default:
		return bad(path+"/httpMethod", "unsupported http:httpMethod %q", e.HTTPMethod)
	}
	if in.Deleted && len(e.Payload.ChildElements()) == 0 {
		// A bare tombstone: a known resource keeps its last payload; an
		// unknown one is stored as an empty element of its kind.
		in.KeepPayload = true
		in.Payload, in.Props, in.Title, _ = payload.CanonicalInPlace(c, sc.Kind, etree.NewElement(sc.Kind.Name), "")
		return in
	}
	if err := payload.Validate(c, sc.Kind, e.Payload, in.Deleted); err != nil {
		var pe *payload.Error
		if errors.As(err, &pe) {
			return bad(path+"/payload/"+pe.Path, "%s", pe.Message)
		}
		return bad(path+"/payload", "%v", err)
	}
	// The parsed entry is of no further use once canonical, unless child
	// lists are merged into the stored version later (in.Merge).
	canonical := payload.CanonicalInPlace
	if payload.HasChildLists(sc.Kind) {
		canonical = payload.Canonical
	}
	stored, props, title, err := canonical(c, sc.Kind, e.Payload, "")
	if err != nil {
		return bad(path+"/payload", "%v", err)
	}
	in.Payload, in.Props, in.Title = stored, props, title
	if payload.HasChildLists(sc.Kind) {
		incoming := e.Payload
		in.Merge = func(current []byte) ([]byte, []byte, string, error) {
			curEl, err := payload.ParseStored(current)
			if err != nil {
				return nil, nil, "", err
			}
			return payload.Canonical(c, sc.Kind, payload.MergeChildren(sc.Kind, curEl, incoming, true), "")
		}
	}
	return in
}

// applyTarget applies a prepared page and audits what happened: the
// records of an applied page are written in its transaction
// (store.ResultAuditor), those of a failed one after it.
func (s *Service) applyTarget(ctx context.Context, sc site.Scope, j store.Job, tf *targetFeed) (store.Job, error) {
	start := time.Now()
	var audited []store.AuditRecord
	tf.entries.audit = func(results []store.Result) []store.AuditRecord {
		audited = pageAudit(sc, j, results, time.Since(start))
		s.jobs.Stamp(ctx, audited)
		return audited
	}
	tf.entries.encodeResults(s, sc)
	done, results, err := s.st.RunTarget(ctx, sc.Endpoint, j, tf.digest, tf.immediate, tf.last, tf.entries)
	encoded := tf.entries.encodedResults(err == nil)
	if err != nil {
		s.log.Error("target job failed", "trackingID", j.TrackingID, "kind", sc.Kind.PluralName, "runName", j.RunName, "runStamp", j.RunStamp, "err", err)
		if ctx.Err() == nil {
			s.jobs.Fail(j, err.Error())
		}
		s.jobs.Audit(ctx, store.AuditRecord{Dataset: sc.Dataset, Kind: sc.Kind.PluralName, Operation: "target.failed", TrackingID: j.TrackingID,
			RunName: j.RunName, RunStamp: j.RunStamp, RunTime: wire.ParseRunStamp(j.RunStamp), Status: http.StatusInternalServerError,
			Count: tf.entries.Len(), Duration: time.Since(start), Detail: jsonString(map[string]string{"error": err.Error()})})
		var gap *digest.GapError
		if errors.As(err, &gap) {
			return done, diag.New(diag.BadRequest, "%v", err)
		}
		return done, err
	}
	s.jobs.Observe(audited...)
	s.log.Info("sync page applied", "kind", sc.Kind.PluralName, "trackingID", j.TrackingID, "runName", j.RunName, "runStamp", j.RunStamp,
		"entries", len(results), "outcomes", audited[0].Detail, "duration", time.Since(start))
	s.jobs.KeepResults(done, results, encoded)
	return done, nil
}

// pageAudit returns the audit records of an applied page: its summary
// (outcome counts; d, the time taken so far) and one record per conflict
// (both versions, the rule that decided and the winner: ConflictDetail).
func pageAudit(sc site.Scope, j store.Job, res []store.Result, d time.Duration) []store.AuditRecord {
	counts := map[string]int{}
	base := store.AuditRecord{Dataset: sc.Dataset, Kind: sc.Kind.PluralName, TrackingID: j.TrackingID, RunName: j.RunName,
		RunStamp: j.RunStamp, RunTime: wire.ParseRunStamp(j.RunStamp)}
	recs := []store.AuditRecord{{}}
	for _, r := range res {
		counts[r.Outcome]++
		if r.Outcome == digest.ConflictSource.String() || r.Outcome == digest.ConflictTarget.String() {
			rec := base
			rec.Operation, rec.Status, rec.Count = "target.conflict", r.Status, 1
			rec.Detail = jsonString(conflictDetail(r))
			recs = append(recs, rec)
		}
	}
	recs[0] = base
	recs[0].Operation, recs[0].Status, recs[0].Count, recs[0].Duration = "target.applied", http.StatusOK, len(res), d
	recs[0].Detail = jsonString(counts)
	return recs
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// resultPage answers a GET on a target job: 202 while it runs, then a page
// of the result feed (all of it when all is set).
func (s *Service) resultPage(w http.ResponseWriter, r *http.Request, sc site.Scope, j store.Job, all bool) (int, error) {
	loc := s.site.OpURL(sc, OpTarget, j.TrackingID)
	switch j.Status {
	case store.JobRunning:
		return 0, s.jobs.WriteTracking(w, http.StatusAccepted, loc, j)
	case store.JobFailed:
		return 0, jobs.Failed(store.JobTarget, j)
	}
	q := r.URL.Query()
	pg, err := wire.ParsePaging(q)
	if err != nil {
		return 0, err
	}
	if all {
		pg = wire.Paging{Start: 1, Count: max(j.Total, 1)}
	}
	res, encoded, ok := s.jobs.Results(j, pg.Offset(), pg.Count)
	if !ok {
		if res, err = s.st.TargetResults(r.Context(), j, pg.Offset(), pg.Count); err != nil {
			return 0, err
		}
	}
	head := &feeds.Feed{ID: loc, Title: payload.Label(sc.Kind) + " synchronization results " + j.TrackingID, Updated: wire.NowUTC(),
		TotalResults: j.Total, StartIndex: pg.Start, ItemsPerPage: pg.Count, Links: pg.Links(loc, wire.KeepRunParams(q), j.Total)}
	fw, err := wire.StreamFeed(w, head)
	if err != nil {
		return 0, err
	}
	for i, rr := range res {
		if encoded != nil && encoded[i] != nil {
			if err := fw.WriteEncoded(encoded[i]); err != nil {
				return 0, err
			}
			continue
		}
		e, err := s.resultEntry(sc, rr)
		if err != nil {
			return 0, err
		}
		if err := fw.WriteEntry(e); err != nil {
			return 0, err
		}
	}
	return len(res), fw.Close()
}

// resultEntry renders the result of one applied entry.
func (s *Service) resultEntry(sc site.Scope, rr store.Result) (*feeds.Entry, error) {
	e := &feeds.Entry{Title: rr.Title, Content: rr.Title, Updated: wire.NowUTC(), HTTPStatus: rr.Status,
		HTTPMessage: http.StatusText(rr.Status), HTTPMethod: rr.Method, ETag: rr.ETag}
	st := rr.SourceState
	e.SyncState = &st
	if rr.Key != "" {
		u := s.site.ResourceURL(sc.Dataset, sc.Kind, rr.Key)
		e.ID = u
		e.Links = []feeds.Link{{Rel: "self", Type: wire.TypeEntry, Title: "Refresh", Href: u}}
		if rr.Status == http.StatusCreated {
			e.Location = u
		}
		if len(rr.Payload) > 0 {
			attrs := [][2]string{{"sdata:key", rr.Key}, {"sdata:url", u}, {"sdata:uuid", rr.UUID}}
			if rr.Deleted {
				attrs = append(attrs, [2]string{"sdata:isDeleted", "true"})
			}
			raw, ok := payload.WithAttrs(rr.Payload, attrs...)
			if !ok {
				return nil, fmt.Errorf("stored payload of %s is not in stored form", rr.Key)
			}
			e.RawPayload = raw
		}
	} else {
		e.ID = "urn:uuid:" + rr.UUID
	}
	if rr.Severity != "" {
		e.Diagnoses = []feeds.Diagnosis{{Severity: rr.Severity, SDataCode: diag.CodeApplicationDiagnosis, ApplicationCode: rr.Outcome,
			Message: rr.Message, PayloadPath: rr.PayloadPath}}
	}
	return e, nil
}
