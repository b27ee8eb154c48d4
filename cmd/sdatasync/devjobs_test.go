package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"sdatasync/contracts"
	"sdatasync/sdata/devjobs"
	"sdatasync/sdata/mobile"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
)

// accountsComponent is the mobile sync component of the device job tests:
// trading accounts by reference, server wins.
func accountsComponent() mobile.Component {
	return mobile.Component{Alias: "accounts", Dataset: "-", Kind: "tradingAccounts", RowIdentifiers: []string{"reference"},
		ConflictRule: mobile.ServerWins, StoreBusinessData: true, State: mobile.Enabled,
		Apps: []mobile.App{{Name: "fieldsales", Versions: []string{"*"}}}}
}

// putComponent stores a mobile sync component in a provider's database
// (its store st, its base URL base), through the device-sync engine.
func putComponent(t testing.TB, st *store.SQLite, base string, c mobile.Component) {
	t.Helper()
	ctx := context.Background()
	contract, err := contracts.Builtin("gcrm")
	if err != nil {
		t.Fatal(err)
	}
	s, err := site.New(ctx, site.Config{Base: base, App: "sdatasync", Contract: contract, ConflictPriority: 5}, st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := mobile.New(ctx, mobile.Config{Site: s, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := eng.PutComponent(ctx, c); err != nil {
		t.Fatal(err)
	}
}

// jobCall sends a device job request and decodes the JSON answer into out.
func jobCall(t *testing.T, method, u string, body any, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u, rd)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d\n%s", method, u, res.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s %s: %v\n%.300s", method, u, err, b)
	}
}

// deviceSync runs one device job at base and returns its jobinfo and
// answers.
func deviceSync(t *testing.T, base, device, last string, updates map[string][]map[string]any) (devjobs.JobInfo, jobAnswer, jobAnswer) {
	t.Helper()
	body := map[string]any{"DeviceExternalID": device, "ClientDBUUID": device + "-db", "LastSyncDateTime": last,
		"BrandedAppID": "fieldsales", "SoftwareVersion": "3.1", "DeviceModel": "Pixel 8"}
	if updates != nil {
		body["LocalDataUpdates"] = updates
	}
	var started struct{ SyncJobUUID, URI string }
	jobCall(t, http.MethodPost, base+"/sync", body, &started)
	var in devjobs.JobInfo
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
		jobCall(t, http.MethodGet, base+started.URI, nil, &in)
		if in.Status != "queued" && in.Status != "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s", in.SyncJobUUID, in.Status)
		}
	}
	if in.Status != "done" {
		t.Fatalf("job %+v", in)
	}
	var local, remote jobAnswer
	if in.LocalDataUpdatesResponseURL != "" {
		jobCall(t, http.MethodGet, in.LocalDataUpdatesResponseURL, nil, &local)
	}
	jobCall(t, http.MethodGet, in.RemoteDataUpdatesResponseURL, nil, &remote)
	return in, local, remote
}

// jobAnswer is either answer document of a device job.
type jobAnswer struct {
	LastSyncDateTime         string
	LocalDataUpdatesResponse map[string][]devjobs.Row
	RemoteDataUpdates        map[string][]devjobs.Row
}

// field reads a field of a row's mDataRow.
func field(r devjobs.Row, name string) string {
	var m map[string]any
	_ = json.Unmarshal(r.MDataRow, &m)
	return fmt.Sprint(m[name])
}

// TestDeviceJobTravels: a device job's insert becomes a change of the
// provider, travels to a second provider by `sdatasync pass`; an edit made
// there travels back by pass and reaches the device in its next job's
// RemoteDataUpdates.
func TestDeviceJobTravels(t *testing.T) {
	p1, p2 := newPassProvider(t, nil), newPassProvider(t, nil)
	putComponent(t, p1.Store, p1.URL, accountsComponent())
	first, local, remote := deviceSync(t, p1.URL, "phone-1", "", map[string][]map[string]any{"accounts": {
		{"actionId": 0, "mDataRow": map[string]any{"reference": "DEV-1", "name": "Made on a phone", "currency": "GBP"}}}})
	res := local.LocalDataUpdatesResponse["accounts"]
	if len(res) != 1 || res[0].RowStatus == nil || *res[0].RowStatus != 0 || res[0].UID == "" {
		t.Fatalf("results: %+v", res)
	}
	if own := remote.RemoteDataUpdates["accounts"]; len(own) != 1 || field(own[0], "name") != "Made on a phone" {
		t.Fatalf("RemoteDataUpdates of the first job: %+v", remote)
	}
	if code, out, errs := runPass("--source", p1.DatasetURL(), "--target", p2.DatasetURL(), "--kinds", "tradingAccounts"); code != 0 {
		t.Fatalf("pass P1 -> P2: exit %d\n%s\n%s", code, out, errs)
	}
	ep2, _ := p2.Server.Endpoint("-", "tradingAccounts")
	got, _, err := p2.Store.List(context.Background(), ep2, store.ListQuery{Limit: 10})
	if err != nil || len(got) != 1 || !strings.Contains(string(got[0].Payload), "Made on a phone") {
		t.Fatalf("P2 holds %d accounts (%v)", len(got), err)
	}
	// An edit at P2, back to P1 by pass, then to the device.
	edited := strings.Replace(string(got[0].Payload), "Made on a phone", "Renamed at the ERP", 1)
	req, _ := http.NewRequest(http.MethodPut, p2.ResourceURL("tradingAccounts", got[0].Key), strings.NewReader(edited))
	req.Header.Set("Content-Type", "application/xml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT at P2: %d %s", resp.StatusCode, b)
	}
	if code, out, errs := runPass("--source", p2.DatasetURL(), "--target", p1.DatasetURL(), "--kinds", "tradingAccounts"); code != 0 {
		t.Fatalf("pass P2 -> P1: exit %d\n%s\n%s", code, out, errs)
	}
	_, _, remote2 := deviceSync(t, p1.URL, "phone-1", first.LastSyncDateTime, map[string][]map[string]any{})
	rows := remote2.RemoteDataUpdates["accounts"]
	if len(rows) != 1 || field(rows[0], "name") != "Renamed at the ERP" || rows[0].UID != res[0].UID {
		t.Fatalf("the device's next job got %+v, want the ERP's edit of uid %s", rows, res[0].UID)
	}
}
