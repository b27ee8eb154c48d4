package sdata_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sort"
	"testing"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"sdatasync/contracts"
	"sdatasync/digest"
	"sdatasync/feeds"
	"sdatasync/sdata"
	"sdatasync/sdata/sdatatest"
	"sdatasync/sdata/store"
)

// provider is one real provider in a test (the shared fixture, see
// sdatatest), with the request helpers of the sync tests.
type provider struct {
	*sdatatest.Provider
	t testing.TB
}

func newProvider(t testing.TB, priority int) *provider {
	t.Helper()
	return &provider{Provider: sdatatest.Start(t, sdatatest.Options{Config: func(c *sdata.Config) { c.ConflictPriority = priority }}), t: t}
}

// newProviderWith starts a provider serving contract c.
func newProviderWith(t testing.TB, priority int, c *contracts.Contract) *provider {
	t.Helper()
	return &provider{Provider: sdatatest.Start(t, sdatatest.Options{Config: func(cfg *sdata.Config) {
		cfg.ConflictPriority, cfg.Contract = priority, c
	}}), t: t}
}

// restart stops the provider and starts it again on the same database,
// with the (possibly changed) Config.
func (p *provider) restart() {
	p.t.Helper()
	if err := p.Restart(context.Background()); err != nil {
		p.t.Fatal(err)
	}
}

func (p *provider) kind(k string) string { return p.KindURL(k) }

// do sends a request and returns status, headers and body.
func do(t testing.TB, method, url string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	return doWith(t, method, url, body)
}

// doWith is do with request headers (name, value pairs).
func doWith(t testing.TB, method, url string, body []byte, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/atom+xml")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func mustStatus(t testing.TB, want, got int, body []byte) {
	t.Helper()
	if got != want {
		t.Fatalf("status %d, want %d; body:\n%s", got, want, body)
	}
}

func parseFeedBytes(t testing.TB, b []byte) *feeds.Feed {
	t.Helper()
	f, err := feeds.ParseFeed(bytes.NewReader(b), feeds.Limits{})
	if err != nil {
		t.Fatalf("parse feed: %v\n%s", err, b)
	}
	return f
}

func diagnosesOf(t testing.TB, b []byte) []feeds.Diagnosis {
	t.Helper()
	ds, err := feeds.ParseDiagnoses(bytes.NewReader(b), feeds.Limits{})
	if err != nil {
		t.Fatalf("parse diagnoses: %v\n%s", err, b)
	}
	return ds
}

// firstPage does the source half of a pass by hand: dst's digest to src's
// $syncSource, and the first page (at most count entries) of the sync feed.
func firstPage(t testing.TB, src, dst *provider, kind string, count int) []byte {
	t.Helper()
	st, _, dg := do(t, http.MethodGet, dst.kind(kind)+"/$syncDigest", nil)
	mustStatus(t, http.StatusOK, st, dg)
	st, h, body := do(t, http.MethodPost, src.kind(kind)+"/$syncSource?runName=by-hand&trackingID="+uuid.NewString(), dg)
	mustStatus(t, http.StatusAccepted, st, body)
	st, page := poll(t, h.Get("Location")+"?count="+itoa(count))
	mustStatus(t, http.StatusOK, st, page)
	return page
}

// poll GETs url until it stops answering 202 and returns the final answer.
func poll(t testing.TB, url string) (int, []byte) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		st, _, b := do(t, http.MethodGet, url, nil)
		if st != http.StatusAccepted {
			return st, b
		}
		if _, err := feeds.ParseTracking(bytes.NewReader(b), feeds.Limits{}); err != nil {
			t.Fatalf("202 without tracking: %v\n%s", err, b)
		}
		waitABit()
	}
	t.Fatalf("job at %s never finished", url)
	return 0, nil
}

// create POSTs a bare payload and returns the key.
func (p *provider) create(kind, xml string) string {
	p.t.Helper()
	st, _, b := do(p.t, http.MethodPost, p.kind(kind), []byte(xml))
	mustStatus(p.t, http.StatusCreated, st, b)
	e, err := feeds.ParseEntry(bytes.NewReader(b), feeds.Limits{})
	if err != nil {
		p.t.Fatal(err)
	}
	return feeds.PayloadKey(e.Payload)
}

func (p *provider) update(kind, key, xml string) {
	p.t.Helper()
	st, _, b := do(p.t, http.MethodPut, p.kind(kind)+"('"+key+"')", []byte(xml))
	mustStatus(p.t, http.StatusOK, st, b)
}

func (p *provider) remove(kind, key string) {
	p.t.Helper()
	st, _, b := do(p.t, http.MethodDelete, p.kind(kind)+"('"+key+"')", nil)
	mustStatus(p.t, http.StatusOK, st, b)
}

func (p *provider) endpoint(kind string) store.Endpoint {
	ep, ok := p.Server.Endpoint("-", kind)
	if !ok {
		p.t.Fatalf("no endpoint %s", kind)
	}
	return ep
}

func (p *provider) digest(kind string) digest.Digest {
	p.t.Helper()
	d, err := p.Store.Digest(context.Background(), p.endpoint(kind))
	if err != nil {
		p.t.Fatal(err)
	}
	return d
}

// state is what must agree between converged providers: by UUID, the
// payload (without local attributes), the tombstone flag and the sync state.
type state struct {
	payload string
	deleted bool
	sync    digest.SyncState
}

func (p *provider) resources(kind string) map[string]state {
	p.t.Helper()
	rs, _, err := p.Store.List(context.Background(), p.endpoint(kind), store.ListQuery{IncludeDeleted: true})
	if err != nil {
		p.t.Fatal(err)
	}
	out := map[string]state{}
	for _, r := range rs {
		id := r.UUID
		if id == "" {
			id = "key:" + r.Key // never synchronized
		}
		st := r.State
		st.Stamp = st.Stamp.UTC()
		out[id] = state{payload: string(r.Payload), deleted: r.Deleted, sync: st}
	}
	return out
}

// ticks returns a digest as endpoint -> tick.
func ticks(d digest.Digest) map[string]int64 {
	m := map[string]int64{}
	for _, e := range d.Entries {
		m[e.Endpoint] = e.Tick
	}
	return m
}

// catchUp drives one catch-up pass of kind from src to dst by hand through
// the four URLs, as an engine would, with the given page size. It returns
// the result entries.
func catchUp(t testing.TB, src, dst *provider, kind string, pageSize int, run string) []*feeds.Entry {
	t.Helper()
	st, _, dg := do(t, http.MethodGet, dst.kind(kind)+"/$syncDigest", nil)
	mustStatus(t, http.StatusOK, st, dg)
	q := "?runName=" + run + "&runStamp=2026-11-22T10:00:00Z"
	st, h, b := do(t, http.MethodPost, src.kind(kind)+"/$syncSource"+q+"&trackingID="+uuid.NewString(), dg)
	mustStatus(t, http.StatusAccepted, st, b)
	srcLoc := h.Get("Location")
	st, page := poll(t, srcLoc+"?count="+itoa(pageSize))
	mustStatus(t, http.StatusOK, st, page)
	var results []*feeds.Entry
	for {
		f := parseFeedBytes(t, page)
		st, h, b := do(t, http.MethodPost, dst.kind(kind)+"/$syncTarget"+q+"&trackingID="+uuid.NewString(), page)
		mustStatus(t, http.StatusAccepted, st, b)
		tgtLoc := h.Get("Location")
		st, rb := poll(t, tgtLoc)
		mustStatus(t, http.StatusOK, st, rb)
		for {
			rf := parseFeedBytes(t, rb)
			results = append(results, rf.Entries...)
			st, _, b := do(t, http.MethodPost, src.kind(kind)+"/$syncResults"+q, rb)
			mustStatus(t, http.StatusOK, st, b)
			next, ok := rf.Link("next")
			if !ok {
				break
			}
			st, _, rb = do(t, http.MethodGet, next.Href, nil)
			mustStatus(t, http.StatusOK, st, rb)
		}
		st, _, b = do(t, http.MethodDelete, tgtLoc, nil)
		mustStatus(t, http.StatusOK, st, b)
		next, ok := f.Link("next")
		if !ok {
			break
		}
		st, _, page = do(t, http.MethodGet, next.Href, nil)
		mustStatus(t, http.StatusOK, st, page)
	}
	st, _, b = do(t, http.MethodDelete, srcLoc, nil)
	mustStatus(t, http.StatusOK, st, b)
	return results
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// child returns the text of el's child element name.
func child(el *etree.Element, name string) string {
	if c := el.SelectElement(name); c != nil {
		return c.Text()
	}
	return ""
}
