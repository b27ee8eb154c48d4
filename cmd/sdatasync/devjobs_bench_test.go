package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"sdatasync/sdata/devjobs"
	"sdatasync/sdata/mobile"
	"sdatasync/sdata/store"
)

// Device job benchmarks: a real `sdatasync serve` child process, measured
// from outside (run with -benchtime=1x -count=N and take the medians):
//
//	go test ./cmd/sdatasync -run '^$' -bench DeviceJob -benchtime=1x -count=3

// benchServer builds the binary, seeds a database with n trading accounts
// and the components, and starts a provider over it.
func benchServer(b *testing.B, n int, comps ...mobile.Component) (*provider, string) {
	b.Helper()
	dir := b.TempDir()
	exe := buildBinary(b, dir)
	addr, err := freeAddr()
	if err != nil {
		b.Fatal(err)
	}
	base, db := "http://"+addr, filepath.Join(dir, "bench.db")
	ctx := context.Background()
	if err := seedBench(ctx, db, base, n); err != nil {
		b.Fatal(err)
	}
	st, err := store.OpenSQLite(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range comps {
		putComponent(b, st, base, c)
	}
	st.Close()
	p, err := startProvider(ctx, exe, addr, db, 3, "", true)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.stop)
	return p, base
}

// post posts a device job and returns its jobinfo URL.
func benchPost(base string, body any) (string, error) {
	j, _ := json.Marshal(body)
	res, err := http.Post(base+"/sync", "application/json", bytes.NewReader(j))
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var out struct{ URI string }
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("POST /sync: %d %v", res.StatusCode, err)
	}
	return base + out.URI, nil
}

// benchAwait polls a jobinfo URL every interval until the job ends.
func benchAwait(u string, interval time.Duration) (devjobs.JobInfo, error) {
	var in devjobs.JobInfo
	for {
		res, err := http.Get(u)
		if err != nil {
			return in, err
		}
		err = json.NewDecoder(res.Body).Decode(&in)
		res.Body.Close()
		if err != nil {
			return in, err
		}
		switch in.Status {
		case "done":
			return in, nil
		case "skipped", "failed":
			return in, fmt.Errorf("job %s %s: %s", in.SyncJobUUID, in.Status, in.Failure)
		}
		time.Sleep(interval)
	}
}

// countRows reads an answer document to the end and counts its rows.
func countRows(u string) (int, int64, error) {
	res, err := http.Get(u)
	if err != nil {
		return 0, 0, err
	}
	defer res.Body.Close()
	br := bufio.NewReaderSize(res.Body, 64<<10)
	var n int
	var size int64
	pat := []byte(`"actionId":`)
	var buf [64 << 10]byte
	carry := 0
	for {
		m, err := br.Read(buf[carry:])
		size += int64(m)
		chunk := buf[:carry+m]
		n += bytes.Count(chunk, pat)
		// keep a tail shorter than the pattern for the next read
		carry = min(len(pat)-1, len(chunk))
		copy(buf[:carry], chunk[len(chunk)-carry:])
		if err == io.EOF {
			return n, size, nil
		}
		if err != nil {
			return n, size, err
		}
	}
}

// BenchmarkDeviceJobFirstSync100k: a new device's first job against
// 100,000 trading accounts: seconds from POST /sync to the last byte of
// RemoteDataUpdates, and the server's peak RSS.
func BenchmarkDeviceJobFirstSync100k(b *testing.B) {
	const n = 100000
	p, base := benchServer(b, n, accountsComponent())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		u, err := benchPost(base, map[string]any{"DeviceExternalID": fmt.Sprintf("first-%d", i), "BrandedAppID": "fieldsales", "SoftwareVersion": "3.1"})
		if err != nil {
			b.Fatal(err)
		}
		in, err := benchAwait(u, 20*time.Millisecond)
		if err != nil {
			b.Fatal(err)
		}
		ready := time.Since(start)
		rows, size, err := countRows(in.RemoteDataUpdatesResponseURL)
		if err != nil || rows != n {
			b.Fatalf("%d rows: %v", rows, err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/first-sync")
		b.ReportMetric(ready.Seconds(), "s/job-done")
		b.ReportMetric(float64(size)/(1<<20), "MiB/answer")
	}
	b.ReportMetric(p.peakRSS(), "MiB-peak-RSS")
}

// BenchmarkDeviceJobs500x50: 500 devices each post a 50-row job at once:
// jobs per second (from the first POST to the last job done, server
// clock) and the p99 time from a job's creation to its end. Each device
// syncs the component mine, filtered on its own rows (type = its id): the
// figure is the jobs' merge and queueing, not 500 downloads of everything.
func BenchmarkDeviceJobs500x50(b *testing.B) {
	const devices, rows = 500, 50
	mine := accountsComponent()
	mine.Alias, mine.FilterKeys = "mine", []string{"type"}
	p, base := benchServer(b, 1000, mine)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var mu sync.Mutex
		var infos []devjobs.JobInfo
		var errs []error
		var wg sync.WaitGroup
		for d := range devices {
			wg.Go(func() {
				list := make([]map[string]any, rows)
				for r := range list {
					list[r] = map[string]any{"actionId": 0, "mDataRow": map[string]any{"reference": fmt.Sprintf("R%d-%d-%d", i, d, r),
						"name": fmt.Sprintf("Device %d row %d", d, r), "currency": "EUR", "type": fmt.Sprintf("dev-%d-%d", i, d)}}
				}
				dev := fmt.Sprintf("dev-%d-%d", i, d)
				u, err := benchPost(base, map[string]any{"DeviceExternalID": dev, "ClientDBUUID": fmt.Sprint(d),
					"BrandedAppID": "fieldsales", "SoftwareVersion": "3.1", "LocalDataUpdates": map[string]any{"mine": list},
					"Filters": map[string]any{"mine": map[string][]string{"type": {dev}}}})
				var in devjobs.JobInfo
				if err == nil {
					in, err = benchAwait(u, 200*time.Millisecond)
				}
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				infos = append(infos, in)
			})
		}
		wg.Wait()
		if len(errs) > 0 {
			b.Fatalf("%d errors, first: %v", len(errs), errs[0])
		}
		var first, last time.Time
		var lat []time.Duration
		for _, in := range infos {
			c, _ := time.Parse(time.RFC3339Nano, in.Created)
			f, _ := time.Parse(time.RFC3339Nano, in.Finished)
			if first.IsZero() || c.Before(first) {
				first = c
			}
			if f.After(last) {
				last = f
			}
			lat = append(lat, f.Sub(c))
			if in.LocalRows != rows {
				b.Fatalf("job %s: %d results", in.SyncJobUUID, in.LocalRows)
			}
		}
		slices.Sort(lat)
		b.ReportMetric(float64(devices)/last.Sub(first).Seconds(), "jobs/s")
		b.ReportMetric(lat[len(lat)*99/100].Seconds(), "s-p99-to-done")
		b.ReportMetric(lat[len(lat)/2].Seconds(), "s-p50-to-done")
	}
	b.ReportMetric(p.peakRSS(), "MiB-peak-RSS")
}

// BenchmarkDeviceJobUpload5MB: a device uploads 5 MB of LocalDataUpdates
// by URL and posts the job: seconds of the upload, and to the job done.
func BenchmarkDeviceJobUpload5MB(b *testing.B) {
	p, base := benchServer(b, 1000, accountsComponent())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var list []map[string]any
		var data []byte
		for r := 0; len(data) < 5<<20; r += 1000 {
			for k := r; k < r+1000; k++ {
				list = append(list, map[string]any{"actionId": 0, "mDataRow": map[string]any{"reference": fmt.Sprintf("U%d-%07d", i, k),
					"name": fmt.Sprintf("Uploaded account %d with a longer name to weigh like a real row", k), "currency": "EUR",
					"type": "On Account", "customerSupplierFlag": "Customer"}})
			}
			data, _ = json.Marshal(map[string]any{"accounts": list})
		}
		dev := fmt.Sprintf("up-%d", i)
		start := time.Now()
		j, _ := json.Marshal(map[string]string{"DeviceExternalID": dev})
		res, err := http.Post(base+"/sync/uploads", "application/json", bytes.NewReader(j))
		if err != nil {
			b.Fatal(err)
		}
		var up struct{ UploadURL string }
		json.NewDecoder(res.Body).Decode(&up)
		res.Body.Close()
		req, _ := http.NewRequest(http.MethodPut, up.UploadURL, bytes.NewReader(data))
		req.Header.Set("Content-Type", "application/json")
		res, err = http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != http.StatusNoContent {
			b.Fatalf("PUT: %v %v", err, res)
		}
		res.Body.Close()
		uploaded := time.Since(start)
		u, err := benchPost(base, map[string]any{"DeviceExternalID": dev, "BrandedAppID": "fieldsales", "SoftwareVersion": "3.1",
			"LocalDataUpdatesURL": up.UploadURL})
		if err != nil {
			b.Fatal(err)
		}
		in, err := benchAwait(u, 20*time.Millisecond)
		if err != nil || in.LocalRows != len(list) {
			b.Fatalf("%+v %v", in, err)
		}
		b.ReportMetric(uploaded.Seconds(), "s/upload")
		b.ReportMetric(time.Since(start).Seconds(), "s/to-done")
		b.ReportMetric(float64(len(list)), "rows")
		b.ReportMetric(float64(len(data))/(1<<20), "MiB")
	}
	b.ReportMetric(p.peakRSS(), "MiB-peak-RSS")
}
