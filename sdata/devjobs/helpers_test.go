package devjobs_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"sdatasync/feeds"
	"sdatasync/sdata"
	"sdatasync/sdata/auth"
	"sdatasync/sdata/devjobs"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/sdatatest"
)

// start starts a provider whose device jobs run on eng.
func start(t *testing.T, eng devjobs.Engine, adjust ...func(*sdata.Config)) *sdatatest.Provider {
	t.Helper()
	return sdatatest.Start(t, sdatatest.Options{Config: func(c *sdata.Config) {
		c.DeviceJobs.Engine = eng
		for _, a := range adjust {
			a(c)
		}
	}})
}

// tokens authenticates "Bearer NAME": admin, or device-X for a device
// credential of device X.
type tokens struct{}

func (tokens) Authenticate(r *http.Request) (*auth.Principal, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case !ok:
		return nil, nil
	case tok == "admin":
		return &auth.Principal{Name: "admin", Grants: []auth.Grant{{Dataset: auth.AnyDataset, Role: auth.Admin}}}, nil
	case strings.HasPrefix(tok, "device-"):
		return &auth.Principal{Name: "token:" + tok, Grants: []auth.Grant{{Dataset: auth.AnyDataset, Role: auth.Device}},
			Device: strings.TrimPrefix(tok, "device-")}, nil
	case tok == "reader":
		return &auth.Principal{Name: "token:reader", Grants: []auth.Grant{{Dataset: auth.AnyDataset, Role: auth.Reader}}}, nil
	}
	return nil, diag.Unauthorized()
}

// call sends a request (a JSON body when body is not nil and not bytes)
// with an optional bearer token and returns the status and body.
func call(t *testing.T, method, u string, body any, token string) (int, []byte) {
	t.Helper()
	return callCT(t, method, u, "application/json", body, token)
}

// callCT is call with a Content-Type.
func callCT(t *testing.T, method, u, ct string, body any, token string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

// job is the body of a sync request.
type job map[string]any

// req builds a sync request of device with LocalDataUpdates updates (nil:
// none) and a LastSyncDateTime.
func req(device, clientDB, last string, updates map[string][]map[string]any) job {
	j := job{"DeviceExternalID": device, "ClientDBUUID": clientDB, "LastSyncDateTime": last, "DeviceModel": "Pixel 8",
		"DeviceName": device + "'s phone", "SoftwareVersion": "3.1", "BrandedAppID": "fieldsales", "UserFullName": "Ann Smith",
		"TimeZoneDiff": 120, "Locale": "en-GB", "SystemName": "Android"}
	if updates != nil {
		j["LocalDataUpdates"] = updates
	}
	return j
}

// insert is a row inserting fields.
func insert(fields map[string]any) map[string]any {
	return map[string]any{"actionId": devjobs.ActionInsert, "mDataRow": fields}
}

// post posts a sync job and returns its SyncJobUUID.
func post(t *testing.T, p *sdatatest.Provider, body any, token string) string {
	t.Helper()
	st, b := call(t, http.MethodPost, p.URL+"/sync", body, token)
	if st != http.StatusOK {
		t.Fatalf("POST /sync: %d\n%s", st, b)
	}
	var out struct{ SyncJobUUID, URI string }
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.SyncJobUUID == "" || out.URI != "/sync/jobinfo/"+out.SyncJobUUID {
		t.Fatalf("POST /sync answered %s", b)
	}
	return out.SyncJobUUID
}

// info reads a job's jobinfo.
func info(t *testing.T, p *sdatatest.Provider, id, token string) devjobs.JobInfo {
	t.Helper()
	st, b := call(t, http.MethodGet, p.URL+"/sync/jobinfo/"+id, nil, token)
	if st != http.StatusOK {
		t.Fatalf("GET jobinfo %s: %d\n%s", id, st, b)
	}
	var in devjobs.JobInfo
	if err := json.Unmarshal(b, &in); err != nil {
		t.Fatal(err)
	}
	return in
}

// await polls a job until it ends (done, skipped or failed). The deadline
// only keeps a broken build from hanging.
func await(t *testing.T, p *sdatatest.Provider, id, token string) devjobs.JobInfo {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		in := info(t, p, id, token)
		switch in.Status {
		case "done", "skipped", "failed":
			return in
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s", id, in.Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// answer is a LocalDataUpdatesResponse or RemoteDataUpdates document.
type answer struct {
	SyncJobUUID              string
	LastSyncDateTime         string
	LocalDataUpdatesResponse map[string][]devjobs.Row
	RemoteDataUpdates        map[string][]devjobs.Row
}

// fetch reads an answer document by its URL.
func fetch(t *testing.T, u, token string) answer {
	t.Helper()
	st, b := call(t, http.MethodGet, u, nil, token)
	if st != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", u, st, b)
	}
	var a answer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("GET %s: %v\n%.500s", u, err, b)
	}
	return a
}

// wantDiagnosis checks a refusal: its status and a diagnosis whose message
// contains msg.
func wantDiagnosis(t *testing.T, what string, st int, body []byte, status int, msg string) {
	t.Helper()
	if st != status {
		t.Errorf("%s: %d, want %d\n%s", what, st, status, body)
		return
	}
	ds, err := feeds.ParseDiagnoses(bytes.NewReader(body), feeds.Limits{})
	if err != nil || len(ds) == 0 {
		t.Errorf("%s: %d without a diagnosis: %v\n%s", what, st, err, body)
		return
	}
	if !strings.Contains(ds[0].Message, msg) {
		t.Errorf("%s: diagnosis %q, want it to mention %q", what, ds[0].Message, msg)
	}
}

// count counts rows of a table of the provider's database.
func count(t *testing.T, p *sdatatest.Provider, table string) int {
	t.Helper()
	_, r := p.Store.DB()
	var n int
	if err := r.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitEntered waits for the engine to report a merge start.
func waitEntered(t *testing.T, ch chan string, want string) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("merge of %s started, want %s", got, want)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("merge of %s never started", want)
	}
}
