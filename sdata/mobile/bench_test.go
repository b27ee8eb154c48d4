package mobile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sdatasync/sdata/engine"
	"sdatasync/sdata/mobile"
	"sdatasync/sdata/sdatatest"
	"sdatasync/sdata/store"
)

// Benchmarks of device sync through real HTTP (issue 14). Run them with
//
//	go test -run XXX -bench . -benchtime 1x ./sdata/mobile/
//
// MOBILE_BENCH_ROWS (default 100000) sizes the full download,
// MOBILE_BENCH_SECONDS (default 60) the run of 200 concurrent devices.

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// benchProvider is a provider with an accounts component, seeded with n
// accounts by backend notifications.
func benchProvider(b *testing.B, n int, sbd bool) *sdatatest.Provider {
	b.Helper()
	p := sdatatest.Start(b, sdatatest.Options{})
	if _, _, err := p.Server.Mobile().PutComponent(context.Background(), mobile.Component{Alias: "acc", Kind: "tradingAccounts",
		RowIdentifiers: []string{"reference"}, FilterKeys: []string{"currency"}, ConflictRule: mobile.ServerWins, StoreBusinessData: sbd,
		Apps: []mobile.App{{Name: "sales", Versions: []string{"*"}}}}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i += 1000 {
		var rows []mobile.InputRow
		for j := i; j < min(n, i+1000); j++ {
			rows = append(rows, mobile.InputRow{ActionID: mobile.ActInsert, Record: mobile.Record{
				{Name: "reference", Value: fmt.Sprintf("R%07d", j)}, {Name: "name", Value: fmt.Sprintf("Account %d of the benchmark", j)},
				{Name: "currency", Value: "EUR"}, {Name: "website", Value: "https://example.com/" + strconv.Itoa(j)}}})
		}
		res, err := p.Server.Mobile().Sync(context.Background(), mobile.Request{Alias: "acc", Caller: mobile.Caller{User: "seed"}, Rows: rows},
			func(mobile.OutputRow) error { return nil })
		if err != nil || res.StatusCode != mobile.StatusOK {
			b.Fatalf("seed: %+v %v", res, err)
		}
	}
	return p
}

// client is one device over HTTP: it parses the answer as a stream and
// keeps only counts and the version.
type client struct {
	p       *sdatatest.Provider
	http    *http.Client
	id      string
	version string
}

type streamAnswer struct {
	OutputPayload []json.RawMessage `json:"outputPayload"`
	OutputParams  struct {
		CurrentVersion string `json:"currentVersion"`
		StatusCode     string `json:"statusCode"`
		HasMore        string `json:"hasMore"`
	} `json:"outputParams"`
}

func (c *client) sync(rows string, pageSize int) (n int, more bool, err error) {
	body := fmt.Sprintf(`{"inputParams": {"mscAlias": "acc", "lastVersion": %q, "filter": {"currency": "EUR"}, "pageSize": "%d"}, "inputPayload": [%s]}`,
		c.version, pageSize, rows)
	req, _ := http.NewRequest(http.MethodPost, c.p.URL+syncPath, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Mobile-App-Name", "sales")
	req.Header.Set("X-Mobile-App-Version", "1")
	req.Header.Set("X-Mobile-Device-ID", c.id)
	res, err := c.http.Do(req)
	if err != nil {
		return 0, false, err
	}
	defer res.Body.Close()
	var a streamAnswer
	if err := json.NewDecoder(res.Body).Decode(&a); err != nil {
		return 0, false, err
	}
	io.Copy(io.Discard, res.Body)
	if res.StatusCode != 200 || a.OutputParams.StatusCode != "40" {
		return 0, false, fmt.Errorf("status %d / %s", res.StatusCode, a.OutputParams.StatusCode)
	}
	c.version = a.OutputParams.CurrentVersion
	return len(a.OutputPayload), a.OutputParams.HasMore == "true", nil
}

// peakRSS is the process's resident memory high-water mark in MiB, and
// resetPeak starts a new one (Linux: /proc/self/clear_refs).
func peakRSS() float64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func resetPeak() {
	runtime.GC()
	debug.FreeOSMemory()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// BenchmarkFullDownload: a new device downloads every row, page by page
// (5000 rows a page), over HTTP; rows/s and the peak RSS of the process
// (server and client together) while it downloads.
func BenchmarkFullDownload(b *testing.B) {
	n := envInt("MOBILE_BENCH_ROWS", 100000)
	for _, sbd := range []bool{false, true} {
		b.Run(fmt.Sprintf("rows=%d/storeBusinessData=%t", n, sbd), func(b *testing.B) {
			p := benchProvider(b, n, sbd)
			resetPeak()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c := &client{p: p, http: p.HTTP.Client(), id: fmt.Sprint("new-", i)}
				got := 0
				for {
					k, more, err := c.sync("", 5000)
					if err != nil {
						b.Fatal(err)
					}
					got += k
					if !more {
						break
					}
				}
				if got != n {
					b.Fatalf("downloaded %d rows, want %d", got, n)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(peakRSS(), "peakRSS-MiB")
		})
	}
}

func percentile(d []time.Duration, p float64) time.Duration {
	slices.Sort(d)
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// BenchmarkIncremental: a device that is up to date sends 10 changed rows
// and receives 10 rows the backend changed since; p50 and p99 latency.
func BenchmarkIncremental(b *testing.B) {
	for _, sbd := range []bool{false, true} {
		b.Run(fmt.Sprintf("storeBusinessData=%t", sbd), func(b *testing.B) {
			p := benchProvider(b, 10000, sbd)
			c := &client{p: p, http: p.HTTP.Client(), id: "inc"}
			for more := true; more; {
				var err error
				if _, more, err = c.sync("", 5000); err != nil {
					b.Fatal(err)
				}
			}
			eng := p.Server.Mobile()
			var lat []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				var back []mobile.InputRow
				var up []string
				for j := range 10 {
					ref := fmt.Sprintf("R%07d", (i*20+j)%10000)
					back = append(back, mobile.InputRow{ActionID: mobile.ActUpdate, UID: ref, Record: mobile.Record{{Name: "reference", Value: ref},
						{Name: "name", Value: fmt.Sprint("backend ", i)}, {Name: "currency", Value: "EUR"}}})
					ref = fmt.Sprintf("R%07d", (i*20+10+j)%10000)
					up = append(up, fmt.Sprintf(`{"mDataRow": {"reference": %q, "name": "device %d", "currency": "EUR"}, "uid": %q, "actionId": "2"}`, ref, i, ref))
				}
				if _, err := eng.Sync(context.Background(), mobile.Request{Alias: "acc", Caller: mobile.Caller{User: "backend"}, Rows: back},
					func(mobile.OutputRow) error { return nil }); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				t0 := time.Now()
				n, _, err := c.sync(strings.Join(up, ","), 500)
				lat = append(lat, time.Since(t0))
				if err != nil || n != 20 {
					b.Fatalf("%d rows, %v", n, err)
				}
			}
			b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkConcurrentDevices: 200 devices sync at once, over and over, for
// MOBILE_BENCH_SECONDS, each sending 2 changed rows a sync; syncs/s and
// errors (there must be none).
func BenchmarkConcurrentDevices(b *testing.B) {
	dur := time.Duration(envInt("MOBILE_BENCH_SECONDS", 60)) * time.Second
	const rows = 1000
	p := benchProvider(b, rows, true)
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	// Every device has made its first (full) download before the clock runs.
	clients := make([]*client, 200)
	var wg sync.WaitGroup
	for d := range clients {
		clients[d] = &client{p: p, http: hc, id: fmt.Sprint("dev-", d)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for more := true; more; {
				var err error
				if _, more, err = clients[d].sync("", 5000); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var syncs, errs, down atomic.Int64
		var firstErr atomic.Value
		deadline := time.Now().Add(dur)
		for d := range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := clients[d]
				for k := 0; time.Now().Before(deadline); k++ {
					ref := fmt.Sprintf("R%07d", (d*5+k%5)%rows)
					row := fmt.Sprintf(`{"mDataRow": {"reference": %q, "name": "d%d k%d", "currency": "EUR"}, "uid": %q, "actionId": "2"}`, ref, d, k, ref)
					n, _, err := c.sync(row+","+strings.Replace(row, "name\": \"d", "name\": \"again d", 1), 1000)
					if err != nil {
						errs.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
						continue
					}
					syncs.Add(1)
					down.Add(int64(n))
				}
			}()
		}
		wg.Wait()
		if errs.Load() > 0 {
			b.Fatalf("%d errors (first: %v) in %d syncs", errs.Load(), firstErr.Load(), syncs.Load())
		}
		b.ReportMetric(float64(syncs.Load())/dur.Seconds(), "syncs/s")
		b.ReportMetric(float64(down.Load())/float64(max(1, syncs.Load())), "rows/sync")
	}
}

// BenchmarkPassWithDevices: the same full SData pass of 5000 accounts to
// an empty provider, with 0 and with 10,000 devices registered (each
// holding 25 rows) at the source.
func BenchmarkPassWithDevices(b *testing.B) {
	for _, devices := range []int{0, 10000} {
		b.Run(fmt.Sprint("devices=", devices), func(b *testing.B) {
			p := benchProvider(b, 5000, true)
			ctx := context.Background()
			now := time.Now()
			for k := 0; k < devices; k += 1000 {
				err := p.Store.MobileWrite(ctx, func(m *store.MobileTx) error {
					for i := k; i < min(devices, k+1000); i++ {
						dev := fmt.Sprint("device-", i)
						if err := m.PutDevice(ctx, store.MobileDevice{Alias: "acc", Device: dev, User: "u", App: "sales", AppVersion: "1",
							FirstSync: now, LastSync: now, LastStatus: 40, Responses: 1, Syncs: 1}); err != nil {
							return err
						}
						for r := range 25 {
							if err := m.PutHeld(ctx, "acc", dev, store.HeldRow{Key: strconv.Itoa(1 + (i+r)%5000), Seq: 1, Record: []byte(`{}`)}); err != nil {
								return err
							}
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			w, _ := p.Store.DB()
			if _, err := w.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				target := sdatatest.Start(b, sdatatest.Options{})
				b.StartTimer()
				e := &engine.Engine{Client: p.HTTP.Client()}
				sum, err := e.Pass(ctx, engine.PassOptions{Source: p.KindURL("tradingAccounts"), Target: target.KindURL("tradingAccounts")})
				if err != nil || !sum.OK {
					b.Fatalf("pass: %+v %v", sum, err)
				}
				b.StopTimer()
				target.Close()
				b.StartTimer()
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/pass")
		})
	}
}
