package devjobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"sdatasync/sdata"
	"sdatasync/sdata/store"
)

// rows makes n insert rows of alias-sized payloads (pad bytes each).
func rows(n, pad int, tag string) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = insert(map[string]any{"name": fmt.Sprintf("%s-%d", tag, i), "notes": strings.Repeat("x", pad)})
	}
	return out
}

// TestUploadByURL: a device gets an upload URL, PUTs its data there once,
// and posts the job with the URL; the URL is single use.
func TestUploadByURL(t *testing.T) {
	eng := newStageEngine("accounts")
	p := start(t, eng, func(c *sdata.Config) { c.Auth = tokens{} })
	st, b := call(t, http.MethodPost, p.URL+"/sync/uploads", nil, "device-d1")
	if st != http.StatusCreated {
		t.Fatalf("upload URL: %d %s", st, b)
	}
	var up struct {
		UploadURL string
		MaxBytes  int64
	}
	if err := json.Unmarshal(b, &up); err != nil || !strings.HasPrefix(up.UploadURL, p.URL+"/sync/uploads/") {
		t.Fatalf("upload answer %s", b)
	}
	data, _ := json.Marshal(map[string]any{"accounts": rows(600, 1000, "up")}) // ~650 KB
	st, b = call(t, http.MethodPut, up.UploadURL, data, "device-d2")
	wantDiagnosis(t, "another device's upload", st, b, http.StatusNotFound, "no open upload")
	if st, b = call(t, http.MethodPut, up.UploadURL, data, "device-d1"); st != http.StatusNoContent {
		t.Fatalf("PUT upload: %d %s", st, b)
	}
	st, b = call(t, http.MethodPut, up.UploadURL, data, "device-d1")
	wantDiagnosis(t, "second PUT", st, b, http.StatusNotFound, "single use")
	body := req("d1", "db1", "", nil)
	body["LocalDataUpdatesURL"] = up.UploadURL
	id := post(t, p, body, "device-d1")
	in := await(t, p, id, "device-d1")
	if in.Status != "done" || in.LocalRows != 600 || in.LocalDataUpdatesResponseURL == "" {
		t.Fatalf("job %+v", in)
	}
	a := fetch(t, in.LocalDataUpdatesResponseURL, "device-d1")
	if got := a.LocalDataUpdatesResponse["accounts"]; len(got) != 600 || !strings.Contains(string(got[599].MDataRow), "up-599") {
		t.Fatalf("%d results", len(got))
	}
	st, b = call(t, http.MethodPost, p.URL+"/sync", body, "device-d1")
	wantDiagnosis(t, "the URL again", st, b, http.StatusBadRequest, "single use")
}

// TestInlineConversion: an inline LocalDataUpdates over 500 KB is kept
// once as an upload referenced by the job (not in the job row), merged
// like any other, and removed with the job's results when they expire.
func TestInlineConversion(t *testing.T) {
	eng := newStageEngine("accounts")
	p := start(t, eng)
	small := post(t, p, req("d1", "db1", "", map[string][]map[string]any{"accounts": rows(3, 10, "small")}), "")
	big := post(t, p, req("d2", "db2", "", map[string][]map[string]any{"accounts": rows(700, 800, "big")}), "") // ~600 KB
	_, r := p.Store.DB()
	for _, tc := range []struct {
		id         string
		wantUpload bool
	}{{small, false}, {big, true}} {
		var inline, upload int
		if err := r.QueryRow(`SELECT length(request) IS NOT NULL, upload_id IS NOT NULL FROM device_jobs WHERE uuid = ?`, tc.id).Scan(&inline, &upload); err != nil {
			t.Fatal(err)
		}
		if (upload == 1) != tc.wantUpload || (inline == 1) == tc.wantUpload {
			t.Errorf("job %s: inline %d, upload %d; want the upload form %v", tc.id, inline, upload, tc.wantUpload)
		}
	}
	in := await(t, p, big, "")
	if in.Status != "done" || in.LocalRows != 700 {
		t.Fatalf("big job %+v", in)
	}
	if got := fetch(t, in.LocalDataUpdatesResponseURL, "").LocalDataUpdatesResponse["accounts"]; len(got) != 700 {
		t.Fatalf("%d results", len(got))
	}
	if n := count(t, p, "device_uploads"); n != 1 {
		t.Fatalf("%d uploads kept, want the big request once", n)
	}
	await(t, p, small, "")
	p.Server.DeviceJobs().Purge(context.Background(), time.Now().Add(time.Hour))
	if j, u := count(t, p, "device_jobs"), count(t, p, "device_uploads"); j != 2 || u != 1 {
		t.Errorf("%d jobs and %d uploads before the results expire, want 2 and 1", j, u)
	}
	p.Server.DeviceJobs().Purge(context.Background(), time.Now().Add(25*time.Hour))
	for _, tb := range []string{"device_jobs", "device_uploads", "device_job_rows"} {
		if n := count(t, p, tb); n != 0 {
			t.Errorf("%d rows left in %s after the results expired", n, tb)
		}
	}
	st, b := call(t, http.MethodGet, p.URL+"/sync/jobinfo/"+big, nil, "")
	wantDiagnosis(t, "expired job", st, b, http.StatusNotFound, "expire")
}

// TestRestartResumes: a provider stopped while a job merges its second
// component resumes it on restart over the same database: the first
// component, recorded as merged, is not merged again; the job ends done
// with every result.
func TestRestartResumes(t *testing.T) {
	eng := newStageEngine("accounts", "contacts")
	p := start(t, eng)
	eng.hold("d1/contacts")
	id := post(t, p, req("d1", "db1", "", map[string][]map[string]any{
		"accounts": rows(2, 5, "acc"), "contacts": rows(3, 5, "con")}), "")
	waitEntered(t, eng.entered, "d1/accounts")
	waitEntered(t, eng.entered, "d1/contacts")
	// The merge of contacts waits: stop the provider under it.
	p.Stop()
	eng.release("d1/contacts")
	if err := p.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	in := await(t, p, id, "")
	if in.Status != "done" || in.LocalRows != 5 {
		t.Fatalf("after restart: %+v", in)
	}
	if n := eng.timesApplied("d1", "accounts", "accounts-1"); n != 1 {
		t.Errorf("accounts row applied %d times", n)
	}
	a := fetch(t, in.LocalDataUpdatesResponseURL, "")
	if len(a.LocalDataUpdatesResponse["accounts"]) != 2 || len(a.LocalDataUpdatesResponse["contacts"]) != 3 {
		t.Errorf("results after restart: %+v", a.LocalDataUpdatesResponse)
	}
	r := fetch(t, in.RemoteDataUpdatesResponseURL, "")
	if len(r.RemoteDataUpdates["accounts"]) != 2 || len(r.RemoteDataUpdates["contacts"]) != 3 || r.LastSyncDateTime != in.LastSyncDateTime {
		t.Errorf("remote after restart: %+v", r)
	}
	// A job queued when the provider stopped runs after the restart.
	for len(eng.entered) > 0 {
		<-eng.entered // the merge of contacts, resumed
	}
	eng.hold("d2")
	j1 := post(t, p, req("d2", "x", "", map[string][]map[string]any{"accounts": rows(1, 1, "q1")}), "")
	waitEntered(t, eng.entered, "d2/accounts")
	j2 := post(t, p, req("d2", "x", "", map[string][]map[string]any{"accounts": rows(1, 1, "q2")}), "")
	p.Stop()
	eng.release("d2")
	if err := p.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a, b := await(t, p, j1, ""), await(t, p, j2, ""); a.Status != "done" || b.Status != "done" {
		t.Errorf("after restart: %s %s", a.Status, b.Status)
	}
}

// TestCursor: LastSyncDateTime is exact for the values the server issues
// (nothing missed, nothing twice), and conservative for others.
func TestCursor(t *testing.T) {
	eng := newStageEngine("accounts")
	p := start(t, eng)
	eng.serverChange("accounts", "s1", `{"name":"server 1"}`)
	eng.serverChange("accounts", "s2", `{"name":"server 2"}`)
	first := await(t, p, post(t, p, req("d1", "db1", "", nil), ""), "")
	if first.LocalDataUpdatesResponseURL != "" {
		t.Errorf("a job without data has a LocalDataUpdatesResponseURL")
	}
	r1 := fetch(t, first.RemoteDataUpdatesResponseURL, "")
	if uids(r1) != "s1,s2" || r1.LastSyncDateTime == "" || r1.LastSyncDateTime != first.LastSyncDateTime {
		t.Fatalf("first sync: %s, cursor %q", uids(r1), r1.LastSyncDateTime)
	}
	eng.serverChange("accounts", "s3", `{"name":"server 3"}`)
	second := await(t, p, post(t, p, req("d1", "db1", first.LastSyncDateTime, map[string][]map[string]any{
		"accounts": {insert(map[string]any{"name": "mine"})}}), ""), "")
	r2 := fetch(t, second.RemoteDataUpdatesResponseURL, "")
	if got := uids(r2); got != "accounts-1,s3" {
		t.Errorf("second sync got %s, want the device's own row (as merged) and s3", got)
	}
	if second.LastSyncDateTime <= first.LastSyncDateTime {
		t.Errorf("cursors %q then %q", first.LastSyncDateTime, second.LastSyncDateTime)
	}
	// The same issued value again: the same rows (a retried sync).
	again := await(t, p, post(t, p, req("d1", "db1", first.LastSyncDateTime, map[string][]map[string]any{}), ""), "")
	if got := uids(fetch(t, again.RemoteDataUpdatesResponseURL, "")); got != "s3,accounts-1" {
		t.Errorf("retry from the first cursor got %s", got)
	}
	// Values the server did not issue.
	for _, tc := range []struct{ last, want string }{
		{"yesterday", "s1,s2,s3,accounts-1"},                       // not a time: everything
		{"2001-01-01T00:00:00Z", "s1,s2,s3,accounts-1"},            // before any cursor: everything
		{time.Now().Add(time.Hour).UTC().Format(time.RFC3339), ""}, // later: the newest cursor the device read (nothing new since)
		{first.LastSyncDateTime + "x", "s1,s2,s3,accounts-1"},      // a tampered value: not a time
		// The first cursor reformatted: placed back by the skew margin,
		// before any cursor: everything.
		{strings.TrimSuffix(first.LastSyncDateTime, "Z") + "+00:00", "s1,s2,s3,accounts-1"},
	} {
		in := await(t, p, post(t, p, req("d1", "db1", tc.last, map[string][]map[string]any{}), ""), "")
		if got := uids(fetch(t, in.RemoteDataUpdatesResponseURL, "")); got != tc.want {
			t.Errorf("LastSyncDateTime %q: got %q, want %q", tc.last, got, tc.want)
		}
	}
	// Another device's cursor is not this device's.
	other := await(t, p, post(t, p, req("d2", "db2", second.LastSyncDateTime, map[string][]map[string]any{}), ""), "")
	if got := uids(fetch(t, other.RemoteDataUpdatesResponseURL, "")); got != "s1,s2,s3,accounts-1" {
		t.Errorf("device d2 with d1's cursor got %s, want everything", got)
	}
}

// uids lists the uids of a RemoteDataUpdates document's accounts.
func uids(a answer) string {
	var out []string
	for _, r := range a.RemoteDataUpdates["accounts"] {
		out = append(out, r.UID)
	}
	return strings.Join(out, ",")
}

// TestOwnDeviceOnly: a device credential posts and reads for its own
// device only; an admin reads all; other roles are refused by the route.
func TestOwnDeviceOnly(t *testing.T) {
	eng := newStageEngine("accounts")
	p := start(t, eng, func(c *sdata.Config) { c.Auth = tokens{} })
	id := post(t, p, req("d1", "db1", "", map[string][]map[string]any{"accounts": rows(1, 1, "own")}), "device-d1")
	in := await(t, p, id, "device-d1")
	st, b := call(t, http.MethodPost, p.URL+"/sync", req("d1", "db7", "", nil), "device-d2")
	wantDiagnosis(t, "post for another device", st, b, http.StatusForbidden, "own device")
	for _, u := range []string{p.URL + "/sync/jobinfo/" + id, in.LocalDataUpdatesResponseURL, in.RemoteDataUpdatesResponseURL} {
		st, b := call(t, http.MethodGet, u, nil, "device-d2")
		wantDiagnosis(t, "another device reads "+u, st, b, http.StatusForbidden, "own device")
		if st, b := call(t, http.MethodGet, u, nil, "reader"); st != http.StatusForbidden {
			t.Errorf("a reader reads %s: %d %s", u, st, b)
		}
		if st, _ := call(t, http.MethodGet, u, nil, ""); st != http.StatusUnauthorized {
			t.Errorf("anonymous read of %s: %d", u, st)
		}
		if st, b := call(t, http.MethodGet, u, nil, "admin"); st != http.StatusOK {
			t.Errorf("admin reads %s: %d %s", u, st, b)
		}
	}
	// The audit log names the job's device and its fields.
	recs, _, err := p.Store.AuditLog(context.Background(), store.AuditQuery{TrackingID: id})
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]bool{}
	for _, r := range recs {
		ops[r.Operation] = true
		if r.RunName != "device:d1" || r.Principal != "token:device-d1" || !strings.Contains(r.Detail, `"DeviceModel":"Pixel 8"`) {
			t.Errorf("audit record %s: run %q detail %s", r.Operation, r.RunName, r.Detail)
		}
	}
	for _, op := range []string{"devicejob.post", "devicejob.merge", "devicejob.done"} {
		if !ops[op] {
			t.Errorf("no %s record in the audit log: %v", op, ops)
		}
	}
}

// TestStreamedAnswers: answers of several thousand rows over several
// components come out whole, grouped by alias, in order.
func TestStreamedAnswers(t *testing.T) {
	eng := newStageEngine("accounts", "contacts", "orders")
	p := start(t, eng)
	for i := range 2500 {
		eng.serverChange("contacts", fmt.Sprintf("c%d", i), fmt.Sprintf(`{"n":%d}`, i))
	}
	in := await(t, p, post(t, p, req("d1", "db1", "", map[string][]map[string]any{
		"orders": rows(1200, 2, "o"), "accounts": rows(1, 2, "a"), "contacts": {}}), ""), "")
	if in.Status != "done" {
		t.Fatalf("%+v", in)
	}
	l := fetch(t, in.LocalDataUpdatesResponseURL, "")
	if len(l.LocalDataUpdatesResponse["orders"]) != 1200 || len(l.LocalDataUpdatesResponse["accounts"]) != 1 {
		t.Errorf("local answer: %d orders, %d accounts", len(l.LocalDataUpdatesResponse["orders"]), len(l.LocalDataUpdatesResponse["accounts"]))
	}
	r := fetch(t, in.RemoteDataUpdatesResponseURL, "")
	c := r.RemoteDataUpdates["contacts"]
	if len(c) != 2500 || c[0].UID != "c0" || c[2499].UID != "c2499" || len(r.RemoteDataUpdates["orders"]) != 1200 {
		t.Errorf("remote answer: %d contacts, %d orders", len(c), len(r.RemoteDataUpdates["orders"]))
	}
	if st, b := call(t, http.MethodGet, in.LocalDataUpdatesResponseURL+"x", nil, ""); st != http.StatusNotFound {
		t.Errorf("a URL below the results: %d %s", st, b)
	}
}
