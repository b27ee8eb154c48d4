package sdata_test

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"sdatasync/feeds"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/registry"
	"sdatasync/sdata/wire"
)

func (p *provider) registry() string { return p.HTTP.URL + registry.Path }

func (p *provider) registryEntry(key string) string {
	return p.registry() + "('" + key + "')"
}

// regPayload is a registry endpoint payload with the given child elements.
func regPayload(children string) []byte {
	return []byte(`<endpoint xmlns="` + registry.NS + `" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` + children + `</endpoint>`)
}

// regEntryBody wraps a payload in an Atom entry, as the spec's example does.
func regEntryBody(children string) []byte {
	return []byte(`<entry xmlns="http://www.w3.org/2005/Atom"><id/><title/><content/>
<payload xmlns="http://schemas.sage.com/sdata/2008/1">` + string(regPayload(children)) + `</payload></entry>`)
}

// register POSTs an endpoint and returns its key, Location and ETag.
func (p *provider) register(t *testing.T, children string) (key, loc, etag string) {
	t.Helper()
	st, h, b := do(t, http.MethodPost, p.registry(), regEntryBody(children))
	mustStatus(t, http.StatusCreated, st, b)
	e, err := feeds.ParseEntry(strings.NewReader(string(b)), feeds.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	key = feeds.PayloadKey(e.Payload)
	if h.Get("Location") != p.registryEntry(key) {
		t.Fatalf("Location %q, want %q", h.Get("Location"), p.registryEntry(key))
	}
	if h.Get("ETag") == "" || h.Get("ETag") != wire.QuoteETag(e.ETag) {
		t.Fatalf("ETag header %q, entry %q", h.Get("ETag"), e.ETag)
	}
	return key, h.Get("Location"), h.Get("ETag")
}

// regList GETs the registry with a raw query and parses the feed.
func (p *provider) regList(t *testing.T, rawQuery string) *feeds.Feed {
	t.Helper()
	u := p.registry()
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	st, _, b := do(t, http.MethodGet, u, nil)
	mustStatus(t, http.StatusOK, st, b)
	return parseFeedBytes(t, b)
}

func titles(f *feeds.Feed) []string {
	var out []string
	for _, e := range f.Entries {
		out = append(out, child(e.Payload, "title"))
	}
	return out
}

func where(w string) string { return "where=" + url.QueryEscape(w) }

const (
	crmA = `<title>CRM A</title><endpointType>dataSet</endpointType><applicationName>crm</applicationName>
<contractName>gcrm</contractName><dataSetName>a</dataSetName><url>http://crm.example.com/sdata/crm/gcrm/a</url>
<isBrowsable>true</isBrowsable>`
	erpB = `<title>ERP B</title><url>http://ERP.example.com:8080/sdata/erp/gcrm/b/</url><isBrowsable>false</isBrowsable>
<properties><property name="syncRole" ns="urn:sdatasync:registry">source</property></properties>`
	hrC = `<title>HR C</title><endpointType>application</endpointType><applicationName>hr</applicationName>
<url>https://hr.example.com/api</url><aliveStamp>2009-04-02T08:32:19Z</aliveStamp>
<properties><property name="syncRole" ns="urn:sdatasync:registry">target</property><property name="performanceIndex" ns="http://x">87</property></properties>`
)

func TestRegistryOwnEndpoints(t *testing.T) {
	p := newProvider(t, 5)
	f := p.regList(t, "")
	base := p.HTTP.URL + "/sdata/sdatasync"
	want := []struct{ typ, url, ds string }{
		{registry.EndpointTypeApplication, base, ""},
		{registry.EndpointTypeContract, base + "/gcrm", ""},
		{registry.EndpointTypeDataSet, base + "/gcrm/-", "-"},
	}
	if f.TotalResults != len(want) || len(f.Entries) != len(want) {
		t.Fatalf("total %d, %d entries; want %d", f.TotalResults, len(f.Entries), len(want))
	}
	if f.ID != p.registry() {
		t.Fatalf("feed id %q", f.ID)
	}
	for i, w := range want {
		e := f.Entries[i]
		pl := e.Payload
		if pl.Tag != "endpoint" || pl.SelectAttrValue("xmlns", "") != registry.NS {
			t.Fatalf("entry %d payload %s xmlns=%q", i, pl.Tag, pl.SelectAttrValue("xmlns", ""))
		}
		if got := child(pl, "url"); got != w.url {
			t.Errorf("entry %d url %q, want %q", i, got, w.url)
		}
		if got := child(pl, "endpointType"); got != w.typ {
			t.Errorf("entry %d endpointType %q, want %q", i, got, w.typ)
		}
		if child(pl, "applicationName") != "sdatasync" || child(pl, "isBrowsable") != "true" || child(pl, "title") == "" || child(pl, "aliveStamp") == "" {
			t.Errorf("entry %d payload incomplete: title %q app %q browsable %q alive %q", i,
				child(pl, "title"), child(pl, "applicationName"), child(pl, "isBrowsable"), child(pl, "aliveStamp"))
		}
		if w.typ != registry.EndpointTypeApplication && child(pl, "contractName") != "gcrm" {
			t.Errorf("entry %d contractName %q", i, child(pl, "contractName"))
		}
		if child(pl, "dataSetName") != w.ds {
			t.Errorf("entry %d dataSetName %q, want %q", i, child(pl, "dataSetName"), w.ds)
		}
		// Each own entry is readable on its own, and the URL it names works.
		self, ok := e.Link("self")
		if !ok || self.Href != e.ID {
			t.Fatalf("entry %d self link %+v id %q", i, self, e.ID)
		}
		st, _, b := do(t, http.MethodGet, e.ID, nil)
		mustStatus(t, http.StatusOK, st, b)
		st, _, b = do(t, http.MethodGet, w.url, nil)
		mustStatus(t, http.StatusOK, st, b)
	}
	if ds := f.Entries[2].Payload.FindElement("properties/property[@name='syncRole']"); ds == nil || ds.Text() != registry.SyncRoleBoth {
		t.Errorf("own dataset has no syncRole both")
	}
}

func TestRegistryReadOnlyOwnEntries(t *testing.T) {
	p := newProvider(t, 5)
	for _, key := range []string{"self.application", "self.contract", "self.dataSet.-"} {
		st, h, b := do(t, http.MethodPut, p.registryEntry(key), regPayload(`<title>x</title>`))
		mustStatus(t, http.StatusMethodNotAllowed, st, b)
		if ds := diagnosesOf(t, b); len(ds) != 1 || ds[0].ApplicationCode != diag.MethodNotAllowed.AppCode() || !strings.Contains(ds[0].Message, "read-only") {
			t.Fatalf("PUT %s diagnoses %+v", key, ds)
		}
		if h.Get("Allow") != http.MethodGet {
			t.Fatalf("Allow %q", h.Get("Allow"))
		}
		st, _, b = do(t, http.MethodDelete, p.registryEntry(key), nil)
		mustStatus(t, http.StatusMethodNotAllowed, st, b)
		diagnosesOf(t, b)
	}
	if f := p.regList(t, ""); f.TotalResults != 3 {
		t.Fatalf("own entries changed: %d", f.TotalResults)
	}
	// Registering one of the own URLs is a conflict.
	st, _, b := do(t, http.MethodPost, p.registry(), regPayload(`<title>me</title><url>`+p.HTTP.URL+`/sdata/sdatasync/gcrm/-/</url>`))
	mustStatus(t, http.StatusConflict, st, b)
	diagnosesOf(t, b)
}

func TestRegistryCRUD(t *testing.T) {
	p := newProvider(t, 5)
	key, loc, etag := p.register(t, crmA)

	// GET one.
	st, h, b := do(t, http.MethodGet, loc, nil)
	mustStatus(t, http.StatusOK, st, b)
	if h.Get("ETag") != etag {
		t.Fatalf("GET ETag %q, POST gave %q", h.Get("ETag"), etag)
	}
	e, err := feeds.ParseEntry(strings.NewReader(string(b)), feeds.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if child(e.Payload, "url") != "http://crm.example.com/sdata/crm/gcrm/a" || child(e.Payload, "protocol") != "http" ||
		child(e.Payload, "host") != "crm.example.com" || child(e.Payload, "port") != "80" {
		t.Fatalf("payload %+v", e.Payload)
	}
	if r := e.Payload.FindElement("properties/property[@name='syncRole']"); r == nil || r.Text() != registry.SyncRoleBoth || r.SelectAttrValue("ns", "") != registry.ExtNS {
		t.Fatalf("default syncRole missing")
	}
	if e.Title != "CRM A" {
		t.Fatalf("entry title %q", e.Title)
	}

	// PUT with a stale ETag: 412, nothing changed.
	st, _, b = do(t, http.MethodPut, loc, regPayload(`<title>CRM A2</title>`))
	mustStatus(t, http.StatusOK, st, b) // no If-Match: accepted
	put := func(ifMatch string, body []byte) (int, http.Header, []byte) {
		req, _ := http.NewRequest(http.MethodPut, loc, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/atom+xml")
		req.Header.Set("If-Match", ifMatch)
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
	st, _, b = put(etag, regPayload(`<title>stale</title>`))
	mustStatus(t, http.StatusPreconditionFailed, st, b)
	if ds := diagnosesOf(t, b); ds[0].ApplicationCode != diag.PreconditionFailed.AppCode() {
		t.Fatalf("412 diagnoses %+v", ds)
	}
	st, h, b = do(t, http.MethodGet, loc, nil)
	mustStatus(t, http.StatusOK, st, b)
	cur := h.Get("ETag")
	if cur == etag || !strings.Contains(string(b), "CRM A2") {
		t.Fatalf("after PUT: ETag %q (was %q), body %s", cur, etag, b)
	}
	// PUT with the current ETag, moving the URL: derived values follow.
	st, h, b = put(cur, regPayload(`<url>https://crm2.example.com:8443/sdata/crm/gcrm/b</url><isBrowsable>false</isBrowsable>
<properties><property name="syncRole" ns="urn:sdatasync:registry">target</property></properties>`))
	mustStatus(t, http.StatusOK, st, b)
	e, _ = feeds.ParseEntry(strings.NewReader(string(b)), feeds.Limits{})
	if child(e.Payload, "protocol") != "https" || child(e.Payload, "host") != "crm2.example.com" || child(e.Payload, "port") != "8443" ||
		child(e.Payload, "dataSetName") != "b" || child(e.Payload, "title") != "CRM A2" || child(e.Payload, "isBrowsable") != "false" {
		t.Fatalf("after URL move: %s", b)
	}
	if h.Get("ETag") == cur {
		t.Fatalf("ETag did not change")
	}

	// DELETE with a stale ETag: 412; then for real; then 404.
	req, _ := http.NewRequest(http.MethodDelete, loc, nil)
	req.Header.Set("If-Match", etag)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPreconditionFailed {
		t.Fatalf("stale DELETE: %d", resp.StatusCode)
	}
	st, _, b = do(t, http.MethodDelete, loc, nil)
	mustStatus(t, http.StatusOK, st, b)
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		var body []byte
		if m == http.MethodPut {
			body = regPayload(`<title>x</title>`)
		}
		st, _, b = do(t, m, loc, body)
		mustStatus(t, http.StatusNotFound, st, b)
		if ds := diagnosesOf(t, b); ds[0].ApplicationCode != diag.NoResource.AppCode() {
			t.Fatalf("%s after delete: %+v", m, ds)
		}
	}
	// Keys are not reused.
	key2, _, _ := p.register(t, crmA)
	if key2 == key {
		t.Fatalf("key %s reused", key)
	}
}

func TestRegistryQuery(t *testing.T) {
	p := newProvider(t, 5)
	p.register(t, crmA)
	p.register(t, erpB)
	p.register(t, hrC)

	cases := []struct {
		where string
		want  []string
	}{
		{`contractName eq 'gcrm' and applicationName ne 'sdatasync'`, []string{"CRM A", "ERP B"}},
		{`endpointType eq 'dataSet' and isBrowsable eq true`, []string{"CRM A", "sdatasync gcrm dataset -"}},
		{`endpointType eq 'dataSet' and isBrowsable eq false`, []string{"ERP B"}},
		{`syncRole eq 'source'`, []string{"ERP B"}},
		{`syncRole eq 'target' or syncRole eq 'source'`, []string{"ERP B", "HR C"}},
		{`port eq 8080`, []string{"ERP B"}},
		{`aliveStamp lt @2010-01-01@`, []string{"HR C"}},
		{`title eq 'HR C'`, []string{"HR C"}},
		{`applicationName eq 'nobody'`, nil},
	}
	for _, c := range cases {
		got := titles(p.regList(t, where(c.where)))
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("where %s: %q, want %q", c.where, got, c.want)
		}
	}
	// ERP B: the derived values of a URL without them.
	f := p.regList(t, where(`title eq 'ERP B'`))
	pl := f.Entries[0].Payload
	if child(pl, "endpointType") != "dataSet" || child(pl, "applicationName") != "erp" || child(pl, "dataSetName") != "b" ||
		child(pl, "url") != "http://erp.example.com:8080/sdata/erp/gcrm/b" || child(pl, "host") != "erp.example.com" {
		t.Fatalf("derived values: url %q type %q app %q ds %q", child(pl, "url"), child(pl, "endpointType"), child(pl, "applicationName"), child(pl, "dataSetName"))
	}

	// orderBy over own and registered entries alike.
	got := titles(p.regList(t, "orderBy=title%20desc"))
	want := []string{"sdatasync gcrm dataset -", "sdatasync gcrm contract", "sdatasync application", "HR C", "ERP B", "CRM A"}
	if !slices.Equal(got, want) {
		t.Fatalf("orderBy title desc: %q", got)
	}
	got = titles(p.regList(t, where(`applicationName ne 'sdatasync'`)+"&orderBy=port%20desc,title"))
	if !slices.Equal(got, []string{"ERP B", "HR C", "CRM A"}) {
		t.Fatalf("orderBy port desc, title: %q", got)
	}

	// Bad queries are 400 diagnoses.
	for _, q := range []string{where(`nosuch eq 1`), where(`title eq`), where(`description eq 'x'`), "orderBy=nosuch", "startIndex=0"} {
		st, _, b := do(t, http.MethodGet, p.registry()+"?"+q, nil)
		mustStatus(t, http.StatusBadRequest, st, b)
		diagnosesOf(t, b)
	}
}

func TestRegistryPaging(t *testing.T) {
	p := newProvider(t, 5)
	for i := 0; i < 5; i++ {
		p.register(t, `<title>EP `+itoa(i)+`</title><url>http://h`+itoa(i)+`.example.com/sdata/app</url>`)
	}
	// 3 own + 5 registered = 8, pages of 3: 1, 4, 7.
	f := p.regList(t, "count=3&startIndex=4")
	if f.TotalResults != 8 || f.StartIndex != 4 || f.ItemsPerPage != 3 || len(f.Entries) != 3 {
		t.Fatalf("page: total %d start %d per %d entries %d", f.TotalResults, f.StartIndex, f.ItemsPerPage, len(f.Entries))
	}
	if got := titles(f); !slices.Equal(got, []string{"EP 0", "EP 1", "EP 2"}) {
		t.Fatalf("page 2: %q", got)
	}
	links := map[string]string{}
	for _, rel := range []string{"self", "first", "last", "previous", "next"} {
		l, ok := f.Link(rel)
		if !ok {
			t.Fatalf("no %s link", rel)
		}
		links[rel] = l.Href
	}
	for rel, start := range map[string]string{"first": "1", "last": "7", "previous": "1", "next": "7", "self": "4"} {
		u, err := url.Parse(links[rel])
		if err != nil || u.Query().Get("startIndex") != start || u.Query().Get("count") != "3" || !strings.HasPrefix(links[rel], p.registry()+"?") {
			t.Errorf("%s link %q", rel, links[rel])
		}
	}
	st, _, b := do(t, http.MethodGet, links["next"], nil)
	mustStatus(t, http.StatusOK, st, b)
	last := parseFeedBytes(t, b)
	if got := titles(last); !slices.Equal(got, []string{"EP 3", "EP 4"}) {
		t.Fatalf("last page: %q", got)
	}
	if _, ok := last.Link("next"); ok {
		t.Fatalf("last page has a next link")
	}
	// Paging keeps where.
	f = p.regList(t, where(`endpointType eq 'application'`)+"&count=2")
	if f.TotalResults != 6 || len(f.Entries) != 2 {
		t.Fatalf("filtered: total %d entries %d", f.TotalResults, len(f.Entries))
	}
	next, _ := f.Link("next")
	if u, _ := url.Parse(next.Href); u.Query().Get("where") != `endpointType eq 'application'` {
		t.Fatalf("next link lost where: %s", next.Href)
	}
	// count=0: totals only.
	f = p.regList(t, "count=0")
	if f.TotalResults != 8 || len(f.Entries) != 0 {
		t.Fatalf("count=0: total %d entries %d", f.TotalResults, len(f.Entries))
	}
}

func TestRegistryValidation(t *testing.T) {
	p := newProvider(t, 5)
	cases := []struct {
		name, body, path string
	}{
		{"missing title", `<url>http://a.example.com/sdata/x</url>`, "endpoint/title"},
		{"blank title", `<title> </title><url>http://a.example.com/sdata/x</url>`, "endpoint/title"},
		{"missing url", `<title>t</title><endpointType>dataSet</endpointType>`, "endpoint/url"},
		{"relative url", `<title>t</title><url>/sdata/x</url>`, "endpoint/url"},
		{"ftp url", `<title>t</title><url>ftp://a.example.com/x</url>`, "endpoint/url"},
		{"garbage url", `<title>t</title><url>http://a b/%zz</url>`, "endpoint/url"},
		{"bad endpointType", `<title>t</title><url>http://a.example.com/sdata/x</url><endpointType>database</endpointType>`, "endpoint/endpointType"},
		{"underivable endpointType", `<title>t</title><url>http://a.example.com/api</url>`, "endpoint/endpointType"},
		{"bad isBrowsable", `<title>t</title><url>http://a.example.com/sdata/x</url><isBrowsable>yes</isBrowsable>`, "endpoint/isBrowsable"},
		{"bad aliveStamp", `<title>t</title><url>http://a.example.com/sdata/x</url><aliveStamp>yesterday</aliveStamp>`, "endpoint/aliveStamp"},
		{"contradicting host", `<title>t</title><url>http://a.example.com/sdata/x</url><host>b.example.com</host>`, "endpoint/host"},
		{"bad syncRole", `<title>t</title><url>http://a.example.com/sdata/x</url><properties><property name="syncRole" ns="urn:sdatasync:registry">sideways</property></properties>`, "endpoint/properties/property[1]"},
		{"unknown element", `<title>t</title><url>http://a.example.com/sdata/x</url><colour>red</colour>`, "endpoint/colour"},
		{"not nillable", `<title>t</title><url>http://a.example.com/sdata/x</url><host xsi:nil="true"/>`, "endpoint/host"},
	}
	for _, c := range cases {
		st, _, b := do(t, http.MethodPost, p.registry(), regPayload(c.body))
		if st != http.StatusBadRequest {
			t.Errorf("%s: status %d, body %s", c.name, st, b)
			continue
		}
		ds := diagnosesOf(t, b)
		if len(ds) != 1 || ds[0].PayloadPath != c.path || ds[0].Severity != "error" {
			t.Errorf("%s: diagnoses %+v, want payloadPath %s", c.name, ds, c.path)
		}
	}
	// Wrong root element, malformed XML, wrong media type.
	st, _, b := do(t, http.MethodPost, p.registry(), []byte(`<contact xmlns="`+registry.NS+`"/>`))
	mustStatus(t, http.StatusBadRequest, st, b)
	st, _, b = do(t, http.MethodPost, p.registry(), []byte(`<endpoint`))
	mustStatus(t, http.StatusBadRequest, st, b)
	diagnosesOf(t, b)
	if f := p.regList(t, ""); f.TotalResults != 3 {
		t.Fatalf("a rejected POST registered something: %d", f.TotalResults)
	}
	// A PUT that breaks a registered endpoint is refused with the path too.
	_, loc, _ := p.register(t, crmA)
	st, _, b = do(t, http.MethodPut, loc, regPayload(`<endpointType>planet</endpointType>`))
	mustStatus(t, http.StatusBadRequest, st, b)
	if ds := diagnosesOf(t, b); ds[0].PayloadPath != "endpoint/endpointType" {
		t.Fatalf("PUT diagnoses %+v", ds)
	}
	// Unknown collections, services and $system paths are 404 diagnoses; POST on one entry is 405.
	for _, u := range []string{p.HTTP.URL + "/sdata/$system/registry/-/contracts", p.registry() + "/$batch", p.HTTP.URL + "/sdata/$system/other"} {
		st, _, b := do(t, http.MethodGet, u, nil)
		mustStatus(t, http.StatusNotFound, st, b)
		diagnosesOf(t, b)
	}
	st, _, b = do(t, http.MethodPost, loc, regPayload(`<title>x</title>`))
	mustStatus(t, http.StatusMethodNotAllowed, st, b)
	diagnosesOf(t, b)
	st, _, b = do(t, http.MethodGet, p.registry()+"('x", nil)
	mustStatus(t, http.StatusBadRequest, st, b)
	diagnosesOf(t, b)
}

func TestRegistryDuplicateURL(t *testing.T) {
	p := newProvider(t, 5)
	p.register(t, crmA)
	// The same URL, spelled differently (host case, trailing slash).
	st, _, b := do(t, http.MethodPost, p.registry(), regPayload(`<title>again</title><url>HTTP://CRM.example.com/sdata/crm/gcrm/a/</url>`))
	mustStatus(t, http.StatusConflict, st, b)
	if ds := diagnosesOf(t, b); ds[0].ApplicationCode != diag.Conflict.AppCode() {
		t.Fatalf("diagnoses %+v", ds)
	}
	// PUT moving another endpoint onto it: 409 too.
	_, loc, _ := p.register(t, erpB)
	st, _, b = do(t, http.MethodPut, loc, regPayload(`<url>http://crm.example.com/sdata/crm/gcrm/a</url>`))
	mustStatus(t, http.StatusConflict, st, b)
	diagnosesOf(t, b)
	if f := p.regList(t, ""); f.TotalResults != 5 {
		t.Fatalf("total %d", f.TotalResults)
	}
}

func TestRegistrySurvivesRestart(t *testing.T) {
	p := newProvider(t, 5)
	key, loc, etag := p.register(t, crmA)
	p.register(t, hrC)
	p.restart()
	st, h, b := do(t, http.MethodGet, loc, nil)
	mustStatus(t, http.StatusOK, st, b)
	if h.Get("ETag") != etag {
		t.Fatalf("ETag after restart %q, want %q", h.Get("ETag"), etag)
	}
	got := titles(p.regList(t, where(`applicationName ne 'sdatasync'`)))
	if !slices.Equal(got, []string{"CRM A", "HR C"}) {
		t.Fatalf("after restart: %q", got)
	}
	// The key sequence continues after a restart.
	key3, _, _ := p.register(t, erpB)
	if key3 == key || key3 == "2" {
		t.Fatalf("new key %s", key3)
	}
}
