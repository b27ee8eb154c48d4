package sdata_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"sdatasync/contracts"
	"sdatasync/feeds"
	"sdatasync/sdata"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/sdatatest"
	"sdatasync/sdata/store"
)

const (
	gcrmNS = "http://schemas.sage.com/crmErp/2008"
	atomNS = "http://www.w3.org/2005/Atom"
	sdNS   = "http://schemas.sage.com/sdata/2008/1"
)

// env is a provider in a test (the shared fixture, see sdatatest) with the
// request helpers of the HTTP tests.
type env struct {
	*sdatatest.Provider
	tb  testing.TB
	ctx context.Context
	c   *contracts.Contract
}

// newEnv starts a provider; mod may adjust the configuration before New.
func newEnv(tb testing.TB, mod ...func(*sdata.Config)) *env {
	tb.Helper()
	p := sdatatest.Start(tb, sdatatest.Options{Config: func(c *sdata.Config) {
		for _, m := range mod {
			m(c)
		}
	}})
	return &env{Provider: p, tb: tb, ctx: context.Background(), c: p.Config.Contract}
}

// url returns the absolute URL of a path below /sdata/sdatasync/gcrm/.
func (e *env) url(p string) string { return e.HTTP.URL + "/sdata/sdatasync/gcrm/" + p }

// kindURL is the collection URL of kind in dataset "-".
func (e *env) kindURL(kind string) string { return e.url("-/" + kind) }

// resURL is the URL of one resource of kind in dataset "-".
func (e *env) resURL(kind, key string) string {
	return e.kindURL(kind) + "('" + strings.ReplaceAll(key, "'", "''") + "')"
}

type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r resp) String() string { return fmt.Sprintf("%d %s", r.Status, r.Body) }

// do sends a request; hdr are header name/value pairs. A body without a
// Content-Type header gets application/atom+xml unless hdr names one.
func (e *env) do(method, u, body string, hdr ...string) resp {
	e.tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, u, rd)
	if err != nil {
		e.tb.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/atom+xml")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.HTTP.Client().Do(req)
	if err != nil {
		e.tb.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.tb.Fatal(err)
	}
	return resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

func (e *env) get(u string, hdr ...string) resp { return e.do(http.MethodGet, u, "", hdr...) }

// feed GETs u and parses a 200 feed.
func (e *env) feed(u string) *feeds.Feed {
	e.tb.Helper()
	r := e.get(u)
	if r.Status != http.StatusOK {
		e.tb.Fatalf("GET %s: %s", u, r)
	}
	return parseFeed(e.tb, r)
}

func parseFeed(tb testing.TB, r resp) *feeds.Feed {
	tb.Helper()
	f, err := feeds.ParseFeed(bytes.NewReader(r.Body), feeds.Limits{})
	if err != nil {
		tb.Fatalf("parse feed: %v\n%s", err, r.Body)
	}
	return f
}

func parseEntry(tb testing.TB, r resp) *feeds.Entry {
	tb.Helper()
	en, err := feeds.ParseEntry(bytes.NewReader(r.Body), feeds.Limits{})
	if err != nil {
		tb.Fatalf("parse entry: %v\n%s", err, r.Body)
	}
	return en
}

// wantDiag checks r is an sdata:diagnoses document with status and the
// code of its first diagnosis (a core 3.10 sdataCode, or else our
// applicationCode under ApplicationDiagnosis), and returns that diagnosis.
func wantDiag(tb testing.TB, r resp, status int, code string) feeds.Diagnosis {
	tb.Helper()
	if r.Status != status {
		tb.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/xml") {
		tb.Errorf("diagnoses Content-Type = %q", ct)
	}
	ds, err := feeds.ParseDiagnoses(bytes.NewReader(r.Body), feeds.Limits{})
	if err != nil {
		tb.Fatalf("parse diagnoses: %v\n%s", err, r.Body)
	}
	if len(ds) == 0 {
		tb.Fatalf("no diagnosis in %s", r.Body)
	}
	if slices.Contains(diag.SpecCodes(), code) {
		if ds[0].SDataCode != code {
			tb.Errorf("sdataCode = %q, want %q (message %q)", ds[0].SDataCode, code, ds[0].Message)
		}
	} else if ds[0].SDataCode != diag.CodeApplicationDiagnosis || ds[0].ApplicationCode != code {
		tb.Errorf("codes %q/%q, want ApplicationDiagnosis/%q (message %q)", ds[0].SDataCode, ds[0].ApplicationCode, code, ds[0].Message)
	}
	if ds[0].Severity != "error" {
		tb.Errorf("severity = %q, want error", ds[0].Severity)
	}
	if ds[0].Message == "" {
		tb.Errorf("diagnosis without message")
	}
	return ds[0]
}

// prop is a property name and text of a payload, in order.
type prop struct{ name, value string }

// payloadXML renders a bare resource payload in the contract namespace.
func payloadXML(elem string, attrs string, props ...prop) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<%s xmlns=%q xmlns:sdata=%q %s>`, elem, gcrmNS, sdNS, attrs)
	for _, p := range props {
		fmt.Fprintf(&b, "<%s>%s</%s>", p.name, xmlEscape(p.value), p.name)
	}
	fmt.Fprintf(&b, "</%s>", elem)
	return b.String()
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xmlEscapeTo(&b, s)
	return b.String()
}

func xmlEscapeTo(w io.Writer, s string) error {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	_, err := io.WriteString(w, r.Replace(s))
	return err
}

// entryXML wraps a payload in an atom entry.
func entryXML(payload string) string {
	return `<?xml version="1.0" encoding="utf-8"?>
<entry xmlns="http://www.w3.org/2005/Atom" xmlns:sdata="` + sdNS + `">
  <title>t</title>
  <sdata:payload>` + payload + `</sdata:payload>
</entry>`
}

// account is a valid trading account payload.
func account(name, ref string, extra ...prop) string {
	ps := append([]prop{{"active", "true"}, {"reference", ref}, {"name", name}, {"currency", "GBP"}}, extra...)
	return payloadXML("tradingAccount", "", ps...)
}

// create POSTs a payload to kind and returns the created entry.
func (e *env) create(kind, body string) *feeds.Entry {
	e.tb.Helper()
	r := e.do(http.MethodPost, e.kindURL(kind), body)
	if r.Status != http.StatusCreated {
		e.tb.Fatalf("POST %s: %s", kind, r)
	}
	return parseEntry(e.tb, r)
}

// createLocal creates a trading account through srv.CreateLocal.
func (e *env) createLocal(kind, payload string) store.Resource {
	e.tb.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(payload); err != nil {
		e.tb.Fatal(err)
	}
	r, err := e.Server.CreateLocal(e.ctx, "-", kind, doc.Root(), "test")
	if err != nil {
		e.tb.Fatalf("CreateLocal: %v", err)
	}
	return r
}

// seedAccounts creates n trading accounts ACC001.. with financeLimit i*100.
func (e *env) seedAccounts(n int) []string {
	e.tb.Helper()
	keys := make([]string, n)
	for i := range n {
		r := e.createLocal("tradingAccounts", account(fmt.Sprintf("Account %03d", i+1), fmt.Sprintf("ACC%03d", i+1),
			prop{"financeLimit", fmt.Sprint((i + 1) * 100)}))
		keys[i] = r.Key
	}
	return keys
}

// ep returns the store endpoint of kind in "-".
func (e *env) ep(kind string) store.Endpoint {
	e.tb.Helper()
	ep, ok := e.Server.Endpoint("-", kind)
	if !ok {
		e.tb.Fatalf("no endpoint %s", kind)
	}
	return ep
}

// tick is the kind's own digest tick.
func (e *env) tick(kind string) int64 {
	e.tb.Helper()
	ep := e.ep(kind)
	d, err := e.Store.Digest(e.ctx, ep)
	if err != nil {
		e.tb.Fatal(err)
	}
	return d.Tick(ep.URL)
}

// count is the number of live resources of kind.
func (e *env) count(kind string) int {
	e.tb.Helper()
	_, n, err := e.Store.List(e.ctx, e.ep(kind), store.ListQuery{Limit: 1})
	if err != nil {
		e.tb.Fatal(err)
	}
	return n
}

// snapshot records tick and count of a kind to check a failed write changed nothing.
type snapshot struct {
	tick  int64
	count int
}

func (e *env) snap(kind string) snapshot { return snapshot{e.tick(kind), e.count(kind)} }

func (e *env) unchanged(kind string, before snapshot) {
	e.tb.Helper()
	if after := e.snap(kind); after != before {
		e.tb.Errorf("%s changed by a failed write: %+v -> %+v", kind, before, after)
	}
}

// text returns the text of a payload child, "" when absent.
func text(p *etree.Element, name string) string {
	if p == nil {
		return ""
	}
	if c := p.SelectElement(name); c != nil {
		return c.Text()
	}
	return ""
}

// attr returns a prefixed attribute of a payload element.
func attr(p *etree.Element, key string) string {
	if p == nil {
		return ""
	}
	return p.SelectAttrValue(key, "")
}

// childNames lists a payload's child element names, sorted.
func childNames(p *etree.Element) []string {
	var out []string
	for _, c := range p.ChildElements() {
		out = append(out, c.Tag)
	}
	sort.Strings(out)
	return out
}

// allPayloads reads every entry of a feed URL's first page.
func payloadTexts(f *feeds.Feed, name string) []string {
	var out []string
	for _, en := range f.Entries {
		out = append(out, text(en.Payload, name))
	}
	return out
}
