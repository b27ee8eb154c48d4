package sdata_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"
)

// BenchmarkGet GETs one trading account per iteration, among 1000, through
// a real HTTP server (the single-resource read of `sdatasync bench api`).
func BenchmarkGet(b *testing.B) {
	e := newEnv(b)
	for i := range 1000 {
		e.createLocal("tradingAccounts", account(fmt.Sprintf("Bench Account %04d", i), fmt.Sprintf("B%04d", i),
			prop{"financeLimit", fmt.Sprint(i * 10)}, prop{"openedDate", "2020-01-01"}))
	}
	client := e.HTTP.Client()
	base := e.kindURL("tradingAccounts")
	i := 0
	for b.Loop() {
		i = i%1000 + 1
		res, err := client.Get(base + "('" + fmt.Sprint(i) + "')")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}
