package console

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"sdatasync/sdata/diag"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
)

// Limits of the console's pages.
const (
	DefaultPage = 50  // rows of a page when the request names no limit
	MaxPage     = 500 // the most rows of one page
	// ActiveWindow is how recent a run's last record must be for the live
	// view to show it as active.
	ActiveWindow = 2 * time.Minute
)

// page reads offset and limit.
func page(q url.Values) (offset, limit int, err error) {
	limit = DefaultPage
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 {
			return 0, 0, diag.New(diag.BadParameter, "limit %q: a positive integer", v)
		}
		limit = min(limit, MaxPage)
	}
	if v := q.Get("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			return 0, 0, diag.New(diag.BadParameter, "offset %q: a non-negative integer", v)
		}
	}
	return offset, limit, nil
}

// when reads a time parameter: RFC 3339 or a date (YYYY-MM-DD, UTC).
func when(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", time.DateOnly} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, diag.New(diag.BadParameter, "%s %q: a time as 2026-11-22T10:00:00Z or a date as 2026-11-22", name, v)
}

// span reads the since and until parameters of a filter.
func span(q url.Values) (since, until time.Time, err error) {
	if since, err = when(q, "since"); err != nil {
		return since, until, err
	}
	until, err = when(q, "until")
	return since, until, err
}

// runJSON is a run summary as the pages read it.
type runJSON struct {
	RunName   string  `json:"runName"`
	RunStamp  string  `json:"runStamp"`
	Dataset   string  `json:"dataset,omitempty"`
	Kind      string  `json:"kind,omitempty"`
	Kinds     int     `json:"kinds"`
	First     string  `json:"first"`
	Last      string  `json:"last"`
	Seconds   float64 `json:"seconds"` // from the first record to the last
	Work      float64 `json:"workSeconds"`
	Records   int     `json:"records"`
	Pages     int     `json:"pages"`
	Entries   int     `json:"entries"`
	Applied   int     `json:"applied"`
	Skipped   int     `json:"skipped"`
	Conflicts int     `json:"conflicts"`
	Invalid   int     `json:"invalid"`
	Selected  int     `json:"selected"`
	Sent      int     `json:"sent"`
	Errors    int     `json:"errors"`
	PerSecond float64 `json:"entriesPerSecond"` // entries applied and sent per second of the run
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func toRun(r store.RunSummary) runJSON {
	secs := r.Last.Sub(r.First).Seconds()
	span := max(secs, r.Work.Seconds())
	rate := 0.0
	if span > 0 {
		rate = float64(r.Entries+r.Sent) / span
	}
	return runJSON{RunName: r.RunName, RunStamp: r.RunStamp, Dataset: r.Dataset, Kind: r.Kind, Kinds: r.Kinds, First: stamp(r.First),
		Last: stamp(r.Last), Seconds: secs, Work: r.Work.Seconds(), Records: r.Records, Pages: r.Pages, Entries: r.Entries,
		Applied: r.Applied, Skipped: r.Skipped, Conflicts: r.Conflicts, Invalid: r.Invalid, Selected: r.Selected, Sent: r.Sent,
		Errors: r.Errors, PerSecond: rate}
}

// recordJSON is an audit record as the pages read it.
type recordJSON struct {
	ID         int64   `json:"id"`
	Time       string  `json:"time"`
	Dataset    string  `json:"dataset"`
	Kind       string  `json:"kind"`
	Operation  string  `json:"operation"`
	TrackingID string  `json:"trackingID"`
	RunName    string  `json:"runName"`
	RunStamp   string  `json:"runStamp"`
	Status     int     `json:"status"`
	Count      int     `json:"count"`
	Seconds    float64 `json:"seconds"`
	Detail     string  `json:"detail"`
}

func toRecord(a store.AuditRecord) recordJSON {
	return recordJSON{ID: a.ID, Time: stamp(a.Time), Dataset: a.Dataset, Kind: a.Kind, Operation: a.Operation, TrackingID: a.TrackingID,
		RunName: a.RunName, RunStamp: a.RunStamp, Status: a.Status, Count: a.Count, Seconds: a.Duration.Seconds(), Detail: a.Detail}
}

// Runs serves GET /console/api/runs: a page of runs (runName + runStamp),
// the latest first, filtered by runName, runStamp, dataset, kind, status
// (ok, failed, conflicts), since and until (the run's last record).
func (s *Service) Runs(w http.ResponseWriter, r *http.Request, t site.Target) error {
	if err := s.ready(); err != nil {
		return err
	}
	q := r.URL.Query()
	offset, limit, err := page(q)
	if err != nil {
		return err
	}
	rq := store.RunQuery{RunName: q.Get("runName"), RunStamp: q.Get("runStamp"), Dataset: q.Get("dataset"), Kind: q.Get("kind"),
		Status: q.Get("status"), Offset: offset, Limit: limit}
	if !slices.Contains([]string{"", "ok", "failed", "conflicts"}, rq.Status) {
		return diag.New(diag.BadParameter, "status %q: ok, failed or conflicts", rq.Status)
	}
	if rq.Since, rq.Until, err = span(q); err != nil {
		return err
	}
	runs, total, err := s.st.Runs(r.Context(), rq)
	if err != nil {
		return err
	}
	out := make([]runJSON, 0, len(runs))
	for _, ru := range runs {
		out = append(out, toRun(ru))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"total": total, "offset": offset, "limit": limit, "runs": out})
}

// Run serves GET /console/api/run?runName=&runStamp=: one run's total,
// per dataset and kind, its pages and its errors.
func (s *Service) Run(w http.ResponseWriter, r *http.Request, t site.Target) error {
	if err := s.ready(); err != nil {
		return err
	}
	q := r.URL.Query()
	name, st := q.Get("runName"), q.Get("runStamp")
	if name == "" && st == "" {
		return diag.New(diag.BadParameter, "name the run: runName and runStamp")
	}
	offset, limit, err := page(q)
	if err != nil {
		return err
	}
	ctx := r.Context()
	runs, _, err := s.st.Runs(ctx, store.RunQuery{RunName: name, RunStamp: st, Limit: 1})
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		return diag.New(diag.NoResource, "no run %q %q in the audit log", name, st)
	}
	kinds, err := s.st.RunKinds(ctx, name, st)
	if err != nil {
		return err
	}
	errs, err := s.st.RunErrors(ctx, name, st, 100)
	if err != nil {
		return err
	}
	pages, total, err := s.st.AuditLog(ctx, store.AuditQuery{RunName: name, RunStamp: st, Operation: "target.applied", Offset: offset, Limit: limit})
	if err != nil {
		return err
	}
	var sel []store.AuditRecord
	if runs[0].Selected > 0 {
		if sel, _, err = s.st.AuditLog(ctx, store.AuditQuery{RunName: name, RunStamp: st, Operation: "source.selected", Limit: 100}); err != nil {
			return err
		}
	}
	out := map[string]any{"run": toRun(runs[0]), "kinds": mapSlice(kinds, toRun), "errors": mapSlice(errs, toRecord),
		"pages": mapSlice(pages, toRecord), "pagesTotal": total, "offset": offset, "limit": limit, "selections": mapSlice(sel, toRecord)}
	return writeJSON(w, http.StatusOK, out)
}

func mapSlice[T, U any](in []T, f func(T) U) []U {
	out := make([]U, 0, len(in))
	for _, v := range in {
		out = append(out, f(v))
	}
	return out
}

// Audit serves GET /console/api/audit: a page of the audit log, newest
// first, filtered like $syncLog (runName, runStamp, trackingID, dataset,
// kind, operation, since, until).
func (s *Service) Audit(w http.ResponseWriter, r *http.Request, t site.Target) error {
	if err := s.ready(); err != nil {
		return err
	}
	q := r.URL.Query()
	offset, limit, err := page(q)
	if err != nil {
		return err
	}
	aq := store.AuditQuery{Dataset: q.Get("dataset"), Kind: q.Get("kind"), Operation: q.Get("operation"), TrackingID: q.Get("trackingID"),
		RunName: q.Get("runName"), RunStamp: q.Get("runStamp"), Offset: offset, Limit: limit}
	if aq.Since, aq.Until, err = span(q); err != nil {
		return err
	}
	recs, total, err := s.st.AuditLog(r.Context(), aq)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"total": total, "offset": offset, "limit": limit, "records": mapSlice(recs, toRecord)})
}

// Jobs serves GET /console/api/jobs: the jobs of the store (running first),
// how many run in this process, and the runs active in the last
// ActiveWindow with their progress so far.
func (s *Service) Jobs(w http.ResponseWriter, r *http.Request, t site.Target) error {
	if err := s.ready(); err != nil {
		return err
	}
	ctx := r.Context()
	jobs, err := s.st.Jobs(ctx, 100)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	active, _, err := s.st.Runs(ctx, store.RunQuery{Since: now.Add(-ActiveWindow), Limit: 20})
	if err != nil {
		return err
	}
	type jobJSON struct {
		ID         int64   `json:"id"`
		Dataset    string  `json:"dataset"`
		Kind       string  `json:"kind"`
		Type       string  `json:"type"`
		TrackingID string  `json:"trackingID"`
		Status     string  `json:"status"`
		RunName    string  `json:"runName"`
		RunStamp   string  `json:"runStamp"`
		Total      int     `json:"total"`
		Created    string  `json:"created"`
		Age        float64 `json:"ageSeconds"`
	}
	out := make([]jobJSON, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, jobJSON{ID: j.ID, Dataset: j.Dataset, Kind: j.Kind, Type: j.Type, TrackingID: j.TrackingID, Status: j.Status,
			RunName: j.RunName, RunStamp: j.RunStamp, Total: j.Total, Created: stamp(j.Created), Age: now.Sub(j.Created).Seconds()})
	}
	type activeJSON struct {
		runJSON
		Progress float64 `json:"progress"` // sent / selected at a source, -1 when unknown
		Idle     float64 `json:"idleSeconds"`
	}
	act := make([]activeJSON, 0, len(active))
	for _, a := range active {
		p := -1.0
		if a.Selected > 0 {
			p = min(1, float64(a.Sent)/float64(a.Selected))
		}
		act = append(act, activeJSON{runJSON: toRun(a), Progress: p, Idle: now.Sub(a.Last).Seconds()})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"now": stamp(now), "running": s.running(), "jobs": out, "active": act})
}

// Endpoints serves GET /console/api/endpoints: the matrix of the local
// endpoints (rows: dataset and kind) and the peers their digests know
// (columns: a peer is an endpoint URL without its kind, i.e. a dataset
// URL), each cell the tick of that peer's endpoint of the row's kind.
func (s *Service) Endpoints(w http.ResponseWriter, r *http.Request, t site.Target) error {
	if err := s.ready(); err != nil {
		return err
	}
	eds, err := s.st.EndpointDigests(r.Context())
	if err != nil {
		return err
	}
	type cell struct {
		Tick     int64  `json:"tick"`
		Stamp    string `json:"stamp"`
		Priority int    `json:"priority"`
		URL      string `json:"url"`
	}
	type row struct {
		Dataset  string           `json:"dataset"`
		Kind     string           `json:"kind"`
		URL      string           `json:"url"`
		Priority int              `json:"priority"`
		Own      string           `json:"own"` // the peer column of this provider
		Ticks    map[string]*cell `json:"ticks"`
	}
	var rows []row
	peers := map[string]bool{}
	var own []string
	for _, ed := range eds {
		ep := ed.Endpoint
		rw := row{Dataset: ep.Dataset, Kind: ep.Kind, URL: ep.URL, Priority: ep.Priority, Own: peerOf(ep.URL), Ticks: map[string]*cell{}}
		if !slices.Contains(own, rw.Own) {
			own = append(own, rw.Own)
		}
		for _, e := range ed.Entries {
			p := peerOf(e.Node)
			peers[p] = true
			rw.Ticks[p] = &cell{Tick: e.Tick, Stamp: stamp(e.Stamp), Priority: e.Priority, URL: e.Node}
		}
		rows = append(rows, rw)
	}
	// Columns: this provider's datasets first, then the peers by URL.
	cols := slices.Clone(own)
	var others []string
	for p := range peers {
		if !slices.Contains(own, p) {
			others = append(others, p)
		}
	}
	slices.Sort(others)
	cols = append(cols, others...)
	return writeJSON(w, http.StatusOK, map[string]any{"peers": cols, "own": own, "rows": rows})
}

// peerOf is an endpoint URL without its last segment (the kind).
func peerOf(u string) string {
	if i := strings.LastIndexByte(u, '/'); i > 0 {
		return u[:i]
	}
	return u
}

// Charts serves GET /console/api/charts: the throughput of the last runs
// (entries per second over time) and conflicts per kind per day over the
// last days (days, default 30).
func (s *Service) Charts(w http.ResponseWriter, r *http.Request, t site.Target) error {
	if err := s.ready(); err != nil {
		return err
	}
	q := r.URL.Query()
	days := 30
	if v := q.Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 366 {
			return diag.New(diag.BadParameter, "days %q: 1 to 366", v)
		}
		days = n
	}
	ctx := r.Context()
	runs, _, err := s.st.Runs(ctx, store.RunQuery{Limit: 50})
	if err != nil {
		return err
	}
	slices.Reverse(runs) // oldest first, for the chart
	since := time.Now().UTC().AddDate(0, 0, -(days - 1))
	daily, err := s.st.DailyCounts(ctx, "target.conflict", since)
	if err != nil {
		return err
	}
	type dayJSON struct {
		Day   string `json:"day"`
		Kind  string `json:"kind"`
		Count int    `json:"count"`
	}
	byDayKind := map[[2]string]int{}
	for _, d := range daily {
		byDayKind[[2]string{d.Day, d.Kind}] += d.Count // datasets added up
	}
	conf := make([]dayJSON, 0, len(byDayKind))
	for k, n := range byDayKind {
		conf = append(conf, dayJSON{Day: k[0], Kind: k[1], Count: n})
	}
	slices.SortFunc(conf, func(a, b dayJSON) int { return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Kind, b.Kind)) })
	return writeJSON(w, http.StatusOK, map[string]any{"throughput": mapSlice(runs, toRun), "conflicts": conf,
		"since": since.Format(time.DateOnly), "days": days})
}

// Registry serves GET /console/api/registry: a page of the endpoints
// applications registered (the provider's own are on the endpoints page).
func (s *Service) Registry(w http.ResponseWriter, r *http.Request, t site.Target) error {
	if err := s.ready(); err != nil {
		return err
	}
	offset, limit, err := page(r.URL.Query())
	if err != nil {
		return err
	}
	list, total, err := s.st.RegistryList(r.Context(), nil, store.ListQuery{Offset: offset, Limit: limit})
	if err != nil {
		return err
	}
	type regJSON struct {
		Key     string         `json:"key"`
		Title   string         `json:"title"`
		URL     string         `json:"url"`
		Props   map[string]any `json:"props"`
		Updated string         `json:"updated"`
	}
	out := make([]regJSON, 0, len(list))
	for _, e := range list {
		rj := regJSON{Key: e.Key, Title: e.Title, URL: e.URL, Updated: stamp(e.Updated), Props: map[string]any{}}
		_ = jsonUnmarshal(e.Props, &rj.Props)
		out = append(out, rj)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"total": total, "offset": offset, "limit": limit, "endpoints": out})
}
