package engine_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beevik/etree"

	"sdatasync/sdata"
	"sdatasync/sdata/demo"
	"sdatasync/sdata/engine"
	"sdatasync/sdata/sdatatest"
	"sdatasync/sdata/store"
)

// syncKinds are the kinds that synchronize on their own, in syncOrder
// (salesOrderLines travel inside their sales orders).
var syncKinds = []string{"tradingAccounts", "contacts", "commodities", "salesOrders"}

// node is a provider behind a real HTTP server, with optional fault
// injection in front of it.
type node struct {
	*sdatatest.Provider
	t   testing.TB
	ctx context.Context

	failNext atomic.Int64 // answer 503 to that many upcoming requests
	loseEach atomic.Int64 // when > 0: every n-th request is served, then its answer replaced by 503
	requests atomic.Int64
	injected atomic.Int64 // faults injected so far
}

func newNode(t testing.TB, priority int) *node {
	t.Helper()
	n := &node{t: t, ctx: context.Background()}
	n.Provider = sdatatest.Start(t, sdatatest.Options{
		Config: func(c *sdata.Config) { c.ConflictPriority = priority },
		Wrap:   n.faults,
	})
	return n
}

// faults injects the faults the test asked for in front of the provider.
func (n *node) faults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seq := n.requests.Add(1)
		if n.failNext.Load() > 0 && n.failNext.Add(-1) >= 0 {
			n.injected.Add(1)
			w.Header().Set("Retry-After", "0")
			http.Error(w, "injected fault", http.StatusServiceUnavailable)
			return
		}
		if k := n.loseEach.Load(); k > 0 && seq%k == 0 {
			n.injected.Add(1)
			next.ServeHTTP(httptest.NewRecorder(), r)
			http.Error(w, "injected lost answer", http.StatusBadGateway)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (n *node) seed(sz demo.Sizes) {
	n.t.Helper()
	ok, err := demo.SeedDataset(n.ctx, n.Server, "-", sz)
	if err != nil || !ok {
		n.t.Fatalf("seed: %v %v", ok, err)
	}
}

func (n *node) ep(kind string) store.Endpoint {
	ep, ok := n.Server.Endpoint("-", kind)
	if !ok {
		n.t.Fatalf("no endpoint %s", kind)
	}
	return ep
}

// all lists a kind's resources, tombstones included.
func (n *node) all(kind string) []store.Resource {
	n.t.Helper()
	rs, _, err := n.Store.List(n.ctx, n.ep(kind), store.ListQuery{IncludeDeleted: true, Limit: 1 << 20})
	if err != nil {
		n.t.Fatal(err)
	}
	return rs
}

// snapshot renders a kind's resources by UUID: payload, tombstone, sync state.
func (n *node) snapshot(kind string) map[string]string {
	out := map[string]string{}
	for _, r := range n.all(kind) {
		if r.UUID == "" {
			n.t.Fatalf("%s %s has no uuid after a pass", kind, r.Key)
		}
		out[r.UUID] = fmt.Sprintf("deleted=%v state=%s#%d\n%s", r.Deleted, r.State.Endpoint, r.State.Tick, r.Payload)
	}
	return out
}

// digestOf renders a kind's digest without its origin, sorted.
func (n *node) digestOf(kind string) []string {
	n.t.Helper()
	d, err := n.Store.Digest(n.ctx, n.ep(kind))
	if err != nil {
		n.t.Fatal(err)
	}
	var out []string
	for _, e := range d.Entries {
		out = append(out, fmt.Sprintf("%s tick=%d prio=%d", e.Endpoint, e.Tick, e.ConflictPriority))
	}
	slices.Sort(out)
	return out
}

// byUUID returns the resource with that UUID.
func (n *node) byUUID(kind, uuid string) store.Resource {
	n.t.Helper()
	r, err := n.Store.GetByUUID(n.ctx, n.ep(kind), uuid)
	if err != nil {
		n.t.Fatalf("%s %s: %v", kind, uuid, err)
	}
	return r
}

// do sends a request to the node and fails the test on an unexpected status.
func (n *node) do(method, u, body string, want int) {
	n.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(n.ctx, method, u, rd)
	if err != nil {
		n.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/xml")
	}
	res, err := n.HTTP.Client().Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		n.t.Fatalf("%s %s: %d %s (want %d)", method, u, res.StatusCode, b, want)
	}
}

// setName changes a trading account's name through a PUT.
func (n *node) setName(uuid, name string) {
	n.t.Helper()
	r := n.byUUID("tradingAccounts", uuid)
	body := fmt.Sprintf(`<tradingAccount xmlns=%q><name>%s</name></tradingAccount>`, n.Config.Contract.TargetNamespace, name)
	n.do(http.MethodPut, n.ResourceURL("tradingAccounts", r.Key), body, http.StatusOK)
}

// remove deletes a resource through a DELETE.
func (n *node) remove(kind, uuid string) {
	n.t.Helper()
	n.do(http.MethodDelete, n.ResourceURL(kind, n.byUUID(kind, uuid).Key), "", http.StatusOK)
}

// createAccount creates a trading account locally.
func (n *node) createAccount(ref, name string) store.Resource {
	n.t.Helper()
	el := etree.NewElement("tradingAccount")
	el.CreateAttr("xmlns", n.Config.Contract.TargetNamespace)
	el.CreateElement("reference").SetText(ref)
	el.CreateElement("name").SetText(name)
	el.CreateElement("active").SetText("true")
	r, err := n.Server.CreateLocal(n.ctx, "-", "tradingAccounts", el, "test")
	if err != nil {
		n.t.Fatal(err)
	}
	return r
}

// nameOf reads a trading account's name from its stored payload.
func nameOf(t testing.TB, r store.Resource) string {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(r.Payload); err != nil {
		t.Fatal(err)
	}
	if el := doc.Root().SelectElement("name"); el != nil {
		return el.Text()
	}
	return ""
}

// assertSame checks that two nodes hold the same resources and digests.
func assertSame(t testing.TB, a, b *node, digests bool) {
	t.Helper()
	for _, k := range syncKinds {
		sa, sb := a.snapshot(k), b.snapshot(k)
		for u, pa := range sa {
			if pb, ok := sb[u]; !ok {
				t.Errorf("%s %s: missing at B", k, u)
			} else if pa != pb {
				t.Errorf("%s %s differs:\nA: %s\nB: %s", k, u, pa, pb)
			}
		}
		for u := range sb {
			if _, ok := sa[u]; !ok {
				t.Errorf("%s %s: missing at A", k, u)
			}
		}
		if digests {
			if da, db := a.digestOf(k), b.digestOf(k); !slices.Equal(da, db) {
				t.Errorf("%s digests differ:\nA: %v\nB: %v", k, da, db)
			}
		}
	}
}

// newEngine is an engine with fast retries for tests.
func newEngine(t testing.TB) *engine.Engine {
	return &engine.Engine{MaxAttempts: 20, MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond, MaxPoll: 5 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// pass runs a pass and fails the test on an error.
func pass(t testing.TB, e *engine.Engine, opts engine.PassOptions) *engine.Summary {
	t.Helper()
	sum, err := e.Pass(context.Background(), opts)
	if err != nil {
		t.Fatalf("pass %s -> %s: %v", opts.Source, opts.Target, err)
	}
	return sum
}

// totals adds up the kind summaries of one direction (by source prefix).
func totals(sum *engine.Summary, source string) engine.KindSummary {
	var t engine.KindSummary
	for _, k := range sum.Kinds {
		if !strings.HasPrefix(k.Source, source) {
			continue
		}
		t.Selected += k.Selected
		t.Applied += k.Applied
		t.Skipped += k.Skipped
		t.ConflictsSource += k.ConflictsSource
		t.ConflictsTarget += k.ConflictsTarget
		t.Errors += k.Errors
		t.Pages += k.Pages
	}
	return t
}

func kindSum(t testing.TB, sum *engine.Summary, source, kind string) engine.KindSummary {
	t.Helper()
	for _, k := range sum.Kinds {
		if k.Kind == kind && strings.HasPrefix(k.Source, source) {
			return k
		}
	}
	t.Fatalf("no summary for %s from %s in %+v", kind, source, sum.Kinds)
	return engine.KindSummary{}
}
