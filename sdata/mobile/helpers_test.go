package mobile

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"

	"sdatasync/contracts"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
)

// fixture is an engine over a real SQLite store of the gcrm contract.
type fixture struct {
	t   testing.TB
	ctx context.Context
	st  *store.SQLite
	s   *site.Site
	e   *Engine
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c, err := contracts.Builtin("gcrm")
	if err != nil {
		t.Fatal(err)
	}
	s, err := site.New(ctx, site.Config{Base: "http://m.test", App: "sdatasync", Contract: c, ConflictPriority: 5}, st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(ctx, Config{Site: s, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, ctx: ctx, st: st, s: s, e: e}
}

// component stores an accounts component with rule and storeBusinessData.
func (f *fixture) component(alias, rule string, sbd bool) Component {
	f.t.Helper()
	c := Component{Alias: alias, Kind: "tradingAccounts", RowIdentifiers: []string{"reference"}, FilterKeys: []string{"currency"},
		ConflictRule: rule, StoreBusinessData: sbd, Apps: []App{{Name: "sales", Versions: []string{"1.0", "2.0"}}}}
	if rule == Merge {
		c.MergeFallback = ServerWins
	}
	c, _, err := f.e.PutComponent(f.ctx, c)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// device is one simulated device: its version and what it holds by uid.
type device struct {
	f       *fixture
	alias   string
	id      string
	filter  Filter
	version string
	rows    map[string]Record
}

func (f *fixture) device(alias, id string, filter Filter) *device {
	return &device{f: f, alias: alias, id: id, filter: filter, rows: map[string]Record{}}
}

// sync sends rows and applies the answer the way a device does (an update
// of an unknown uid is an insert); it returns the result and the rows.
func (d *device) sync(in ...InputRow) (Result, []OutputRow) {
	d.f.t.Helper()
	res, out := d.send(d.version, in...)
	if res.StatusCode == StatusOK {
		d.take(res, out)
	}
	return res, out
}

// send sends a request with lastVersion v and does not apply the answer.
func (d *device) send(v string, in ...InputRow) (Result, []OutputRow) {
	d.f.t.Helper()
	var out []OutputRow
	res, err := d.f.e.Sync(d.f.ctx, Request{Alias: d.alias, Caller: Caller{Device: d.id, User: "u-" + d.id, App: "sales", AppVersion: "1.0"},
		LastVersion: v, Filter: d.filter, Rows: in}, func(o OutputRow) error { out = append(out, o); return nil })
	if err != nil {
		d.f.t.Fatalf("sync: %v", err)
	}
	return res, out
}

func (d *device) take(res Result, out []OutputRow) {
	for _, o := range out {
		if o.RowStatus == RowFailed {
			continue
		}
		if o.ActionID == ActDelete {
			delete(d.rows, o.UID)
		} else {
			d.rows[o.UID] = o.Record
		}
	}
	d.version = res.CurrentVersion
}

// syncAll syncs until nothing more remains.
func (d *device) syncAll() {
	d.f.t.Helper()
	for i := 0; ; i++ {
		res, _ := d.sync()
		if res.StatusCode != StatusOK {
			d.f.t.Fatalf("sync: status %d %s", res.StatusCode, res.Message)
		}
		if !res.HasMore {
			return
		}
		if i > 10000 {
			d.f.t.Fatal("sync never ends")
		}
	}
}

// notify sends a backend notification.
func (f *fixture) notify(alias string, in ...InputRow) (Result, []OutputRow) {
	f.t.Helper()
	var out []OutputRow
	res, err := f.e.Sync(f.ctx, Request{Alias: alias, Caller: Caller{User: "backend"}, Rows: in},
		func(o OutputRow) error { out = append(out, o); return nil })
	if err != nil {
		f.t.Fatalf("notify: %v", err)
	}
	return res, out
}

// account is the record of a trading account.
func account(ref, name, currency string) Record {
	return Record{{Name: "reference", Value: ref}, {Name: "name", Value: name}, {Name: "currency", Value: currency}}
}

func ins(r Record) InputRow { return InputRow{ActionID: ActInsert, Record: r} }
func upd(uid string, r Record) InputRow {
	return InputRow{ActionID: ActUpdate, UID: uid, Record: r}
}
func del(uid string) InputRow { return InputRow{ActionID: ActDelete, UID: uid} }

// serverRows is what a device with filter should hold: the live accounts
// of the component's endpoint that match it, by uid.
func (f *fixture) serverRows(c Component, filter Filter) map[string]Record {
	f.t.Helper()
	ep, _ := f.s.Endpoint(c.Dataset, c.Kind)
	out := map[string]Record{}
	err := f.st.MobileRead(f.ctx, func(m *store.MobileTx) error {
		return m.Changes(f.ctx, ep, 0, func(r store.SeqRow) (bool, error) {
			rec, err := RecordFromProps(r.Props)
			if err != nil {
				return false, err
			}
			if !r.Deleted && filter.canonical().Matches(rec) {
				out[uidOf(c, rec)] = rec
			}
			return true, nil
		})
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

func sameRows(a, b map[string]Record) bool {
	if len(a) != len(b) {
		return false
	}
	for k, r := range a {
		s, ok := b[k]
		if !ok || !slices.Equal(r.sorted(), s.sorted()) {
			return false
		}
	}
	return true
}

func storeRow(seq, first int64) store.SeqRow { return store.SeqRow{Seq: seq, FirstSeq: first} }
