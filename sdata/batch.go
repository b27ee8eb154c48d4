package sdata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"sdatasync/feeds"
	"sdatasync/sdata/store"
)

// $batch (SData core 13.3 to 13.6).
//
// A batch is a feed POSTed to {kind}/$batch whose entries each carry an
// http:httpMethod (POST, PUT, DELETE or GET), optionally an http:ifMatch,
// and for POST and PUT an sdata:payload. PUT, DELETE and GET name their
// resource by the entry id (the resource URL) or by sdata:url or sdata:key
// on the payload. Entries run in order, each as an ordinary local request
// through createCore, updateCore and deleteCore, so every successful write
// takes its own tick and is visible to synchronization; a failing entry
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

// MaxBatchEntries is the most entries one batch may hold; a larger batch is
// refused as a whole (413) before anything of it runs.
const MaxBatchEntries = 1000

// batchInterrupted is the failure recorded for a batch job a previous
// process left running (a crash: a graceful shutdown finishes the job with
// the entries it did not reach reported 503).
const batchInterrupted = "the batch was interrupted by a crash or kill of the provider before its results were recorded. " +
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

// isBatchOp reports whether a {kind}/{op} segment is $batch or
// $batch('{trackingID}').
func isBatchOp(op string) bool {
	return op == "$batch" || strings.HasPrefix(op, "$batch(")
}

// batchItem is one prepared request entry of a batch.
type batchItem struct {
	method  string         // POST, PUT, DELETE or GET
	key     string         // PUT, DELETE, GET: the resource named
	ifMatch []string       // http:ifMatch, if any
	payload *etree.Element // POST, PUT: the resource payload
	title   string         // the request entry's title, reported when the entry fails early
	path    string         // feed/entry[n], the prefix of payload paths
	err     *Error         // set when the entry cannot run; it is reported as is
}

// batch serves {kind}/$batch and {kind}/$batch('{trackingID}'), and records
// every request in the audit log.
func (s *Server) batch(w http.ResponseWriter, r *http.Request, sc scope, op string) error {
	name, id, err := syncOp(op)
	if err != nil {
		return err
	}
	if name != "$batch" {
		return errorf(http.StatusNotFound, CodeBadURLSyntax, "unknown service %q on resource kind %s", op, sc.kind.PluralName)
	}
	ru := runOf(r)
	if id != "" {
		ru.tracking = id
	}
	if ru.tracking != "" && !trackingRE.MatchString(ru.tracking) {
		return errorf(http.StatusBadRequest, CodeBadQueryParameter, "invalid trackingID %q", ru.tracking)
	}
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	count := 0
	switch r.Method {
	case http.MethodPost:
		if id != "" {
			return allow(r, http.MethodGet, http.MethodDelete)
		}
		count, err = s.postBatch(sw, r, sc, ru)
	case http.MethodGet, http.MethodHead:
		var j store.Job
		if j, err = s.batchJob(r.Context(), sc, ru.tracking); err == nil {
			count, err = s.batchAnswer(sw, r.Context(), sc, j)
		}
	case http.MethodDelete:
		var j store.Job
		if j, err = s.batchJob(r.Context(), sc, ru.tracking); err == nil {
			err = s.deleteJob(sw, r, j)
		}
	default:
		return allow(r, http.MethodPost, http.MethodGet, http.MethodDelete)
	}
	status := sw.status
	if err != nil {
		status = asError(r.Context(), s.log, err).Status
	}
	s.audit(r.Context(), store.AuditRecord{Dataset: sc.dataset, Kind: sc.kind.PluralName, Operation: "batch." + strings.ToLower(r.Method),
		TrackingID: ru.tracking, RunName: ru.name, RunStamp: ru.stamp, RunTime: ru.stampTime, Client: r.RemoteAddr,
		Status: status, Count: count, Duration: time.Since(start)})
	s.log.LogAttrs(r.Context(), levelFor(status), "batch request", slogRun(ru, sc.kind.PluralName, "$batch", r.Method, status, count)...)
	return err
}

// batchURL is the URL of the kind's batch service.
func (s *Server) batchURL(sc scope) string { return s.kindURL(sc.dataset, sc.kind) + "/$batch" }

// batchJob finds the batch job named by the URL or the trackingID parameter.
func (s *Server) batchJob(ctx context.Context, sc scope, tracking string) (store.Job, error) {
	if tracking == "" {
		return store.Job{}, errorf(http.StatusBadRequest, CodeBadQueryParameter, "no tracking id: use $batch('{trackingID}') or $batch?trackingID=")
	}
	j, err := s.st.Job(ctx, sc.ep.ID, store.JobBatch, tracking)
	if errors.Is(err, store.ErrNotFound) {
		return j, errorf(http.StatusNotFound, CodeApplicationDiagnosis, "no batch job with tracking id %q (finished jobs expire after %s)", tracking, s.jobTTL())
	}
	return j, err
}

// postBatch runs a batch: synchronously without a tracking ID, else as a
// job (idempotently: an existing job with that tracking ID is answered as
// is, whatever the body).
func (s *Server) postBatch(w http.ResponseWriter, r *http.Request, sc scope, ru run) (int, error) {
	ctx := r.Context()
	if ru.tracking != "" {
		j, err := s.st.Job(ctx, sc.ep.ID, store.JobBatch, ru.tracking)
		if err == nil {
			return 0, s.writeTracking(w, http.StatusAccepted, s.jobURL(sc, "$batch", j.TrackingID), j)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return 0, err
		}
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return 0, err
	}
	items, err := s.prepareBatch(sc, body)
	if err != nil {
		return 0, err
	}
	usr := user(r)
	if ru.tracking == "" {
		start := time.Now()
		results := s.applyBatch(ctx, sc, items, usr)
		s.auditBatch(ctx, sc, ru.tracking, ru.name, ru.stamp, results, time.Since(start))
		return len(results), s.writeBatchFeed(ctx, w, sc, s.batchURL(sc), results)
	}
	j, created, err := s.createJob(ctx, sc, store.JobBatch, ru, body)
	if err != nil {
		return 0, err
	}
	if created {
		s.startJob(j.ID, func(ctx context.Context) { s.runBatchJob(ctx, sc, j, items, usr) })
	}
	return len(items), s.writeTracking(w, http.StatusAccepted, s.jobURL(sc, "$batch", j.TrackingID), j)
}

// runBatchJob runs a batch in the background and records its results. A
// shutdown stops it between entries: the entries not reached are recorded
// as 503, so the results always say exactly what was applied.
func (s *Server) runBatchJob(ctx context.Context, sc scope, j store.Job, items []batchItem, usr string) {
	start := time.Now()
	results := s.applyBatch(ctx, sc, items, usr)
	if _, err := s.st.SaveResults(context.WithoutCancel(ctx), j, results); err != nil {
		// Freed while it ran (DELETE) or a store failure: the writes stay
		// applied, only their report is lost.
		if errors.Is(err, store.ErrNotFound) {
			s.log.Warn("batch job freed before it finished; its results are dropped", "trackingID", j.TrackingID, "kind", sc.kind.PluralName)
		} else {
			s.log.Error("batch results not recorded", "trackingID", j.TrackingID, "kind", sc.kind.PluralName, "err", err)
			if !errors.Is(err, store.ErrConflict) {
				s.st.FailJob(context.WithoutCancel(ctx), j.ID, "recording the results failed: "+err.Error())
			}
		}
	}
	s.auditBatch(context.WithoutCancel(ctx), sc, j.TrackingID, j.RunName, j.RunStamp, results, time.Since(start))
}

// auditBatch records what a batch did: one summary with the count of
// entries per HTTP status.
func (s *Server) auditBatch(ctx context.Context, sc scope, tracking, runName, runStamp string, results []store.Result, d time.Duration) {
	counts := map[string]int{}
	for _, r := range results {
		counts[strconv.Itoa(r.Status)]++
	}
	s.audit(ctx, store.AuditRecord{Dataset: sc.dataset, Kind: sc.kind.PluralName, Operation: "batch.applied", TrackingID: tracking,
		RunName: runName, RunStamp: runStamp, RunTime: parseRunStamp(runStamp), Status: http.StatusOK, Count: len(results),
		Duration: d, Detail: jsonString(map[string]any{"statuses": counts})})
}

// batchAnswer answers a GET on a batch job: 202 while it runs, a 500
// diagnosis when it failed, else 200 with the whole result feed.
func (s *Server) batchAnswer(w http.ResponseWriter, ctx context.Context, sc scope, j store.Job) (int, error) {
	loc := s.jobURL(sc, "$batch", j.TrackingID)
	switch j.Status {
	case store.JobRunning:
		return 0, s.writeTracking(w, http.StatusAccepted, loc, j)
	case store.JobFailed:
		return 0, errorf(http.StatusInternalServerError, CodeApplicationDiagnosis, "batch job %s failed: %s", j.TrackingID, j.Failure)
	}
	results, err := s.st.TargetResults(ctx, j, 0, max(j.Total, 1))
	if err != nil {
		return 0, err
	}
	return len(results), s.writeBatchFeed(ctx, w, sc, loc, results)
}

// prepareBatch parses a batch feed and prepares its entries. A document
// that is not a well-formed Atom feed, or one with too many entries, is an
// error of the whole batch and nothing of it runs; a bad entry is reported
// in its own result.
func (s *Server) prepareBatch(sc scope, body []byte) ([]batchItem, error) {
	name, err := rootName(body)
	if err != nil {
		return nil, err
	}
	if name.Space != feeds.AtomNS || name.Local != "feed" {
		return nil, errorf(http.StatusBadRequest, CodeApplicationDiagnosis,
			"a batch is an Atom feed of entries tagged with http:httpMethod; got a {%s}%s document", name.Space, name.Local)
	}
	f, err := feeds.ParseFeed(bytes.NewReader(body), s.limits)
	if err != nil {
		return nil, err
	}
	if len(f.Entries) > MaxBatchEntries {
		return nil, errorf(http.StatusRequestEntityTooLarge, CodeRequestEntityTooLarge,
			"a batch holds at most %d entries; this one holds %d: split it", MaxBatchEntries, len(f.Entries))
	}
	items := make([]batchItem, len(f.Entries))
	for i, e := range f.Entries {
		items[i] = s.prepareBatchEntry(sc, i, e)
	}
	return items, nil
}

// prepareBatchEntry checks one request entry: its method (allowed by the
// contract), the resource it names and its payload.
func (s *Server) prepareBatchEntry(sc scope, i int, e *feeds.Entry) batchItem {
	it := batchItem{method: strings.ToUpper(e.HTTPMethod), title: e.Title, path: fmt.Sprintf("feed/entry[%d]", i+1), payload: e.Payload}
	if e.IfMatch != "" {
		it.ifMatch = []string{e.IfMatch}
	}
	bad := func(p, format string, args ...any) batchItem {
		it.err = payloadError(p, format, args...)
		return it
	}
	switch it.method {
	case "":
		return bad(it.path+"/httpMethod", "the entry has no http:httpMethod (POST, PUT, DELETE or GET)")
	case http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodGet:
	default:
		return bad(it.path+"/httpMethod", "unsupported http:httpMethod %q: POST, PUT, DELETE or GET", e.HTTPMethod)
	}
	if it.method != http.MethodPost {
		key, err := s.batchKey(sc, e, it.path)
		if err != nil {
			it.err = err
			return it
		}
		it.key = key
	}
	if err := allowedIn(sc, it.method); err != nil {
		it.err = err
		return it
	}
	if (it.method == http.MethodPost || it.method == http.MethodPut) && e.Payload == nil {
		return bad(it.path+"/payload", "a %s entry needs an sdata:payload holding a <%s> element", it.method, sc.kind.Name)
	}
	return it
}

// allowedIn returns a 405 when the contract does not allow method on the
// kind.
func allowedIn(sc scope, method string) *Error {
	var ok bool
	switch method {
	case http.MethodPost:
		ok = sc.kind.CanPost
	case http.MethodPut:
		ok = sc.kind.CanPut
	case http.MethodDelete:
		ok = sc.kind.CanDelete
	case http.MethodGet:
		ok = sc.kind.CanGet
	}
	if ok {
		return nil
	}
	return errorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "%s is not allowed on %s", method, sc.kind.PluralName)
}

// batchKey finds the key of the resource a PUT, DELETE or GET entry names:
// the entry id when it is a resource URL of the kind, the payload's
// sdata:url, the payload's sdata:key. Every one given must agree.
func (s *Server) batchKey(sc scope, e *feeds.Entry, path string) (string, *Error) {
	type source struct{ what, key string }
	var found []source
	if e.ID != "" {
		key, named, err := batchURLKey(sc, e.ID)
		if named && err != nil {
			return "", payloadError(path+"/id", "entry id %q: %v", e.ID, err)
		}
		if named {
			found = append(found, source{"the entry id", key})
		}
	}
	if u := sdataAttr(e.Payload, "url"); u != "" {
		key, named, err := batchURLKey(sc, u)
		if !named {
			err = fmt.Errorf("not a resource URL of the form .../%s('key')", sc.kind.PluralName)
		}
		if err != nil {
			return "", payloadError(path+"/payload/"+e.Payload.Tag+"/@sdata:url", "sdata:url %q: %v", u, err)
		}
		found = append(found, source{"sdata:url", key})
	}
	if k := feeds.PayloadKey(e.Payload); k != "" {
		found = append(found, source{"sdata:key", k})
	}
	if len(found) == 0 {
		return "", payloadError(path+"/id", "a %s entry must name its resource: an entry id with the resource URL, or sdata:url or sdata:key on the payload",
			strings.ToUpper(e.HTTPMethod))
	}
	for _, f := range found[1:] {
		if f.key != found[0].key {
			return "", payloadError(path, "%s names %s('%s') but %s names %s('%s')", found[0].what, sc.kind.PluralName, found[0].key,
				f.what, sc.kind.PluralName, f.key)
		}
	}
	return found[0].key, nil
}

// batchURLKey reads the key of a single-resource URL of sc's kind and
// dataset. named is false when the URL does not end in a resource selector
// at all (an entry id may be any IRI); err says why a selector does not
// name a resource of this kind.
func batchURLKey(sc scope, raw string) (key string, named bool, err error) {
	u, perr := url.Parse(raw)
	if perr != nil || u.Path == "" {
		return "", false, nil
	}
	p := u.Path
	parent, seg := "", p
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		parent, seg = p[:i], p[i+1:]
	}
	open := strings.IndexByte(seg, '(')
	if open <= 0 || !strings.HasSuffix(seg, ")") {
		return "", false, nil
	}
	if kind := seg[:open]; kind != sc.kind.PluralName && kind != sc.kind.Name {
		return "", true, fmt.Errorf("names a resource of kind %q, not %s", kind, sc.kind.PluralName)
	}
	if parent != "" {
		if ds := parent[strings.LastIndexByte(parent, '/')+1:]; ds != sc.dataset {
			return "", true, fmt.Errorf("names dataset %q, not %q", ds, sc.dataset)
		}
	}
	key, err = parseKey(seg[open+1 : len(seg)-1])
	return key, true, err
}

// sdataAttr returns the value of an sdata: attribute of a normalized
// payload element ("" when el is nil or lacks it).
func sdataAttr(el *etree.Element, name string) string {
	if el == nil {
		return ""
	}
	for _, a := range el.Attr {
		if a.Space == "sdata" && a.Key == name {
			return a.Value
		}
	}
	return ""
}

// applyBatch runs prepared entries in order and returns one result each.
// Cancellation is honoured between entries: an entry runs to its end once
// started (it is one short transaction), and the entries not reached are
// reported 503 "not processed".
func (s *Server) applyBatch(ctx context.Context, sc scope, items []batchItem, usr string) []store.Result {
	out := make([]store.Result, len(items))
	for i, it := range items {
		if ctx.Err() != nil {
			out[i] = batchFailure(i, it, &Error{Status: http.StatusServiceUnavailable, Diagnoses: []feeds.Diagnosis{{
				Severity: "transient", SDataCode: CodeApplicationDiagnosis,
				Message: "not processed: the batch was interrupted (request cancelled or provider shutting down) before this entry"}}}, "")
			continue
		}
		out[i] = s.applyBatchItem(context.WithoutCancel(ctx), sc, i, it, usr)
	}
	return out
}

// applyBatchItem runs one entry through the ordinary local request paths.
func (s *Server) applyBatchItem(ctx context.Context, sc scope, i int, it batchItem, usr string) store.Result {
	if it.err != nil {
		return batchFailure(i, it, it.err, "")
	}
	one := sc
	one.key, one.single = it.key, true
	var res store.Resource
	var err error
	status, outcome := http.StatusOK, ""
	switch it.method {
	case http.MethodPost:
		res, err = s.createCore(ctx, sc, it.payload, usr)
		status, outcome = http.StatusCreated, outcomeCreated
	case http.MethodPut:
		res, err = s.updateCore(ctx, one, it.payload, it.ifMatch, usr)
		outcome = outcomeUpdated
	case http.MethodDelete:
		res, err = s.deleteCore(ctx, one, it.ifMatch, usr)
		outcome = outcomeDeleted
	case http.MethodGet:
		res, err = s.st.Get(ctx, sc.ep, it.key)
		if err == nil && res.Deleted {
			err = store.ErrNotFound
		}
		if err != nil {
			err = s.notFound(one, err)
		}
		for _, m := range it.ifMatch {
			if err == nil {
				err = matchETag(m, res.ETag)
			}
		}
		outcome = outcomeRead
	}
	if err != nil {
		return batchFailure(i, it, asError(ctx, s.log, err), it.path+"/payload/")
	}
	r := store.Result{Seq: i + 1, Status: status, Method: it.method, Outcome: outcome, Key: res.Key, UUID: res.UUID,
		Title: res.Title, Deleted: res.Deleted}
	if !res.Deleted {
		r.ETag, r.Payload = res.ETag, res.Payload
	}
	return r
}

// batchFailure is the result of an entry that failed with e; prefix is
// put before a payload path relative to the entry's payload.
func batchFailure(i int, it batchItem, e *Error, prefix string) store.Result {
	r := store.Result{Seq: i + 1, Status: e.Status, Method: it.method, Key: it.key, Title: it.title, Severity: "error"}
	if len(e.Diagnoses) > 0 {
		d := e.Diagnoses[0]
		r.Outcome, r.Message = diagOutcome(d), d.Message
		if d.Severity != "" {
			r.Severity = d.Severity
		}
		if d.PayloadPath != "" {
			r.PayloadPath = prefix + d.PayloadPath
		}
	} else {
		r.Message = http.StatusText(e.Status)
	}
	return r
}

// diagOutcome encodes a diagnosis' codes in a result's outcome.
func diagOutcome(d feeds.Diagnosis) string {
	if d.ApplicationCode == "" {
		return d.SDataCode
	}
	return d.SDataCode + "/" + d.ApplicationCode
}

// writeBatchFeed writes the result feed of a batch.
func (s *Server) writeBatchFeed(ctx context.Context, w http.ResponseWriter, sc scope, id string, results []store.Result) error {
	head := &feeds.Feed{ID: id, Title: labelOf(sc.kind) + " batch", Updated: nowUTC(), TotalResults: len(results),
		StartIndex: 1, ItemsPerPage: len(results), Links: []feeds.Link{{Rel: "self", Type: typeFeed, Href: id}}}
	w.Header().Set("Content-Type", typeFeed)
	fw, err := feeds.NewFeedWriter(w, head)
	if err != nil {
		return err
	}
	for _, rr := range results {
		e, err := s.batchEntry(sc, id, rr)
		if err != nil {
			return err
		}
		if e.Payload != nil {
			if err := s.decorateRefs(ctx, sc, e.Payload); err != nil {
				return err
			}
		}
		if err := fw.WriteEntry(e); err != nil {
			return err
		}
	}
	return fw.Close()
}

// batchEntry renders one batch result.
func (s *Server) batchEntry(sc scope, feedID string, rr store.Result) (*feeds.Entry, error) {
	e := &feeds.Entry{Title: rr.Title, Updated: nowUTC(), HTTPMethod: rr.Method, HTTPStatus: rr.Status,
		HTTPMessage: http.StatusText(rr.Status), ETag: rr.ETag}
	if e.Title == "" {
		e.Title = fmt.Sprintf("%s entry %d", rr.Method, rr.Seq)
	}
	e.Content = e.Title
	e.ID = feedID + "#" + strconv.Itoa(rr.Seq)
	if rr.Key != "" {
		u := s.resourceURL(sc.dataset, sc.kind, rr.Key)
		e.ID = u
		if rr.Status < 300 && !rr.Deleted {
			e.Links = []feeds.Link{{Rel: "self", Type: typeEntry, Title: "Refresh", Href: u}, {Rel: "edit", Type: typeEntry, Title: "Edit", Href: u}}
		}
		if rr.Status == http.StatusCreated {
			e.Location = u
		}
		if len(rr.Payload) > 0 {
			el, err := storedPayload(rr.Payload, rr.Key, u, rr.UUID, false)
			if err != nil {
				return nil, err
			}
			e.Payload = el
		}
	}
	if rr.Severity != "" {
		code, app, _ := strings.Cut(rr.Outcome, "/")
		if code == "" {
			code = CodeApplicationDiagnosis
		}
		e.Diagnoses = []feeds.Diagnosis{{Severity: rr.Severity, SDataCode: code, ApplicationCode: app, Message: rr.Message, PayloadPath: rr.PayloadPath}}
	}
	return e, nil
}
