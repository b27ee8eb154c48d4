package sdata_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"sdatasync/sdata/store"
)

// conflicted makes two providers and runs two passes from src (priority 3)
// to dst (priority 5) over n trading accounts, the second after concurrent
// edits of the first c on both sides: c conflicts at dst, all won by the
// source. It returns the source's keys.
func conflicted(t *testing.T, src, dst *provider, n, c int) []string {
	t.Helper()
	const kind = "tradingAccounts"
	var keys []string
	for i := range n {
		keys = append(keys, src.create(kind, ta("Console Ltd "+itoa(i), "C"+itoa(i))))
	}
	catchUp(t, src, dst, kind, 5, "console-first")
	for i, k := range keys[:c] {
		editBoth(t, src, dst, kind, k, "Source &lt;b&gt;"+itoa(i)+"&lt;/b&gt; &amp; Co", "Target Edit "+itoa(i))
	}
	catchUp(t, src, dst, kind, 5, "console-second")
	return keys
}

// getJSON GETs a console API and decodes it.
func getJSON(t *testing.T, url string, v any, hdr ...string) {
	t.Helper()
	st, h, b := doWith(t, http.MethodGet, url, nil, hdr...)
	mustStatus(t, http.StatusOK, st, b)
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: Content-Type %q", url, ct)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v\n%s", url, err, b)
	}
}

// TestConsoleAPI: the console's JSON matches the store, the restore of a
// losing version is a local write audited with who did it, and the pages
// carry a CSP.
func TestConsoleAPI(t *testing.T) {
	src, dst := newProvider(t, 3), newProvider(t, 5)
	conflicted(t, src, dst, 12, 3)
	api := dst.URL + "/console/api/"

	var runs struct {
		Total int `json:"total"`
		Runs  []struct {
			RunName   string `json:"runName"`
			Pages     int    `json:"pages"`
			Entries   int    `json:"entries"`
			Applied   int    `json:"applied"`
			Conflicts int    `json:"conflicts"`
			Errors    int    `json:"errors"`
		} `json:"runs"`
	}
	getJSON(t, api+"runs", &runs)
	if runs.Total != 2 || runs.Runs[0].RunName != "console-second" || runs.Runs[1].RunName != "console-first" {
		t.Fatalf("runs %+v", runs)
	}
	if r := runs.Runs[1]; r.Pages != 3 || r.Entries != 12 || r.Applied != 12 || r.Errors != 0 {
		t.Errorf("first run %+v, want 3 pages of 12 entries applied", r)
	}
	if r := runs.Runs[0]; r.Conflicts != 3 {
		t.Errorf("second run %+v, want 3 conflicts", r)
	}
	getJSON(t, api+"runs?status=conflicts", &runs)
	if runs.Total != 1 || runs.Runs[0].RunName != "console-second" {
		t.Errorf("runs with conflicts %+v", runs)
	}
	st, _, b := do(t, http.MethodGet, api+"runs?status=weird", nil)
	mustStatus(t, http.StatusBadRequest, st, b)

	var cl struct {
		Total     int `json:"total"`
		Conflicts []struct {
			ID     int64 `json:"id"`
			Detail struct {
				Key    string `json:"key"`
				Winner string `json:"winner"`
				Rule   string `json:"rule"`
			} `json:"detail"`
		} `json:"conflicts"`
	}
	getJSON(t, api+"conflicts?kind=tradingAccounts", &cl)
	recs, total, err := dst.Store.AuditLog(t.Context(), store.AuditQuery{Operation: "target.conflict"})
	if err != nil || cl.Total != total || total != 3 || cl.Conflicts[0].ID != recs[0].ID {
		t.Fatalf("conflicts %+v; the store has %d (%v)", cl, total, err)
	}
	c := cl.Conflicts[0]
	if c.Detail.Winner != "source" || c.Detail.Rule != "priority" {
		t.Errorf("conflict %+v, want won by the source on priority", c)
	}
	var one struct {
		Fields []struct {
			Path    string `json:"path"`
			Winner  string `json:"winner"`
			Loser   string `json:"loser"`
			Differs bool   `json:"differs"`
		} `json:"fields"`
		Current struct {
			Title string `json:"title"`
		} `json:"current"`
	}
	id := itoa(int(c.ID))
	getJSON(t, api+"conflicts('"+id+"')", &one)
	var name *struct {
		Path    string `json:"path"`
		Winner  string `json:"winner"`
		Loser   string `json:"loser"`
		Differs bool   `json:"differs"`
	}
	for i := range one.Fields {
		if one.Fields[i].Path == "name" {
			name = &one.Fields[i]
		}
	}
	if name == nil || !name.Differs || !strings.HasPrefix(name.Winner, "Source <b>") || !strings.HasPrefix(name.Loser, "Target Edit") {
		t.Fatalf("name field %+v in %+v", name, one.Fields)
	}
	st, _, b = do(t, http.MethodGet, api+"conflicts('999999')", nil)
	mustStatus(t, http.StatusNotFound, st, b)

	// Restore: JSON only, then the resource carries the loser's name, and
	// the audit log says who restored it.
	restore := api + "datasets/-/conflicts('" + id + "')/restore"
	st, _, b = doWith(t, http.MethodPost, restore, []byte(`{}`), "Content-Type", "application/x-www-form-urlencoded")
	mustStatus(t, http.StatusUnsupportedMediaType, st, b)
	st, _, b = doWith(t, http.MethodPost, restore, []byte(`{}`), "Content-Type", "application/json")
	mustStatus(t, http.StatusOK, st, b)
	var got struct {
		Key, Title, By string
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	r, err := dst.Store.Get(t.Context(), dst.endpoint("tradingAccounts"), got.Key)
	if err != nil || !strings.Contains(string(r.Payload), name.Loser) || r.State.Endpoint != dst.KindURL("tradingAccounts") {
		t.Fatalf("after restore: %s %+v %v; want the loser's %q as a local change", r.Payload, r.State, err, name.Loser)
	}
	restores, _, err := dst.Store.AuditLog(t.Context(), store.AuditQuery{Operation: "console.restore"})
	if err != nil || len(restores) != 1 || !strings.Contains(restores[0].Detail, `"by":"anonymous"`) || restores[0].TrackingID != id {
		t.Fatalf("restore records %+v %v", restores, err)
	}
	// The restore is an edit like any other: the next pass carries it back.
	catchUp(t, dst, src, "tradingAccounts", 50, "console-back")
	back, err := src.Store.GetByUUID(t.Context(), src.endpoint("tradingAccounts"), r.UUID)
	if err != nil || !strings.Contains(string(back.Payload), name.Loser) {
		t.Errorf("the source after the next pass: %s %v", back.Payload, err)
	}
	st, _, b = doWith(t, http.MethodPost, dst.URL+"/console/api/datasets/nope/conflicts('"+id+"')/restore", []byte(`{}`), "Content-Type", "application/json")
	mustStatus(t, http.StatusNotFound, st, b)

	st, h, b := do(t, http.MethodGet, dst.URL+"/console/", nil)
	mustStatus(t, http.StatusOK, st, b)
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	if !strings.Contains(string(b), `<script src="app.js" defer></script>`) || strings.Contains(string(b), "<script>") {
		t.Errorf("the page has inline script or lacks app.js:\n%s", b)
	}
	for _, f := range []string{"app.js", "style.css"} {
		st, _, b := do(t, http.MethodGet, dst.URL+"/console/"+f, nil)
		mustStatus(t, http.StatusOK, st, b)
	}
	st, _, b = do(t, http.MethodGet, dst.URL+"/console/nothing.js", nil)
	mustStatus(t, http.StatusNotFound, st, b)
	for _, p := range []string{"endpoints", "jobs", "charts", "registry", "devices", "audit?operation=console.restore"} {
		var v map[string]any
		getJSON(t, api+p, &v)
	}
}

// TestConsoleRoles: auditors read the console, only writers restore.
func TestConsoleRoles(t *testing.T) {
	p := securedProvider(t)
	for who, want := range map[string]int{"": 401, "reader": 403, "writer": 403, "sync": 403, "auditor": 200, "admin": 200} {
		var hdr []string
		if who != "" {
			hdr = []string{"Authorization", "Bearer " + who}
		}
		if st, _, _ := doWith(t, http.MethodGet, p.URL+"/console/api/runs", nil, hdr...); st != want {
			t.Errorf("GET runs as %q: %d, want %d", who, st, want)
		}
	}
	for who, want := range map[string]int{"auditor": 403, "reader": 403, "writer": 404, "admin": 404} {
		st, _, _ := doWith(t, http.MethodPost, p.URL+"/console/api/datasets/-/conflicts('1')/restore", []byte(`{}`),
			"Authorization", "Bearer "+who, "Content-Type", "application/json")
		if st != want {
			t.Errorf("restore as %q: %d, want %d", who, st, want)
		}
	}
}
