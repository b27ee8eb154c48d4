package sdata_test

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"sdatasync/feeds"
	"sdatasync/sdata"
)

// Fuzz targets of the handler families issue 13 names that FuzzWriteBodies
// does not reach on its own: $batch, linking, query parameters, and the
// request-line check. Each asserts what a hostile client may never get: a
// 5xx, a 4xx without a diagnosis, or a refused request that changed what
// is stored.

// serveFuzz sends one request to the provider's handler; it fails on a 5xx
// and on a 4xx that is not an sdata:diagnoses document.
func serveFuzz(t *testing.T, p *provider, method, target string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body)).WithContext(context.Background())
	req.Header.Set("Content-Type", "application/xml")
	rec := httptest.NewRecorder()
	p.Server.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("%s %s: %d\n%s", method, target, rec.Code, rec.Body.Bytes())
	}
	if rec.Code >= 400 {
		if _, err := parseDiag(rec.Body.Bytes()); err != nil {
			t.Fatalf("%s %s: %d without a diagnosis: %v\n%s", method, target, rec.Code, err, rec.Body.Bytes())
		}
	}
	return rec
}

// storedState is p.state without the count of jobs: the jobs of earlier
// accepted requests are purged in the background at any moment.
func storedState(t *testing.T, p *provider) string {
	s := p.state(t)
	if i := strings.Index(s, "jobs "); i >= 0 {
		return s[:i]
	}
	return s
}

// FuzzBatch posts arbitrary $batch feeds: never a 5xx; a refused batch
// changes nothing; an accepted one answers a result feed.
func FuzzBatch(f *testing.F) {
	p := newProvider(f, 5)
	key := p.create("tradingAccounts", ta("Batch", "B"))
	acct := `<tradingAccount xmlns="` + taNS + `"><name>x</name></tradingAccount>`
	for _, s := range [][]byte{
		batchFeed(batchReq("POST", "", "", acct)),
		batchFeed(batchReq("PUT", p.kind("tradingAccounts")+"('"+key+"')", "", acct), batchReq("GET", p.kind("tradingAccounts")+"('"+key+"')", "", "")),
		batchFeed(batchReq("DELETE", p.kind("tradingAccounts")+"('nope')", "W/\"x\"", "")),
		batchFeed(batchReq("PATCH", "", "", "")),
		batchFeed(batchReq("POST", "", "", `<tradingAccount xmlns="`+taNS+`"><name>&#xD800;</name></tradingAccount>`)),
		batchFeed(`<entry><sync:syncState xmlns:sync="http://schemas.sage.com/sdata/sync/2008/1"><sync:endpoint>javascript:alert(1)</sync:endpoint></sync:syncState></entry>`),
		[]byte(`<feed xmlns="http://www.w3.org/2005/Atom"><entry>`),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p.t = t // the provider's helpers report to this run (runs are sequential within a process)
		before := storedState(t, p)
		rec := serveFuzz(t, p, http.MethodPost, p.kind("tradingAccounts")+"/$batch", body)
		switch {
		case rec.Code >= 400:
			if after := storedState(t, p); after != before {
				t.Fatalf("a refused batch (%d) changed what is stored:\nbefore %s\nafter  %s", rec.Code, before, after)
			}
		case rec.Code == http.StatusOK:
			if _, err := feeds.ParseFeed(bytes.NewReader(rec.Body.Bytes()), feeds.Limits{}); err != nil {
				t.Fatalf("batch answer is not a feed: %v\n%s", err, rec.Body.Bytes())
			}
		}
	})
}

// FuzzLinked sends arbitrary bodies and selectors to $linked: never a 5xx,
// and a refused request changes nothing.
func FuzzLinked(f *testing.F) {
	p := newProvider(f, 5)
	key := p.create("tradingAccounts", ta("Link", "L"))
	const u = "0190aaaa-bbbb-7ccc-8ddd-eeeeffff0002"
	for i, s := range []struct{ sel, body string }{
		{"", string(linkBody("tradingAccount", `sdata:uuid="`+u+`" sdata:key="`+key+`"`))},
		{u, string(linkBody("tradingAccount", `sdata:uuid="0190aaaa-bbbb-7ccc-8ddd-eeeeffff0003" sdata:key="`+key+`"`))},
		{"zz", ""},
		{"'); DROP TABLE resources; --", ""},
		{u, string(linkBody("tradingAccount", `sdata:uuid="`+u+`" sdata:url="javascript:alert(1)"`))},
	} {
		f.Add(uint8(i), s.sel, []byte(s.body))
	}
	methods := []string{http.MethodPost, http.MethodPut, http.MethodGet, http.MethodDelete}
	f.Fuzz(func(t *testing.T, which uint8, sel string, body []byte) {
		p.t = t // the provider's helpers report to this run (runs are sequential within a process)
		m := methods[int(which)%len(methods)]
		target := p.kind("tradingAccounts") + "/$linked"
		if m != http.MethodPost {
			target += "('" + url.PathEscape(sel) + "')"
		}
		before := storedState(t, p)
		rec := serveFuzz(t, p, m, target, body)
		if rec.Code >= 400 {
			if after := storedState(t, p); after != before {
				t.Fatalf("a refused %s %s (%d) changed what is stored:\nbefore %s\nafter  %s", m, target, rec.Code, before, after)
			}
		}
	})
}

// FuzzQueryParams sends arbitrary where, orderBy, select, count and
// startIndex to a collection (parsed, compiled to SQL and run on SQLite):
// never a 5xx, and a 200 is a feed.
func FuzzQueryParams(f *testing.F) {
	p := newProvider(f, 5)
	p.create("tradingAccounts", ta("Query", "Q"))
	for _, s := range [][5]string{
		{"name eq 'Query'", "name desc", "name,currency", "5", "1"},
		{"name in ('a','b') and financeLimit ge 10", "", "", "", ""},
		{"name eq 'x' or 1=1; DROP TABLE resources; --", "name; DROP", "name)--", "-1", "0"},
		{"openedDate lt @2020-01-01@", "reference asc, name", "*", "99999999999999999999", "2"},
		{"not (name like '%a_')", "", "tradingAccount/name", "1000", "1"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4])
	}
	f.Fuzz(func(t *testing.T, where, orderBy, sel, count, start string) {
		q := url.Values{}
		for k, v := range map[string]string{"where": where, "orderBy": orderBy, "select": sel, "count": count, "startIndex": start} {
			if v != "" {
				q.Set(k, v)
			}
		}
		rec := serveFuzz(t, p, http.MethodGet, p.kind("tradingAccounts")+"?"+q.Encode(), nil)
		if rec.Code == http.StatusOK {
			if _, err := feeds.ParseFeed(bytes.NewReader(rec.Body.Bytes()), feeds.Limits{}); err != nil {
				t.Fatalf("answer is not a feed: %v\n%s", err, rec.Body.Bytes())
			}
		}
	})
}

// FuzzRequestLine: the request-line check never refuses a first line that
// net/http accepts, and what it answers for a line it refuses is a
// well-formed diagnosis.
func FuzzRequestLine(f *testing.F) {
	for _, s := range []string{"GET / HTTP/1.1", "GET /a b HTTP/1.1", "GET /a%zz HTTP/1.1", "GET /x HTTPS/9", "GET", "",
		"OPTIONS * HTTP/1.1", "GET http://h/p?q=1 HTTP/1.0", "POST /sdata/a/b/-/k('x') HTTP/1.1", "GET /\x00 HTTP/1.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if strings.ContainsAny(line, "\r\n") {
			return // one line only
		}
		msg := sdata.BadRequestLine(line)
		_, err := http.ReadRequest(bufio.NewReader(strings.NewReader(line + "\r\nHost: x\r\n\r\n")))
		if err == nil && msg != "" {
			t.Fatalf("refused %q, which net/http accepts: %s", line, msg)
		}
		if msg == "" {
			return
		}
		var buf bytes.Buffer
		if err := feeds.WriteDiagnoses(&buf, []feeds.Diagnosis{{Severity: "error", SDataCode: "BadUrlSyntax", Message: msg}}); err != nil {
			t.Fatal(err)
		}
		ds, err := feeds.ParseDiagnoses(&buf, feeds.Limits{})
		if err != nil || len(ds) != 1 || ds[0].Message != msg {
			t.Fatalf("diagnosis for %q does not round-trip: %v %+v", line, err, ds)
		}
	})
}
