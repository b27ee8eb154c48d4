package sdata_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestCreateAtomEntry(t *testing.T) {
	e := newEnv(t)
	before := e.tick("tradingAccounts")
	r := e.do(http.MethodPost, e.kindURL("tradingAccounts"), entryXML(account("Abbey Foods Ltd", "A1", prop{"financeLimit", "5000.50"})))
	if r.Status != http.StatusCreated {
		t.Fatalf("POST: %s", r)
	}
	en := parseEntry(t, r)
	key := attr(en.Payload, "sdata:key")
	if key == "" {
		t.Fatalf("no sdata:key in %s", r.Body)
	}
	wantURL := e.resURL("tradingAccounts", key)
	if got := r.Header.Get("Location"); got != wantURL {
		t.Errorf("Location = %q, want %q", got, wantURL)
	}
	if got := attr(en.Payload, "sdata:url"); got != wantURL {
		t.Errorf("sdata:url = %q, want %q", got, wantURL)
	}
	if en.ID != wantURL {
		t.Errorf("entry id = %q, want %q", en.ID, wantURL)
	}
	etag := r.Header.Get("ETag")
	if etag == "" || etag != `"`+en.ETag+`"` {
		t.Errorf("ETag header %q, entry etag %q", etag, en.ETag)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/atom+xml") {
		t.Errorf("Content-Type = %q", ct)
	}
	if en.Title != "Abbey Foods Ltd" {
		t.Errorf("title = %q", en.Title)
	}
	if got := text(en.Payload, "financeLimit"); got != "5000.50" {
		t.Errorf("financeLimit = %q", got)
	}
	if got := e.tick("tradingAccounts"); got != before+1 {
		t.Errorf("tick %d -> %d, want +1", before, got)
	}

	g := e.get(wantURL)
	if g.Status != http.StatusOK {
		t.Fatalf("GET: %s", g)
	}
	if g.Header.Get("ETag") != etag {
		t.Errorf("GET ETag = %q, want %q", g.Header.Get("ETag"), etag)
	}
	ge := parseEntry(t, g)
	if ge.Payload == nil || ge.Payload.Tag != "tradingAccount" {
		t.Fatalf("GET payload %v", ge.Payload)
	}
	for _, p := range []prop{{"name", "Abbey Foods Ltd"}, {"reference", "A1"}, {"active", "true"}, {"currency", "GBP"}, {"financeLimit", "5000.50"}} {
		if got := text(ge.Payload, p.name); got != p.value {
			t.Errorf("GET %s = %q, want %q", p.name, got, p.value)
		}
	}
	if attr(ge.Payload, "sdata:key") != key {
		t.Errorf("GET key = %q", attr(ge.Payload, "sdata:key"))
	}
	// If-None-Match with the current ETag: 304.
	if nm := e.get(wantURL, "If-None-Match", etag); nm.Status != http.StatusNotModified {
		t.Errorf("If-None-Match current: %d", nm.Status)
	}
	// The singular element name is accepted as the kind segment too.
	if s := e.get(e.kindURL("tradingAccount") + "('" + key + "')"); s.Status != http.StatusOK {
		t.Errorf("GET by element name: %s", s)
	}
}

func TestCreateBarePayload(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodPost, e.kindURL("contacts"),
		payloadXML("contact", "", prop{"fullName", "Ruth O'Brien"}, prop{"gender", "Female"}), "Content-Type", "application/xml")
	if r.Status != http.StatusCreated {
		t.Fatalf("POST: %s", r)
	}
	en := parseEntry(t, r)
	key := attr(en.Payload, "sdata:key")
	if key == "" || r.Header.Get("Location") != e.resURL("contacts", key) || r.Header.Get("ETag") == "" {
		t.Errorf("key %q Location %q ETag %q", key, r.Header.Get("Location"), r.Header.Get("ETag"))
	}
	if got := text(en.Payload, "fullName"); got != "Ruth O'Brien" {
		t.Errorf("fullName = %q", got)
	}
	if e.count("contacts") != 1 {
		t.Errorf("count = %d", e.count("contacts"))
	}
}

func TestCreateWithKeyAndUUID(t *testing.T) {
	e := newEnv(t)
	const uuid = "3F2504E0-4F89-11D3-9A0C-0305E82C3301"
	en := e.create("tradingAccounts", payloadXML("tradingAccount", `sdata:key="ACME-1" sdata:uuid="`+uuid+`"`, prop{"name", "Acme"}))
	if got := attr(en.Payload, "sdata:key"); got != "ACME-1" {
		t.Errorf("key = %q", got)
	}
	if got := attr(en.Payload, "sdata:uuid"); got != strings.ToLower(uuid) {
		t.Errorf("uuid = %q", got)
	}
	g := parseEntry(t, e.get(e.resURL("tradingAccounts", "ACME-1")))
	if got := attr(g.Payload, "sdata:uuid"); got != strings.ToLower(uuid) {
		t.Errorf("GET uuid = %q", got)
	}
	r, err := e.Store.GetByUUID(e.ctx, e.ep("tradingAccounts"), uuid)
	if err != nil || r.Key != "ACME-1" || r.UUID != strings.ToLower(uuid) {
		t.Errorf("GetByUUID: %+v %v", r, err)
	}
	// uuid on the sdata:payload element of an atom entry.
	const uuid2 = "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE"
	body := strings.Replace(entryXML(account("Beta", "B")), "<sdata:payload>", `<sdata:payload sdata:uuid="`+uuid2+`">`, 1)
	en2 := e.create("tradingAccounts", body)
	if got := attr(en2.Payload, "sdata:uuid"); got != strings.ToLower(uuid2) {
		t.Errorf("payload-level uuid = %q", got)
	}
	// The same key again: 409, nothing written.
	before := e.snap("tradingAccounts")
	dup := e.do(http.MethodPost, e.kindURL("tradingAccounts"), payloadXML("tradingAccount", `sdata:key="ACME-1"`, prop{"name", "Dup"}))
	wantDiag(t, dup, http.StatusConflict, "Conflict")
	// The same UUID again: 409.
	dupU := e.do(http.MethodPost, e.kindURL("tradingAccounts"), payloadXML("tradingAccount", `sdata:uuid="`+strings.ToLower(uuid)+`"`, prop{"name", "Dup"}))
	wantDiag(t, dupU, http.StatusConflict, "Conflict")
	// A malformed UUID: 400 pointing at the attribute.
	bad := e.do(http.MethodPost, e.kindURL("tradingAccounts"), payloadXML("tradingAccount", `sdata:uuid="not-a-uuid"`, prop{"name", "X"}))
	d := wantDiag(t, bad, http.StatusBadRequest, "ApplicationDiagnosis")
	if d.PayloadPath != "tradingAccount/@sdata:uuid" {
		t.Errorf("payloadPath = %q", d.PayloadPath)
	}
	e.unchanged("tradingAccounts", before)
}

func TestUpdatePartial(t *testing.T) {
	e := newEnv(t)
	en := e.create("tradingAccounts", account("Granite Builders", "G1", prop{"financeLimit", "1000"}, prop{"type", "On Account"}))
	key := attr(en.Payload, "sdata:key")
	u := e.resURL("tradingAccounts", key)
	tick := e.tick("tradingAccounts")

	r := e.do(http.MethodPut, u, payloadXML("tradingAccount", "", prop{"financeLimit", "2500.00"}))
	if r.Status != http.StatusOK {
		t.Fatalf("PUT: %s", r)
	}
	up := parseEntry(t, r)
	if up.ETag == en.ETag || r.Header.Get("ETag") != `"`+up.ETag+`"` {
		t.Errorf("ETag not renewed: %q -> %q (header %q)", en.ETag, up.ETag, r.Header.Get("ETag"))
	}
	if e.tick("tradingAccounts") != tick+1 {
		t.Errorf("tick not advanced by one")
	}
	g := parseEntry(t, e.get(u))
	want := map[string]string{"name": "Granite Builders", "reference": "G1", "active": "true", "currency": "GBP",
		"type": "On Account", "financeLimit": "2500.00"}
	for k, v := range want {
		if got := text(g.Payload, k); got != v {
			t.Errorf("after PUT %s = %q, want %q", k, got, v)
		}
	}
	if n := len(g.Payload.ChildElements()); n != len(want) {
		t.Errorf("after PUT %d properties %v, want %d", n, childNames(g.Payload), len(want))
	}
	// A PUT as an atom entry works the same.
	r = e.do(http.MethodPut, u, entryXML(payloadXML("tradingAccount", "", prop{"name", "Granite Builders plc"})))
	if r.Status != http.StatusOK {
		t.Fatalf("PUT entry: %s", r)
	}
	g = parseEntry(t, e.get(u))
	if text(g.Payload, "name") != "Granite Builders plc" || text(g.Payload, "financeLimit") != "2500.00" {
		t.Errorf("after entry PUT: name %q limit %q", text(g.Payload, "name"), text(g.Payload, "financeLimit"))
	}
	if g.Title != "Granite Builders plc" {
		t.Errorf("title = %q", g.Title)
	}
	// PUT on a missing resource: 404, nothing written.
	before := e.snap("tradingAccounts")
	wantDiag(t, e.do(http.MethodPut, e.resURL("tradingAccounts", "nope"), payloadXML("tradingAccount", "", prop{"name", "x"})),
		http.StatusNotFound, "ResourceNotFound")
	e.unchanged("tradingAccounts", before)
}

func TestIfMatch(t *testing.T) {
	e := newEnv(t)
	en := e.create("tradingAccounts", account("Summit Print", "S1"))
	u := e.resURL("tradingAccounts", attr(en.Payload, "sdata:key"))
	stale := `"` + en.ETag + `"`

	r := e.do(http.MethodPut, u, payloadXML("tradingAccount", "", prop{"name", "v2"}), "If-Match", stale)
	if r.Status != http.StatusOK {
		t.Fatalf("PUT with current If-Match: %s", r)
	}
	cur := r.Header.Get("ETag")

	before := e.snap("tradingAccounts")
	r = e.do(http.MethodPut, u, payloadXML("tradingAccount", "", prop{"name", "v3"}), "If-Match", stale)
	wantDiag(t, r, http.StatusPreconditionFailed, "PreconditionFailed")
	e.unchanged("tradingAccounts", before)
	g := e.get(u)
	if name := text(parseEntry(t, g).Payload, "name"); name != "v2" || g.Header.Get("ETag") != cur {
		t.Errorf("after 412: name %q etag %q want v2 %q", name, g.Header.Get("ETag"), cur)
	}
	// http:ifMatch inside an atom entry is honoured as well.
	body := strings.Replace(entryXML(payloadXML("tradingAccount", "", prop{"name", "v3"})), "<title>t</title>",
		`<title>t</title><http:ifMatch xmlns:http="http://schemas.sage.com/sdata/http/2008/1">`+en.ETag+`</http:ifMatch>`, 1)
	wantDiag(t, e.do(http.MethodPut, u, body), http.StatusPreconditionFailed, "PreconditionFailed")
	e.unchanged("tradingAccounts", before)

	// Unquoted current ETag and * both match.
	r = e.do(http.MethodPut, u, payloadXML("tradingAccount", "", prop{"name", "v3"}), "If-Match", strings.Trim(cur, `"`))
	if r.Status != http.StatusOK {
		t.Fatalf("PUT unquoted If-Match: %s", r)
	}
	r = e.do(http.MethodPut, u, payloadXML("tradingAccount", "", prop{"name", "v4"}), "If-Match", "*")
	if r.Status != http.StatusOK {
		t.Fatalf("PUT If-Match *: %s", r)
	}
	cur = r.Header.Get("ETag")

	// DELETE with a stale ETag: 412, resource still there.
	before = e.snap("tradingAccounts")
	wantDiag(t, e.do(http.MethodDelete, u, "", "If-Match", stale), http.StatusPreconditionFailed, "PreconditionFailed")
	e.unchanged("tradingAccounts", before)
	if g := e.get(u); g.Status != http.StatusOK {
		t.Fatalf("GET after failed DELETE: %s", g)
	}
	// DELETE with the current ETag: 200.
	if r := e.do(http.MethodDelete, u, "", "If-Match", cur); r.Status != http.StatusOK {
		t.Fatalf("DELETE current If-Match: %s", r)
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t)
	en := e.create("tradingAccounts", account("Lakeside Farms", "L1"))
	key := attr(en.Payload, "sdata:key")
	u := e.resURL("tradingAccounts", key)
	tick := e.tick("tradingAccounts")
	if r := e.do(http.MethodDelete, u, ""); r.Status != http.StatusOK {
		t.Fatalf("DELETE: %s", r)
	}
	if e.tick("tradingAccounts") != tick+1 {
		t.Errorf("DELETE did not take one tick")
	}
	d := wantDiag(t, e.get(u), http.StatusNotFound, "ResourceNotFound")
	if !strings.Contains(d.Message, key) {
		t.Errorf("message %q does not name the key", d.Message)
	}
	if n := e.count("tradingAccounts"); n != 0 {
		t.Errorf("count after delete = %d", n)
	}
	if f := e.feed(e.kindURL("tradingAccounts")); f.TotalResults != 0 || len(f.Entries) != 0 {
		t.Errorf("collection after delete: total %d entries %d", f.TotalResults, len(f.Entries))
	}
	// The tombstone is kept in the store.
	res, err := e.Store.Get(e.ctx, e.ep("tradingAccounts"), key)
	if err != nil || !res.Deleted {
		t.Errorf("tombstone: %+v %v", res, err)
	}
	// Deleting again, updating the tombstone, deleting a missing key: 404, no tick.
	before := e.snap("tradingAccounts")
	wantDiag(t, e.do(http.MethodDelete, u, ""), http.StatusNotFound, "ResourceNotFound")
	wantDiag(t, e.do(http.MethodPut, u, payloadXML("tradingAccount", "", prop{"name", "zombie"})), http.StatusNotFound, "ResourceNotFound")
	wantDiag(t, e.do(http.MethodDelete, e.resURL("tradingAccounts", "999"), ""), http.StatusNotFound, "ResourceNotFound")
	e.unchanged("tradingAccounts", before)
}

func TestKeySelectorForms(t *testing.T) {
	e := newEnv(t)
	e.create("tradingAccounts", payloadXML("tradingAccount", `sdata:key="O'Neil 7"`, prop{"name", "Quote"}))
	r := e.get(e.kindURL("tradingAccounts") + "('O''Neil%207')")
	if r.Status != http.StatusOK {
		t.Fatalf("GET quoted key with doubled quote: %s", r)
	}
	en := parseEntry(t, r)
	if k := attr(en.Payload, "sdata:key"); k != "O'Neil 7" {
		t.Errorf("key = %q", k)
	}
	// The sdata:url the server gives back leads to the resource.
	if g := e.get(attr(en.Payload, "sdata:url")); g.Status != http.StatusOK {
		t.Errorf("GET sdata:url %q: %s", attr(en.Payload, "sdata:url"), g)
	}
	// Bare key token.
	e.create("tradingAccounts", payloadXML("tradingAccount", `sdata:key="K42"`, prop{"name", "Bare"}))
	if g := e.get(e.kindURL("tradingAccounts") + "(K42)"); g.Status != http.StatusOK {
		t.Errorf("GET bare key: %s", g)
	}
}

// TestConcurrentIfMatch: clients that read the same version race their PUTs;
// exactly one wins.
func TestConcurrentIfMatch(t *testing.T) {
	e := newEnv(t)
	en := e.create("tradingAccounts", account("Race", "R1"))
	u := e.resURL("tradingAccounts", attr(en.Payload, "sdata:key"))

	// Sequential: two readers, two writers.
	etag := e.get(u).Header.Get("ETag")
	etag2 := e.get(u).Header.Get("ETag")
	r1 := e.do(http.MethodPut, u, payloadXML("tradingAccount", "", prop{"name", "first"}), "If-Match", etag)
	r2 := e.do(http.MethodPut, u, payloadXML("tradingAccount", "", prop{"name", "second"}), "If-Match", etag2)
	if r1.Status != http.StatusOK {
		t.Fatalf("first PUT: %s", r1)
	}
	wantDiag(t, r2, http.StatusPreconditionFailed, "PreconditionFailed")

	// Concurrent: n goroutines with the same read ETag.
	const n = 8
	etag = e.get(u).Header.Get("ETag")
	tick := e.tick("tradingAccounts")
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			statuses[i] = e.do(http.MethodPut, u, payloadXML("tradingAccount", "", prop{"name", "writer " + string(rune('A'+i))}), "If-Match", etag).Status
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, s := range statuses {
		switch s {
		case http.StatusOK:
			if winner >= 0 {
				t.Errorf("two winners: %d and %d", winner, i)
			}
			winner = i
		case http.StatusPreconditionFailed:
		default:
			t.Errorf("writer %d: status %d", i, s)
		}
	}
	if winner < 0 {
		t.Fatalf("no winner: %v", statuses)
	}
	if got := text(parseEntry(t, e.get(u)).Payload, "name"); got != "writer "+string(rune('A'+winner)) {
		t.Errorf("stored name %q, winner %d", got, winner)
	}
	if e.tick("tradingAccounts") != tick+1 {
		t.Errorf("tick %d -> %d, want exactly one write", tick, e.tick("tradingAccounts"))
	}
}

// TestNumberLexicalForms: every lexical form xs:decimal and xs:integer allow
// is accepted, stored as written and queryable by value.
func TestNumberLexicalForms(t *testing.T) {
	e := newEnv(t)
	cases := []struct{ lexical, where string }{
		{".5", "financeLimit eq 0.5"},
		{"5.", "financeLimit eq 5"},
		{"+.5", "financeLimit eq 0.5"},
		{"007", "financeLimit eq 7"},
		{"00.10", "financeLimit eq 0.1"},
		{"-0", "financeLimit eq 0"},
		{"+12", "financeLimit eq 12"},
		{" 12.5 ", "financeLimit eq 12.5"},
	}
	for _, c := range cases {
		t.Run(c.lexical, func(t *testing.T) {
			before := e.snap("tradingAccounts")
			r := e.do(http.MethodPost, e.kindURL("tradingAccounts"), account("N", "N", prop{"financeLimit", c.lexical}))
			if r.Status != http.StatusCreated {
				e.unchanged("tradingAccounts", before)
				t.Fatalf("financeLimit %q (a valid xs:decimal): %s", c.lexical, r)
			}
			key := attr(parseEntry(t, r).Payload, "sdata:key")
			f := e.feed(e.kindURL("tradingAccounts") + "?where=" + strings.ReplaceAll(c.where, " ", "%20"))
			found := false
			for _, en := range f.Entries {
				found = found || attr(en.Payload, "sdata:key") == key
			}
			if !found {
				t.Errorf("%q not found by %q", c.lexical, c.where)
			}
			if del := e.do(http.MethodDelete, e.resURL("tradingAccounts", key), ""); del.Status != http.StatusOK {
				t.Fatal(del)
			}
		})
	}
	// Lines live in their sales order: an integer written 007 inside one.
	r := e.do(http.MethodPost, e.kindURL("salesOrders"), `<salesOrder xmlns="`+gcrmNS+`"><reference>N7</reference><salesOrderLines>`+
		`<salesOrderLine><number>007</number><quantity>1</quantity></salesOrderLine></salesOrderLines></salesOrder>`)
	if r.Status != http.StatusCreated {
		t.Errorf("salesOrderLine number 007 (a valid xs:integer): %s", r)
	}
}

func TestNilAndSpecialCharacters(t *testing.T) {
	e := newEnv(t)
	name := `Smith & Sons <"Ltd"> — Ünïcødé 'quoted'`
	body := `<tradingAccount xmlns="` + gcrmNS + `" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><name>` + xmlEscape(name) +
		`</name><financeLimit xsi:nil="true"/><website>http://x.example/?a=1&amp;b=2</website></tradingAccount>`
	en := e.create("tradingAccounts", body)
	g := parseEntry(t, e.get(e.resURL("tradingAccounts", attr(en.Payload, "sdata:key"))))
	if got := text(g.Payload, "name"); got != name {
		t.Errorf("name %q, want %q", got, name)
	}
	if g.Title != name {
		t.Errorf("title %q", g.Title)
	}
	if got := text(g.Payload, "website"); got != "http://x.example/?a=1&b=2" {
		t.Errorf("website %q", got)
	}
	fl := g.Payload.SelectElement("financeLimit")
	if fl == nil || fl.SelectAttrValue("xsi:nil", "") != "true" {
		t.Errorf("financeLimit nil lost: %v", fl)
	}
	f := e.feed(e.kindURL("tradingAccounts") + "?where=financeLimit%20is%20null")
	if f.TotalResults != 1 {
		t.Errorf("is null: %d", f.TotalResults)
	}
	// A PUT replaces the nil with a value.
	u := e.resURL("tradingAccounts", attr(en.Payload, "sdata:key"))
	if r := e.do(http.MethodPut, u, payloadXML("tradingAccount", "", prop{"financeLimit", "10"})); r.Status != http.StatusOK {
		t.Fatal(r)
	}
	g = parseEntry(t, e.get(u))
	if fl := g.Payload.SelectElement("financeLimit"); fl == nil || fl.Text() != "10" || fl.SelectAttr("xsi:nil") != nil {
		t.Errorf("after PUT financeLimit %v", fl)
	}
}

// TestConcurrentCreates: parallel POSTs all succeed with distinct keys and
// take one tick each.
func TestConcurrentCreates(t *testing.T) {
	e := newEnv(t)
	const n = 20
	tick := e.tick("commodities")
	keys := make([]string, n)
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.do(http.MethodPost, e.kindURL("commodities"), payloadXML("commodity", "", prop{"name", "C"}, prop{"type", "Service"}))
			statuses[i] = r.Status
			if r.Status == http.StatusCreated {
				keys[i] = r.Header.Get("Location")
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range n {
		if statuses[i] != http.StatusCreated {
			t.Errorf("POST %d: %d", i, statuses[i])
		}
		if seen[keys[i]] {
			t.Errorf("duplicate Location %s", keys[i])
		}
		seen[keys[i]] = true
	}
	if e.count("commodities") != n || e.tick("commodities") != tick+n {
		t.Errorf("count %d tick %d -> %d, want %d and +%d", e.count("commodities"), tick, e.tick("commodities"), n, n)
	}
}

func TestPutLinksUUID(t *testing.T) {
	e := newEnv(t)
	const u1 = "abcdefab-1234-5678-9abc-def012345678"
	a := e.create("contacts", payloadXML("contact", "", prop{"fullName", "A"}))
	b := e.create("contacts", payloadXML("contact", "", prop{"fullName", "B"}))
	ua := e.resURL("contacts", attr(a.Payload, "sdata:key"))
	ub := e.resURL("contacts", attr(b.Payload, "sdata:key"))
	r := e.do(http.MethodPut, ua, payloadXML("contact", `sdata:uuid="`+strings.ToUpper(u1)+`"`, prop{"jobTitle", "Buyer"}))
	if r.Status != http.StatusOK {
		t.Fatal(r)
	}
	if got := attr(parseEntry(t, e.get(ua)).Payload, "sdata:uuid"); got != u1 {
		t.Errorf("uuid after PUT %q", got)
	}
	// A later PUT without a uuid keeps it.
	if r := e.do(http.MethodPut, ua, payloadXML("contact", "", prop{"jobTitle", "CEO"})); r.Status != http.StatusOK {
		t.Fatal(r)
	}
	if got := attr(parseEntry(t, e.get(ua)).Payload, "sdata:uuid"); got != u1 {
		t.Errorf("uuid lost by a PUT without one: %q", got)
	}
	// Another resource cannot take the same uuid.
	before := e.snap("contacts")
	wantDiag(t, e.do(http.MethodPut, ub, payloadXML("contact", `sdata:uuid="`+u1+`"`, prop{"jobTitle", "x"})), http.StatusConflict, "Conflict")
	e.unchanged("contacts", before)
}
