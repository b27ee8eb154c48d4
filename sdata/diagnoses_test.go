package sdata_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"sdatasync/feeds"
	"sdatasync/sdata"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/sdatatest"
	"sdatasync/sdata/store"
)

// diagnosisSchema reads the elements of diagnosis--type from the spec's
// sdata.xsd: name -> [minOccurs, maxOccurs].
func diagnosisSchema(t *testing.T) map[string][2]int {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromFile(sdatatest.Shared(t, "sdata", "xsd", "sdata.xsd")); err != nil {
		t.Fatal(err)
	}
	ct := doc.FindElement("//complexType[@name='diagnosis--type']")
	if ct == nil {
		t.Fatal("sdata.xsd has no diagnosis--type")
	}
	out := map[string][2]int{}
	for _, el := range ct.FindElements(".//element") {
		occ := func(attr string) int {
			v := el.SelectAttrValue(attr, "1")
			if v == "unbounded" {
				return 1 << 30
			}
			n, _ := strconv.Atoi(v)
			return n
		}
		out[el.SelectAttrValue("name", "")] = [2]int{occ("minOccurs"), occ("maxOccurs")}
	}
	if len(out) == 0 {
		t.Fatal("diagnosis--type has no elements")
	}
	return out
}

var severities = []string{"info", "warning", "transient", "error", "fatal"}

// checkDiagnoses validates every sdata:diagnosis element of an answer
// against diagnosis--type and core 3.10's codes, and returns them.
func checkDiagnoses(t *testing.T, schema map[string][2]int, body []byte) []*etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(body); err != nil {
		t.Fatalf("answer is not XML: %v\n%s", err, body)
	}
	var found []*etree.Element
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		if e.Tag == "diagnosis" && e.NamespaceURI() == feeds.SDataNS {
			found = append(found, e)
		}
		for _, c := range e.ChildElements() {
			walk(c)
		}
	}
	walk(doc.Root())
	for _, d := range found {
		count := map[string]int{}
		for _, c := range d.ChildElements() {
			if c.NamespaceURI() != feeds.SDataNS {
				t.Errorf("diagnosis child %s in namespace %q", c.Tag, c.NamespaceURI())
			}
			if _, ok := schema[c.Tag]; !ok {
				t.Errorf("diagnosis child %s is not in diagnosis--type", c.Tag)
			}
			count[c.Tag]++
		}
		for name, occ := range schema {
			if count[name] < occ[0] || count[name] > occ[1] {
				t.Errorf("diagnosis has %d %s, diagnosis--type wants %d..%d:\n%s", count[name], name, occ[0], occ[1], body)
			}
		}
		if code := d.FindElement("sdataCode"); code == nil || !slices.Contains(diag.SpecCodes(), code.Text()) {
			t.Errorf("sdataCode outside core 3.10:\n%s", body)
		}
		if sev := d.FindElement("severity"); sev == nil || !slices.Contains(severities, sev.Text()) {
			t.Errorf("severity outside %v:\n%s", severities, body)
		}
	}
	return found
}

// TestEveryDiagnosis provokes every kind of error the provider answers
// (diag.Kinds) and every entry-level diagnosis, and checks each against the
// spec's diagnosis schema and the codes of core 3.10.
func TestEveryDiagnosis(t *testing.T) {
	schema := diagnosisSchema(t)
	p := newProvider(t, 5)
	small := sdatatest.Start(t, sdatatest.Options{Config: func(c *sdata.Config) { c.MaxBody = 512 }})
	key := p.create("tradingAccounts", ta("Diagnosed Ltd", "D1"))
	one := p.kind("tradingAccounts") + "('" + key + "')"
	base := p.HTTP.URL + "/sdata/sdatasync"
	st, _, b := do(t, http.MethodPost, p.registry(), regPayload(`<title>Twin</title><url>http://twin.example.com/sdata/a/gcrm/-</url>`))
	mustStatus(t, http.StatusCreated, st, b)
	// A provider with authentication: the router's 401, 403 and 429.
	secured := securedProvider(t)
	// A failed job, as the store keeps one.
	ctx := context.Background()
	j, _, err := p.Store.CreateJob(ctx, store.Job{EndpointID: p.endpoint("tradingAccounts").ID, Type: store.JobSource, TrackingID: "failed-job"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Store.FailJob(ctx, j, "the disk filled up"); err != nil {
		t.Fatal(err)
	}
	// A stored payload that no longer parses: a bug, answered 500.
	broken := p.create("tradingAccounts", ta("Broken", "BR"))
	w, _ := p.Store.DB()
	if _, err := w.Exec(`UPDATE resources SET payload = '<not xml' WHERE key = ?`, broken); err != nil {
		t.Fatal(err)
	}

	type req struct {
		method, url, body string
		hdr               []string
	}
	cases := map[diag.Kind]req{
		diag.NoSuchURL:            {http.MethodGet, p.HTTP.URL + "/nothing/here", "", nil},
		diag.BadURL:               {http.MethodGet, p.kind("tradingAccounts") + "('x", "", nil},
		diag.BadParameter:         {http.MethodGet, p.kind("tradingAccounts") + "?count=lots", "", nil},
		diag.BadWhere:             {http.MethodGet, p.kind("tradingAccounts") + "?where=name%20eq", "", nil},
		diag.NoApplication:        {http.MethodGet, p.HTTP.URL + "/sdata/other", "", nil},
		diag.NoContract:           {http.MethodGet, base + "/other", "", nil},
		diag.NoDataset:            {http.MethodGet, base + "/gcrm/nope", "", nil},
		diag.NoKind:               {http.MethodGet, base + "/gcrm/-/widgets", "", nil},
		diag.NoResource:           {http.MethodGet, p.kind("tradingAccounts") + "('999')", "", nil},
		diag.NoJob:                {http.MethodGet, p.kind("tradingAccounts") + "/$syncSource('no-such-job')", "", nil},
		diag.InvalidPayload:       {http.MethodPost, p.kind("tradingAccounts"), `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><bogus/></tradingAccount>`, nil},
		diag.BadRequest:           {http.MethodPost, p.kind("tradingAccounts"), `<tradingAccount`, nil},
		diag.MethodNotAllowed:     {http.MethodDelete, p.kind("tradingAccounts"), "", nil},
		diag.UnsupportedMediaType: {http.MethodPost, p.kind("tradingAccounts"), `{"name":"json"}`, []string{"Content-Type", "application/json"}},
		diag.TooLarge:             {http.MethodPost, small.KindURL("tradingAccounts"), strings.Repeat(" ", 600) + ta("Big", "B"), nil},
		diag.PreconditionFailed:   {http.MethodPut, one, `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><name>x</name></tradingAccount>`, []string{"If-Match", `"stale"`}},
		diag.Conflict:             {http.MethodPost, p.registry(), string(regPayload(`<title>Twin 2</title><url>http://twin.example.com/sdata/a/gcrm/-</url>`)), nil},
		diag.JobFailed:            {http.MethodGet, p.kind("tradingAccounts") + "/$syncSource('failed-job')", "", nil},
		diag.Internal:             {http.MethodGet, p.kind("tradingAccounts") + "('" + broken + "')", "", nil},
		diag.Unauthenticated:      {http.MethodGet, secured.KindURL("tradingAccounts"), "", nil},
		diag.Forbidden:            {http.MethodPost, secured.KindURL("tradingAccounts"), ta("No", "N"), []string{"Authorization", "Bearer reader"}},
		diag.Throttled:            {http.MethodGet, secured.KindURL("tradingAccounts"), "", []string{"Authorization", "Bearer throttled"}},
	}
	for _, k := range diag.Kinds() {
		if k == diag.Unavailable {
			continue // below: it needs a cancelled request
		}
		c, ok := cases[k]
		if !ok {
			t.Errorf("no request provokes diagnosis kind %d (%s/%s): add one", k, k.SDataCode(), k.AppCode())
			continue
		}
		t.Run(k.SDataCode()+"/"+k.AppCode(), func(t *testing.T) {
			var body []byte
			if c.body != "" {
				body = []byte(c.body)
			}
			st, h, b := doWith(t, c.method, c.url, body, c.hdr...)
			if st != k.Status() {
				t.Fatalf("%s %s: %d, want %d\n%s", c.method, c.url, st, k.Status(), b)
			}
			if !strings.HasPrefix(h.Get("Content-Type"), "application/xml") {
				t.Errorf("Content-Type %q", h.Get("Content-Type"))
			}
			ds := checkDiagnoses(t, schema, b)
			if len(ds) != 1 || ds[0].FindElement("sdataCode").Text() != k.SDataCode() || ds[0].FindElement("applicationCode").Text() != k.AppCode() {
				t.Fatalf("codes of\n%s\nwant %s/%s", b, k.SDataCode(), k.AppCode())
			}
			if bytes.Contains(b, []byte("goroutine")) || bytes.Contains(b, []byte(".go:")) {
				t.Errorf("internals leaked:\n%s", b)
			}
		})
	}
	t.Run("Unavailable", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		rec := httptest.NewRecorder()
		p.Server.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p.kind("tradingAccounts"), nil).WithContext(cctx))
		if rec.Code != diag.Unavailable.Status() {
			t.Fatalf("cancelled list: %d\n%s", rec.Code, rec.Body.Bytes())
		}
		checkDiagnoses(t, schema, rec.Body.Bytes())
	})
	// Diagnoses inside entries: a batch entry that failed, sync results
	// that were refused or lost a conflict.
	t.Run("entries", func(t *testing.T) {
		st, _, b := do(t, http.MethodPost, p.kind("tradingAccounts")+"/$batch",
			batchFeed(batchReq("DELETE", p.kind("tradingAccounts")+"('404')", "", ""), batchReq("POST", "", "", `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><bogus/></tradingAccount>`)))
		mustStatus(t, http.StatusOK, st, b)
		if n := len(checkDiagnoses(t, schema, b)); n != 2 {
			t.Fatalf("%d diagnoses in the batch answer, want 2\n%s", n, b)
		}
		src := newProvider(t, 1)
		src.create("tradingAccounts", ta("Bad Sync", "BS"))
		page := firstPage(t, src, p, "tradingAccounts", 10)
		page = bytes.Replace(page, []byte("<name>Bad Sync</name>"), []byte("<bogus>x</bogus>"), 1)
		st, _, b = do(t, http.MethodPost, p.kind("tradingAccounts")+"/$syncTarget", page)
		mustStatus(t, http.StatusOK, st, b)
		ds := checkDiagnoses(t, schema, b)
		if len(ds) != 1 || ds[0].FindElement("severity").Text() != "error" {
			t.Fatalf("the refused sync entry's diagnosis:\n%s", b)
		}
	})
}
