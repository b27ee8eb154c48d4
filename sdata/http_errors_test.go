package sdata_test

import (
	"net/http"
	"strings"
	"testing"

	"sdatasync/sdata"
)

func TestURLErrors(t *testing.T) {
	e := newEnv(t)
	base := e.HTTP.URL + "/sdata/"
	cases := []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "nosuchapp/gcrm/-/tradingAccounts", 404, "ApplicationNotFound"},
		{"GET", "nosuchapp", 404, "ApplicationNotFound"},
		{"GET", "sdatasync/crm/-/tradingAccounts", 404, "ContractNotFound"},
		{"GET", "sdatasync/crm", 404, "ContractNotFound"},
		{"GET", "sdatasync/gcrm/nods/tradingAccounts", 404, "DatasetNotFound"},
		{"GET", "sdatasync/gcrm/nods", 404, "DatasetNotFound"},
		{"POST", "sdatasync/gcrm/nods/tradingAccounts", 404, "DatasetNotFound"},
		{"GET", "sdatasync/gcrm/-/accounts", 404, "ResourceKindNotFound"},
		{"GET", "sdatasync/gcrm/-/accounts('1')", 404, "ResourceKindNotFound"},
		{"GET", "sdatasync/gcrm/-/accounts/$schema", 404, "ResourceKindNotFound"},
		{"GET", "sdatasync/gcrm/-/tradingAccounts('1", 400, "BadUrlSyntax"},
		{"GET", "sdatasync/gcrm/-/tradingAccounts(", 400, "BadUrlSyntax"},
		{"GET", "sdatasync/gcrm/-/tradingAccounts()", 400, "BadUrlSyntax"},
		{"GET", "sdatasync/gcrm/-/tradingAccounts('')", 400, "BadUrlSyntax"},
		{"GET", "sdatasync/gcrm/-/tradingAccounts('a'b')", 400, "BadUrlSyntax"},
		{"GET", "sdatasync/gcrm/-/tradingAccounts(a%20b)", 400, "BadUrlSyntax"},
		{"PUT", "sdatasync/gcrm/-/tradingAccounts('1", 400, "BadUrlSyntax"},
		{"GET", "sdatasync/gcrm/-/tradingAccounts/$nosuch", 404, "BadUrlSyntax"},
		{"GET", "sdatasync/gcrm/-/tradingAccounts('1')/$schema", 404, "BadUrlSyntax"},
		{"GET", "sdatasync/gcrm/-/$service", 404, "BadUrlSyntax"},
		{"GET", "sdatasync/gcrm/-/tradingAccounts/a/b", 404, "BadUrlSyntax"},
		{"GET", "sdatasync/gcrm/-/tradingAccounts('1')", 404, "ResourceNotFound"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			body := ""
			if c.method != "GET" {
				body = account("X", "X")
			}
			wantDiag(t, e.do(c.method, base+c.path, body), c.status, c.code)
		})
	}
	wantDiag(t, e.get(e.HTTP.URL+"/nothing/here"), 404, "BadUrlSyntax")
	if n := e.count("tradingAccounts"); n != 0 {
		t.Errorf("failed writes created %d resources", n)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	en := e.create("tradingAccounts", account("Keep", "K"))
	one := e.resURL("tradingAccounts", attr(en.Payload, "sdata:key"))
	cases := []struct {
		method, url, allow string
	}{
		{"DELETE", e.kindURL("tradingAccounts"), "GET, POST"},
		{"PUT", e.kindURL("tradingAccounts"), "GET, POST"},
		{"PATCH", e.kindURL("tradingAccounts"), "GET, POST"},
		{"PATCH", one, "GET, PUT, DELETE"},
		{"POST", one, "GET, PUT, DELETE"},
		{"POST", e.kindURL("tradingAccounts") + "/$schema", "GET"},
		{"DELETE", e.kindURL("tradingAccounts") + "/$template", "GET"},
		{"POST", e.url("-"), "GET"},
		{"PUT", e.HTTP.URL + "/sdata/sdatasync/gcrm", "GET"},
		{"DELETE", e.url("$schema"), "GET"},
		{"POST", e.HTTP.URL + "/healthz", "GET, HEAD"},
	}
	before := e.snap("tradingAccounts")
	for _, c := range cases {
		t.Run(c.method+" "+c.url, func(t *testing.T) {
			r := e.do(c.method, c.url, account("X", "X"))
			wantDiag(t, r, http.StatusMethodNotAllowed, "MethodNotAllowed")
			if got := r.Header.Get("Allow"); got != c.allow {
				t.Errorf("Allow = %q, want %q", got, c.allow)
			}
		})
	}
	e.unchanged("tradingAccounts", before)
	if g := e.get(one); g.Status != http.StatusOK || text(parseEntry(t, g).Payload, "name") != "Keep" {
		t.Errorf("resource changed: %s", g)
	}
	// HEAD is allowed wherever GET is.
	if r := e.do(http.MethodHead, e.kindURL("tradingAccounts"), ""); r.Status != http.StatusOK {
		t.Errorf("HEAD collection: %d", r.Status)
	}
}

// TestWriteErrors sends bad POST and PUT bodies: each fails with its status
// and diagnosis and writes nothing.
func TestWriteErrors(t *testing.T) {
	e := newEnv(t, func(c *sdata.Config) { c.MaxBody = 2048 })
	en := e.create("tradingAccounts", account("Original", "O1", prop{"financeLimit", "100"}))
	one := e.resURL("tradingAccounts", attr(en.Payload, "sdata:key"))
	const uuidA = "11111111-2222-3333-4444-555555555555"
	linked := e.create("tradingAccounts", payloadXML("tradingAccount", `sdata:uuid="`+uuidA+`"`, prop{"name", "Linked"}))
	linkedURL := e.resURL("tradingAccounts", attr(linked.Payload, "sdata:key"))
	nilNS := `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"`

	type tc struct {
		name        string
		method      string
		url         string
		body        string
		hdr         []string
		status      int
		code        string
		payloadPath string // "" = not checked
	}
	var cases []tc
	for _, m := range []struct{ method, url string }{{"POST", e.kindURL("tradingAccounts")}, {"PUT", one}} {
		add := func(c tc) {
			c.method, c.url = m.method, m.url
			cases = append(cases, c)
		}
		add(tc{name: "malformed XML", body: `<tradingAccount xmlns="` + gcrmNS + `"><name>x</tradingAccount>`, status: 400, code: "ApplicationDiagnosis"})
		add(tc{name: "not XML", body: `{"name":"json"}`, status: 400, code: "ApplicationDiagnosis"})
		add(tc{name: "trailing garbage", body: account("x", "x") + "<more/>", status: 400, code: "ApplicationDiagnosis"})
		add(tc{name: "malformed atom entry", body: `<entry xmlns="` + atomNS + `"><sdata:payload xmlns:sdata="` + sdNS + `">`, status: 400, code: "ApplicationDiagnosis"})
		add(tc{name: "unknown property", body: account("x", "x", prop{"colour", "red"}), status: 400, code: "ApplicationDiagnosis", payloadPath: "tradingAccount/colour"})
		add(tc{name: "wrong decimal", body: payloadXML("tradingAccount", "", prop{"name", "x"}, prop{"financeLimit", "abc"}), status: 400, code: "ApplicationDiagnosis", payloadPath: "tradingAccount/financeLimit"})
		add(tc{name: "wrong boolean", body: payloadXML("tradingAccount", "", prop{"name", "x"}, prop{"active", "yes"}), status: 400, code: "ApplicationDiagnosis", payloadPath: "tradingAccount/active"})
		add(tc{name: "wrong date", body: payloadXML("tradingAccount", "", prop{"name", "x"}, prop{"openedDate", "2021-02-30"}), status: 400, code: "ApplicationDiagnosis", payloadPath: "tradingAccount/openedDate"})
		add(tc{name: "bad enum", body: payloadXML("tradingAccount", "", prop{"name", "x"}, prop{"customerSupplierFlag", "Friend"}), status: 400, code: "ApplicationDiagnosis", payloadPath: "tradingAccount/customerSupplierFlag"})
		add(tc{name: "duplicate property", body: payloadXML("tradingAccount", "", prop{"name", "x"}, prop{"name", "y"}), status: 400, code: "ApplicationDiagnosis", payloadPath: "tradingAccount/name"})
		add(tc{name: "nil not nillable", body: `<tradingAccount xmlns="` + gcrmNS + `" ` + nilNS + `><name xsi:nil="true"/></tradingAccount>`, status: 400, code: "ApplicationDiagnosis", payloadPath: "tradingAccount/name"})
		add(tc{name: "elements in simple property", body: `<tradingAccount xmlns="` + gcrmNS + `"><name><b>x</b></name></tradingAccount>`, status: 400, code: "ApplicationDiagnosis", payloadPath: "tradingAccount/name"})
		add(tc{name: "foreign-namespace property", body: `<tradingAccount xmlns="` + gcrmNS + `" xmlns:o="urn:o"><name>x</name><o:name>y</o:name></tradingAccount>`, status: 400, code: "ApplicationDiagnosis"})
		add(tc{name: "wrong root element", body: payloadXML("contact", "", prop{"fullName", "x"}), status: 400, code: "ApplicationDiagnosis", payloadPath: "contact"})
		add(tc{name: "wrong namespace", body: `<tradingAccount xmlns="urn:other"><name>x</name></tradingAccount>`, status: 400, code: "ApplicationDiagnosis"})
		add(tc{name: "entry without payload", body: `<entry xmlns="` + atomNS + `"><title>t</title></entry>`, status: 400, code: "ApplicationDiagnosis", payloadPath: "entry/payload"})
		add(tc{name: "bad entry payload", body: entryXML(payloadXML("tradingAccount", "", prop{"financeLimit", "1,5"})), status: 400, code: "ApplicationDiagnosis", payloadPath: "tradingAccount/financeLimit"})
		add(tc{name: "body over the limit", body: account(strings.Repeat("x", 3000), "big"), status: 413, code: "RequestEntityTooLarge"})
		add(tc{name: "text/plain", body: account("x", "x"), hdr: []string{"Content-Type", "text/plain"}, status: 415, code: "UnsupportedMediaType"})
		add(tc{name: "json", body: account("x", "x"), hdr: []string{"Content-Type", "application/json"}, status: 415, code: "UnsupportedMediaType"})
		add(tc{name: "bad media type", body: account("x", "x"), hdr: []string{"Content-Type", "application/"}, status: 415, code: "UnsupportedMediaType"})
		add(tc{name: "empty body", body: "", hdr: []string{"Content-Type", "application/xml"}, status: 400, code: "ApplicationDiagnosis"})
		add(tc{name: "blank body", body: " \n\t ", status: 400, code: "ApplicationDiagnosis"})
		add(tc{name: "DOCTYPE", body: `<!DOCTYPE x [<!ENTITY e "boom">]><tradingAccount xmlns="` + gcrmNS + `"><name>&e;</name></tradingAccount>`, status: 400, code: "ApplicationDiagnosis"})
		add(tc{name: "bad uuid", body: payloadXML("tradingAccount", `sdata:uuid="zz"`, prop{"name", "x"}), status: 400, code: "ApplicationDiagnosis", payloadPath: "tradingAccount/@sdata:uuid"})
	}
	cases = append(cases,
		tc{name: "POST missing key chars", method: "POST", url: e.kindURL("tradingAccounts"), body: payloadXML("tradingAccount", `sdata:key="a/b"`, prop{"name", "x"}), status: 400, code: "ApplicationDiagnosis", payloadPath: "tradingAccount/@sdata:key"},
		tc{name: "PUT relinks uuid", method: "PUT", url: linkedURL, body: payloadXML("tradingAccount", `sdata:uuid="99999999-2222-3333-4444-555555555555"`, prop{"name", "y"}), status: 400, code: "ApplicationDiagnosis", payloadPath: "tradingAccount/@sdata:uuid"},
		tc{name: "nested line quantity", method: "POST", url: e.kindURL("salesOrders"),
			body:   `<salesOrder xmlns="` + gcrmNS + `"><reference>SO1</reference><salesOrderLines><salesOrderLine><type>Standard Line</type><quantity>2</quantity></salesOrderLine><salesOrderLine><type>Standard Line</type><quantity>two</quantity></salesOrderLine></salesOrderLines></salesOrder>`,
			status: 400, code: "ApplicationDiagnosis", payloadPath: "salesOrder/salesOrderLines/salesOrderLine[2]/quantity"},
		tc{name: "wrong collection item", method: "POST", url: e.kindURL("salesOrders"),
			body:   `<salesOrder xmlns="` + gcrmNS + `"><salesOrderLines><contact/></salesOrderLines></salesOrder>`,
			status: 400, code: "ApplicationDiagnosis", payloadPath: "salesOrder/salesOrderLines/contact[1]"},
	)

	kinds := []string{"tradingAccounts", "salesOrders"}
	before := map[string]snapshot{}
	for _, k := range kinds {
		before[k] = e.snap(k)
	}
	stored := map[string]string{}
	for _, u := range []string{one, linkedURL} {
		stored[u] = e.get(u).Header.Get("ETag")
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.name, func(t *testing.T) {
			hdr := c.hdr
			if c.body == "" {
				// do() sets no Content-Type without a body; send an explicit empty one.
				r := e.doEmpty(c.method, c.url, hdr...)
				wantDiag(t, r, c.status, c.code)
				return
			}
			r := e.do(c.method, c.url, c.body, hdr...)
			d := wantDiag(t, r, c.status, c.code)
			if c.payloadPath != "" && d.PayloadPath != c.payloadPath {
				t.Errorf("payloadPath = %q, want %q (message %q)", d.PayloadPath, c.payloadPath, d.Message)
			}
			if c.code == "ApplicationDiagnosis" && c.payloadPath != "" && d.ApplicationCode != "InvalidPayload" {
				t.Errorf("applicationCode = %q, want InvalidPayload", d.ApplicationCode)
			}
		})
	}
	for _, k := range kinds {
		e.unchanged(k, before[k])
	}
	for u, etag := range stored {
		if got := e.get(u).Header.Get("ETag"); got != etag {
			t.Errorf("%s: ETag changed %s -> %s", u, etag, got)
		}
	}
	g := parseEntry(t, e.get(one))
	if text(g.Payload, "name") != "Original" || text(g.Payload, "financeLimit") != "100" {
		t.Errorf("resource changed: %v", childNames(g.Payload))
	}
	// A body just within the limit is accepted.
	if r := e.do(http.MethodPost, e.kindURL("tradingAccounts"), account(strings.Repeat("y", 1500), "ok")); r.Status != http.StatusCreated {
		t.Errorf("body within the limit: %s", r)
	}
}

// doEmpty sends a request with an empty body and the given headers.
func (e *env) doEmpty(method, u string, hdr ...string) resp {
	e.tb.Helper()
	req, err := http.NewRequestWithContext(e.ctx, method, u, strings.NewReader(""))
	if err != nil {
		e.tb.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.HTTP.Client().Do(req)
	if err != nil {
		e.tb.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp{Status: res.StatusCode, Header: res.Header, Body: []byte(b.String())}
}

// TestLenientBodies: a body without Content-Type is read as XML, and a
// payload without namespace is taken to be in the contract namespace.
func TestLenientBodies(t *testing.T) {
	e := newEnv(t)
	en := e.create("tradingAccounts", `<tradingAccount><name>No namespace</name></tradingAccount>`)
	g := parseEntry(t, e.get(e.resURL("tradingAccounts", attr(en.Payload, "sdata:key"))))
	if g.Payload.SelectAttrValue("xmlns", "") != gcrmNS || text(g.Payload, "name") != "No namespace" {
		t.Errorf("stored without the contract namespace: %+v", g.Payload.Attr)
	}
	req, _ := http.NewRequest(http.MethodPost, e.kindURL("tradingAccounts"), strings.NewReader(account("NoCT", "N")))
	res, err := e.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Errorf("status %d", res.StatusCode)
	}
}

func TestNewConfigErrors(t *testing.T) {
	for _, m := range []func(*sdata.Config){
		func(c *sdata.Config) { c.Contract = nil },
		func(c *sdata.Config) { c.ConflictPriority = 10 },
		func(c *sdata.Config) { c.ConflictPriority = -1 },
		func(c *sdata.Config) { c.Datasets = []string{"a/b"} },
		func(c *sdata.Config) { c.Datasets = []string{"$x"} },
		func(c *sdata.Config) { c.Datasets = []string{""} },
	} {
		e := newEnv(t)
		cfg := sdata.Config{App: "sdatasync", Contract: e.c, BaseURL: e.HTTP.URL}
		m(&cfg)
		if _, err := sdata.New(e.ctx, cfg, e.Store); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}
