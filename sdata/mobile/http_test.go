package mobile_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"sdatasync/feeds"
	"sdatasync/sdata"
	"sdatasync/sdata/auth"
	"sdatasync/sdata/sdatatest"
	"sdatasync/sdata/store"
)

const syncPath = "/invoke/wm.mobile.datasync/synchronize"

// tokens authenticates "Bearer <role>" as a principal of that role; the
// device token is bound to device "phone-1".
type tokens map[string]*auth.Principal

func (tt tokens) Authenticate(r *http.Request) (*auth.Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, nil
	}
	return tt[strings.TrimPrefix(h, "Bearer ")], nil
}

func roleTokens() tokens {
	tt := tokens{}
	for _, r := range auth.Roles() {
		tt[string(r)] = &auth.Principal{Name: "token:" + string(r), Grants: []auth.Grant{{Dataset: auth.AnyDataset, Role: r}}}
	}
	tt["device"].Device = "phone-1"
	return tt
}

func start(t *testing.T) *sdatatest.Provider {
	return sdatatest.Start(t, sdatatest.Options{Config: func(c *sdata.Config) { c.Auth = roleTokens() }})
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func call(t *testing.T, p *sdatatest.Provider, method, path, token, ctype string, body []byte, hdr ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, p.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := p.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{res.StatusCode, res.Header, b}
}

// diagnosis checks a is a diagnosis with the status.
func (a answer) diagnosis(t *testing.T, status int) feeds.Diagnosis {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d\n%s", a.status, status, a.body)
	}
	ds, err := feeds.ParseDiagnoses(bytes.NewReader(a.body), feeds.Limits{})
	if err != nil || len(ds) == 0 {
		t.Fatalf("no diagnosis: %v\n%s", err, a.body)
	}
	return ds[0]
}

type jsonRow struct {
	MDataRow  map[string]any `json:"mDataRow"`
	UID       string         `json:"uid"`
	ActionID  string         `json:"actionId"`
	RowStatus string         `json:"rowStatus"`
	Message   string         `json:"message"`
}

type jsonAnswer struct {
	OutputPayload []jsonRow `json:"outputPayload"`
	OutputParams  struct {
		CurrentVersion string `json:"currentVersion"`
		StatusCode     string `json:"statusCode"`
		HasMore        string `json:"hasMore"`
		Message        string `json:"message"`
	} `json:"outputParams"`
}

func (a answer) json(t *testing.T) jsonAnswer {
	t.Helper()
	var ja jsonAnswer
	if err := json.Unmarshal(a.body, &ja); err != nil {
		t.Fatalf("answer %d is not JSON: %v\n%s", a.status, err, a.body)
	}
	return ja
}

func component(alias, rule string, sbd bool) string {
	fallback := ""
	if rule == "merge" {
		fallback = `, "mergeFallback": "serverWins"`
	}
	return fmt.Sprintf(`{"alias": %q, "dataset": "-", "kind": "tradingAccounts", "rowIdentifiers": ["reference"], "filterKeys": ["currency"],
		"conflictRule": %q%s, "storeBusinessData": %t, "apps": [{"name": "sales", "versions": ["1.0"]}]}`, alias, rule, fallback, sbd)
}

func putComponent(t *testing.T, p *sdatatest.Provider, body string) {
	t.Helper()
	a := call(t, p, http.MethodPost, "/sdata/$system/mobile/components", "admin", "application/json", []byte(body))
	if a.status != http.StatusCreated {
		t.Fatalf("create component: %d\n%s", a.status, a.body)
	}
}

// device sends a synchronize request as the bound device token.
func device(t *testing.T, p *sdatatest.Provider, body string) answer {
	t.Helper()
	return call(t, p, http.MethodPost, syncPath, "device", "application/json", []byte(body),
		"X-Mobile-App-Name", "sales", "X-Mobile-App-Version", "1.0")
}

func syncBody(alias, version, rows string) string {
	return fmt.Sprintf(`{"inputParams": {"mscAlias": %q, "lastVersion": %q, "filter": {"currency": ["EUR"]}}, "inputPayload": [%s]}`, alias, version, rows)
}

func acct(action, uid, ref, name string) string {
	return fmt.Sprintf(`{"mDataRow": {"reference": %q, "name": %q, "currency": "EUR"}, "uid": %q, "actionId": %q}`, ref, name, uid, action)
}

// TestComponentAdmin: the admin API validates, creates, replaces, lists
// and deletes components; roles decide who may.
func TestComponentAdmin(t *testing.T) {
	p := start(t)
	base := "/sdata/$system/mobile/components"
	putComponent(t, p, component("acc", "serverWins", false))
	call(t, p, http.MethodPost, base, "admin", "application/json", []byte(component("acc", "serverWins", false))).diagnosis(t, http.StatusConflict)
	bad := strings.Replace(component("bad", "serverWins", false), `"tradingAccounts"`, `"nothing"`, 1)
	if d := call(t, p, http.MethodPost, base, "admin", "application/json", []byte(bad)).diagnosis(t, http.StatusBadRequest); !strings.Contains(d.Message, "nothing") {
		t.Fatalf("unknown kind: %+v", d)
	}
	bad = strings.Replace(component("bad", "serverWins", false), `["reference"]`, `["nosuch"]`, 1)
	call(t, p, http.MethodPost, base, "admin", "application/json", []byte(bad)).diagnosis(t, http.StatusBadRequest)
	call(t, p, http.MethodPost, base, "admin", "application/json", []byte(component("m", "merge", false))).diagnosis(t, http.StatusBadRequest)
	call(t, p, http.MethodPost, base, "writer", "application/json", []byte(component("w", "serverWins", false))).diagnosis(t, http.StatusForbidden)
	call(t, p, http.MethodPost, base, "admin", "application/json", []byte(`{"alias": [`)).diagnosis(t, http.StatusBadRequest)
	a := call(t, p, http.MethodPut, base+"('acc')", "admin", "application/json", []byte(strings.Replace(component("acc", "clientWins", false), `"dataset": "-", `, ``, 1)))
	if a.status != http.StatusOK {
		t.Fatalf("replace: %d %s", a.status, a.body)
	}
	a = call(t, p, http.MethodGet, base, "auditor", "", nil)
	if a.status != http.StatusOK || !strings.Contains(string(a.body), `"clientWins"`) {
		t.Fatalf("list: %d %s", a.status, a.body)
	}
	if a := call(t, p, http.MethodDelete, base+"('acc')", "admin", "", nil); a.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", a.status, a.body)
	}
	call(t, p, http.MethodGet, base+"('acc')", "admin", "", nil).diagnosis(t, http.StatusNotFound)
}

// TestSynchronizeHTTP produces every statusCode and rowStatus through
// real HTTP, in JSON and XML.
func TestSynchronizeHTTP(t *testing.T) {
	p := start(t)
	putComponent(t, p, component("acc", "serverWins", false))
	putComponent(t, p, component("mrg", "merge", true))

	// 40 and rowStatus 0: a first sync with an insert.
	ja := device(t, p, syncBody("acc", "", acct("0", "", "A1", "Acme"))).json(t)
	if ja.OutputParams.StatusCode != "40" || ja.OutputParams.CurrentVersion == "" || len(ja.OutputPayload) != 1 ||
		ja.OutputPayload[0].RowStatus != "0" || ja.OutputPayload[0].UID != "A1" || ja.OutputPayload[0].ActionID != "0" {
		t.Fatalf("insert: %+v", ja)
	}
	v := ja.OutputParams.CurrentVersion

	// rowStatus 1: a value the contract refuses.
	ja = device(t, p, syncBody("acc", v, `{"mDataRow": {"reference": "B", "name": "b", "currency": "EUR", "financeLimit": "lots"}, "actionId": "0"}`)).json(t)
	if ja.OutputParams.StatusCode != "40" || ja.OutputPayload[0].RowStatus != "1" || ja.OutputPayload[0].Message == "" {
		t.Fatalf("bad value: %+v", ja)
	}
	v = ja.OutputParams.CurrentVersion

	// rowStatus 2: the backend changed A1 (a notification, writer role),
	// the device's edit loses by serverWins.
	a := call(t, p, http.MethodPost, syncPath, "writer", "application/json", []byte(syncBody("acc", "", acct("2", "A1", "A1", "Backend name"))))
	if nj := a.json(t); a.status != 200 || nj.OutputParams.StatusCode != "40" || nj.OutputParams.CurrentVersion != "" {
		t.Fatalf("notification: %d %s", a.status, a.body)
	}
	ja = device(t, p, syncBody("acc", v, acct("2", "A1", "A1", "Phone name"))).json(t)
	if ja.OutputPayload[0].RowStatus != "2" || ja.OutputPayload[0].MDataRow["name"] != "Backend name" {
		t.Fatalf("conflict: %+v", ja)
	}

	// rowStatus 3: merge without a base.
	call(t, p, http.MethodPost, syncPath, "sync", "application/json", []byte(syncBody("mrg", "", acct("0", "", "M1", "m"))))
	ja = device(t, p, syncBody("mrg", "", acct("2", "M1", "M1", "phone"))).json(t)
	if ja.OutputPayload[0].RowStatus != "3" {
		t.Fatalf("unresolvable: %+v", ja)
	}

	// 30: only one app header; an app version not allowed; a bad uid.
	for _, hdr := range [][]string{{"X-Mobile-App-Name", "sales"}, {"X-Mobile-App-Name", "sales", "X-Mobile-App-Version", "7"}} {
		a := call(t, p, http.MethodPost, syncPath, "device", "application/json", []byte(syncBody("acc", "", "")), hdr...)
		if j := a.json(t); a.status != 200 || j.OutputParams.StatusCode != "30" || j.OutputParams.Message == "" {
			t.Fatalf("30 for %v: %d %s", hdr, a.status, a.body)
		}
	}
	if j := device(t, p, syncBody("acc", "", acct("1", "A%zz", "A1", "x"))).json(t); j.OutputParams.StatusCode != "30" {
		t.Fatalf("bad uid: %+v", j)
	}
	// 31: the wrong filter key.
	if j := device(t, p, `{"inputParams": {"mscAlias": "acc", "filter": {"name": "x"}}}`).json(t); j.OutputParams.StatusCode != "31" {
		t.Fatalf("bad filter: %+v", j)
	}

	// 50: the store fails in the middle of the rows; nothing is applied.
	w, _ := p.Store.DB()
	if _, err := w.Exec(`CREATE TRIGGER boom BEFORE INSERT ON resources WHEN NEW.title = 'BOOM' BEGIN SELECT RAISE(ABORT, 'boom'); END`); err != nil {
		t.Fatal(err)
	}
	a = device(t, p, syncBody("acc", "", acct("0", "", "OK1", "fine")+","+acct("0", "", "X9", "BOOM")))
	if j := a.json(t); a.status != 500 || j.OutputParams.StatusCode != "50" || len(j.OutputPayload) != 0 || strings.Contains(string(a.body), "boom") {
		t.Fatalf("internal: %d %s", a.status, a.body)
	}
	ep, _ := p.Server.Endpoint("-", "tradingAccounts")
	if list, _, _ := p.Store.List(t.Context(), ep, store.ListQuery{}); len(list) != 2 {
		t.Fatalf("a 50 applied something: %d rows", len(list))
	}

	if a := call(t, p, http.MethodGet, "/sdata/$system/mobile/devices?device=phone-1&alias=acc", "admin", "", nil); !strings.Contains(string(a.body), `"lastStatus":50`) {
		t.Fatalf("the registry missed the failed sync: %s", a.body)
	}

	// XML with the same element names.
	x := `<synchronize><inputParams><mscAlias>acc</mscAlias><lastVersion/><filter><currency>EUR</currency></filter></inputParams>
		<inputPayload><mDataRow><reference>X1</reference><name>Xml &amp; Co</name><currency>EUR</currency></mDataRow><actionId>0</actionId></inputPayload></synchronize>`
	a = call(t, p, http.MethodPost, syncPath, "device", "application/xml", []byte(x), "X-Mobile-App-Name", "sales", "X-Mobile-App-Version", "1.0")
	var xa struct {
		Rows []struct {
			UID       string `xml:"uid"`
			RowStatus string `xml:"rowStatus"`
			Name      string `xml:"mDataRow>name"`
		} `xml:"outputPayload"`
		Status  string `xml:"outputParams>statusCode"`
		Version string `xml:"outputParams>currentVersion"`
	}
	if err := xml.Unmarshal(a.body, &xa); err != nil || a.status != 200 || xa.Status != "40" || xa.Version == "" || len(xa.Rows) < 2 ||
		xa.Rows[0].UID != "X1" || xa.Rows[0].Name != "Xml & Co" {
		t.Fatalf("xml: %v %d %s", err, a.status, a.body)
	}

	// The device registry knows the device.
	a = call(t, p, http.MethodGet, "/sdata/$system/mobile/devices?alias=acc", "auditor", "", nil)
	if a.status != 200 || !strings.Contains(string(a.body), `"device":"phone-1"`) || !strings.Contains(string(a.body), `"appVersion":"1.0"`) ||
		!strings.Contains(string(a.body), `"lastStatus":40`) {
		t.Fatalf("registry: %d %s", a.status, a.body)
	}
	call(t, p, http.MethodGet, "/sdata/$system/mobile/devices", "device", "", nil).diagnosis(t, http.StatusForbidden)

	// Every outcome is counted in the metrics.
	m := call(t, p, http.MethodGet, "/metrics", "auditor", "", nil)
	for _, st := range []string{"ok", "conflict", "refused", "failed"} {
		if !regexp.MustCompile(`sdatasync_device_syncs_total\{status="` + st + `"\} [1-9]`).Match(m.body) {
			t.Errorf("metrics count no %s device sync:\n%s", st, m.body)
		}
	}
}

// TestSynchronizeRefusals: malformed bodies are 400 diagnoses, too large
// ones 413, other media types 415; a device token may not send backend
// notifications nor speak for another device; nothing is stored.
func TestSynchronizeRefusals(t *testing.T) {
	p := sdatatest.Start(t, sdatatest.Options{Config: func(c *sdata.Config) { c.Auth = roleTokens(); c.MaxBody = 4096 }})
	putComponent(t, p, component("acc", "serverWins", false))
	cases := []struct {
		name, ctype, body string
		status            int
	}{
		{"not json", "application/json", `{"inputParams":`, 400},
		{"no alias", "application/json", `{"inputParams": {}}`, 400},
		{"bad action", "application/json", syncBody("acc", "", acct("7", "", "A", "a")), 400},
		{"no action", "application/json", syncBody("acc", "", `{"mDataRow": {"reference": "A"}}`), 400},
		{"nested record", "application/json", syncBody("acc", "", `{"mDataRow": {"reference": {"x": 1}}, "actionId": "0"}`), 400},
		{"deep", "application/json", `{"inputParams": {"mscAlias": "acc", "x": ` + strings.Repeat("[", 50) + strings.Repeat("]", 50) + `}}`, 400},
		{"two values", "application/json", `{"inputParams": {"mscAlias": "acc"}} {}`, 400},
		{"forged version", "application/json", syncBody("acc", "v1.1.e30.AAAA", ""), 400},
		{"bad xml", "application/xml", `<synchronize><inputParams>`, 400},
		{"deep xml", "application/xml", `<a>` + strings.Repeat("<b>", 20) + strings.Repeat("</b>", 20) + `</a>`, 400},
		{"xml nested record", "application/xml", `<s><inputParams><mscAlias>acc</mscAlias></inputParams><inputPayload><mDataRow><name><x/></name></mDataRow><actionId>0</actionId></inputPayload></s>`, 400},
		{"too large", "application/json", syncBody("acc", "", acct("0", "", strings.Repeat("x", 5000), "a")), 413},
		{"media type", "text/plain", syncBody("acc", "", ""), 415},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			call(t, p, http.MethodPost, syncPath, "device", c.ctype, []byte(c.body), "X-Mobile-App-Name", "sales", "X-Mobile-App-Version", "1.0").diagnosis(t, c.status)
		})
	}
	// A device token without the app headers is a backend notification: 403.
	call(t, p, http.MethodPost, syncPath, "device", "application/json", []byte(syncBody("acc", "", acct("0", "", "Z", "z")))).diagnosis(t, http.StatusForbidden)
	// A bound device may not speak for another.
	call(t, p, http.MethodPost, syncPath, "device", "application/json", []byte(syncBody("acc", "", "")),
		"X-Mobile-App-Name", "sales", "X-Mobile-App-Version", "1.0", "X-Mobile-Device-ID", "phone-2").diagnosis(t, http.StatusForbidden)
	// The dataset-scoped form serves only that dataset's components.
	a := call(t, p, http.MethodPost, "/sdata/sdatasync/gcrm/-/$mobile/synchronize", "device", "application/json", []byte(syncBody("acc", "", "")),
		"X-Mobile-App-Name", "sales", "X-Mobile-App-Version", "1.0")
	if a.status != 200 || a.json(t).OutputParams.StatusCode != "40" {
		t.Fatalf("scoped: %d %s", a.status, a.body)
	}
	ep, _ := p.Server.Endpoint("-", "tradingAccounts")
	if list, _, _ := p.Store.List(t.Context(), ep, store.ListQuery{}); len(list) != 0 {
		t.Fatalf("refused requests stored %d rows", len(list))
	}
}
