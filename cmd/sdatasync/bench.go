package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/beevik/etree"

	"sdatasync/contracts"
	"sdatasync/sdata"
	"sdatasync/sdata/engine"
	"sdatasync/sdata/store"
)

const benchUsage = `Usage: sdatasync bench [flags]

Measures a full catch-up pass of N trading accounts between two local
providers (separate processes, separate SQLite files), then an incremental
pass of a few changes: entries per second, bytes on the wire and the peak
memory (RSS) of each process. "sdatasync bench api -h" measures the
resource API under concurrent clients instead.

`

type benchConfig struct {
	resources, changes, pageSize  int
	dir, pprofSource, pprofTarget string
	keep, json, noAuth            bool
	auth                          string // --auth: token, basic or none
	sizes                         []int  // --sizes: one bench per size (bench_incremental.go)
	repeat                        int
	reuse                         bool   // --reuse: the databases of an earlier --keep run
	exe                           string // --exe: the build whose providers and engine are measured
}

// benchPass is what one measured pass reported.
type benchPass struct {
	Entries       int     `json:"entries"`
	Seconds       float64 `json:"seconds"`
	EntriesPerSec float64 `json:"entriesPerSecond"`
	BytesSent     int64   `json:"bytesSent"`
	BytesReceived int64   `json:"bytesReceived"`
	EngineRSSMiB  float64 `json:"enginePeakRSSMiB"`
	// CPU seconds (user + system) each process spent during the pass.
	SourceCPU float64 `json:"sourceCPUSeconds"`
	TargetCPU float64 `json:"targetCPUSeconds"`
	EngineCPU float64 `json:"engineCPUSeconds"`
}

// benchReport is the outcome of `sdatasync bench`.
type benchReport struct {
	Resources    int       `json:"resources"`
	PageSize     int       `json:"pageSize"`
	SeedSeconds  float64   `json:"seedSeconds"`
	Full         benchPass `json:"full"`
	Incremental  benchPass `json:"incremental"`
	SourceRSSMiB float64   `json:"sourcePeakRSSMiB"`
	TargetRSSMiB float64   `json:"targetPeakRSSMiB"`
	// Repeated incremental passes, with and without changes (--repeat).
	Repeated *benchRepeated `json:"repeated,omitempty"`
}

func bench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "api" {
		return benchAPI(ctx, args[1:], stdout, stderr) // bench_api.go
	}
	var c benchConfig
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), benchUsage); fs.PrintDefaults() }
	fs.IntVar(&c.resources, "resources", 100_000, "trading accounts at the source")
	fs.IntVar(&c.changes, "changes", 100, "changes made at the source before the incremental pass")
	fs.IntVar(&c.pageSize, "page-size", 1000, "entries per sync feed page")
	fs.StringVar(&c.dir, "dir", "", "folder for the databases (default: a temporary folder)")
	fs.BoolVar(&c.keep, "keep", false, "keep the databases")
	fs.StringVar(&c.pprofSource, "pprof-source", "", "serve the source provider's profiling endpoints on this address")
	fs.StringVar(&c.pprofTarget, "pprof-target", "", "serve the target provider's profiling endpoints on this address")
	fs.BoolVar(&c.json, "json", false, "print the report as JSON on stdout")
	c.incrementalFlags(fs)
	fs.StringVar(&c.auth, "auth", "token", "how the pass authenticates: token (an API token per provider, as an engine should), basic (user and password) or none (providers with --insecure-no-auth, to measure what authentication costs)")
	fs.BoolVar(&c.noAuth, "insecure-no-auth", false, "the same as --auth none")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch c.auth {
	case "token", "basic":
	case "none":
		c.noAuth = true
	default:
		fmt.Fprintf(stderr, "sdatasync bench: --auth %q: token, basic or none\n", c.auth)
		return 2
	}
	if c.noAuth {
		c.auth = "none"
	}
	if fs.NArg() > 0 || c.resources < 1 || c.changes < 0 || c.changes > c.resources || c.pageSize < 1 || c.repeat < 0 ||
		(c.reuse && (c.dir == "" || len(c.sizes) > 0)) {
		fmt.Fprintln(stderr, "sdatasync bench: need --resources >= 1, 0 <= --changes <= --resources, --page-size >= 1, --repeat >= 0, --reuse only with --dir and without --sizes, and no arguments")
		return 2
	}
	if len(c.sizes) > 0 {
		return benchSizes(ctx, c, stdout, stderr)
	}
	rep, err := runBench(ctx, c, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "sdatasync bench:", err)
		return 1
	}
	if c.json {
		return writeJSON(stdout, rep)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "pass\tentries\tseconds\tentries/s\tsent MiB\treceived MiB\tengine RSS MiB\tCPU s source/target/engine\t\n")
	for _, p := range []struct {
		name string
		p    benchPass
	}{{"full", rep.Full}, {"incremental", rep.Incremental}} {
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.0f\t%.1f\t%.1f\t%.1f\t%.2f/%.2f/%.2f\t\n", p.name, p.p.Entries, p.p.Seconds, p.p.EntriesPerSec,
			float64(p.p.BytesSent)/(1<<20), float64(p.p.BytesReceived)/(1<<20), p.p.EngineRSSMiB, p.p.SourceCPU, p.p.TargetCPU, p.p.EngineCPU)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "peak RSS: source %.1f MiB, target %.1f MiB (page size %d, seeding took %.1f s)\n",
		rep.SourceRSSMiB, rep.TargetRSSMiB, rep.PageSize, rep.SeedSeconds)
	if r := rep.Repeated; r != nil {
		fmt.Fprintf(stdout, "incremental passes (median of %d): %d changes %.3f s (source CPU %.3f s), no change %.3f s (source CPU %.3f s)\n",
			r.Runs, r.Changes, r.ChangedMedian, r.ChangedSrcCPU, r.QuietMedian, r.QuietSrcCPU)
	}
	return 0
}

func runBench(ctx context.Context, c benchConfig, log io.Writer) (*benchReport, error) {
	exe, err := benchExe(c.exe)
	if err != nil {
		return nil, err
	}
	dir := c.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "sdatasync-bench-"); err != nil {
			return nil, err
		}
		if !c.keep {
			defer os.RemoveAll(dir)
		}
	}
	srcDB, dstDB := filepath.Join(dir, "source.db"), filepath.Join(dir, "target.db")
	rep := &benchReport{Resources: c.resources, PageSize: c.pageSize}
	reuse := c.reuse && reusable(log, srcDB, dstDB)
	srcAddr, dstAddr, err := benchAddrs(dir, reuse)
	if err != nil {
		return nil, err
	}
	srcBase, dstBase := "http://"+srcAddr, "http://"+dstAddr
	if !reuse {
		for _, f := range []string{srcDB, dstDB} {
			os.Remove(f)
		}
		fmt.Fprintf(log, "seeding %d trading accounts...\n", c.resources)
		start := time.Now()
		if err := seedBench(ctx, srcDB, srcBase, c.resources); err != nil {
			return nil, fmt.Errorf("seeding: %w", err)
		}
		rep.SeedSeconds = time.Since(start).Seconds()
	}
	cred := benchCred{}
	if !c.noAuth {
		var err error
		if cred, err = benchUsers(ctx, exe, srcDB, dstDB, srcBase, dstBase, c.auth == "token"); err != nil {
			return nil, err
		}
	}

	src, err := startProvider(ctx, exe, srcAddr, srcDB, 3, c.pprofSource, c.noAuth)
	if err != nil {
		return nil, err
	}
	defer src.stop()
	dst, err := startProvider(ctx, exe, dstAddr, dstDB, 5, c.pprofTarget, c.noAuth)
	if err != nil {
		return nil, err
	}
	defer dst.stop()

	kind := "/sdata/sdatasync/gcrm/-/tradingAccounts"
	if !reuse {
		fmt.Fprintln(log, "full pass...")
		s0, t0 := src.cpuSeconds(), dst.cpuSeconds()
		if rep.Full, err = runPassChild(ctx, exe, srcBase+kind, dstBase+kind, c.pageSize, "bench-full", cred); err != nil {
			return nil, err
		}
		rep.Full.SourceCPU, rep.Full.TargetCPU = src.cpuSeconds()-s0, dst.cpuSeconds()-t0
		if rep.Full.Entries != c.resources {
			return nil, fmt.Errorf("the full pass moved %d entries, want %d", rep.Full.Entries, c.resources)
		}
	}
	fmt.Fprintf(log, "changing %d resources at the source...\n", c.changes)
	client := &http.Client{Timeout: time.Minute}
	for i := 1; i <= c.changes; i++ {
		body := fmt.Sprintf(`<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><financeBalance>%d.25</financeBalance></tradingAccount>`, i)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, srcBase+kind+"('"+strconv.Itoa(i)+"')", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/xml")
		if cred.user != "" {
			req.SetBasicAuth(cred.user, cred.password)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("changing resource %d: %s", i, resp.Status)
		}
	}
	fmt.Fprintln(log, "incremental pass...")
	s0, t0 := src.cpuSeconds(), dst.cpuSeconds()
	if rep.Incremental, err = runPassChild(ctx, exe, srcBase+kind, dstBase+kind, c.pageSize, "bench-incremental", cred); err != nil {
		return nil, err
	}
	rep.Incremental.SourceCPU, rep.Incremental.TargetCPU = src.cpuSeconds()-s0, dst.cpuSeconds()-t0
	if rep.Incremental.Entries != c.changes {
		return nil, fmt.Errorf("the incremental pass moved %d entries, want %d", rep.Incremental.Entries, c.changes)
	}
	if c.repeat > 0 {
		if rep.Repeated, err = repeatIncremental(ctx, exe, src, srcBase+kind, dstBase+kind, c, cred, log); err != nil {
			return nil, err
		}
	}
	rep.SourceRSSMiB, rep.TargetRSSMiB = src.peakRSS(), dst.peakRSS()
	return rep, nil
}

// seedBench fills the source database in-process, through the provider's
// local write path (the same validation and ticks as a POST).
func seedBench(ctx context.Context, db, base string, n int) error {
	st, err := store.OpenSQLite(ctx, db)
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := contracts.Builtin("gcrm")
	if err != nil {
		return err
	}
	srv, err := sdata.New(ctx, sdata.Config{App: "sdatasync", Contract: c, BaseURL: base, ConflictPriority: 3,
		Logger: slog.New(slog.DiscardHandler)}, st)
	if err != nil {
		return err
	}
	defer srv.Close()
	for i := 0; i < n; i++ {
		doc := etree.NewDocument()
		if err := doc.ReadFromString(fmt.Sprintf(`<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><active>true</active>`+
			`<customerSupplierFlag>Customer</customerSupplierFlag><companyPersonFlag>Company</companyPersonFlag><openedDate>2020-01-%02d</openedDate>`+
			`<reference>ACC%07d</reference><name>Company %d Ltd</name><type>On Account</type><currency>GBP</currency>`+
			`<financeBalance>%d.50</financeBalance><financeLimit>10000</financeLimit></tradingAccount>`, i%28+1, i, i, i%9000)); err != nil {
			return err
		}
		if _, err := srv.CreateLocal(ctx, "-", "tradingAccounts", doc.Root(), "bench"); err != nil {
			return err
		}
	}
	return nil
}

// benchAddrs are the source's and target's listen addresses. A provider's
// endpoints keep the URL they were created with, and the engine's sync
// token speaks for the target's URL, so databases reused from an earlier
// run (--reuse) must be served at the addresses that run used: they are
// kept in dir/addresses. Fresh databases get fresh free ports.
func benchAddrs(dir string, reuse bool) (src, dst string, err error) {
	file := filepath.Join(dir, "addresses")
	if reuse {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", "", fmt.Errorf("reusing %s: the addresses of the run that made its databases: %w (run again without --reuse)", dir, err)
		}
		addrs := strings.Fields(string(b))
		if len(addrs) != 2 {
			return "", "", fmt.Errorf("reusing %s: %s should hold two addresses", dir, file)
		}
		for _, a := range addrs {
			ln, err := net.Listen("tcp", a)
			if err != nil {
				return "", "", fmt.Errorf("reusing %s: its databases are served at %s, which is busy: %w", dir, a, err)
			}
			ln.Close()
		}
		return addrs[0], addrs[1], nil
	}
	if src, err = freeAddr(); err != nil {
		return "", "", err
	}
	if dst, err = freeAddr(); err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	return src, dst, os.WriteFile(file, []byte(src+"\n"+dst+"\n"), 0o644)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// provider is a `sdatasync serve` child process.
type provider struct {
	cmd *exec.Cmd
}

func startProvider(ctx context.Context, exe, addr, db string, priority int, pprofAddr string, noAuth bool) (*provider, error) {
	args := []string{"serve", "--addr", addr, "--db", db, "--base-url", "http://" + addr,
		"--conflict-priority", strconv.Itoa(priority), "--log-level", "warn", "--pprof", pprofAddr}
	if noAuth {
		args = append(args, "--insecure-no-auth")
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &provider{cmd: cmd}
	for i := 0; i < 300; i++ {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.stop()
	return nil, fmt.Errorf("provider on %s did not start", addr)
}

// peakRSS reads the process's high-water mark of resident memory (Linux).
func (p *provider) peakRSS() float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}

// cpuSeconds reads the user + system CPU time the process has used so far
// (Linux, /proc/PID/stat, in clock ticks of 1/100 s).
func (p *provider) cpuSeconds() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: count fields after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100
}

func (p *provider) stop() {
	if p.cmd.Process != nil && p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-done
		}
	}
}

// runPassChild runs `sdatasync pass --json` as a child process and reads
// its summary and peak memory.
func runPassChild(ctx context.Context, exe, source, target string, pageSize int, run string, cred benchCred) (benchPass, error) {
	var out, errb bytes.Buffer
	args := []string{"pass", "--source", source, "--target", target, "--page-size", strconv.Itoa(pageSize), "--run-name", run, "--json"}
	if cred.user != "" && cred.srcToken == "" {
		args = append(args, "--user", cred.user)
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	// Secrets go through the environment, never the command line.
	switch {
	case cred.srcToken != "":
		cmd.Env = append(os.Environ(), "SDATASYNC_SOURCE_TOKEN="+cred.srcToken, "SDATASYNC_TARGET_TOKEN="+cred.dstToken)
	case cred.user != "":
		cmd.Env = append(os.Environ(), "SDATASYNC_PASSWORD="+cred.password)
	}
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return benchPass{}, fmt.Errorf("pass: %v\n%s", err, errb.String())
	}
	var sum struct {
		engine.Summary
		BytesSent     int64 `json:"bytesSent"`
		BytesReceived int64 `json:"bytesReceived"`
	}
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		return benchPass{}, fmt.Errorf("pass summary: %v", err)
	}
	bp := benchPass{Seconds: sum.Seconds, BytesSent: sum.BytesSent, BytesReceived: sum.BytesReceived}
	for _, k := range sum.Kinds {
		bp.Entries += k.Applied + k.Skipped + k.ConflictsSource + k.ConflictsTarget
	}
	if bp.Seconds > 0 {
		bp.EntriesPerSec = float64(bp.Entries) / bp.Seconds
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		bp.EngineRSSMiB = float64(ru.Maxrss) / 1024
	}
	bp.EngineCPU = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	return bp, nil
}

// benchCred is the user the bench's changes (and, with --auth basic, its
// passes) authenticate as, and with --auth token the API token of that user
// at each provider, which the passes use instead.
type benchCred struct{ user, password, srcToken, dstToken string }

// benchUsers creates, through the user and token commands of the binary
// (as an operator would), the same user with a random password in each
// database, speaking for the other provider's URL: sync for the pass,
// writer for the changes at the source. With tokens, each database also
// issues the user an API token (shown once, on the command's stdout).
func benchUsers(ctx context.Context, exe, srcDB, dstDB, srcBase, dstBase string, tokens bool) (benchCred, error) {
	c := benchCred{user: "bench", password: randomPassword()}
	for _, side := range []struct {
		db, other string
		token     *string
	}{{srcDB, dstBase, &c.srcToken}, {dstDB, srcBase, &c.dstToken}} {
		// A reused database (--reuse) holds the user of the earlier run,
		// whose password is gone: it is replaced (its tokens go with it).
		_ = exec.CommandContext(ctx, exe, "user", "remove", "--db", side.db, c.user).Run()
		cmd := exec.CommandContext(ctx, exe, "user", "add", "--db", side.db, "--role", "sync", "--role", "writer", "--endpoint", side.other,
			"--password-stdin", c.user)
		cmd.Stdin = strings.NewReader(c.password + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			return benchCred{}, fmt.Errorf("creating the bench user in %s: %v\n%s", side.db, err, out)
		}
		if !tokens {
			continue
		}
		var out, errb bytes.Buffer
		cmd = exec.CommandContext(ctx, exe, "token", "create", "--db", side.db, "--user", c.user, "bench-pass")
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			return benchCred{}, fmt.Errorf("creating the bench token in %s: %v\n%s", side.db, err, errb.String())
		}
		*side.token = strings.TrimSpace(out.String())
	}
	return c, nil
}
