package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

const benchAPIUsage = `Usage: sdatasync bench api [flags]

Measures the resource API of one provider (a separate process on its own
SQLite file) under concurrent clients: single-resource reads, 100-entry
pages, creates, updates with If-Match, and a mix of them (with deletes),
each for --duration at each number of --clients. Reports requests per
second, p50 and p99 latency and errors. The clients run in this process,
on the same machine: they take their share of the CPU.

`

// apiConfig configures `sdatasync bench api`.
type apiConfig struct {
	resources int
	clients   []int
	modes     []string
	duration  time.Duration
	dir       string
	keep      bool
	reuse     bool
	json      bool
	pprof     string
	depth     int    // pages start at a random index in [1, depth]
	exe       string // --exe: the build whose provider is measured
}

// apiResult is what one (mode, clients) run measured.
type apiResult struct {
	Mode        string         `json:"mode"`
	Clients     int            `json:"clients"`
	Requests    int            `json:"requests"`
	Errors      int            `json:"errors"`
	Conflicts   int            `json:"preconditionFailed"` // 412s of concurrent updates of one resource: expected, not errors
	Statuses    map[string]int `json:"statuses"`           // unexpected statuses and transport errors
	Seconds     float64        `json:"seconds"`
	PerSecond   float64        `json:"requestsPerSecond"`
	P50ms       float64        `json:"p50ms"`
	P99ms       float64        `json:"p99ms"`
	MaxMs       float64        `json:"maxMs"`
	ServerCPU   float64        `json:"serverCPUSeconds"`
	ServerRSSMB float64        `json:"serverPeakRSSMiB"`
	// ByMethod splits the latencies by HTTP method (the mix).
	ByMethod map[string]apiLatency `json:"byMethod,omitempty"`
}

// apiLatency is the latency of the requests of one method.
type apiLatency struct {
	Requests int     `json:"requests"`
	P50ms    float64 `json:"p50ms"`
	P99ms    float64 `json:"p99ms"`
}

// quantiles sorts lat and returns its p50, p99 and max in milliseconds.
func quantiles(lat []time.Duration) (p50, p99, maxMs float64) {
	if len(lat) == 0 {
		return 0, 0, 0
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / 1e6 }
	return q(0.50), q(0.99), float64(lat[len(lat)-1]) / 1e6
}

// apiReport is the outcome of `sdatasync bench api`.
type apiReport struct {
	Resources   int         `json:"resources"`
	SeedSeconds float64     `json:"seedSeconds"`
	Runs        []apiResult `json:"runs"`
}

var apiModes = []string{"read", "page", "create", "update", "mix"}

func benchAPI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := apiConfig{}
	fs := flag.NewFlagSet("bench api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), benchAPIUsage); fs.PrintDefaults() }
	fs.IntVar(&c.resources, "resources", 1_000_000, "trading accounts in the store")
	clients, modes := "1,16,200", strings.Join(apiModes, ",")
	fs.StringVar(&clients, "clients", clients, "numbers of concurrent clients (comma-separated)")
	fs.StringVar(&modes, "modes", modes, "what the clients do: read (GET one resource), page (GET 100 entries), create (POST), update (GET, then PUT with If-Match), mix (reads, pages, creates, updates, deletes)")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long each (mode, clients) run lasts")
	fs.StringVar(&c.dir, "dir", "", "folder for the database (default: a temporary folder)")
	fs.BoolVar(&c.keep, "keep", false, "keep the database")
	fs.BoolVar(&c.reuse, "reuse", false, "with --dir: reuse the source.db an earlier bench left there (--keep) instead of seeding")
	fs.IntVar(&c.depth, "page-depth", 10_000, "pages start at a random index up to this (a page deep in a big table costs its offset: an index walk)")
	fs.StringVar(&c.exe, "exe", "", "run the provider from this sdatasync binary (e.g. a build of main, to compare; with --reuse on a database that build made: seeding here writes this build's schema)")
	fs.StringVar(&c.pprof, "pprof", "", "serve the provider's profiling endpoints on this address")
	fs.BoolVar(&c.json, "json", false, "print the report as JSON on stdout")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var err error
	if c.clients, err = positiveList(clients); err == nil {
		c.modes = strings.Split(modes, ",")
		for _, m := range c.modes {
			if !slices.Contains(apiModes, m) {
				err = fmt.Errorf("unknown mode %q", m)
			}
		}
	}
	if err != nil || fs.NArg() > 0 || c.resources < 1 || c.duration <= 0 || c.depth < 1 || (c.reuse && c.dir == "") {
		fmt.Fprintln(stderr, "sdatasync bench api: need --resources >= 1, --clients and --modes lists, --duration > 0, --reuse only with --dir, and no arguments", err)
		return 2
	}
	rep, err := runBenchAPI(ctx, c, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "sdatasync bench api:", err)
		return 1
	}
	if c.json {
		return writeJSON(stdout, rep)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "mode\tclients\trequests\trequests/s\tp50 ms\tp99 ms\tmax ms\terrors\tserver CPU s\t\n")
	for _, r := range rep.Runs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.2f\t%.2f\t%.1f\t%d\t%.1f\t\n", r.Mode, r.Clients, r.Requests, r.PerSecond, r.P50ms, r.P99ms, r.MaxMs, r.Errors, r.ServerCPU)
	}
	tw.Flush()
	for _, r := range rep.Runs {
		for _, m := range slices.Sorted(maps.Keys(r.ByMethod)) {
			l := r.ByMethod[m]
			fmt.Fprintf(stdout, "  %s, %d clients: %s %d requests, p50 %.2f ms, p99 %.2f ms\n", r.Mode, r.Clients, m, l.Requests, l.P50ms, l.P99ms)
		}
	}
	fmt.Fprintf(stdout, "%d resources (seeding took %.1f s), %s per run\n", rep.Resources, rep.SeedSeconds, c.duration)
	return 0
}

func positiveList(v string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func runBenchAPI(ctx context.Context, c apiConfig, log io.Writer) (*apiReport, error) {
	exe, err := benchExe(c.exe)
	if err != nil {
		return nil, err
	}
	dir := c.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "sdatasync-bench-api-"); err != nil {
			return nil, err
		}
		if !c.keep {
			defer os.RemoveAll(dir)
		}
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	base := "http://" + addr
	db := filepath.Join(dir, "source.db")
	rep := &apiReport{Resources: c.resources}
	if !c.reuse || !reusable(log, db) {
		os.Remove(db)
		fmt.Fprintf(log, "seeding %d trading accounts...\n", c.resources)
		start := time.Now()
		if err := seedBench(ctx, db, base, c.resources); err != nil {
			return nil, fmt.Errorf("seeding: %w", err)
		}
		rep.SeedSeconds = time.Since(start).Seconds()
	}
	// The API load runs without authentication: it measures the HTTP, XML
	// and store layers (the verifier's cached check is measured by the pass
	// bench, auth vs --insecure-no-auth).
	p, err := startProvider(ctx, exe, addr, db, 3, c.pprof, true)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	kind := base + "/sdata/sdatasync/gcrm/-/tradingAccounts"
	for _, mode := range c.modes {
		for _, n := range c.clients {
			fmt.Fprintf(log, "%s, %d clients...\n", mode, n)
			cpu0 := p.cpuPrecise()
			r := loadAPI(ctx, kind, mode, n, min(c.resources, c.depth), c.resources, c.duration)
			r.ServerCPU = p.cpuPrecise() - cpu0
			r.ServerRSSMB = p.peakRSS()
			rep.Runs = append(rep.Runs, r)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
		}
	}
	return rep, nil
}

// apiClient is one simulated client: its own random source and the keys it
// created (which its deletes remove, so that the store keeps its size).
type apiClient struct {
	hc      *http.Client
	kind    string
	n       int // resources seeded: keys 1..n
	depth   int // pages start in [1, depth]
	rnd     *rand.Rand
	created []string
	lat     []time.Duration
	byOp    map[string][]time.Duration // the same latencies by method
	bad     map[string]int
	stale   int // 412 answers
}

// do sends one request and records its latency; want lists the statuses
// that count as success.
func (c *apiClient) do(ctx context.Context, method, u, body string, hdr map[string]string, want ...int) (*http.Response, []byte, bool) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		c.bad["request: "+err.Error()]++
		return nil, nil, false
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/xml")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			c.bad["transport"]++
			c.lat = append(c.lat, time.Since(start))
		}
		return nil, nil, false
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if err != nil && ctx.Err() != nil {
		return nil, nil, false // cut by the end of the run: not counted
	}
	c.lat = append(c.lat, d)
	c.byOp[method] = append(c.byOp[method], d)
	if err != nil || !slices.Contains(want, resp.StatusCode) {
		c.bad[method+" "+strconv.Itoa(resp.StatusCode)]++
		return resp, b, false
	}
	return resp, b, true
}

func (c *apiClient) key() string { return strconv.Itoa(1 + c.rnd.IntN(c.n)) }

func (c *apiClient) read(ctx context.Context) {
	c.do(ctx, http.MethodGet, c.kind+"('"+c.key()+"')", "", nil, http.StatusOK)
}

func (c *apiClient) page(ctx context.Context) {
	start := 1 + c.rnd.IntN(max(c.depth-99, 1))
	c.do(ctx, http.MethodGet, c.kind+"?count=100&startIndex="+strconv.Itoa(start), "", nil, http.StatusOK)
}

func (c *apiClient) create(ctx context.Context) {
	i := c.rnd.IntN(1 << 30)
	body := fmt.Sprintf(`<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><active>true</active><reference>NEW%d</reference>`+
		`<name>New company %d</name><currency>EUR</currency><financeLimit>5000</financeLimit></tradingAccount>`, i, i)
	resp, _, ok := c.do(ctx, http.MethodPost, c.kind, body, nil, http.StatusCreated)
	if ok {
		if loc := resp.Header.Get("Location"); loc != "" {
			c.created = append(c.created, loc)
		}
	}
}

func (c *apiClient) update(ctx context.Context) {
	u := c.kind + "('" + c.key() + "')"
	resp, _, ok := c.do(ctx, http.MethodGet, u, "", nil, http.StatusOK)
	if !ok {
		return
	}
	body := fmt.Sprintf(`<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><financeBalance>%d.%02d</financeBalance></tradingAccount>`,
		c.rnd.IntN(100000), c.rnd.IntN(100))
	// A concurrent update of the same resource makes a 412: expected, counted apart.
	if resp, _, ok := c.do(ctx, http.MethodPut, u, body, map[string]string{"If-Match": resp.Header.Get("ETag")}, http.StatusOK, http.StatusPreconditionFailed); ok &&
		resp.StatusCode == http.StatusPreconditionFailed {
		c.stale++
	}
}

func (c *apiClient) remove(ctx context.Context) {
	if len(c.created) == 0 {
		c.create(ctx)
		return
	}
	u := c.created[len(c.created)-1]
	c.created = c.created[:len(c.created)-1]
	c.do(ctx, http.MethodDelete, u, "", nil, http.StatusOK, http.StatusNoContent)
}

// mix is the mix: mostly reads, then updates with If-Match,
// creates, pages and deletes.
func (c *apiClient) mix(ctx context.Context) {
	switch x := c.rnd.IntN(100); {
	case x < 60:
		c.read(ctx)
	case x < 70:
		c.page(ctx)
	case x < 85:
		c.update(ctx)
	case x < 95:
		c.create(ctx)
	default:
		c.remove(ctx)
	}
}

// loadAPI runs n clients doing mode against kind (resources seeded, pages
// starting up to depth) for d.
func loadAPI(ctx context.Context, kind, mode string, n, depth, resources int, d time.Duration) apiResult {
	tr := &http.Transport{MaxIdleConns: n, MaxIdleConnsPerHost: n, MaxConnsPerHost: n, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	rctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	clients := make([]*apiClient, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range clients {
		c := &apiClient{hc: hc, kind: kind, n: resources, depth: depth, rnd: rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano()))), bad: map[string]int{}, byOp: map[string][]time.Duration{}}
		clients[i] = c
		op := map[string]func(context.Context){"read": c.read, "page": c.page, "create": c.create, "update": c.update, "mix": c.mix}[mode]
		wg.Go(func() {
			for rctx.Err() == nil {
				op(rctx)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := apiResult{Mode: mode, Clients: n, Seconds: elapsed.Seconds(), Statuses: map[string]int{}}
	var lat []time.Duration
	byOp := map[string][]time.Duration{}
	for _, c := range clients {
		lat = append(lat, c.lat...)
		for m, l := range c.byOp {
			byOp[m] = append(byOp[m], l...)
		}
		res.Conflicts += c.stale
		for k, v := range c.bad {
			res.Statuses[k] += v
			res.Errors += v
		}
	}
	res.Requests = len(lat)
	res.PerSecond = float64(res.Requests) / elapsed.Seconds()
	res.P50ms, res.P99ms, res.MaxMs = quantiles(lat)
	if len(byOp) > 1 {
		res.ByMethod = map[string]apiLatency{}
		for m, l := range byOp {
			p50, p99, _ := quantiles(l)
			res.ByMethod[m] = apiLatency{Requests: len(l), P50ms: p50, P99ms: p99}
		}
	}
	return res
}
