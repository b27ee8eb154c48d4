package engine_test

import (
	"fmt"
	"testing"

	"github.com/beevik/etree"

	"sdatasync/sdata/engine"
)

// BenchmarkFullPass10k: one catch-up pass of 10,000 trading accounts
// between two in-process providers, in 1000-entry pages.
func BenchmarkFullPass10k(b *testing.B) {
	const n = 10_000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		src, dst := newNode(b, 3), newNode(b, 5)
		for j := 0; j < n; j++ {
			doc := etree.NewDocument()
			if err := doc.ReadFromString(fmt.Sprintf(`<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><active>true</active><reference>R%07d</reference><name>Company %d Ltd</name><type>On Account</type><currency>GBP</currency><financeBalance>%d.50</financeBalance><financeLimit>10000</financeLimit></tradingAccount>`, j, j, j)); err != nil {
				b.Fatal(err)
			}
			if _, err := src.Server.CreateLocal(src.ctx, "-", "tradingAccounts", doc.Root(), "bench"); err != nil {
				b.Fatal(err)
			}
		}
		e := newEngine(b)
		e.PageSize = 1000
		b.StartTimer()
		sum, err := e.Pass(src.ctx, engine.PassOptions{Source: src.DatasetURL() + "/tradingAccounts", Target: dst.DatasetURL() + "/tradingAccounts"})
		if err != nil || sum.Kinds[0].Applied != n {
			b.Fatalf("pass: %v %+v", err, sum)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
}
