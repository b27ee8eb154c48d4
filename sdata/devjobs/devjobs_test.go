package devjobs_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"sdatasync/sdata"
	"sdatasync/sdata/store"
)

// TestThreeInARow: three requests of one device back to back while the
// first runs: the first runs, the second is skipped (superseded by the
// third), the third runs; the newest is never dropped.
func TestThreeInARow(t *testing.T) {
	eng := newStageEngine("accounts")
	p := start(t, eng)
	eng.hold("d1")
	j1 := post(t, p, req("d1", "db1", "", map[string][]map[string]any{"accounts": {insert(map[string]any{"name": "one"})}}), "")
	waitEntered(t, eng.entered, "d1/accounts")
	j2 := post(t, p, req("d1", "db1", "", map[string][]map[string]any{"accounts": {insert(map[string]any{"name": "two"})}}), "")
	j3 := post(t, p, req("d1", "db1", "", map[string][]map[string]any{"accounts": {insert(map[string]any{"name": "three"})}}), "")
	if in := info(t, p, j1, ""); in.Status != "running" {
		t.Fatalf("job 1 is %s while its merge runs", in.Status)
	}
	for _, id := range []string{j2, j3} {
		if in := info(t, p, id, ""); in.Status != "queued" || in.RemoteDataUpdatesResponseURL != "" {
			t.Fatalf("job %s is %+v while job 1 runs, want queued without URLs", id, in)
		}
	}
	eng.release("d1")
	i3 := await(t, p, j3, "")
	i1, i2 := info(t, p, j1, ""), info(t, p, j2, "")
	if i1.Status != "done" || i2.Status != "skipped" || i2.SupersededBy != j3 || i3.Status != "done" {
		t.Fatalf("statuses: 1 %s, 2 %s (superseded by %q), 3 %s; want done, skipped by %s, done", i1.Status, i2.Status, i2.SupersededBy, i3.Status, j3)
	}
	if i2.RemoteDataUpdatesResponseURL != "" || i2.LocalDataUpdatesResponseURL != "" {
		t.Errorf("a skipped job has answers: %+v", i2)
	}
	if n := eng.calls(); n != 2 {
		t.Errorf("the engine merged %d times, want 2 (jobs 1 and 3)", n)
	}
	a := fetch(t, i3.LocalDataUpdatesResponseURL, "")
	if rows := a.LocalDataUpdatesResponse["accounts"]; len(rows) != 1 || !strings.Contains(string(rows[0].MDataRow), "three") ||
		rows[0].RowStatus == nil || *rows[0].RowStatus != 0 {
		t.Errorf("job 3 answered %+v", a)
	}
	recs, _, err := p.Store.AuditLog(context.Background(), store.AuditQuery{TrackingID: j2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(recs, func(r store.AuditRecord) bool {
		return r.Operation == "devicejob.skipped" && strings.Contains(r.Detail, j3) && r.RunName == "device:d1"
	}) {
		t.Errorf("no audit record of job 2 skipped for job 3: %+v", recs)
	}
}

// TestTwoDevicesInParallel: the jobs of two devices run at once (both
// merges are in progress together before either is let go).
func TestTwoDevicesInParallel(t *testing.T) {
	eng := newStageEngine("accounts")
	p := start(t, eng)
	eng.hold("a")
	eng.hold("b")
	ja := post(t, p, req("a", "dba", "", map[string][]map[string]any{"accounts": {insert(map[string]any{"name": "A"})}}), "")
	jb := post(t, p, req("b", "dbb", "", map[string][]map[string]any{"accounts": {insert(map[string]any{"name": "B"})}}), "")
	got := []string{<-eng.entered, <-eng.entered}
	slices.Sort(got)
	if !slices.Equal(got, []string{"a/accounts", "b/accounts"}) {
		t.Fatalf("merges started: %v", got)
	}
	if ia, ib := info(t, p, ja, ""), info(t, p, jb, ""); ia.Status != "running" || ib.Status != "running" {
		t.Fatalf("statuses %s and %s, want both running", ia.Status, ib.Status)
	}
	eng.release("a")
	eng.release("b")
	if ia, ib := await(t, p, ja, ""), await(t, p, jb, ""); ia.Status != "done" || ib.Status != "done" {
		t.Fatalf("statuses %s and %s", ia.Status, ib.Status)
	}
	// Each device gets the other's change too (one server, one log).
	a := fetch(t, info(t, p, ja, "").RemoteDataUpdatesResponseURL, "")
	if n := len(a.RemoteDataUpdates["accounts"]); n < 1 {
		t.Errorf("device a got %d remote rows", n)
	}
}

// TestClientDBOverlap: a request that overlaps one with the same
// ClientDBUUID gets 409 and changes nothing; another ClientDBUUID is not
// held up.
func TestClientDBOverlap(t *testing.T) {
	eng := newStageEngine("accounts", "contacts")
	p := start(t, eng)
	eng.holdCheck("contacts")
	var wg sync.WaitGroup
	var first int
	wg.Go(func() {
		first, _ = call(t, http.MethodPost, p.URL+"/sync", req("d1", "db1", "", map[string][]map[string]any{"contacts": {}}), "")
	})
	<-eng.checked // the first request is being handled
	before := count(t, p, "device_jobs")
	st, b := call(t, http.MethodPost, p.URL+"/sync", req("d1", "db1", "", map[string][]map[string]any{"accounts": {insert(map[string]any{"n": 1})}}), "")
	wantDiagnosis(t, "overlapping request", st, b, http.StatusConflict, "ClientDBUUID")
	if n := count(t, p, "device_jobs"); n != before {
		t.Errorf("the refused request stored a job (%d -> %d)", before, n)
	}
	other := post(t, p, req("d1", "db2", "", map[string][]map[string]any{"accounts": {}}), "")
	eng.releaseCheck("contacts")
	wg.Wait()
	if first != http.StatusOK {
		t.Fatalf("the first request answered %d", first)
	}
	await(t, p, other, "")
	post(t, p, req("d1", "db1", "", nil), "") // once it returned, the same ClientDBUUID is free
}

// TestRefusals: every bad request is a diagnosis with its status, and
// nothing is stored.
func TestRefusals(t *testing.T) {
	eng := newStageEngine("accounts")
	p := start(t, eng, func(c *sdata.Config) { c.DeviceJobs.MaxUpload = 1 << 10 })
	st, b := call(t, http.MethodPost, p.URL+"/sync/uploads", map[string]string{"DeviceExternalID": "d1"}, "")
	if st != http.StatusCreated {
		t.Fatalf("upload URL: %d %s", st, b)
	}
	var up struct{ UploadURL string }
	json.Unmarshal(b, &up)
	upd := map[string][]map[string]any{"accounts": {insert(map[string]any{"name": "x"})}}
	with := func(j job, k string, v any) job { j[k] = v; return j }
	without := func(j job, k string) job { delete(j, k); return j }
	tables := []string{"device_jobs", "device_uploads", "device_job_rows", "device_cursors"}
	counts := func() []int {
		var out []int
		for _, tb := range tables {
			out = append(out, count(t, p, tb))
		}
		return out
	}
	before := counts()
	for _, tc := range []struct {
		name   string
		body   any
		status int
		msg    string
	}{
		{"both data fields", with(req("d1", "db1", "", upd), "LocalDataUpdatesURL", up.UploadURL), 400, "mutually exclusive"},
		{"neither after a first sync", req("d1", "db1", "2024-01-01T00:00:00Z", nil), 400, "neither"},
		{"malformed JSON", `{"DeviceExternalID": "d1",`, 400, "malformed"},
		{"not an object", `[1,2]`, 400, "malformed"},
		{"trailing data", `{"DeviceExternalID": "d1"} {}`, 400, "after the JSON object"},
		{"wrong type", `{"DeviceExternalID": 12}`, 400, "DeviceExternalID must be a string"},
		{"missing DeviceExternalID", without(req("d1", "db1", "", upd), "DeviceExternalID"), 400, "DeviceExternalID is missing"},
		{"unknown alias", req("d1", "db1", "", map[string][]map[string]any{"nope": {insert(map[string]any{"a": 1})}}), 400, `"nope"`},
		{"rows not a list", with(req("d1", "db1", "", nil), "LocalDataUpdates", map[string]any{"accounts": 3}), 400, "list of rows"},
		{"bad actionId", req("d1", "db1", "", map[string][]map[string]any{"accounts": {{"actionId": 7, "mDataRow": map[string]any{}}}}), 400, "actionId"},
		{"mDataRow missing", req("d1", "db1", "", map[string][]map[string]any{"accounts": {{"actionId": 0}}}), 400, "mDataRow"},
		{"foreign URL", with(req("d1", "db1", "", nil), "LocalDataUpdatesURL", "http://evil.example/sync/uploads/"+strings.Repeat("0", 36)), 400, "never fetched"},
		{"not an upload path", with(req("d1", "db1", "", nil), "LocalDataUpdatesURL", p.URL+"/sdata/x"), 400, "never fetched"},
		{"upload not filled", with(req("d1", "db1", "", nil), "LocalDataUpdatesURL", up.UploadURL), 400, "single use"},
		{"upload of another device", with(req("d2", "db9", "", nil), "LocalDataUpdatesURL", up.UploadURL), 400, "single use"},
		{"TimeZoneDiff not a number", with(req("d1", "db1", "", upd), "TimeZoneDiff", []int{1}), 400, "TimeZoneDiff"},
	} {
		st, b := call(t, http.MethodPost, p.URL+"/sync", tc.body, "")
		wantDiagnosis(t, tc.name, st, b, tc.status, tc.msg)
	}
	// Media type, and an upload over the limit.
	st, b = callCT(t, http.MethodPost, p.URL+"/sync", "application/xml", `<x/>`, "")
	wantDiagnosis(t, "XML body", st, b, http.StatusUnsupportedMediaType, "application/json")
	before[1]-- // the upload slot above was created before the count
	st, b = call(t, http.MethodPut, up.UploadURL, `{"accounts": [`+strings.Repeat(`{"actionId":0,"mDataRow":{"name":"x"}},`, 100)+`{"actionId":0,"mDataRow":{}}]}`, "")
	wantDiagnosis(t, "upload over the limit", st, b, http.StatusRequestEntityTooLarge, "limit")
	st, b = call(t, http.MethodPut, up.UploadURL, `{"accounts": 1}`, "")
	wantDiagnosis(t, "malformed upload", st, b, http.StatusBadRequest, "list of rows")
	before[1]++
	if after := counts(); !slices.Equal(before, after) {
		t.Errorf("refused requests changed the store: %v -> %v (%v)", before, after, tables)
	}
}
