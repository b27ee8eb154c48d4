package sdata

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"

	"sdatasync/contracts"
	"sdatasync/digest"
	"sdatasync/feeds"
	"sdatasync/sdata/store"
)

// Sync defaults.
const (
	DefaultJobTTL   = 24 * time.Hour
	DefaultAliasTTL = 30 * 24 * time.Hour
	MinPollMillis   = 1    // pollingMillis advised for a job that just started (its polls are held, see JobHold)
	MaxPollMillis   = 2000 // pollingMillis advised for a long-running job
)

// run is the run and tracking context of a sync request.
type run struct {
	name, stamp, tracking string
	stampTime             time.Time
}

func runOf(r *http.Request) run {
	q := r.URL.Query()
	ru := run{name: queryParam(q, "runName"), stamp: queryParam(q, "runStamp"), tracking: queryParam(q, "trackingID")}
	if t, err := feeds.ParseTime(ru.stamp); err == nil {
		ru.stampTime = t
	}
	return ru
}

var trackingRE = regexp.MustCompile(`^[A-Za-z0-9._~{}-]{1,128}$`)

// syncOp splits an op segment like `$syncSource('id')` into name and id.
func syncOp(op string) (name, id string, err error) {
	i := strings.IndexByte(op, '(')
	if i < 0 {
		return op, "", nil
	}
	if !strings.HasSuffix(op, ")") {
		return "", "", errorf(http.StatusBadRequest, CodeBadURLSyntax, "malformed selector %q", op)
	}
	id, err = parseKey(op[i+1 : len(op)-1])
	if err != nil {
		return "", "", errorf(http.StatusBadRequest, CodeBadURLSyntax, "malformed selector %q: %v", op, err)
	}
	return op[:i], id, nil
}

// serveSync dispatches the sync URLs of a kind. It reports false when op
// is not a sync URL.
func (s *Server) serveSync(w http.ResponseWriter, r *http.Request, sc scope, op string) (bool, error) {
	name, id, err := syncOp(op)
	if err != nil {
		return true, err
	}
	switch name {
	case "$syncDigest", "$syncSource", "$syncTarget", "$syncResults":
	case "$syncLog":
		return true, s.syncLog(w, r, sc.dataset, sc.kind.PluralName)
	case "$linked":
		return true, s.linked(w, r, sc, id)
	default:
		return false, nil
	}
	if !sc.kind.IsSyncSource && !sc.kind.IsSyncTarget {
		return true, errorf(http.StatusNotFound, CodeBadURLSyntax, "resource kind %s is not synchronized (neither sme:isSyncSource nor sme:isSyncTarget)", sc.kind.PluralName)
	}
	ru := runOf(r)
	if id != "" {
		ru.tracking = id
	}
	if ru.tracking != "" && !trackingRE.MatchString(ru.tracking) {
		return true, errorf(http.StatusBadRequest, CodeBadQueryParameter, "invalid trackingID %q", ru.tracking)
	}
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	var count int
	switch name {
	case "$syncDigest":
		err = s.syncDigest(sw, r, sc)
	case "$syncSource":
		if !sc.kind.IsSyncSource {
			return true, errorf(http.StatusNotFound, CodeBadURLSyntax, "resource kind %s is not a sync source", sc.kind.PluralName)
		}
		count, err = s.syncSource(sw, r, sc, ru, id != "")
	case "$syncTarget":
		if !sc.kind.IsSyncTarget {
			return true, errorf(http.StatusNotFound, CodeBadURLSyntax, "resource kind %s is not a sync target", sc.kind.PluralName)
		}
		count, err = s.syncTarget(sw, r, sc, ru, id != "")
	case "$syncResults":
		count, err = s.syncResults(sw, r, sc, ru)
	}
	status := sw.status
	if err != nil {
		status = asError(r.Context(), s.log, err).Status
	}
	op = strings.TrimPrefix(name, "$sync")
	s.audit(r.Context(), store.AuditRecord{Dataset: sc.dataset, Kind: sc.kind.PluralName, Operation: strings.ToLower(op) + "." + strings.ToLower(r.Method),
		TrackingID: ru.tracking, RunName: ru.name, RunStamp: ru.stamp, RunTime: ru.stampTime, Client: r.RemoteAddr,
		Status: status, Count: count, Duration: time.Since(start)})
	s.log.LogAttrs(r.Context(), levelFor(status), "sync request", slogRun(ru, sc.kind.PluralName, name, r.Method, status, count)...)
	return true, err
}

func (s *Server) audit(ctx context.Context, recs ...store.AuditRecord) {
	now := time.Now().UTC()
	for i := range recs {
		if recs[i].Time.IsZero() {
			recs[i].Time = now
		}
	}
	// The audit trail must not depend on the client still listening.
	if err := s.st.Audit(context.WithoutCancel(ctx), recs...); err != nil {
		s.log.Error("audit log write failed", "err", err)
	}
}

// ---- $syncDigest

func (s *Server) digestEntry(sc scope, d digest.Digest) *feeds.Entry {
	u := s.kindURL(sc.dataset, sc.kind) + "/$syncDigest"
	return &feeds.Entry{ID: u, Title: "Synchronization digest", Updated: nowUTC(), Digest: &d,
		Links: []feeds.Link{{Rel: "self", Type: typeEntry, Title: "Refresh", Href: u}}}
}

func (s *Server) syncDigest(w http.ResponseWriter, r *http.Request, sc scope) error {
	if err := allow(r, http.MethodGet, http.MethodPut, http.MethodPost); err != nil {
		return err
	}
	if r.Method != http.MethodGet {
		body, err := s.readBody(w, r)
		if err != nil {
			return err
		}
		d, err := feeds.ParseDigest(bytes.NewReader(body), s.limits)
		if err != nil {
			return err
		}
		if err := d.Validate(); err != nil {
			return errorf(http.StatusBadRequest, CodeApplicationDiagnosis, "%v", err)
		}
		if err := s.st.ReplaceDigest(r.Context(), sc.ep, *d); err != nil {
			return err
		}
	}
	d, err := s.st.Digest(r.Context(), sc.ep)
	if err != nil {
		return err
	}
	return s.writeEntry(w, http.StatusOK, s.digestEntry(sc, d), "")
}

// ---- tracking

func (s *Server) jobURL(sc scope, op, tracking string) string {
	return s.kindURL(sc.dataset, sc.kind) + "/" + op + "('" + url.PathEscape(tracking) + "')"
}

func (s *Server) writeTracking(w http.ResponseWriter, status int, location string, j store.Job) error {
	var buf bytes.Buffer
	// Poll soon for a young job, less often the longer it runs.
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
	return writeBytes(w, "application/xml; charset=utf-8", status, buf.Bytes())
}

// jobOf finds the job named by the URL or the trackingID parameter.
func (s *Server) jobOf(ctx context.Context, sc scope, typ, tracking string) (store.Job, error) {
	if tracking == "" {
		return store.Job{}, errorf(http.StatusBadRequest, CodeBadQueryParameter, "no tracking id: use $sync%s('{trackingID}') or ?trackingID=", typ)
	}
	j, err := s.st.Job(ctx, sc.ep.ID, typ, tracking)
	if errors.Is(err, store.ErrNotFound) {
		return j, errorf(http.StatusNotFound, CodeApplicationDiagnosis, "no %s job with tracking id %q (finished jobs expire after %s)", typ, tracking, s.jobTTL())
	}
	return j, err
}

func (s *Server) jobTTL() time.Duration {
	if s.cfg.JobTTL > 0 {
		return s.cfg.JobTTL
	}
	return DefaultJobTTL
}

// ---- $syncSource

func (s *Server) syncSource(w http.ResponseWriter, r *http.Request, sc scope, ru run, byURL bool) (int, error) {
	switch r.Method {
	case http.MethodPost:
		if byURL {
			return 0, allow(r, http.MethodGet, http.MethodDelete)
		}
		return s.startSource(w, r, sc, ru)
	case http.MethodGet, http.MethodHead:
		j, err := s.pollJob(r.Context(), sc, store.JobSource, ru.tracking)
		if err != nil {
			return 0, err
		}
		return s.sourcePage(w, r, sc, j)
	case http.MethodDelete:
		j, err := s.jobOf(r.Context(), sc, store.JobSource, ru.tracking)
		if err != nil {
			return 0, err
		}
		return 0, s.deleteJob(w, r, j)
	}
	return 0, allow(r, http.MethodPost, http.MethodGet, http.MethodDelete)
}

func (s *Server) deleteJob(w http.ResponseWriter, r *http.Request, j store.Job) error {
	if err := s.freeJob(r.Context(), j); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// freeJob deletes a job, forgets its results and purges what it held in
// the background.
func (s *Server) freeJob(ctx context.Context, j store.Job) error {
	if err := s.st.DeleteJob(ctx, j.ID); err != nil {
		return err
	}
	s.results.drop(j.ID)
	s.purgeJobs()
	return nil
}

// createJob records a job of type typ for the request (its body kept to
// resume it); created is false when the tracking ID names a job already.
func (s *Server) createJob(ctx context.Context, sc scope, typ string, ru run, body []byte) (j store.Job, created bool, err error) {
	return s.st.CreateJob(ctx, store.Job{EndpointID: sc.ep.ID, Type: typ, TrackingID: ru.tracking,
		RunName: ru.name, RunStamp: ru.stamp, Request: body, Expires: time.Now().Add(s.jobTTL())})
}

func (s *Server) startSource(w http.ResponseWriter, r *http.Request, sc scope, ru run) (int, error) {
	body, err := s.readBody(w, r)
	if err != nil {
		return 0, err
	}
	target, err := feeds.ParseDigest(bytes.NewReader(body), s.limits)
	if err != nil {
		return 0, err
	}
	if err := target.Validate(); err != nil {
		return 0, errorf(http.StatusBadRequest, CodeApplicationDiagnosis, "%v", err)
	}
	async := ru.tracking != ""
	if !async {
		ru.tracking = "sync-" + newID()
	}
	j, created, err := s.createJob(r.Context(), sc, store.JobSource, ru, body)
	if err != nil {
		return 0, err
	}
	if !async {
		j, err = s.st.RunSource(r.Context(), sc.ep, j, *target)
		if err != nil {
			return 0, err
		}
		return s.sourcePage(w, r, sc, j)
	}
	if created {
		s.startJob(j.ID, func(ctx context.Context) { s.runSourceJob(ctx, sc, j, *target) })
	}
	return 0, s.writeTracking(w, http.StatusAccepted, s.jobURL(sc, "$syncSource", j.TrackingID), j)
}

func (s *Server) runSourceJob(ctx context.Context, sc scope, j store.Job, target digest.Digest) {
	start := time.Now()
	done, err := s.st.RunSource(ctx, sc.ep, j, target)
	status := http.StatusOK
	if err != nil {
		status = http.StatusInternalServerError
		s.log.Error("source job failed", "trackingID", j.TrackingID, "kind", sc.kind.PluralName, "runName", j.RunName, "runStamp", j.RunStamp, "err", err)
		if ctx.Err() == nil {
			s.st.FailJob(context.WithoutCancel(ctx), j.ID, "selection failed: "+err.Error())
		}
	}
	s.audit(ctx, store.AuditRecord{Dataset: sc.dataset, Kind: sc.kind.PluralName, Operation: "source.selected", TrackingID: j.TrackingID,
		RunName: j.RunName, RunStamp: j.RunStamp, RunTime: parseRunStamp(j.RunStamp), Status: status, Count: done.Total, Duration: time.Since(start)})
}

func parseRunStamp(s string) time.Time {
	t, _ := feeds.ParseTime(s)
	return t
}

// sourcePage answers a GET on a source job: 202 while it runs, then a page
// of the sync feed.
func (s *Server) sourcePage(w http.ResponseWriter, r *http.Request, sc scope, j store.Job) (int, error) {
	loc := s.jobURL(sc, "$syncSource", j.TrackingID)
	switch j.Status {
	case store.JobRunning:
		return 0, s.writeTracking(w, http.StatusAccepted, loc, j)
	case store.JobFailed:
		return 0, errorf(http.StatusInternalServerError, CodeApplicationDiagnosis, "source job %s failed: %s", j.TrackingID, j.Failure)
	}
	q := r.URL.Query()
	pg, err := parsePaging(q)
	if err != nil {
		return 0, err
	}
	entries, err := s.st.SourceEntries(r.Context(), j, pg.start-1, pg.count)
	if err != nil {
		return 0, err
	}
	head := &feeds.Feed{ID: loc, Title: labelOf(sc.kind) + " synchronization feed " + j.TrackingID, Updated: nowUTC(),
		SyncMode: "catchUp", Digest: j.Digest, TotalResults: j.Total, StartIndex: pg.start, ItemsPerPage: pg.count,
		Links: pageLinks(loc, keepRunParams(q), pg, j.Total)}
	w.Header().Set("Content-Type", typeFeed)
	fw, err := feeds.NewFeedWriter(w, head)
	if err != nil {
		return 0, err
	}
	for _, res := range entries {
		e, err := s.syncEntry(sc, res)
		if err != nil {
			return 0, err
		}
		if err := fw.WriteEntry(e); err != nil {
			return 0, err
		}
	}
	return len(entries), fw.Close()
}

// keepRunParams keeps only the run parameters in page links.
func keepRunParams(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		if strings.EqualFold(k, "runName") || strings.EqualFold(k, "runStamp") {
			out[k] = v
		}
	}
	return out
}

// syncEntry renders a selected change as a sync feed entry.
func (s *Server) syncEntry(sc scope, res store.Resource) (*feeds.Entry, error) {
	u := s.resourceURL(sc.dataset, sc.kind, res.Key)
	st := res.State
	e := &feeds.Entry{ID: u, Title: res.Title, Content: res.Title, Updated: res.Updated, SyncState: &st,
		HTTPMethod: string(res.Change), Links: []feeds.Link{{Rel: "self", Type: typeEntry, Href: u}}}
	if !hasChildLists(sc.kind) {
		// The common case needs no tree: attributes go into the stored form.
		attrs := [][2]string{{"sdata:uuid", res.UUID}}
		if res.Deleted {
			attrs = append(attrs, [2]string{"sdata:isDeleted", "true"})
		}
		if len(res.Aliases) > 0 {
			attrs = append(attrs, [2]string{"xmlns:sx", extNS}, [2]string{"sx:uuidAliases", strings.Join(res.Aliases, " ")})
		}
		if raw, ok := rawWithAttrs(res.Payload, attrs...); ok {
			e.RawPayload = raw
			return e, nil
		}
	}
	el, err := parseStored(res.Payload)
	if err != nil {
		return nil, err
	}
	el.CreateAttr("sdata:uuid", res.UUID)
	if res.Deleted {
		el.CreateAttr("sdata:isDeleted", "true")
	}
	if len(res.Aliases) > 0 {
		el.CreateAttr("xmlns:sx", extNS)
		el.CreateAttr("sx:uuidAliases", strings.Join(res.Aliases, " "))
	}
	markComplete(sc.kind, el)
	e.Payload = el
	return e, nil
}

// ---- $syncTarget

func (s *Server) syncTarget(w http.ResponseWriter, r *http.Request, sc scope, ru run, byURL bool) (int, error) {
	switch r.Method {
	case http.MethodPost:
		if byURL {
			return 0, allow(r, http.MethodGet, http.MethodDelete)
		}
		return s.startTarget(w, r, sc, ru)
	case http.MethodGet, http.MethodHead:
		j, err := s.pollJob(r.Context(), sc, store.JobTarget, ru.tracking)
		if err != nil {
			return 0, err
		}
		return s.resultPage(w, r, sc, j, false)
	case http.MethodDelete:
		j, err := s.jobOf(r.Context(), sc, store.JobTarget, ru.tracking)
		if err != nil {
			return 0, err
		}
		return 0, s.deleteJob(w, r, j)
	}
	return 0, allow(r, http.MethodPost, http.MethodGet, http.MethodDelete)
}

// targetFeed is a parsed, validated sync feed page ready to apply.
type targetFeed struct {
	digest    digest.Digest
	immediate bool
	last      bool
	states    []digest.SyncState // of every entry (zero when it has none)
	entries   *preparedPage      // being prepared in the background
}

// prepareTarget parses a sync feed page and prepares its entries; a bad
// entry is marked invalid (reported 400 in the results), a bad feed is an
// error.
func (s *Server) prepareTarget(sc scope, body []byte) (*targetFeed, error) {
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
		return nil, errorf(http.StatusBadRequest, CodeApplicationDiagnosis, "unknown sync:syncMode %q (catchUp or immediate)", f.SyncMode)
	}
	if f.Digest != nil {
		if err := f.Digest.Validate(); err != nil {
			return nil, errorf(http.StatusBadRequest, CodeApplicationDiagnosis, "feed digest: %v", err)
		}
		tf.digest = *f.Digest
	} else if !tf.immediate {
		return nil, errorf(http.StatusBadRequest, CodeApplicationDiagnosis, "a catchUp sync feed must carry the source's sync:digest")
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

func (s *Server) prepareEntry(sc scope, i int, e *feeds.Entry) store.Incoming {
	in := store.Incoming{Method: strings.ToUpper(e.HTTPMethod)}
	path := fmt.Sprintf("feed/entry[%d]", i+1)
	bad := func(p, format string, args ...any) store.Incoming {
		in.Invalid, in.PayloadPath = fmt.Errorf(format, args...), p
		return in
	}
	if e.SyncState == nil || e.SyncState.Endpoint == "" {
		// Without a sync state the entry cannot be placed in any clock.
		return bad(path+"/syncState", "the entry has no sync:syncState")
	}
	in.State = *e.SyncState
	if e.Payload == nil {
		return bad(path+"/payload", "the entry has no sdata:payload")
	}
	u := feeds.PayloadUUID(e.Payload)
	if !validUUID(u) {
		return bad(path+"/payload/"+e.Payload.Tag+"/@sdata:uuid", "the payload has no valid sdata:uuid (%q)", u)
	}
	in.UUID = strings.ToLower(u)
	in.Aliases = prepareIncoming(sc.kind, e.Payload)
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
		in.Payload, in.Props, in.Title, _ = canonical(s.cfg.Contract, sc.kind, etree.NewElement(sc.kind.Name), "")
		return in
	}
	if err := validate(s.cfg.Contract, sc.kind, e.Payload, in.Deleted); err != nil {
		var he *Error
		if errors.As(err, &he) && len(he.Diagnoses) > 0 {
			return bad(path+"/payload/"+he.Diagnoses[0].PayloadPath, "%s", he.Diagnoses[0].Message)
		}
		return bad(path+"/payload", "%v", err)
	}
	payload, props, title, err := canonical(s.cfg.Contract, sc.kind, e.Payload, "")
	if err != nil {
		return bad(path+"/payload", "%v", err)
	}
	in.Payload, in.Props, in.Title = payload, props, title
	if hasChildLists(sc.kind) {
		incoming := e.Payload
		in.Merge = func(current []byte) ([]byte, []byte, string, error) {
			curEl, err := parseStored(current)
			if err != nil {
				return nil, nil, "", err
			}
			return canonical(s.cfg.Contract, sc.kind, mergeChildren(sc.kind, curEl, incoming, true), "")
		}
	}
	return in
}

// hasChildLists reports whether payloads of k hold child collections.
func hasChildLists(k *contracts.ResourceKind) bool {
	for _, p := range k.Type.Properties {
		if p.Relationship == contracts.RelChild && p.IsCollection && p.ItemName != "" {
			return true
		}
	}
	return false
}

func (s *Server) startTarget(w http.ResponseWriter, r *http.Request, sc scope, ru run) (int, error) {
	body, err := s.readBody(w, r)
	if err != nil {
		return 0, err
	}
	tf, err := s.prepareTarget(sc, body)
	if err != nil {
		return 0, err
	}
	if tf.immediate {
		// A gap refuses the whole request at once; the job re-checks it in
		// its transaction.
		cur, err := s.st.Digest(r.Context(), sc.ep)
		if err != nil {
			return 0, err
		}
		if err := digest.CheckImmediate(cur, tf.digest, tf.states); err != nil {
			return 0, errorf(http.StatusBadRequest, CodeApplicationDiagnosis, "%v", err)
		}
	}
	async := ru.tracking != ""
	if !async {
		ru.tracking = "sync-" + newID()
	}
	j, created, err := s.createJob(r.Context(), sc, store.JobTarget, ru, body)
	if err != nil {
		return 0, err
	}
	if !async {
		j, err = s.applyTarget(r.Context(), sc, j, tf)
		if err != nil {
			return 0, err
		}
		defer s.freeJob(context.WithoutCancel(r.Context()), j)
		return s.resultPage(w, r, sc, j, true)
	}
	if created {
		s.startJob(j.ID, func(ctx context.Context) { s.applyTarget(ctx, sc, j, tf) })
	}
	return tf.entries.Len(), s.writeTracking(w, http.StatusAccepted, s.jobURL(sc, "$syncTarget", j.TrackingID), j)
}

// applyTarget applies a prepared page and audits what happened.
func (s *Server) applyTarget(ctx context.Context, sc scope, j store.Job, tf *targetFeed) (store.Job, error) {
	start := time.Now()
	tf.entries.encodeResults(s, sc)
	done, results, err := s.st.RunTarget(ctx, sc.ep, j, tf.digest, tf.immediate, tf.last, tf.entries)
	encoded := tf.entries.encodedResults(err == nil)
	if err != nil {
		s.log.Error("target job failed", "trackingID", j.TrackingID, "kind", sc.kind.PluralName, "runName", j.RunName, "runStamp", j.RunStamp, "err", err)
		if ctx.Err() == nil {
			s.st.FailJob(context.WithoutCancel(ctx), j.ID, err.Error())
		}
		s.audit(ctx, store.AuditRecord{Dataset: sc.dataset, Kind: sc.kind.PluralName, Operation: "target.failed", TrackingID: j.TrackingID,
			RunName: j.RunName, RunStamp: j.RunStamp, RunTime: parseRunStamp(j.RunStamp), Status: http.StatusInternalServerError,
			Count: tf.entries.Len(), Duration: time.Since(start), Detail: jsonString(map[string]string{"error": err.Error()})})
		var gap *digest.GapError
		if errors.As(err, &gap) {
			return done, errorf(http.StatusBadRequest, CodeApplicationDiagnosis, "%v", err)
		}
		return done, err
	}
	s.auditResults(ctx, sc, done, results, time.Since(start))
	s.results.put(done, results, encoded)
	return done, nil
}

// recentResults keeps the results of the last few target jobs in memory,
// so that the GET that usually follows a job at once needs no query. The
// store stays the reference: a job not here is read from it.
type recentResults struct {
	mu   sync.Mutex
	jobs []jobResults // oldest first, at most maxRecentResults
}

// jobResults are the results of one job; a job is named by its id and
// creation time (ids of deleted jobs may come back).
type jobResults struct {
	id      int64
	created time.Time
	results []store.Result
	encoded [][]byte // the result entries encoded for the feed (nil: not encoded)
}

// maxRecentResults is how many target jobs' results stay in memory.
const maxRecentResults = 4

func (rr *recentResults) put(j store.Job, res []store.Result, encoded [][]byte) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rr.jobs = slices.DeleteFunc(rr.jobs, func(k jobResults) bool { return k.id == j.ID })
	if len(rr.jobs) == maxRecentResults {
		rr.jobs = append(rr.jobs[:0], rr.jobs[1:]...)
	}
	if len(encoded) != len(res) {
		encoded = nil
	}
	rr.jobs = append(rr.jobs, jobResults{j.ID, j.Created, res, encoded})
}

// get returns results [offset, offset+limit) of job, if they are kept.
// The encoded entries, when kept, come along (same range).
func (rr *recentResults) get(job store.Job, offset, limit int) ([]store.Result, [][]byte, bool) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	for _, j := range rr.jobs {
		if j.id == job.ID && j.created.Equal(job.Created) {
			offset = min(max(offset, 0), len(j.results))
			end := min(len(j.results), offset+max(limit, 0))
			var enc [][]byte
			if j.encoded != nil {
				enc = j.encoded[offset:end]
			}
			return j.results[offset:end], enc, true
		}
	}
	return nil, nil, false
}

func (rr *recentResults) drop(id int64) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rr.jobs = slices.DeleteFunc(rr.jobs, func(j jobResults) bool { return j.id == id })
}

// auditResults writes the summary of an applied page and one record per
// conflict (both sync states and the winner).
func (s *Server) auditResults(ctx context.Context, sc scope, j store.Job, res []store.Result, d time.Duration) {
	counts := map[string]int{}
	recs := []store.AuditRecord{}
	base := store.AuditRecord{Dataset: sc.dataset, Kind: sc.kind.PluralName, TrackingID: j.TrackingID, RunName: j.RunName,
		RunStamp: j.RunStamp, RunTime: parseRunStamp(j.RunStamp)}
	for _, r := range res {
		counts[r.Outcome]++
		if r.Outcome == digest.ConflictSource.String() || r.Outcome == digest.ConflictTarget.String() {
			winner := "source"
			if r.Outcome == digest.ConflictTarget.String() {
				winner = "target"
			}
			rec := base
			rec.Operation, rec.Status, rec.Count = "target.conflict", r.Status, 1
			rec.Detail = jsonString(map[string]any{"uuid": r.UUID, "sourceState": r.SourceState, "targetState": r.TargetState, "winner": winner})
			recs = append(recs, rec)
		}
	}
	sum := base
	sum.Operation, sum.Status, sum.Count, sum.Duration = "target.applied", http.StatusOK, len(res), d
	sum.Detail = jsonString(counts)
	s.audit(ctx, append([]store.AuditRecord{sum}, recs...)...)
	s.log.Info("sync page applied", "kind", sc.kind.PluralName, "trackingID", j.TrackingID, "runName", j.RunName, "runStamp", j.RunStamp,
		"entries", len(res), "outcomes", counts, "duration", d)
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
func (s *Server) resultPage(w http.ResponseWriter, r *http.Request, sc scope, j store.Job, all bool) (int, error) {
	loc := s.jobURL(sc, "$syncTarget", j.TrackingID)
	switch j.Status {
	case store.JobRunning:
		return 0, s.writeTracking(w, http.StatusAccepted, loc, j)
	case store.JobFailed:
		return 0, errorf(http.StatusInternalServerError, CodeApplicationDiagnosis, "target job %s failed: %s", j.TrackingID, j.Failure)
	}
	q := r.URL.Query()
	pg, err := parsePaging(q)
	if err != nil {
		return 0, err
	}
	if all {
		pg = paging{start: 1, count: max(j.Total, 1)}
	}
	res, encoded, ok := s.results.get(j, pg.start-1, pg.count)
	if !ok {
		if res, err = s.st.TargetResults(r.Context(), j, pg.start-1, pg.count); err != nil {
			return 0, err
		}
	}
	head := &feeds.Feed{ID: loc, Title: labelOf(sc.kind) + " synchronization results " + j.TrackingID, Updated: nowUTC(),
		TotalResults: j.Total, StartIndex: pg.start, ItemsPerPage: pg.count, Links: pageLinks(loc, keepRunParams(q), pg, j.Total)}
	w.Header().Set("Content-Type", typeFeed)
	fw, err := feeds.NewFeedWriter(w, head)
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

func (s *Server) resultEntry(sc scope, rr store.Result) (*feeds.Entry, error) {
	e := &feeds.Entry{Title: rr.Title, Content: rr.Title, Updated: nowUTC(), HTTPStatus: rr.Status,
		HTTPMessage: http.StatusText(rr.Status), HTTPMethod: rr.Method, ETag: rr.ETag}
	st := rr.SourceState
	e.SyncState = &st
	if rr.Key != "" {
		u := s.resourceURL(sc.dataset, sc.kind, rr.Key)
		e.ID = u
		e.Links = []feeds.Link{{Rel: "self", Type: typeEntry, Title: "Refresh", Href: u}}
		if rr.Status == http.StatusCreated {
			e.Location = u
		}
		if len(rr.Payload) > 0 {
			attrs := [][2]string{{"sdata:key", rr.Key}, {"sdata:url", u}, {"sdata:uuid", rr.UUID}}
			if rr.Deleted {
				attrs = append(attrs, [2]string{"sdata:isDeleted", "true"})
			}
			raw, ok := rawWithAttrs(rr.Payload, attrs...)
			if !ok {
				return nil, fmt.Errorf("stored payload of %s is not in stored form", rr.Key)
			}
			e.RawPayload = raw
		}
	} else {
		e.ID = "urn:uuid:" + rr.UUID
	}
	if rr.Severity != "" {
		code := CodeApplicationDiagnosis
		e.Diagnoses = []feeds.Diagnosis{{Severity: rr.Severity, SDataCode: code, ApplicationCode: rr.Outcome, Message: rr.Message, PayloadPath: rr.PayloadPath}}
	}
	return e, nil
}

// ---- $syncResults

// resultDetail is what the audit log keeps of one entry of a posted result
// feed.
type resultDetail struct {
	Diagnoses   []feeds.Diagnosis `json:"diagnoses,omitempty"`
	HTTPMessage string            `json:"httpMessage"`
	HTTPMethod  string            `json:"httpMethod"`
	HTTPStatus  int               `json:"httpStatus"`
	ID          string            `json:"id"`
	SyncState   *digest.SyncState `json:"syncState,omitempty"`
	UUID        string            `json:"uuid,omitempty"`
}

func (s *Server) syncResults(w http.ResponseWriter, r *http.Request, sc scope, ru run) (int, error) {
	if err := allow(r, http.MethodPost); err != nil {
		return 0, err
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return 0, err
	}
	// The log keeps what each result says, not the payloads: no trees.
	f, err := feeds.ScanFeed(bytes.NewReader(body), s.limits)
	if err != nil {
		return 0, err
	}
	// One record per posted feed, every entry listed in its detail: the
	// same information as a record per entry, at a fraction of the writes.
	if len(f.Entries) > 0 {
		log := resultsLog{Statuses: map[string]int{}, Entries: make([]resultDetail, len(f.Entries))}
		status := http.StatusOK
		for i, e := range f.Entries {
			log.Entries[i] = resultDetail{ID: e.ID, HTTPStatus: e.HTTPStatus, HTTPMethod: e.HTTPMethod, HTTPMessage: e.HTTPMessage,
				UUID: e.UUID, SyncState: e.SyncState, Diagnoses: e.Diagnoses}
			log.Statuses[strconv.Itoa(e.HTTPStatus)]++
			if e.HTTPStatus >= 300 || e.HTTPStatus < 200 {
				status = max(status, e.HTTPStatus)
			}
		}
		if err := s.st.Audit(r.Context(), store.AuditRecord{Time: time.Now().UTC(), Dataset: sc.dataset, Kind: sc.kind.PluralName,
			Operation: "result", TrackingID: ru.tracking, RunName: ru.name, RunStamp: ru.stamp, RunTime: ru.stampTime,
			Client: r.RemoteAddr, Status: status, Count: len(f.Entries), Detail: jsonString(log)}); err != nil {
			return 0, err
		}
	}
	w.WriteHeader(http.StatusOK)
	return len(f.Entries), nil
}

// resultsLog is the audit detail of a posted result feed: how many entries
// had each HTTP status, and every entry.
type resultsLog struct {
	Statuses map[string]int `json:"statuses"`
	Entries  []resultDetail `json:"entries"`
}
