package sdata_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"sdatasync/digest"
	"sdatasync/feeds"
	"sdatasync/sdata/store"
)

var nextLinkRE = regexp.MustCompile(`<link rel="next"[^>]* href="([^"]+)"`)

// seedBulk creates n trading accounts in one provider through the store.
func seedBulk(b *testing.B, p *provider, n int) {
	b.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		el := mustParse(b, fmt.Sprintf(`<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><active>true</active><reference>R%07d</reference><name>Company %d Ltd</name><type>On Account</type><currency>GBP</currency><financeBalance>%d.50</financeBalance><financeLimit>10000</financeLimit><website>https://example.com/%d</website></tradingAccount>`, i, i, i%9000, i))
		if _, err := p.Server.CreateLocal(ctx, "-", "tradingAccounts", el, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSourceFeed100k selects all changes of a 100k-resource kind for an
// empty target and serves them in 1000-entry pages, as an engine reads them.
func BenchmarkSourceFeed100k(b *testing.B) {
	const n = 100_000
	p := newProvider(b, 5)
	seedBulk(b, p, n)
	empty := []byte(`<digest xmlns="http://schemas.sage.com/sdata/sync/2008/1"/>`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, h, body := do(b, http.MethodPost, p.kind("tradingAccounts")+"/$syncSource?trackingID=bench-"+uuid.NewString(), empty)
		mustStatus(b, http.StatusAccepted, st, body)
		loc := h.Get("Location")
		_, page := poll(b, loc+"?count=1000")
		// The server's work is measured: the client only counts entries and
		// finds the next link (BenchmarkDecodeFeed1000 in feeds measures parsing).
		got := 0
		for {
			got += bytes.Count(page, []byte("<entry>"))
			m := nextLinkRE.FindSubmatch(page)
			if m == nil {
				break
			}
			_, _, page = do(b, http.MethodGet, strings.ReplaceAll(string(m[1]), "&amp;", "&"), nil)
		}
		if got != n {
			b.Fatalf("served %d entries", got)
		}
		do(b, http.MethodDelete, loc, nil)
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkApplyPage1000 applies 1000-entry catchUp pages of new resources
// at a target (one transaction per page).
func BenchmarkApplyPage1000(b *testing.B) {
	const n = 1000
	p := newProvider(b, 5)
	src := "http://bench.example/sdata/app/gcrm/-/tradingAccounts"
	pages := make([][]byte, b.N)
	for i := range pages {
		var buf bytes.Buffer
		d := digest.Digest{Origin: src, Entries: []digest.Entry{{Endpoint: src, Tick: int64((i+1)*n + 1), ConflictPriority: 3, Stamp: time.Now().UTC()}}}
		fw, err := feeds.NewFeedWriter(&buf, &feeds.Feed{ID: "urn:bench", Title: "bench", SyncMode: "catchUp", Digest: &d, TotalResults: -1})
		if err != nil {
			b.Fatal(err)
		}
		for j := 0; j < n; j++ {
			tick := int64(i*n + j + 1)
			el := mustParse(b, fmt.Sprintf(`<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><active>true</active><reference>R%07d</reference><name>Company %d Ltd</name><type>On Account</type><currency>GBP</currency><financeBalance>%d.50</financeBalance><financeLimit>10000</financeLimit></tradingAccount>`, tick, tick, j))
			el.CreateAttr("xmlns:sdata", feeds.SDataNS)
			el.CreateAttr("sdata:uuid", uuid.NewString())
			if err := fw.WriteEntry(&feeds.Entry{ID: fmt.Sprint("urn:e", tick), Title: "e", HTTPMethod: "POST", Payload: el,
				SyncState: &digest.SyncState{Endpoint: src, Tick: tick, Stamp: time.Now().UTC()}}); err != nil {
				b.Fatal(err)
			}
		}
		fw.Close()
		pages[i] = buf.Bytes()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, _, body := do(b, http.MethodPost, p.kind("tradingAccounts")+"/$syncTarget", pages[i])
		mustStatus(b, http.StatusOK, st, body)
	}
	b.StopTimer()
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
	rs, _, _ := p.Store.List(context.Background(), p.endpoint("tradingAccounts"), store.ListQuery{Limit: 1})
	if len(rs) == 0 {
		b.Fatal("nothing applied")
	}
}
