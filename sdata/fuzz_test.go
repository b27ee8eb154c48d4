package sdata_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"sdatasync/feeds"
)

// FuzzWriteBodies sends arbitrary bodies to the write paths (POST and PUT of
// a resource, POST to $syncTarget and $batch): the provider answers a
// diagnosis or success, never a 5xx, and a refused request writes nothing.
func FuzzWriteBodies(f *testing.F) {
	seeds := []string{
		ta("Fuzz Ltd", "F1"),
		`<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><financeLimit>007</financeLimit><openedDate>2020-02-30</openedDate></tradingAccount>`,
		`<entry xmlns="http://www.w3.org/2005/Atom"><payload xmlns="http://schemas.sage.com/sdata/2008/1"><tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><name>x</name></tradingAccount></payload></entry>`,
		`<salesOrder xmlns="http://schemas.sage.com/crmErp/2008" xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><salesOrderLines sdata:deleteMissing="true"><salesOrderLine sdata:uuid="bad"/></salesOrderLines></salesOrder>`,
		`<feed xmlns="http://www.w3.org/2005/Atom"><syncMode xmlns="http://schemas.sage.com/sdata/sync/2008/1">immediate</syncMode><entry><syncState xmlns="http://schemas.sage.com/sdata/sync/2008/1"><endpoint>x</endpoint><tick>1</tick><stamp>2020-01-01T00:00:00Z</stamp></syncState></entry></feed>`,
		`<contact xmlns="http://schemas.sage.com/crmErp/2008" xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><fullName>a</fullName><tradingAccount sdata:url="http://x/y('1')"/></contact>`,
		`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`,
		``,
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	p := newProvider(f, 5)
	key := p.create("tradingAccounts", ta("Target", "T"))
	targets := []struct{ method, url string }{
		{http.MethodPost, p.kind("tradingAccounts")},
		{http.MethodPut, p.kind("tradingAccounts") + "('" + key + "')"},
		{http.MethodPost, p.kind("contacts")},
		{http.MethodPost, p.kind("salesOrders")},
		{http.MethodPost, p.kind("tradingAccounts") + "/$syncTarget"},
		{http.MethodPost, p.kind("tradingAccounts") + "/$batch"},
		{http.MethodPost, p.kind("tradingAccounts") + "/$syncSource"},
		{http.MethodPut, p.kind("tradingAccounts") + "/$syncDigest"},
	}
	ownTick := func(t *testing.T, kind string) (int, int64) {
		ep, _ := p.Server.Endpoint("-", kind)
		d, err := p.Store.Digest(context.Background(), ep)
		if err != nil {
			t.Fatal(err)
		}
		return len(d.Entries), d.Tick(ep.URL)
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		tg := targets[int(which)%len(targets)]
		kind := "tradingAccounts"
		for _, k := range []string{"contacts", "salesOrders"} {
			if strings.Contains(tg.url, "/"+k) {
				kind = k
			}
		}
		n0, t0 := ownTick(t, kind)
		req := httptest.NewRequest(tg.method, tg.url, bytes.NewReader(body)).WithContext(context.Background())
		req.Header.Set("Content-Type", "application/xml")
		rec := httptest.NewRecorder()
		p.Server.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s: %d\n%s", tg.method, tg.url, rec.Code, rec.Body.Bytes())
		}
		if rec.Code >= 400 {
			if _, err := parseDiag(rec.Body.Bytes()); err != nil {
				t.Fatalf("%d without a diagnosis: %v\n%s", rec.Code, err, rec.Body.Bytes())
			}
			if n1, t1 := ownTick(t, kind); n1 != n0 || t1 != t0 {
				t.Fatalf("a refused %s %s changed the digest", tg.method, tg.url)
			}
		}
	})
}

func parseDiag(b []byte) (int, error) {
	ds, err := feeds.ParseDiagnoses(bytes.NewReader(b), feeds.Limits{})
	return len(ds), err
}
