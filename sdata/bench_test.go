package sdata_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"sdatasync/feeds"
)

// BenchmarkReadPage1000 GETs a page of 1000 trading accounts through a real
// HTTP server and parses it.
func BenchmarkReadPage1000(b *testing.B) {
	e := newEnv(b)
	for i := range 1000 {
		e.createLocal("tradingAccounts", account(fmt.Sprintf("Bench Account %04d", i), fmt.Sprintf("B%04d", i),
			prop{"financeLimit", fmt.Sprint(i * 10)}, prop{"openedDate", "2020-01-01"}))
	}
	u := e.kindURL("tradingAccounts") + "?count=1000"
	client := e.HTTP.Client()
	var bytesRead int64
	for b.Loop() {
		res, err := client.Get(u)
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			b.Fatalf("%d %v", res.StatusCode, err)
		}
		bytesRead += int64(len(body))
		f, err := feeds.ParseFeed(bytes.NewReader(body), feeds.Limits{})
		if err != nil || len(f.Entries) != 1000 {
			b.Fatalf("parse: %v (%d entries)", err, len(f.Entries))
		}
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "entries/s")
	b.SetBytes(bytesRead / int64(b.N))
}

// BenchmarkCreate POSTs one trading account per iteration.
func BenchmarkCreate(b *testing.B) {
	e := newEnv(b)
	client := e.HTTP.Client()
	u := e.kindURL("tradingAccounts")
	i := 0
	for b.Loop() {
		i++
		body := account(fmt.Sprintf("Created %d", i), fmt.Sprintf("C%d", i), prop{"financeLimit", "1000"})
		res, err := client.Post(u, "application/xml", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}
