package mobile

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"sdatasync/sdata/diag"
	"sdatasync/sdata/store"
)

func seedAccounts(t *testing.T, f *fixture, alias string, n int) {
	t.Helper()
	var rows []InputRow
	for i := range n {
		cur := "EUR"
		if i%3 == 0 {
			cur = "GBP"
		}
		rows = append(rows, ins(account(fmt.Sprintf("R%03d", i), fmt.Sprintf("Account %d", i), cur)))
	}
	res, out := f.notify(alias, rows...)
	if res.StatusCode != StatusOK || len(out) != n {
		t.Fatalf("seed: %+v, %d rows", res, len(out))
	}
	for _, o := range out {
		if o.RowStatus != RowOK || o.ActionID != ActInsert {
			t.Fatalf("seed row: %+v", o)
		}
	}
}

// TestDownloadFilterAndPaging: a full download in pages, changes made
// between pages, server edits that make rows stop or start matching, and a
// filter change, with and without storeBusinessData: the device always
// ends up holding exactly the server's rows that match its filter.
func TestDownloadFilterAndPaging(t *testing.T) {
	for _, sbd := range []bool{false, true} {
		t.Run(fmt.Sprint("storeBusinessData=", sbd), func(t *testing.T) {
			f := newFixture(t)
			c := f.component("acc", ServerWins, sbd)
			seedAccounts(t, f, "acc", 40)
			d := f.device("acc", "d1", Filter{"currency": {"EUR"}})
			d.f.e.limits.PageSize = 7
			res, _ := d.sync()
			if !res.HasMore || res.Downloaded != 7 {
				t.Fatalf("first page: %+v", res)
			}
			// Changes while the download is under way.
			f.notify("acc", upd("", account("R001", "Renamed", "EUR")), upd("", account("R002", "Moved", "USD")),
				ins(account("R100", "New", "EUR")), del("R004"))
			d.syncAll()
			if want := f.serverRows(c, d.filter); !sameRows(d.rows, want) {
				t.Fatalf("after download: device holds %d rows, server %d\n%v\n%v", len(d.rows), len(want), d.rows, want)
			}
			// Incremental: a row stops matching, another starts.
			f.notify("acc", upd("", account("R005", "Now GBP", "GBP")), upd("", account("R003", "Now EUR", "EUR")))
			res, out := d.sync()
			if res.StatusCode != StatusOK || len(out) != 2 {
				t.Fatalf("incremental: %+v %+v", res, out)
			}
			if want := f.serverRows(c, d.filter); !sameRows(d.rows, want) {
				t.Fatalf("after incremental: device %v, server %v", d.rows, want)
			}
			// Nothing changed: nothing comes.
			if res, out := d.sync(); res.Downloaded != 0 || len(out) != 0 {
				t.Fatalf("idle sync: %+v %+v", res, out)
			}
			// Filter change: the EUR rows go, the GBP rows come.
			d.filter = Filter{"currency": {"GBP"}}
			d.syncAll()
			if want := f.serverRows(c, d.filter); !sameRows(d.rows, want) {
				t.Fatalf("after filter change: device %d rows, server %d", len(d.rows), len(want))
			}
		})
	}
}

// TestDeviceChangeIsLocalWrite: a device insert is a local write of the
// provider (a tick, syncState user) with an audit record naming device
// and user; a second device receives it; the writer does not get it back.
func TestDeviceChangeIsLocalWrite(t *testing.T) {
	f := newFixture(t)
	f.component("acc", ServerWins, true)
	ep, _ := f.s.Endpoint("-", "tradingAccounts")
	before, _ := f.st.Digest(f.ctx, ep)
	a := f.device("acc", "phone-a", Filter{"currency": {"EUR"}})
	b := f.device("acc", "phone-b", Filter{"currency": {"EUR"}})
	a.syncAll()
	b.syncAll()
	res, out := a.sync(ins(account("X1", "From phone", "EUR")))
	if res.StatusCode != StatusOK || len(out) != 1 || out[0].RowStatus != RowOK || out[0].ActionID != ActInsert || out[0].UID != "X1" {
		t.Fatalf("insert: %+v %+v", res, out)
	}
	after, _ := f.st.Digest(f.ctx, ep)
	if after.Entries[0].Tick != before.Entries[0].Tick+1 {
		t.Fatalf("own tick %d -> %d, want one more", before.Entries[0].Tick, after.Entries[0].Tick)
	}
	list, _, err := f.st.List(f.ctx, ep, store.ListQuery{})
	if err != nil || len(list) != 1 || list[0].State.User != "u-phone-a" || list[0].State.Endpoint != ep.URL {
		t.Fatalf("stored: %+v %v", list, err)
	}
	recs, _, err := f.st.AuditLog(f.ctx, store.AuditQuery{Operation: "mobile.sync"})
	if err != nil || len(recs) != 1 || !strings.Contains(recs[0].Detail, `"device":"phone-a"`) || recs[0].Client != "u-phone-a" || recs[0].RunName != "mobile:acc" {
		t.Fatalf("audit: %+v %v", recs, err)
	}
	if res, out := a.sync(); res.Downloaded != 0 {
		t.Fatalf("the writer got its own row back: %+v", out)
	}
	b.syncAll()
	if _, ok := b.rows["X1"]; !ok {
		t.Fatalf("second device lacks the row: %v", b.rows)
	}
}

// TestStatusCodes: every request-level refusal applies nothing.
func TestStatusCodes(t *testing.T) {
	f := newFixture(t)
	f.component("acc", ServerWins, false)
	good := Caller{Device: "d", User: "u", App: "sales", AppVersion: "1.0"}
	cases := []struct {
		name string
		req  Request
		want int
	}{
		{"unknown alias", Request{Alias: "nope", Caller: good, Filter: Filter{"currency": {"EUR"}}}, StatusInvalid},
		{"app not allowed", Request{Alias: "acc", Caller: Caller{Device: "d", App: "other", AppVersion: "1.0"}, Filter: Filter{"currency": {"EUR"}}}, StatusInvalid},
		{"version not allowed", Request{Alias: "acc", Caller: Caller{Device: "d", App: "sales", AppVersion: "9"}, Filter: Filter{"currency": {"EUR"}}}, StatusInvalid},
		{"one app header", Request{Alias: "acc", Caller: Caller{Device: "d", App: "sales"}, Filter: Filter{"currency": {"EUR"}}}, StatusInvalid},
		{"bad uid", Request{Alias: "acc", Caller: good, Filter: Filter{"currency": {"EUR"}}, Rows: []InputRow{ins(account("A", "a", "EUR")), del("a%41")}}, StatusInvalid},
		{"no uid", Request{Alias: "acc", Caller: good, Filter: Filter{"currency": {"EUR"}}, Rows: []InputRow{ins(account("A", "a", "EUR")), ins(Record{{Name: "name", Value: "x"}})}}, StatusInvalid},
		{"missing filter", Request{Alias: "acc", Caller: good, Rows: []InputRow{ins(account("A", "a", "EUR"))}}, StatusBadFilter},
		{"wrong filter key", Request{Alias: "acc", Caller: good, Filter: Filter{"name": {"x"}}}, StatusBadFilter},
		{"extra filter key", Request{Alias: "acc", Caller: good, Filter: Filter{"currency": {"EUR"}, "name": {"x"}}}, StatusBadFilter},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := f.e.Sync(f.ctx, tc.req, func(OutputRow) error { t.Fatal("a row was emitted"); return nil })
			if err != nil || res.StatusCode != tc.want || res.CurrentVersion != "" || res.Message == "" {
				t.Fatalf("got %+v, %v; want status %d", res, err, tc.want)
			}
		})
	}
	ep, _ := f.s.Endpoint("-", "tradingAccounts")
	if list, _, _ := f.st.List(f.ctx, ep, store.ListQuery{}); len(list) != 0 {
		t.Fatalf("refused requests stored %d rows", len(list))
	}
	// Suspended: devices refused, backend notifications applied.
	c, _ := f.e.Component(f.ctx, "acc")
	c.State = Suspended
	if _, _, err := f.e.PutComponent(f.ctx, c); err != nil {
		t.Fatal(err)
	}
	if res, _ := f.device("acc", "d", Filter{"currency": {"EUR"}}).send(""); res.StatusCode != StatusInvalid {
		t.Fatalf("suspended, device: %+v", res)
	}
	if res, out := f.notify("acc", ins(account("B", "b", "EUR"))); res.StatusCode != StatusOK || out[0].RowStatus != RowOK || res.CurrentVersion != "" {
		t.Fatalf("suspended, backend: %+v %+v", res, out)
	}
	c.State = Disabled
	f.e.PutComponent(f.ctx, c)
	if res, _ := f.notify("acc", ins(account("C", "c", "EUR"))); res.StatusCode != StatusInvalid {
		t.Fatalf("disabled, backend: %+v", res)
	}
}

// TestVersionRefused: forged, foreign, stale and truncated versions are a
// 400 and nothing is applied.
func TestVersionRefused(t *testing.T) {
	f := newFixture(t)
	c := f.component("acc", ServerWins, false)
	f.component("acc2", ServerWins, false)
	d := f.device("acc", "d1", Filter{"currency": {"EUR"}})
	d.syncAll()
	good := d.version
	other := f.device("acc", "d2", Filter{"currency": {"EUR"}})
	other.syncAll()
	on2 := f.device("acc2", "d1", Filter{"currency": {"EUR"}})
	on2.syncAll()
	parts := strings.Split(good, ".")
	forged := strings.Join([]string{parts[0], parts[1], parts[2], strings.Repeat("A", len(parts[3]))}, ".")
	cases := map[string]string{
		"forged": forged, "truncated": good[:len(good)-5], "garbage": "hello", "other device": other.version,
		"other component": on2.version, "too long": strings.Repeat("x", maxVersionLen+1),
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := f.e.Sync(f.ctx, Request{Alias: "acc", Caller: Caller{Device: "d1", App: "sales", AppVersion: "1.0"}, LastVersion: v,
				Filter: d.filter, Rows: []InputRow{ins(account("Z", "z", "EUR"))}}, func(OutputRow) error { return nil })
			var de *diag.Error
			if !errors.As(err, &de) || de.Status != 400 {
				t.Fatalf("got %v, want a 400 diagnosis", err)
			}
		})
	}
	// A changed configuration makes the version stale.
	c.RowIdentifiers = []string{"reference", "name"}
	if _, _, err := f.e.PutComponent(f.ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := f.e.Sync(f.ctx, Request{Alias: "acc", Caller: Caller{Device: "d1", App: "sales", AppVersion: "1.0"}, LastVersion: good,
		Filter: d.filter}, func(OutputRow) error { return nil }); err == nil || !strings.Contains(err.Error(), "stale") {
		t.Fatalf("stale version: %v", err)
	}
	ep, _ := f.s.Endpoint("-", "tradingAccounts")
	if list, _, _ := f.st.List(f.ctx, ep, store.ListQuery{}); len(list) != 0 {
		t.Fatalf("refused versions stored %d rows", len(list))
	}
	// Key rotation: old versions open until the old key is retired.
	if err := f.e.RotateKey(f.ctx, false); err != nil {
		t.Fatal(err)
	}
	if res, _ := on2.send(on2.version); res.StatusCode != StatusOK {
		t.Fatalf("after rotation: %+v", res)
	}
	if err := f.e.RotateKey(f.ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.e.Sync(f.ctx, Request{Alias: "acc2", Caller: Caller{Device: "d1", App: "sales", AppVersion: "1.0"}, LastVersion: on2.version,
		Filter: on2.filter}, func(OutputRow) error { return nil }); err == nil {
		t.Fatal("a version of a retired key opened")
	}
}

// TestConflictRules: a device edit against a newer server edit, by rule.
func TestConflictRules(t *testing.T) {
	cases := []struct {
		rule     string
		sbd      bool
		wantName string
		wantRef2 string
	}{
		{ServerWins, false, "server name", ""},
		{ServerWins, true, "server name", ""},
		{ClientWins, false, "device name", "dev2"},
		{ClientWins, true, "device name", "dev2"},
		{Merge, true, "server name", "dev2"}, // fallback serverWins for name; reference2 only the device changed
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.rule, tc.sbd), func(t *testing.T) {
			f := newFixture(t)
			f.component("acc", tc.rule, tc.sbd)
			f.notify("acc", ins(account("K1", "original", "EUR")))
			d := f.device("acc", "d1", Filter{"currency": {"EUR"}})
			d.syncAll()
			f.notify("acc", upd("K1", account("K1", "server name", "EUR")))
			rec := append(account("K1", "device name", "EUR"), Field{Name: "reference2", Value: "dev2"})
			res, out := d.sync(upd("K1", rec))
			if res.StatusCode != StatusOK || len(out) < 1 || out[0].RowStatus != RowResolved {
				t.Fatalf("got %+v %+v", res, out)
			}
			got := out[0].Record
			if n, _ := got.Get("name"); n.Value != tc.wantName {
				t.Fatalf("resolved name %q, want %q", n.Value, tc.wantName)
			}
			if r2 := get(got, "reference2"); r2.Value != tc.wantRef2 {
				t.Fatalf("resolved reference2 %+v, want %q", r2, tc.wantRef2)
			}
			// The device ends with the server's row, and the loser is audited.
			d.syncAll()
			c, _ := f.e.Component(f.ctx, "acc")
			if want := f.serverRows(c, d.filter); !sameRows(d.rows, want) {
				t.Fatalf("device %v, server %v", d.rows, want)
			}
			recs, _, _ := f.st.AuditLog(f.ctx, store.AuditQuery{Operation: "mobile.sync"})
			var det auditDetail
			if len(recs) == 0 || json.Unmarshal([]byte(recs[0].Detail), &det) != nil || len(det.Conflicts) != 1 || len(det.Conflicts[0].Lost) == 0 {
				t.Fatalf("audit: %+v", recs)
			}
		})
	}
}

// TestMergeWithoutBase: under merge, a device update of a row the server
// changed and of which it keeps no base for the device is rowStatus 3, and
// nothing is applied.
func TestMergeWithoutBase(t *testing.T) {
	f := newFixture(t)
	f.component("acc", Merge, true)
	f.notify("acc", ins(account("K1", "original", "EUR")))
	d := f.device("acc", "d1", Filter{"currency": {"EUR"}})
	res, out := d.send("", upd("K1", account("K1", "device name", "EUR")))
	if res.StatusCode != StatusOK || out[0].RowStatus != RowUnresolvable || out[0].Message == "" {
		t.Fatalf("got %+v %+v", res, out)
	}
	if rows := f.serverRows(Component{RowIdentifiers: []string{"reference"}, Dataset: "-", Kind: "tradingAccounts"}, Filter{}); get(rows["K1"], "name").Value != "original" {
		t.Fatalf("applied: %v", rows)
	}
}

// TestRetryAfterLostResponse: the same request sent again after its
// response was lost gets the same outcome, no duplicate and no conflict.
func TestRetryAfterLostResponse(t *testing.T) {
	for _, sbd := range []bool{false, true} {
		t.Run(fmt.Sprint("storeBusinessData=", sbd), func(t *testing.T) {
			f := newFixture(t)
			c := f.component("acc", ServerWins, sbd)
			seedAccounts(t, f, "acc", 5)
			d := f.device("acc", "d1", Filter{"currency": {"EUR"}})
			d.syncAll()
			uid := "R002"
			rows := []InputRow{ins(account("NEW", "n", "EUR")), upd(uid, account(uid, "edited", "EUR")), del("R001")}
			res1, out1 := d.send(d.version, rows...) // lost
			res2, out2 := d.send(d.version, rows...)
			if res1.StatusCode != StatusOK || res2.StatusCode != StatusOK || len(out1) < 3 || len(out2) < 3 {
				t.Fatalf("%+v %+v / %+v %+v", res1, out1, res2, out2)
			}
			for i := range 3 {
				if out2[i].RowStatus != RowOK || out2[i].UID != out1[i].UID || out2[i].ActionID != out1[i].ActionID {
					t.Fatalf("row %d: first %+v, retry %+v", i, out1[i], out2[i])
				}
			}
			d.take(res2, out2)
			d.syncAll()
			if want := f.serverRows(c, d.filter); !sameRows(d.rows, want) {
				t.Fatalf("device %v, server %v", d.rows, want)
			}
			ep, _ := f.s.Endpoint("-", "tradingAccounts")
			if list, total, _ := f.st.List(f.ctx, ep, store.ListQuery{}); total != 5 {
				t.Fatalf("%d live rows, want 5: %+v", total, list)
			}
		})
	}
}

// TestRowFailures: a row with a bad value or an update of an unknown uid
// fails alone (rowStatus 1); the other rows apply.
func TestRowFailures(t *testing.T) {
	f := newFixture(t)
	f.component("acc", ServerWins, false)
	d := f.device("acc", "d1", Filter{"currency": {"EUR"}})
	bad := append(account("B", "b", "EUR"), Field{Name: "financeLimit", Value: "lots"})
	res, out := d.sync(ins(bad), upd("NOPE", account("NOPE", "x", "EUR")), ins(Record{{Name: "reference", Value: "U"}, {Name: "nosuch", Value: "1"}}),
		ins(account("OK", "ok", "EUR")))
	if res.StatusCode != StatusOK || len(out) != 4 {
		t.Fatalf("%+v %+v", res, out)
	}
	for i, want := range []int{RowFailed, RowFailed, RowFailed, RowOK} {
		if out[i].RowStatus != want {
			t.Fatalf("row %d: %+v, want status %d", i, out[i], want)
		}
	}
	if _, ok := d.rows["OK"]; !ok {
		t.Fatalf("the good row did not apply: %v", d.rows)
	}
}

// TestRestoredDevice: with storeBusinessData, a device presenting a
// version older than one it already acknowledged (restored from a backup)
// is refused rather than served from what the server believes it holds;
// a blank lastVersion starts it over. Without storeBusinessData an old
// version is simply an earlier point to download from.
func TestRestoredDevice(t *testing.T) {
	for _, sbd := range []bool{true, false} {
		t.Run(fmt.Sprint("storeBusinessData=", sbd), func(t *testing.T) {
			f := newFixture(t)
			c := f.component("acc", ServerWins, sbd)
			seedAccounts(t, f, "acc", 6)
			d := f.device("acc", "d1", Filter{"currency": {"EUR"}})
			d.syncAll()
			backup, backupRows := d.version, maps.Clone(d.rows)
			f.notify("acc", ins(account("N1", "new", "EUR")))
			d.sync()
			d.sync() // acknowledges the answer that carried N1
			d.version, d.rows = backup, backupRows
			_, err := f.e.Sync(f.ctx, Request{Alias: "acc", Caller: Caller{Device: "d1", User: "u", App: "sales", AppVersion: "1.0"},
				LastVersion: d.version, Filter: d.filter}, func(OutputRow) error { return nil })
			var de *diag.Error
			if sbd != errors.As(err, &de) {
				t.Fatalf("restored version: %v", err)
			}
			if sbd {
				d.version, d.rows = "", map[string]Record{}
			}
			d.syncAll()
			if want := f.serverRows(c, d.filter); !sameRows(d.rows, want) {
				t.Fatalf("device %v, server %v", d.rows, want)
			}
		})
	}
}
