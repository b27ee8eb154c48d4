package sdata_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// hostileBody is one class of expensive hostile request, about 1 MiB (or
// as big as its limits allow), for BenchmarkHostilePerMB.
type hostileBody struct {
	name, method, path string // path below the kind tradingAccounts
	body               string
	status             int // the answer it gets
}

func hostileBodies(ownEndpoint string) []hostileBody {
	const ns = `xmlns="http://schemas.sage.com/crmErp/2008"`
	root := func(inner string) string { return `<tradingAccount ` + ns + `>` + inner + `</tradingAccount>` }
	var attrs strings.Builder
	for i := range 127 {
		fmt.Fprintf(&attrs, ` a%d="v"`, i)
	}
	el := `<x` + attrs.String() + `/>`
	deep := strings.Repeat("<a>", 62) + strings.Repeat("</a>", 62)
	sync := func(entries string) string {
		return `<feed xmlns="http://www.w3.org/2005/Atom" xmlns:sync="http://schemas.sage.com/sdata/sync/2008/1" xmlns:sdata="http://schemas.sage.com/sdata/2008/1">` +
			`<sync:syncMode>catchUp</sync:syncMode><sync:digest><sync:origin>http://a/x</sync:origin><sync:digestEntry><sync:endpoint>http://a/x</sync:endpoint><sync:tick>5000</sync:tick></sync:digestEntry></sync:digest>` +
			entries + `</feed>`
	}
	var entries strings.Builder
	for i := range 4000 {
		tick := i
		if i == 3999 {
			tick = 100_000 // the last one: above the feed digest's claim
		}
		fmt.Fprintf(&entries, `<entry><sync:syncState><sync:endpoint>http://a/x</sync:endpoint><sync:tick>%d</sync:tick><sync:stamp>2026-01-01T00:00:00Z</sync:stamp></sync:syncState><sdata:payload><tradingAccount %s sdata:uuid="0190aaaa-bbbb-7ccc-8ddd-%012d"><name>n</name></tradingAccount></sdata:payload></entry>`, tick, ns, i)
	}
	var digest strings.Builder
	digest.WriteString(`<digest xmlns="http://schemas.sage.com/sdata/sync/2008/1"><origin>` + ownEndpoint + `</origin>`)
	for i := range 1000 {
		fmt.Fprintf(&digest, `<digestEntry><endpoint>http://junk%d.example/sdata/a/c/-/tradingAccounts</endpoint><tick>%d</tick><conflictPriority>5</conflictPriority></digestEntry>`, i, i)
	}
	digest.WriteString(`</digest>`)
	junkDigest := strings.Replace(digest.String(), "</digest>", `<digestEntry><endpoint>http://one-too-many/x</endpoint><tick>1</tick></digestEntry></digest>`, 1)
	var batch strings.Builder
	batch.WriteString(`<feed xmlns="http://www.w3.org/2005/Atom" xmlns:http="http://schemas.sage.com/sdata/http/2008/1" xmlns:sdata="http://schemas.sage.com/sdata/2008/1">`)
	for i := range 1000 {
		fmt.Fprintf(&batch, `<entry><http:httpMethod>POST</http:httpMethod><sdata:payload>%s</sdata:payload></entry>`, root(fmt.Sprintf("<name>b%d</name><x/>", i)))
	}
	batch.WriteString(`</feed>`)
	in := make([]string, 1000)
	for i := range in {
		in[i] = fmt.Sprintf("'value-%04d'", i)
	}
	return []hostileBody{
		{"attributes: 127 on each of 8k elements", "POST", "", root(strings.Repeat(el, 1<<20/len(el))), 400},
		{"nesting: 62 deep, repeated", "POST", "", root(strings.Repeat(deep, 1<<20/len(deep))), 400},
		{"elements: up to the 200k limit", "POST", "", root(strings.Repeat("<a/>", 200_001)), 400},
		{"character references: 1 MiB of &#x41; (stored)", "POST", "", root("<name>" + strings.Repeat("&#x41;", 1<<20/6-10) + "</name>"), 201},
		{"value: over the 1 MiB limit", "POST", "", root("<name>" + strings.Repeat("x", 1<<20+1) + "</name>"), 400},
		{"sync page: 4000 entries, the last above the digest", "POST", "/$syncTarget", sync(entries.String()), 400},
		{"digest: 1001 entries", "PUT", "/$syncDigest", junkDigest, 400},
		{"digest: 1000 entries, selection", "POST", "/$syncSource", digest.String(), 200},
		{"batch: 1000 entries, each refused", "POST", "/$batch", batch.String(), 200},
		{"query: in list of 1000", "GET", "?where=" + url.QueryEscape("name in ("+strings.Join(in, ",")+")"), "", 200},
	}
}

// BenchmarkHostilePerMB sends each class of expensive hostile request to
// the provider's handler (decode, validate, refuse or answer; the store is
// real SQLite) and reports its cost per MiB of request (body, or URL for a
// query): the "worst hostile request per MB" figure of the README.
//
// Each class gets a fresh provider holding one trading account, so that
// what one class stores (the character references are a valid write)
// does not weigh on the next.
func BenchmarkHostilePerMB(b *testing.B) {
	for i := range len(hostileBodies("")) {
		p := newProvider(b, 5)
		p.create("tradingAccounts", ta("Bench", "B"))
		h := hostileBodies(p.endpoint("tradingAccounts").URL)[i]
		b.Run(h.name, func(b *testing.B) {
			target := p.kind("tradingAccounts") + h.path
			size := len(h.body)
			if h.method == "GET" {
				size = len(target)
			}
			b.SetBytes(int64(size))
			for b.Loop() {
				req := httptest.NewRequest(h.method, target, bytes.NewReader([]byte(h.body))).WithContext(context.Background())
				req.Header.Set("Content-Type", "application/xml")
				rec := httptest.NewRecorder()
				p.Server.ServeHTTP(rec, req)
				if rec.Code != h.status {
					b.Fatalf("%d, want %d: %.300s", rec.Code, h.status, rec.Body.Bytes())
				}
			}
			perMiB := b.Elapsed().Seconds() / float64(b.N) / (float64(size) / (1 << 20))
			b.ReportMetric(perMiB*1e3, "ms/MiB")
		})
	}
}
