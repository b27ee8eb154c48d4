package sdata_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/google/uuid"

	"sdatasync/feeds"
	"sdatasync/sdata"
	"sdatasync/sdata/store"
)

// The exact bytes Sage's own SData client libraries send (issue 11): the
// .NET client starts every XML body with a UTF-8 byte-order mark; the
// JavaScript client writes payloads in SalesLogix's namespace and tunnels
// methods through POST with X-HTTP-Method-Override.

var bom = "\xEF\xBB\xBF"

// utf16LE encodes s as UTF-16 little endian with its byte-order mark.
func utf16LE(s string) string {
	b := []byte{0xFF, 0xFE}
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return string(b)
}

// TestBOMOnEveryBody: a body that starts with a byte-order mark is read on
// every path that reads XML; a BOM before XML that is not well-formed is
// still refused and changes nothing.
func TestBOMOnEveryBody(t *testing.T) {
	p := newProvider(t, 5)
	src := newProvider(t, 5)
	src.create("tradingAccounts", ta("From the source", "S1"))
	page := string(firstPage(t, src, p, "tradingAccounts", 10))
	key := p.create("tradingAccounts", ta("Existing", "E1"))
	decl := `<?xml version="1.0" encoding="utf-8"?>`
	batch := `<feed xmlns="http://www.w3.org/2005/Atom" xmlns:http="http://schemas.sage.com/sdata/http/2008/1" xmlns:sdata="http://schemas.sage.com/sdata/2008/1">
<entry><http:httpMethod>POST</http:httpMethod><sdata:payload>` + ta("In a batch", "B1") + `</sdata:payload></entry></feed>`
	cases := []struct {
		name, method, url, body string
		status                  int
	}{
		{"create, bare payload", http.MethodPost, p.kind("tradingAccounts"), bom + decl + ta("Dot Net Ltd", "N1"), http.StatusCreated},
		{"create, entry", http.MethodPost, p.kind("tradingAccounts"), bom + entryXML(ta("Dot Net Entry Ltd", "N2")), http.StatusCreated},
		{"create, UTF-16", http.MethodPost, p.kind("tradingAccounts"), utf16LE(`<?xml version="1.0" encoding="utf-16"?>` + ta("Zürich AG", "N3")), http.StatusCreated},
		{"update", http.MethodPut, p.kind("tradingAccounts") + "('" + key + "')", bom + decl + `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><name>Renamed</name></tradingAccount>`, http.StatusOK},
		{"batch", http.MethodPost, p.kind("tradingAccounts") + "/$batch", bom + decl + batch, http.StatusOK},
		{"sync target", http.MethodPost, p.kind("tradingAccounts") + "/$syncTarget", bom + page, http.StatusOK},
		{"digest", http.MethodPut, p.kind("contacts") + "/$syncDigest", bom + decl + `<digest xmlns="http://schemas.sage.com/sdata/sync/2008/1"><origin>` + p.kind("contacts") + `</origin></digest>`, http.StatusOK},
		{"link", http.MethodPost, p.kind("tradingAccounts") + "/$linked", bom + `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008" xmlns:sdata="http://schemas.sage.com/sdata/2008/1" sdata:key="` + key + `" sdata:uuid="` + uuid.NewString() + `"/>`, http.StatusCreated},
		{"registry", http.MethodPost, p.registry(), bom + string(regPayload(`<title>BOM ERP</title><url>http://erp.example.com/sdata/erp/gcrm/-</url>`)), http.StatusCreated},
		{"sync source", http.MethodPost, p.kind("tradingAccounts") + "/$syncSource", bom + decl + `<digest xmlns="http://schemas.sage.com/sdata/sync/2008/1"/>`, http.StatusOK},
		{"sync results", http.MethodPost, p.kind("tradingAccounts") + "/$syncResults", bom + `<feed xmlns="http://www.w3.org/2005/Atom"/>`, http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, _, body := do(t, c.method, c.url, []byte(c.body))
			mustStatus(t, c.status, st, body)
		})
	}
	if got := p.resourceNames(t, "tradingAccounts"); !strings.Contains(got, "Zürich AG") || !strings.Contains(got, "Renamed") {
		t.Errorf("written through BOM bodies: %s", got)
	}
	before := p.digest("tradingAccounts")
	for _, bad := range []string{bom + "<tradingAccount", bom + bom + ta("Twice", "T"), "\xFE\xFF\x00<\x00a", bom + "text" + ta("Before", "B")} {
		st, _, body := do(t, http.MethodPost, p.kind("tradingAccounts"), []byte(bad))
		mustStatus(t, http.StatusBadRequest, st, body)
		diagnosesOf(t, body)
	}
	if after := p.digest("tradingAccounts"); after.Tick(p.endpoint("tradingAccounts").URL) != before.Tick(p.endpoint("tradingAccounts").URL) {
		t.Fatal("a refused body changed the store")
	}
}

// resourceNames lists the names of the live resources of kind.
func (p *provider) resourceNames(t *testing.T, kind string) string {
	t.Helper()
	rs, _, err := p.Store.List(context.Background(), p.endpoint(kind), store.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rs {
		names = append(names, r.Title)
	}
	return strings.Join(names, ", ")
}

// TestContractSchemaUnderEveryDataset: the contract's $schema is served
// at /{app}/{contract}/$schema and under every dataset (core 2.7).
func TestContractSchemaUnderEveryDataset(t *testing.T) {
	e := newEnv(t, func(c *sdata.Config) { c.Datasets = []string{"acme"} })
	want := e.get(e.url("$schema"))
	if want.Status != http.StatusOK || !bytes.Contains(want.Body, []byte(`sme:pluralName="tradingAccounts"`)) {
		t.Fatalf("contract $schema: %s", want)
	}
	for _, ds := range []string{"-", "acme"} {
		r := e.get(e.url(ds + "/$schema"))
		if r.Status != http.StatusOK || !bytes.Equal(r.Body, want.Body) || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/xml") {
			t.Errorf("%s/$schema: %d, %d bytes (want %d)", ds, r.Status, len(r.Body), len(want.Body))
		}
	}
	wantDiag(t, e.get(e.url("nope/$schema")), http.StatusNotFound, "DatasetNotFound")
}

// TestForeignSDataNamespace: the JavaScript client writes payloads in
// http://schemas.sage.com/dynamic/2007; they are read as the contract's and
// stored in its namespace; what does not match the kind is refused as
// before.
func TestForeignSDataNamespace(t *testing.T) {
	e := newEnv(t)
	const dyn = "http://schemas.sage.com/dynamic/2007"
	body := `<tradingAccount xmlns="` + dyn + `" xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><active>true</active><reference>JS1</reference><name>JS Client Ltd</name><currency>EUR</currency></tradingAccount>`
	r := e.do(http.MethodPost, e.kindURL("tradingAccounts"), body)
	if r.Status != http.StatusCreated {
		t.Fatalf("create in %s: %s", dyn, r)
	}
	en := parseEntry(t, r)
	if ns := en.Payload.SelectAttrValue("xmlns", ""); ns != gcrmNS {
		t.Errorf("answered in namespace %q", ns)
	}
	res, err := e.Store.Get(e.ctx, e.ep("tradingAccounts"), attr(en.Payload, "sdata:key"))
	if err != nil || bytes.Contains(res.Payload, []byte(dyn)) || !bytes.Contains(res.Payload, []byte(gcrmNS)) {
		t.Fatalf("stored %s %v", res.Payload, err)
	}
	// An entry in that namespace, as the JavaScript client formats it.
	r = e.do(http.MethodPost, e.kindURL("tradingAccounts"), entryXML(strings.ReplaceAll(body, "JS1", "JS2")))
	if r.Status != http.StatusCreated {
		t.Fatalf("entry in %s: %s", dyn, r)
	}
	before := e.snap("tradingAccounts")
	for _, bad := range []string{
		strings.ReplaceAll(body, dyn, "urn:not-sage"),
		strings.ReplaceAll(body, dyn, "http://schemas.sage.com/sdata/2008/1"),
		strings.ReplaceAll(strings.ReplaceAll(body, "<tradingAccount ", "<contact "), "</tradingAccount>", "</contact>"),
		strings.ReplaceAll(body, "<name>JS Client Ltd</name>", "<nickname>JS</nickname>"),
	} {
		d := wantDiag(t, e.do(http.MethodPost, e.kindURL("tradingAccounts"), bad), http.StatusBadRequest, "ApplicationDiagnosis")
		if d.PayloadPath == "" {
			t.Errorf("no payload path for %s", bad)
		}
	}
	e.unchanged("tradingAccounts", before)
}

// TestMethodOverride: POST with X-HTTP-Method-Override stands for GET (with
// a text/plain or empty body), PUT and DELETE, through the same checks as
// the real method.
func TestMethodOverride(t *testing.T) {
	e := newEnv(t)
	en := e.create("tradingAccounts", account("Tunnel Ltd", "TU"))
	one := e.resURL("tradingAccounts", attr(en.Payload, "sdata:key"))
	r := e.do(http.MethodPost, e.kindURL("tradingAccounts")+"?count=1", "", "X-HTTP-Method-Override", "GET", "Content-Type", "text/plain")
	if r.Status != http.StatusOK || parseFeed(t, r).TotalResults != 1 {
		t.Fatalf("GET through POST: %s", r)
	}
	r = e.do(http.MethodPost, one, "ignored", "X-HTTP-Method-Override", "get", "Content-Type", "text/plain")
	if r.Status != http.StatusOK || text(parseEntry(t, r).Payload, "name") != "Tunnel Ltd" {
		t.Fatalf("GET of one through POST: %s", r)
	}
	etag := r.Header.Get("ETag")
	// A stale If-Match is refused exactly as for a real PUT.
	wantDiag(t, e.do(http.MethodPost, one, `<tradingAccount xmlns="`+gcrmNS+`"><name>Stale</name></tradingAccount>`,
		"X-HTTP-Method-Override", "PUT", "If-Match", `"stale"`), http.StatusPreconditionFailed, "PreconditionFailed")
	// Quoted and unquoted If-Match, as the two clients send them.
	for _, name := range []string{"Quoted", "Unquoted"} {
		tag := etag
		if name == "Unquoted" {
			tag = strings.Trim(etag, `"`)
		}
		r = e.do(http.MethodPost, one, `<tradingAccount xmlns="`+gcrmNS+`"><name>`+name+`</name></tradingAccount>`,
			"X-HTTP-Method-Override", "PUT", "If-Match", tag)
		if r.Status != http.StatusOK || text(parseEntry(t, r).Payload, "name") != name {
			t.Fatalf("PUT through POST with If-Match %s: %s", tag, r)
		}
		etag = r.Header.Get("ETag")
	}
	// The override goes through validation: a bad payload is refused.
	wantDiag(t, e.do(http.MethodPost, one, `<tradingAccount xmlns="`+gcrmNS+`"><nope>1</nope></tradingAccount>`, "X-HTTP-Method-Override", "PUT"),
		http.StatusBadRequest, "ApplicationDiagnosis")
	// And through the route table: DELETE is not a collection method.
	r = e.do(http.MethodPost, e.kindURL("tradingAccounts"), "", "X-HTTP-Method-Override", "DELETE")
	wantDiag(t, r, http.StatusMethodNotAllowed, "MethodNotAllowed")
	wantDiag(t, e.do(http.MethodPost, one, "", "X-HTTP-Method-Override", "PATCH"), http.StatusBadRequest, "ApplicationDiagnosis")
	if r := e.do(http.MethodPost, one, "", "X-HTTP-Method-Override", "DELETE"); r.Status != http.StatusOK {
		t.Fatalf("DELETE through POST: %s", r)
	}
	wantDiag(t, e.get(one), http.StatusNotFound, "ResourceNotFound")
}

// TestPropertyURLs: relationship properties of a resource have URLs: a
// reference answers the referenced entry, a child collection a paged feed
// of its items, an association the resources that refer back.
func TestPropertyURLs(t *testing.T) {
	p := newProvider(t, 5)
	acc := p.create("tradingAccounts", ta("Parent Co", "PC"))
	contact := p.create("contacts", `<contact xmlns="http://schemas.sage.com/crmErp/2008" xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><tradingAccount sdata:key="`+acc+`"/><fullName>Ann Field</fullName><familyName>Field</familyName></contact>`)
	p.create("contacts", `<contact xmlns="http://schemas.sage.com/crmErp/2008"><fullName>No Account</fullName></contact>`)
	so := p.create("salesOrders", soHead+`<reference>P1</reference><salesOrderLines>`+line(1, "one", "")+line(2, "two", "")+line(3, "three", "")+`</salesOrderLines></salesOrder>`)

	st, _, body := do(t, http.MethodGet, p.kind("contacts")+"('"+contact+"')/tradingAccount", nil)
	mustStatus(t, http.StatusOK, st, body)
	if e, _ := feeds.ParseEntry(bytes.NewReader(body), feeds.Limits{}); e == nil || feeds.PayloadKey(e.Payload) != acc || e.ID != p.kind("tradingAccounts")+"('"+acc+"')" {
		t.Fatalf("contact's tradingAccount: %s", body)
	}
	st, _, body = do(t, http.MethodGet, p.kind("tradingAccounts")+"('"+acc+"')/contacts", nil)
	mustStatus(t, http.StatusOK, st, body)
	if f := parseFeedBytes(t, body); f.TotalResults != 1 || feeds.PayloadKey(f.Entries[0].Payload) != contact {
		t.Fatalf("account's contacts: %s", body)
	}
	// The lines of an order, paged, each at its own URL.
	st, _, body = do(t, http.MethodGet, p.kind("salesOrders")+"('"+so+"')/salesOrderLines?count=2", nil)
	mustStatus(t, http.StatusOK, st, body)
	f := parseFeedBytes(t, body)
	next, ok := f.Link("next")
	if f.TotalResults != 3 || len(f.Entries) != 2 || !ok {
		t.Fatalf("order lines page 1: total %d, %d entries, next %v", f.TotalResults, len(f.Entries), ok)
	}
	st, _, body = do(t, http.MethodGet, next.Href, nil)
	mustStatus(t, http.StatusOK, st, body)
	if f2 := parseFeedBytes(t, body); len(f2.Entries) != 1 || child(f2.Entries[0].Payload, "text") != "three" {
		t.Fatalf("order lines page 2: %s", body)
	}
	lineURL := f.Entries[0].ID
	st, _, body = do(t, http.MethodGet, lineURL+"/salesOrder", nil)
	mustStatus(t, http.StatusOK, st, body)
	if e, _ := feeds.ParseEntry(bytes.NewReader(body), feeds.Limits{}); e == nil || feeds.PayloadKey(e.Payload) != so {
		t.Fatalf("a line's order: %s", body)
	}
	// Errors: a reference that is not set, a simple property, no such
	// property, a write.
	for _, c := range []struct {
		method, url string
		status      int
	}{
		{http.MethodGet, p.kind("contacts") + "('" + contact + "')/buyer", http.StatusNotFound},
		{http.MethodGet, p.kind("contacts") + "('" + contact + "')/familyName", http.StatusNotFound},
		{http.MethodGet, p.kind("salesOrders") + "('" + so + "')/buyerContact", http.StatusNotFound},
		{http.MethodGet, p.kind("contacts") + "('nope')/tradingAccount", http.StatusNotFound},
		{http.MethodPut, p.kind("contacts") + "('" + contact + "')/tradingAccount", http.StatusMethodNotAllowed},
	} {
		st, _, body := do(t, c.method, c.url, []byte(`<x/>`))
		mustStatus(t, c.status, st, body)
		diagnosesOf(t, body)
	}
}

// TestChildItemsAddressable: the lines of a sales order carry sdata:key and
// sdata:url (the URL that serves them); a read payload written back keeps
// neither in the store.
func TestChildItemsAddressable(t *testing.T) {
	p := newProvider(t, 5)
	so := p.create("salesOrders", soHead+`<reference>A1</reference><salesOrderLines>`+line(1, "one", "")+`</salesOrderLines></salesOrder>`)
	st, h, body := do(t, http.MethodGet, p.kind("salesOrders")+"('"+so+"')", nil)
	mustStatus(t, http.StatusOK, st, body)
	e, err := feeds.ParseEntry(bytes.NewReader(body), feeds.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	item := e.Payload.FindElement("salesOrderLines/salesOrderLine")
	u := feeds.PayloadUUID(item)
	if item == nil || feeds.PayloadKey(item) != u || item.SelectAttrValue("sdata:url", "") != p.kind("salesOrderLines")+"('"+u+"')" {
		t.Fatalf("line attributes: %s", body)
	}
	st, _, lb := do(t, http.MethodGet, item.SelectAttrValue("sdata:url", ""), nil)
	mustStatus(t, http.StatusOK, st, lb)
	// Write the payload back as read (a client's edit round trip).
	text := strings.Replace(string(body), "<text>one</text>", "<text>edited</text>", 1)
	st, _, wb := doWith(t, http.MethodPut, p.kind("salesOrders")+"('"+so+"')", []byte(text), "If-Match", h.Get("ETag"))
	mustStatus(t, http.StatusOK, st, wb)
	res, err := p.Store.Get(context.Background(), p.endpoint("salesOrders"), so)
	if err != nil || bytes.Contains(res.Payload, []byte("sdata:key")) || bytes.Contains(res.Payload, []byte("sdata:url")) || !bytes.Contains(res.Payload, []byte("edited")) {
		t.Fatalf("stored after the round trip: %s %v", res.Payload, err)
	}
}

// TestTemplateThenPost: clients build a new resource from $template and
// POST the entry back as it came (with its id, links and defaults).
func TestTemplateThenPost(t *testing.T) {
	p := newProvider(t, 5)
	for _, k := range []string{"tradingAccounts", "contacts", "commodities", "salesOrders"} {
		st, _, tmpl := do(t, http.MethodGet, p.kind(k)+"/$template", nil)
		mustStatus(t, http.StatusOK, st, tmpl)
		st, h, b := do(t, http.MethodPost, p.kind(k), tmpl)
		mustStatus(t, http.StatusCreated, st, b)
		if !strings.HasPrefix(h.Get("Location"), p.kind(k)+"('") || h.Get("ETag") == "" {
			t.Errorf("%s: Location %q ETag %q", k, h.Get("Location"), h.Get("ETag"))
		}
	}
}
