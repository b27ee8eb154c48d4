package sdata_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/beevik/etree"

	"sdatasync/contracts"
	"sdatasync/sdata"
	"sdatasync/sdata/demo"
	"sdatasync/sdata/store"
)

// loadSchema parses an XSD response body back into a contract.
func loadSchema(t *testing.T, r resp) *contracts.Contract {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("$schema: %s", r)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/xml") {
		t.Errorf("Content-Type = %q", ct)
	}
	c, err := contracts.LoadFS(fstest.MapFS{"schema.xsd": {Data: r.Body}}, "schema.xsd", "gcrm")
	if err != nil {
		t.Fatalf("load $schema: %v\n%s", err, r.Body)
	}
	return c
}

func checkTradingAccountKind(t *testing.T, c *contracts.Contract) {
	t.Helper()
	k := c.Kind("tradingAccounts")
	if k == nil {
		t.Fatalf("no tradingAccounts kind")
	}
	if k.Name != "tradingAccount" || k.Label != "Trading Account" || k.Namespace != gcrmNS {
		t.Errorf("kind %q label %q ns %q", k.Name, k.Label, k.Namespace)
	}
	if !k.CanGet || !k.CanPost || !k.CanPut || !k.CanDelete || !k.CanPageNext || !k.CanPagePrevious || !k.CanPageIndex {
		t.Errorf("capability flags lost: %+v", k)
	}
	if !k.HasUUID || !k.IsSyncSource || !k.IsSyncTarget || k.SyncOrder != 50 {
		t.Errorf("sync flags lost: hasUuid %v source %v target %v order %d", k.HasUUID, k.IsSyncSource, k.IsSyncTarget, k.SyncOrder)
	}
	p := k.Type.Property("financeLimit")
	if p == nil || p.Kind != contracts.KindDecimal || !p.Nillable {
		t.Errorf("financeLimit: %+v", p)
	}
	f := k.Type.Property("customerSupplierFlag")
	if f == nil || !slices.Equal(f.Enum, []string{"Customer", "Supplier", "Both", "Neither", "Unknown"}) {
		t.Errorf("customerSupplierFlag enum: %+v", f)
	}
	if r := k.Type.Property("invoiceTradingAccount"); r == nil || r.Relationship != contracts.RelReference {
		t.Errorf("invoiceTradingAccount: %+v", r)
	}
}

func TestSchema(t *testing.T) {
	e := newEnv(t)
	full := loadSchema(t, e.get(e.url("$schema")))
	if full.TargetNamespace != gcrmNS {
		t.Errorf("targetNamespace %q", full.TargetNamespace)
	}
	var names []string
	for _, k := range full.Kinds {
		names = append(names, k.PluralName)
	}
	if !slices.Equal(names, []string{"tradingAccounts", "contacts", "commodities", "salesOrders", "salesOrderLines"}) {
		t.Errorf("kinds %v", names)
	}
	checkTradingAccountKind(t, full)

	one := loadSchema(t, e.get(e.kindURL("tradingAccounts")+"/$schema"))
	checkTradingAccountKind(t, one)
	if len(one.Kinds) != 1 {
		var n []string
		for _, k := range one.Kinds {
			n = append(n, k.Name)
		}
		t.Errorf("kind $schema declares kinds %v, want only tradingAccount", n)
	}
	so := loadSchema(t, e.get(e.kindURL("salesOrders")+"/$schema"))
	k := so.Kind("salesOrders")
	if k == nil || k.SyncOrder != 150 {
		t.Fatalf("salesOrders kind: %+v", k)
	}
	if l := k.Type.Property("salesOrderLines"); l == nil || l.Relationship != contracts.RelChild || !l.IsCollection {
		t.Errorf("salesOrderLines: %+v", l)
	}
}

func TestTemplate(t *testing.T) {
	e := newEnv(t)
	r := e.get(e.kindURL("tradingAccounts") + "/$template")
	if r.Status != http.StatusOK {
		t.Fatalf("$template: %s", r)
	}
	en := parseEntry(t, r)
	if en.Payload == nil || en.Payload.Tag != "tradingAccount" || en.Payload.SelectAttrValue("xmlns", "") != gcrmNS {
		t.Fatalf("template payload: %v", en.Payload)
	}
	if en.ID != e.kindURL("tradingAccounts")+"/$template" {
		t.Errorf("id %q", en.ID)
	}
	for name, want := range map[string]string{"active": "false", "customerSupplierFlag": "Customer", "companyPersonFlag": "Company",
		"financeLimit": "0", "name": "", "type": "Direct Sales/Cash"} {
		if c := en.Payload.SelectElement(name); c == nil || c.Text() != want {
			t.Errorf("template %s = %v, want %q", name, c, want)
		}
	}
	for _, complexProp := range []string{"contacts", "invoiceTradingAccount"} {
		if en.Payload.SelectElement(complexProp) != nil {
			t.Errorf("template has complex property %s", complexProp)
		}
	}
	// The template, filled in, posts back as a valid resource.
	en.Payload.SelectElement("name").SetText("From Template")
	body := encodePayload(t, en.Payload)
	if c := e.do(http.MethodPost, e.kindURL("tradingAccounts"), body); c.Status != http.StatusCreated {
		t.Errorf("POST the template: %s", c)
	}
	// Every kind has a template.
	for _, k := range []string{"contacts", "commodities", "salesOrders", "salesOrderLines"} {
		if r := e.get(e.kindURL(k) + "/$template"); r.Status != http.StatusOK {
			t.Errorf("%s/$template: %d", k, r.Status)
		}
	}
}

// encodePayload writes a payload element back as a bare payload document.
func encodePayload(t *testing.T, p *etree.Element) string {
	t.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(p.Copy())
	s, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestServiceFeeds(t *testing.T) {
	e := newEnv(t, func(c *sdata.Config) { c.Datasets = []string{"acme", "-", "acme"} })
	if got := e.Server.Datasets(); !slices.Equal(got, []string{"-", "acme"}) {
		t.Errorf("Datasets() = %v", got)
	}
	f := e.feed(e.HTTP.URL + "/sdata/sdatasync/gcrm")
	var titles, ids []string
	for _, en := range f.Entries {
		titles = append(titles, en.Title)
		ids = append(ids, en.ID)
	}
	if !slices.Equal(titles, []string{"-", "acme"}) || !slices.Equal(ids, []string{e.url("-"), e.url("acme")}) || f.TotalResults != 2 {
		t.Errorf("datasets feed: titles %v ids %v total %d", titles, ids, f.TotalResults)
	}
	for _, ds := range []string{"-", "acme"} {
		f := e.feed(e.url(ds))
		var kinds []string
		for _, en := range f.Entries {
			kinds = append(kinds, en.Title)
			if l, ok := en.Link("alternate"); !ok || l.Href != e.url(ds+"/"+en.Title) {
				t.Errorf("%s/%s link %+v", ds, en.Title, l)
			}
		}
		if !slices.Equal(kinds, []string{"tradingAccounts", "contacts", "commodities", "salesOrders", "salesOrderLines"}) || f.TotalResults != 5 {
			t.Errorf("dataset %s kinds %v total %d", ds, kinds, f.TotalResults)
		}
	}
	// The extra dataset is a separate endpoint with its own data.
	e.create("tradingAccounts", account("In dash", "D"))
	if f := e.feed(e.url("acme/tradingAccounts")); f.TotalResults != 0 {
		t.Errorf("acme sees %d trading accounts of -", f.TotalResults)
	}
	if r := e.do(http.MethodPost, e.url("acme/tradingAccounts"), account("In acme", "A")); r.Status != http.StatusCreated {
		t.Fatalf("POST acme: %s", r)
	} else if loc := r.Header.Get("Location"); !strings.HasPrefix(loc, e.url("acme/tradingAccounts('")) {
		t.Errorf("acme Location %q", loc)
	}
	a, _ := e.Server.Endpoint("acme", "tradingAccounts")
	d, _ := e.Server.Endpoint("-", "tradingAccounts")
	if a.ID == d.ID || a.URL != e.url("acme/tradingAccounts") || d.URL != e.kindURL("tradingAccounts") {
		t.Errorf("endpoints: %+v %+v", a, d)
	}
	// Application and contract lists.
	apps := e.feed(e.HTTP.URL + "/sdata")
	if len(apps.Entries) != 1 || apps.Entries[0].Title != "sdatasync" {
		t.Errorf("applications feed %+v", apps.Entries)
	}
	cs := e.feed(e.HTTP.URL + "/sdata/sdatasync")
	if len(cs.Entries) != 1 || cs.Entries[0].Title != "gcrm" || cs.Entries[0].ID != e.HTTP.URL+"/sdata/sdatasync/gcrm" {
		t.Errorf("contracts feed %+v", cs.Entries)
	}
}

func TestHealthz(t *testing.T) {
	e := newEnv(t)
	r := e.get(e.HTTP.URL + "/healthz")
	if r.Status != http.StatusOK || strings.TrimSpace(string(r.Body)) != "ok" {
		t.Errorf("healthz: %s", r)
	}
	if h := e.do(http.MethodHead, e.HTTP.URL+"/healthz", ""); h.Status != http.StatusOK {
		t.Errorf("HEAD healthz: %d", h.Status)
	}
}

func TestSeedDemo(t *testing.T) {
	e := newEnv(t)
	sz := demo.DefaultSizes()
	if sz.TradingAccounts < 50 || sz.Contacts < 150 || sz.Commodities < 40 || sz.SalesOrders < 30 {
		t.Errorf("DefaultSizes too small: %+v", sz)
	}
	ok, err := demo.SeedDataset(e.ctx, e.Server, "-", sz)
	if err != nil || !ok {
		t.Fatalf("SeedDemo: %v %v", ok, err)
	}
	want := map[string]int{"tradingAccounts": sz.TradingAccounts, "contacts": sz.Contacts, "commodities": sz.Commodities,
		"salesOrders": sz.SalesOrders, "salesOrderLines": 0}
	ticks := map[string]int64{}
	for k, n := range want {
		if got := e.count(k); got != n {
			t.Errorf("%s: %d, want %d", k, got, n)
		}
		ticks[k] = e.tick(k)
	}
	// Every sales order has 1..5 lines, numbered, each referencing a commodity that exists.
	f := e.feed(e.kindURL("salesOrders") + "?count=1000")
	if len(f.Entries) != sz.SalesOrders {
		t.Fatalf("%d sales orders over HTTP", len(f.Entries))
	}
	for _, en := range f.Entries {
		lines := en.Payload.SelectElement("salesOrderLines")
		if lines == nil {
			t.Fatalf("order %s has no lines", en.ID)
		}
		ls := lines.SelectElements("salesOrderLine")
		if len(ls) < 1 || len(ls) > 5 || text(en.Payload, "lineCount") != itoa(len(ls)) {
			t.Errorf("order %s: %d lines, lineCount %s", en.ID, len(ls), text(en.Payload, "lineCount"))
		}
		for i, l := range ls {
			if text(l, "number") != itoa(i+1) {
				t.Errorf("order %s line %d number %q", en.ID, i+1, text(l, "number"))
			}
			c := l.SelectElement("commodity")
			if c == nil {
				t.Errorf("order %s line %d without commodity", en.ID, i+1)
				continue
			}
			if g := e.get(e.resURL("commodities", attr(c, "sdata:key"))); g.Status != http.StatusOK {
				t.Errorf("line commodity %q: %d", attr(c, "sdata:key"), g.Status)
			}
		}
		ta := en.Payload.SelectElement("tradingAccount")
		if ta == nil || e.get(e.resURL("tradingAccounts", attr(ta, "sdata:key"))).Status != http.StatusOK {
			t.Errorf("order %s: trading account reference broken", en.ID)
		}
	}
	// Contacts reference existing trading accounts; the where language works on demo data.
	cf := e.feed(e.kindURL("contacts") + "?count=1")
	if ta := cf.Entries[0].Payload.SelectElement("tradingAccount"); ta == nil || e.get(e.resURL("tradingAccounts", attr(ta, "sdata:key"))).Status != http.StatusOK {
		t.Errorf("contact trading account reference broken")
	}
	cust := e.feed(e.kindURL("tradingAccounts") + "?count=0&where=customerSupplierFlag%20eq%20'Customer'").TotalResults
	other := e.feed(e.kindURL("tradingAccounts") + "?count=0&where=not%20(customerSupplierFlag%20eq%20'Customer')").TotalResults
	if cust == 0 || other == 0 || cust+other != sz.TradingAccounts {
		t.Errorf("customers %d + others %d != %d", cust, other, sz.TradingAccounts)
	}

	// Second call: the dataset is not empty, nothing happens.
	ok, err = demo.SeedDataset(e.ctx, e.Server, "-", sz)
	if err != nil || ok {
		t.Errorf("second SeedDemo: %v %v", ok, err)
	}
	for k, n := range want {
		if got := e.count(k); got != n || e.tick(k) != ticks[k] {
			t.Errorf("%s changed by the second seed: %d (tick %d -> %d)", k, got, ticks[k], e.tick(k))
		}
	}
}

func TestSeedDemoSkipsNonEmptyAndSeedsOtherDatasets(t *testing.T) {
	e := newEnv(t, func(c *sdata.Config) { c.Datasets = []string{"other"} })
	// One deleted contact makes "-" non-empty (tombstones count).
	en := e.create("contacts", payloadXML("contact", "", prop{"fullName", "Gone"}))
	if r := e.do(http.MethodDelete, e.resURL("contacts", attr(en.Payload, "sdata:key")), ""); r.Status != http.StatusOK {
		t.Fatal(r)
	}
	small := demo.Sizes{TradingAccounts: 3, Contacts: 4, Commodities: 2, SalesOrders: 2}
	if ok, err := demo.SeedDataset(e.ctx, e.Server, "-", small); ok || err != nil {
		t.Errorf("seeded a non-empty dataset: %v %v", ok, err)
	}
	if n := e.count("tradingAccounts"); n != 0 {
		t.Errorf("- has %d trading accounts", n)
	}
	if ok, err := demo.SeedDataset(e.ctx, e.Server, "other", small); !ok || err != nil {
		t.Fatalf("seed other: %v %v", ok, err)
	}
	ep, _ := e.Server.Endpoint("other", "salesOrders")
	if _, n, err := e.Store.List(e.ctx, ep, store.ListQuery{Limit: 1}); n != 2 || err != nil {
		t.Errorf("other salesOrders: %d %v", n, err)
	}
}
