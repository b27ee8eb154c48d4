package sdata_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"sdatasync/sdata/store"
)

// consoleDevice is a row of /console/api/devices as a test reads it.
type consoleDevice struct {
	Component   string `json:"component"`
	Device      string `json:"device"`
	User        string `json:"user"`
	App         string `json:"app"`
	AppVersion  string `json:"appVersion"`
	FirstSync   string `json:"firstSync"`
	LastSync    string `json:"lastSync"`
	LastStatus  int    `json:"lastStatus"`
	Status      string `json:"status"`
	VersionHeld int64  `json:"versionHeld"`
	Syncs       int64  `json:"syncs"`
}

type consoleDevices struct {
	Available bool            `json:"available"`
	Next      string          `json:"next"`
	Devices   []consoleDevice `json:"devices"`
}

const accComponent = `{"alias": "acc", "dataset": "-", "kind": "tradingAccounts", "rowIdentifiers": ["reference"], "filterKeys": ["currency"],
	"conflictRule": "merge", "mergeFallback": "clientWins", "storeBusinessData": true, "state": "enabled",
	"apps": [{"name": "sales", "versions": ["1.0", "1.1"]}]}`

// deviceSync sends a synchronize request as device dev (the device token,
// app sales in version appVersion) and returns the status and the answer.
func deviceSync(t *testing.T, base, dev, appVersion, body string) (int, []byte) {
	t.Helper()
	st, _, b := doWith(t, http.MethodPost, base+"/invoke/wm.mobile.datasync/synchronize", []byte(body), "Authorization", "Bearer device",
		"Content-Type", "application/json", "X-Mobile-App-Name", "sales", "X-Mobile-App-Version", appVersion, "X-Mobile-Device-ID", dev)
	return st, b
}

// syncOK sends a synchronize request that must succeed (statusCode 40)
// and returns the version the device now holds.
func syncOK(t *testing.T, base, dev, lastVersion, rows string) string {
	t.Helper()
	body := `{"inputParams": {"mscAlias": "acc", "lastVersion": "` + lastVersion + `", "filter": {"currency": ["EUR"]}}, "inputPayload": [` + rows + `]}`
	st, b := deviceSync(t, base, dev, "1.0", body)
	var ans struct {
		OutputParams struct {
			CurrentVersion string `json:"currentVersion"`
			StatusCode     string `json:"statusCode"`
		} `json:"outputParams"`
	}
	if err := json.Unmarshal(b, &ans); st != http.StatusOK || err != nil || ans.OutputParams.StatusCode != "40" || ans.OutputParams.CurrentVersion == "" {
		t.Fatalf("sync of %s: %d %v\n%s", dev, st, err, b)
	}
	return ans.OutputParams.CurrentVersion
}

// TestConsoleDevicesAPI: after real device syncs through the synchronize
// service, the console's components and devices APIs show what the engine
// and the registry hold (newest sync first, paged by cursor, filtered),
// never a version key; /metrics counts every device sync by outcome,
// refusals before the engine included.
func TestConsoleDevicesAPI(t *testing.T) {
	p := securedProvider(t)
	u := p.URL
	auditor := []string{"Authorization", "Bearer auditor"}
	st, _, b := doWith(t, http.MethodPost, p.URL+"/sdata/$system/mobile/components", []byte(accComponent), "Authorization", "Bearer admin",
		"Content-Type", "application/json")
	mustStatus(t, http.StatusCreated, st, b)
	before := scrape(t, p.URL, auditor...)

	// phone-1 inserts an account, phone-2 downloads it, phone-1 syncs again
	// with the version it holds; then phone-2 is refused twice: an app
	// version the component does not allow (statusCode 30, recorded in the
	// registry) and a body that is no request (400, before the engine).
	v1 := syncOK(t, u, "phone-1", "", `{"mDataRow": {"reference": "R1", "name": "Devices Ltd", "currency": "EUR"}, "uid": "", "actionId": "0"}`)
	syncOK(t, u, "phone-2", "", "")
	syncOK(t, u, "phone-1", v1, "")
	if st, b := deviceSync(t, u, "phone-2", "9.9", `{"inputParams": {"mscAlias": "acc", "filter": {"currency": ["EUR"]}}}`); st != http.StatusOK ||
		!strings.Contains(string(b), `"30"`) {
		t.Fatalf("refused app version: %d %s", st, b)
	}
	if st, b := deviceSync(t, u, "phone-2", "1.0", `{"inputParams":`); st != http.StatusBadRequest {
		t.Fatalf("malformed request: %d %s", st, b)
	}

	// Components.
	var comps struct {
		Available  bool `json:"available"`
		Components []struct {
			Alias, Dataset, Kind, State, ConflictRule, MergeFallback string
			RowIdentifiers, FilterKeys                               []string
			StoreBusinessData                                        bool
			Apps                                                     []struct {
				Name     string
				Versions []string
			}
		} `json:"components"`
	}
	getJSON(t, p.URL+"/console/api/components", &comps, auditor...)
	if !comps.Available || len(comps.Components) != 1 {
		t.Fatalf("components: %+v", comps)
	}
	c := comps.Components[0]
	if c.Alias != "acc" || c.Dataset != "-" || c.Kind != "tradingAccounts" || c.State != "enabled" || c.ConflictRule != "merge" ||
		c.MergeFallback != "clientWins" || strings.Join(c.RowIdentifiers, ",") != "reference" || strings.Join(c.FilterKeys, ",") != "currency" ||
		!c.StoreBusinessData || len(c.Apps) != 1 || c.Apps[0].Name != "sales" || strings.Join(c.Apps[0].Versions, ",") != "1.0,1.1" {
		t.Fatalf("component: %+v", c)
	}

	// Devices: phone-2's refusal is its latest sync, so it comes first.
	var devs consoleDevices
	getJSON(t, p.URL+"/console/api/devices", &devs, auditor...)
	if !devs.Available || devs.Next != "" || len(devs.Devices) != 2 {
		t.Fatalf("devices: %+v", devs)
	}
	d2, d1 := devs.Devices[0], devs.Devices[1]
	if d2.Device != "phone-2" || d2.Status != "refused" || d2.LastStatus != 30 || d2.Syncs != 1 || d2.VersionHeld != 0 {
		t.Errorf("phone-2: %+v", d2)
	}
	if d1.Device != "phone-1" || d1.Component != "acc" || d1.User != "token:device" || d1.App != "sales" || d1.AppVersion != "1.0" ||
		d1.Status != "ok" || d1.LastStatus != 40 || d1.Syncs != 2 || d1.VersionHeld <= 0 || d1.FirstSync == "" || d1.LastSync < d1.FirstSync {
		t.Errorf("phone-1: %+v", d1)
	}
	if d2.LastSync < d1.LastSync {
		t.Errorf("not newest first: %s before %s", d2.LastSync, d1.LastSync)
	}
	// The same rows as the registry's admin API holds.
	list, total, err := p.Store.MobileDevices(t.Context(), store.DeviceQuery{Alias: "acc"})
	if err != nil || total != 2 {
		t.Fatalf("registry: %d %v", total, err)
	}
	for _, d := range list {
		got := d1
		if d.Device == "phone-2" {
			got = d2
		}
		if got.Syncs != d.Syncs || got.VersionHeld != d.VersionSeq || got.LastStatus != d.LastStatus || got.User != d.User {
			t.Errorf("%s: console %+v, store %+v", d.Device, got, d)
		}
	}

	// Paged one by one with the cursor; filtered.
	var seen []string
	next := ""
	for range 3 {
		var pg consoleDevices
		getJSON(t, p.URL+"/console/api/devices?limit=1&after="+url.QueryEscape(next), &pg, auditor...)
		for _, d := range pg.Devices {
			seen = append(seen, d.Device)
		}
		if next = pg.Next; next == "" {
			break
		}
	}
	if strings.Join(seen, ",") != "phone-2,phone-1" {
		t.Errorf("paged: %v", seen)
	}
	for q, want := range map[string]string{"device=phone-1": "phone-1", "alias=acc&user=token:device": "phone-2,phone-1", "alias=other": "",
		"user=nobody": ""} {
		var pg consoleDevices
		getJSON(t, p.URL+"/console/api/devices?"+q, &pg, auditor...)
		var got []string
		for _, d := range pg.Devices {
			got = append(got, d.Device)
		}
		if strings.Join(got, ",") != want {
			t.Errorf("%s: %v, want %s", q, got, want)
		}
	}
	for _, q := range []string{"after=nope", "offset=10", "limit=0"} {
		st, _, b := doWith(t, http.MethodGet, p.URL+"/console/api/devices?"+q, nil, auditor...)
		mustStatus(t, http.StatusBadRequest, st, b)
	}

	// Roles: auditors read; a device, a reader or a writer does not.
	for who, want := range map[string]int{"": 401, "device": 403, "reader": 403, "writer": 403, "auditor": 200, "admin": 200} {
		var hdr []string
		if who != "" {
			hdr = []string{"Authorization", "Bearer " + who}
		}
		for _, api := range []string{"devices", "components"} {
			if st, _, _ := doWith(t, http.MethodGet, p.URL+"/console/api/"+api, nil, hdr...); st != want {
				t.Errorf("GET %s as %q: %d, want %d", api, who, st, want)
			}
		}
	}

	// No version key in any answer, in any encoding.
	keys, err := p.Store.MobileKeys(t.Context())
	if err != nil || len(keys) == 0 {
		t.Fatalf("version keys: %v", err)
	}
	for _, api := range []string{"devices", "components"} {
		_, _, b := doWith(t, http.MethodGet, p.URL+"/console/api/"+api, nil, auditor...)
		for _, k := range keys {
			for _, enc := range []string{hex.EncodeToString(k.Secret), base64.StdEncoding.EncodeToString(k.Secret),
				base64.RawURLEncoding.EncodeToString(k.Secret)} {
				if strings.Contains(string(b), enc) {
					t.Errorf("%s shows a version key", api)
				}
			}
		}
	}

	// /metrics: three syncs ok, two refused, none failed or in conflict.
	after := scrape(t, p.URL, auditor...)
	for status, want := range map[string]float64{"ok": 3, "refused": 2, "failed": 0, "conflict": 0} {
		b, _ := sample(before, "sdatasync_device_syncs_total", map[string]string{"status": status})
		a, ok := sample(after, "sdatasync_device_syncs_total", map[string]string{"status": status})
		if !ok || a-b != want {
			t.Errorf("device_syncs_total{status=%q} moved by %v (present %v), want %v", status, a-b, ok, want)
		}
	}
	if f := after["sdatasync_device_syncs_total"]; f == nil || len(f.Metric) != 4 {
		t.Errorf("device_syncs_total has other label values than the four statuses: %v", f)
	}
}
