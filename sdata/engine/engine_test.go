package engine_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sdatasync/sdata/client"
	"sdatasync/sdata/demo"
	"sdatasync/sdata/engine"
	"sdatasync/sdata/store"
)

var small = demo.Sizes{TradingAccounts: 6, Contacts: 8, Commodities: 5, SalesOrders: 4}

func TestPassToEmptyAndIdempotent(t *testing.T) {
	a, b := newNode(t, 5), newNode(t, 5)
	a.seed(small)
	e := newEngine(t)
	var progress atomic.Int64
	e.Progress = func(engine.Progress) { progress.Add(1) }

	sum := pass(t, e, engine.PassOptions{Source: a.DatasetURL(), Target: b.DatasetURL(), RunName: "first"})
	if !sum.OK || sum.RunName != "first" || sum.RunStamp == "" {
		t.Fatalf("summary: %+v", sum)
	}
	var order []string
	for _, k := range sum.Kinds {
		order = append(order, k.Kind)
	}
	if got := strings.Join(order, ","); got != strings.Join(syncKinds, ",") {
		t.Errorf("kinds ran in order %s, want ascending syncOrder %s", got, strings.Join(syncKinds, ","))
	}
	tot := totals(sum, a.URL)
	want := small.TradingAccounts + small.Contacts + small.Commodities + small.SalesOrders
	if tot.Selected < want || tot.Applied != tot.Selected || tot.Errors != 0 || tot.Skipped != 0 {
		t.Errorf("first pass totals %+v, want >= %d selected, all applied", tot, want)
	}
	if progress.Load() == 0 {
		t.Error("no progress reported")
	}
	assertSame(t, a, b, false)

	// The reverse pass moves nothing but brings the digests together.
	sum = pass(t, e, engine.PassOptions{Source: b.DatasetURL(), Target: a.DatasetURL()})
	if tot := totals(sum, b.URL); tot.Selected != 0 {
		t.Errorf("reverse pass selected %d entries, want 0", tot.Selected)
	}
	assertSame(t, a, b, true)

	// A second pass both ways moves nothing.
	sum = pass(t, e, engine.PassOptions{Source: a.DatasetURL(), Target: b.DatasetURL(), Both: true})
	if len(sum.Kinds) != 2*len(syncKinds) {
		t.Errorf("--both ran %d kind passes, want %d", len(sum.Kinds), 2*len(syncKinds))
	}
	for _, k := range sum.Kinds {
		if k.Selected != 0 || k.Pages != 1 || !k.OK() {
			t.Errorf("second pass %s %s: %+v, want nothing selected in one (empty) page", k.Kind, k.Source, k)
		}
	}
	assertSame(t, a, b, true)
}

func TestBothConvergesAfterEditsOnBothSides(t *testing.T) {
	a, b := newNode(t, 5), newNode(t, 5)
	a.seed(small)
	e := newEngine(t)
	pass(t, e, engine.PassOptions{Source: a.DatasetURL(), Target: b.DatasetURL(), Both: true})
	assertSame(t, a, b, true)

	accts := a.all("tradingAccounts")
	a.setName(accts[0].UUID, "Edited at A")
	b.setName(accts[1].UUID, "Edited at B")
	b.remove("tradingAccounts", accts[2].UUID)
	a.remove("contacts", a.all("contacts")[0].UUID)
	newA := a.createAccount("NEWA", "Created at A")
	newB := b.createAccount("NEWB", "Created at B")

	sum := pass(t, e, engine.PassOptions{Source: a.DatasetURL(), Target: b.DatasetURL(), Both: true, RunName: "edits"})
	if !sum.OK {
		t.Fatalf("summary not OK: %+v", sum)
	}
	if ta := kindSum(t, sum, a.URL, "tradingAccounts"); ta.Applied != 2 {
		t.Errorf("A->B tradingAccounts applied %d, want 2 (edit + create): %+v", ta.Applied, ta)
	}
	if tb := kindSum(t, sum, b.URL, "tradingAccounts"); tb.Applied != 3 {
		t.Errorf("B->A tradingAccounts applied %d, want 3 (edit + delete + create): %+v", tb.Applied, tb)
	}
	assertSame(t, a, b, true)
	if got := nameOf(t, b.byUUID("tradingAccounts", accts[0].UUID)); got != "Edited at A" {
		t.Errorf("B has name %q", got)
	}
	if got := nameOf(t, a.byUUID("tradingAccounts", accts[1].UUID)); got != "Edited at B" {
		t.Errorf("A has name %q", got)
	}
	if !a.byUUID("tradingAccounts", accts[2].UUID).Deleted {
		t.Error("the delete at B did not reach A")
	}
	if newA.UUID != "" {
		b.byUUID("tradingAccounts", newA.UUID)
	}
	_ = newB

	// And then nothing moves.
	sum = pass(t, e, engine.PassOptions{Source: a.DatasetURL(), Target: b.DatasetURL(), Both: true})
	for _, k := range sum.Kinds {
		if k.Selected != 0 {
			t.Errorf("third pass %s from %s selected %d", k.Kind, k.Source, k.Selected)
		}
	}
}

func TestSmallPagesAndKindURL(t *testing.T) {
	a, b := newNode(t, 5), newNode(t, 5)
	a.seed(demo.Sizes{TradingAccounts: 7, Contacts: 3, Commodities: 2, SalesOrders: 1})
	e := newEngine(t)
	e.PageSize = 2
	sum := pass(t, e, engine.PassOptions{Source: a.DatasetURL() + "/tradingAccounts", Target: b.DatasetURL()})
	if len(sum.Kinds) != 1 {
		t.Fatalf("a kind URL ran %d kinds", len(sum.Kinds))
	}
	k := sum.Kinds[0]
	if k.Kind != "tradingAccounts" || k.Selected != 7 || k.Applied != 7 || k.Pages != 4 {
		t.Errorf("summary %+v, want 7 applied in 4 pages", k)
	}
	if got := len(b.all("tradingAccounts")); got != 7 {
		t.Errorf("B has %d trading accounts", got)
	}
	if got := len(b.all("contacts")); got != 0 {
		t.Errorf("B has %d contacts: only the kind named should pass", got)
	}
	// Every job context of the pass was freed (DELETE) before it returned:
	// the source's and one at the target per page.
	for name, n := range map[string]*node{"source": a, "target": b} {
		w, _ := n.Store.DB()
		var jobs int
		if err := w.QueryRow(`SELECT count(*) FROM sync_jobs WHERE status <> ?`, store.JobDeleted).Scan(&jobs); err != nil || jobs != 0 {
			t.Errorf("%s keeps %d sync jobs after the pass (%v)", name, jobs, err)
		}
	}
	// --kinds selects among the shared kinds.
	sum = pass(t, e, engine.PassOptions{Source: a.DatasetURL(), Target: b.DatasetURL(), Kinds: []string{"contact", "commodities"}})
	if len(sum.Kinds) != 2 || sum.Kinds[0].Kind != "contacts" || sum.Kinds[1].Kind != "commodities" {
		t.Errorf("kinds %+v", sum.Kinds)
	}
	if sum.Kinds[0].Pages != 2 {
		t.Errorf("3 contacts in pages of 2: %d pages", sum.Kinds[0].Pages)
	}
}

func TestConflictResolvedTheSameWayOnBothSides(t *testing.T) {
	for _, tc := range []struct {
		name       string
		firstIsA   bool // the pass starts at A (priority 3, the winner)
		srcWins    int  // conflicts won by the source in the first direction
		targetWins int  // conflicts won by the target in the first direction
	}{
		{"from the winner", true, 1, 0},
		{"from the loser", false, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newNode(t, 3), newNode(t, 7)
			a.seed(demo.Sizes{TradingAccounts: 3})
			e := newEngine(t)
			pass(t, e, engine.PassOptions{Source: a.DatasetURL(), Target: b.DatasetURL(), Both: true})
			u := a.all("tradingAccounts")[1].UUID
			b.setName(u, "B loses")
			a.setName(u, "A wins")

			src, tgt := a, b
			if !tc.firstIsA {
				src, tgt = b, a
			}
			sum := pass(t, e, engine.PassOptions{Source: src.DatasetURL(), Target: tgt.DatasetURL(), Both: true, Kinds: []string{"tradingAccounts"}})
			if !sum.OK {
				t.Errorf("conflicts resolved count as fine: %+v", sum)
			}
			k := kindSum(t, sum, src.URL, "tradingAccounts")
			if k.ConflictsSource != tc.srcWins || k.ConflictsTarget != tc.targetWins || k.Errors != 0 {
				t.Errorf("first direction %+v, want %d won by source, %d by target", k, tc.srcWins, tc.targetWins)
			}
			for _, n := range []*node{a, b} {
				if got := nameOf(t, n.byUUID("tradingAccounts", u)); got != "A wins" {
					t.Errorf("%s has %q, want the lower priority's version", n.URL, got)
				}
			}
			assertSame(t, a, b, true)
		})
	}
}

func TestRetriesThroughFlakyProvider(t *testing.T) {
	a, b := newNode(t, 5), newNode(t, 5)
	a.seed(small)
	b.createAccount("BONLY", "Only at B")
	b.failNext.Store(5)  // 503 to the first five requests
	b.loseEach.Store(7)  // every 7th request is processed but its answer lost
	a.loseEach.Store(11) // the source too
	e := newEngine(t)
	e.PageSize = 3
	sum := pass(t, e, engine.PassOptions{Source: a.DatasetURL(), Target: b.DatasetURL(), Both: true})
	if !sum.OK {
		t.Fatalf("summary: %+v", sum)
	}
	if b.injected.Load() < 5 || a.injected.Load() == 0 {
		t.Fatalf("faults injected: A %d, B %d", a.injected.Load(), b.injected.Load())
	}
	a.loseEach.Store(0)
	b.loseEach.Store(0)
	assertSame(t, a, b, true)
	// Nothing was applied twice: a further pass moves nothing.
	sum = pass(t, e, engine.PassOptions{Source: a.DatasetURL(), Target: b.DatasetURL(), Both: true})
	for _, k := range sum.Kinds {
		if k.Selected != 0 {
			t.Errorf("%s from %s selected %d after convergence", k.Kind, k.Source, k.Selected)
		}
	}
}

func TestInterruptedPassCanBeRerun(t *testing.T) {
	a, b := newNode(t, 5), newNode(t, 5)
	a.seed(small)
	e := newEngine(t)
	e.PageSize = 2
	ctx, cancel := context.WithCancel(context.Background())
	pages := 0
	e.Progress = func(p engine.Progress) {
		if p.Phase == "page" {
			pages++
			if pages == 2 {
				cancel()
			}
		}
	}
	_, err := e.Pass(ctx, engine.PassOptions{Source: a.DatasetURL(), Target: b.DatasetURL()})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted pass: %v", err)
	}
	if n := len(b.all("tradingAccounts")); n == 0 || n == small.TradingAccounts {
		t.Fatalf("B has %d trading accounts after an interrupted pass; want some", n)
	}
	e.Progress = nil
	sum := pass(t, e, engine.PassOptions{Source: a.DatasetURL(), Target: b.DatasetURL(), Both: true})
	if k := kindSum(t, sum, a.URL, "tradingAccounts"); k.Applied != small.TradingAccounts-4 || k.Skipped != 0 {
		t.Errorf("rerun: %+v, want the %d missing accounts applied and nothing twice", k, small.TradingAccounts-4)
	}
	assertSame(t, a, b, true)
}

func TestBadOptions(t *testing.T) {
	a := newNode(t, 5)
	e := newEngine(t)
	for _, opts := range []engine.PassOptions{
		{Source: "not a url", Target: a.DatasetURL()},
		{Source: a.URL + "/elsewhere", Target: a.DatasetURL()},
		{Source: a.DatasetURL(), Target: a.DatasetURL() + "/tradingAccounts/x/y"},
		{Source: a.DatasetURL(), Target: a.DatasetURL(), Kinds: []string{"nosuchkind"}},
		{Source: a.DatasetURL() + "/nosuchkind", Target: a.DatasetURL()},
	} {
		if _, err := e.Pass(context.Background(), opts); !errors.Is(err, engine.ErrBadOptions) {
			t.Errorf("%+v: %v, want ErrBadOptions", opts, err)
		}
	}
	// A provider that does not serve the dataset is a failed pass, not a usage error.
	_, err := e.Pass(context.Background(), engine.PassOptions{Source: a.URL + "/sdata/sdatasync/nocontract/-", Target: a.DatasetURL()})
	var he *client.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusNotFound || errors.Is(err, engine.ErrBadOptions) {
		t.Errorf("unknown contract: %v", err)
	}
}

// TestSourceSchemaFailureStopsTheTargetRead: the two contracts are read at
// the same time; when the source's fails, the pass fails with it at once and
// the target's read is cancelled, not waited for.
func TestSourceSchemaFailureStopsTheTargetRead(t *testing.T) {
	a := newNode(t, 5)
	cancelled := make(chan bool, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			cancelled <- true
		case <-time.After(30 * time.Second):
			cancelled <- false
		}
	}))
	defer slow.Close()
	e := newEngine(t)
	_, err := e.Pass(context.Background(), engine.PassOptions{Source: a.URL + "/sdata/sdatasync/nocontract/-", Target: slow.URL + "/sdata/sdatasync/gcrm/-"})
	var he *client.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusNotFound {
		t.Fatalf("pass: %v, want the source's 404", err)
	}
	if !<-cancelled {
		t.Fatal("the target's $schema read was not cancelled when the source's failed")
	}
}

// TestSynchronousProvider checks that a provider answering 200 at once
// (instead of 202 + Location) is handled: a proxy strips the trackingID so
// our provider runs the request synchronously.
func TestSynchronousProvider(t *testing.T) {
	a, b := newNode(t, 5), newNode(t, 5)
	a.seed(demo.Sizes{TradingAccounts: 4})
	strip := func(n *node) *httptest.Server {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			q.Del("trackingID")
			r.URL.RawQuery = q.Encode()
			r.RequestURI = r.URL.RequestURI()
			n.Server.ServeHTTP(w, r)
		}))
		t.Cleanup(ts.Close)
		return ts
	}
	sa, sb := strip(a), strip(b)
	e := newEngine(t)
	sum := pass(t, e, engine.PassOptions{Source: sa.URL + "/sdata/sdatasync/gcrm/-", Target: sb.URL + "/sdata/sdatasync/gcrm/-",
		Kinds: []string{"tradingAccounts"}})
	if k := sum.Kinds[0]; k.Applied != 4 || !k.OK() {
		t.Errorf("synchronous pass: %+v", k)
	}
	if got := len(b.all("tradingAccounts")); got != 4 {
		t.Errorf("B has %d trading accounts", got)
	}
}
