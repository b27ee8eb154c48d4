package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// The incremental side of `sdatasync bench`: after the full pass, repeated
// incremental passes (--repeat) with --changes changes and with none, whose
// medians say what a pass costs when little changed; with --sizes the whole
// bench runs at several numbers of resources, to show that this cost
// follows the changes and not the size of the table (issue 17).

// incrementalFlags declares the flags of the repeated incremental passes.
func (c *benchConfig) incrementalFlags(fs *flag.FlagSet) {
	fs.Func("sizes", "run the bench at each of these numbers of resources (comma-separated, e.g. 10000,100000,1000000) and compare them", func(v string) error {
		c.sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				return fmt.Errorf("%q is not a number of resources", f)
			}
			c.sizes = append(c.sizes, n)
		}
		return nil
	})
	fs.BoolVar(&c.reuse, "reuse", false, "with --dir: reuse the databases an earlier run left there (--keep), in sync: no seeding and no full pass, only the incremental passes")
	fs.StringVar(&c.exe, "exe", "", "run the providers and the engine from this sdatasync binary (e.g. a build of main, to compare builds with the same harness; with --reuse on databases that build made: seeding here writes this build's schema)")
	fs.IntVar(&c.repeat, "repeat", 3, "incremental passes measured, with --changes changes and with none (medians reported)")
}

// benchRepeated is the outcome of the repeated incremental passes.
type benchRepeated struct {
	Runs    int `json:"runs"`
	Changes int `json:"changes"`
	// Seconds of each pass with Changes changes, and with none.
	Changed []float64 `json:"changedSeconds"`
	Quiet   []float64 `json:"quietSeconds"`
	// Medians of the above, and of the CPU the source spent on them.
	ChangedMedian   float64 `json:"changedMedianSeconds"`
	QuietMedian     float64 `json:"quietMedianSeconds"`
	ChangedSrcCPU   float64 `json:"changedSourceCPUMedianSeconds"`
	QuietSrcCPU     float64 `json:"quietSourceCPUMedianSeconds"`
	ChangedEntries  int     `json:"changedEntries"`
	QuietEntriesMax int     `json:"quietEntriesMax"`
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// changeResources makes n local changes at the source over HTTP (PUTs of
// resources 1..n; round makes each round's values differ).
func changeResources(ctx context.Context, kindURL string, n, round int, cred benchCred) error {
	client := &http.Client{Timeout: time.Minute}
	for i := 1; i <= n; i++ {
		body := fmt.Sprintf(`<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><financeBalance>%d.%02d</financeBalance></tradingAccount>`, i, round%100)
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, kindURL+"('"+strconv.Itoa(i)+"')", strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/xml")
		if cred.user != "" {
			req.SetBasicAuth(cred.user, cred.password)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("changing resource %d: %s", i, resp.Status)
		}
	}
	return nil
}

// repeatIncremental runs c.repeat incremental passes after c.changes
// changes each, then c.repeat passes with no change, alternating nothing
// else: the providers stay up between them.
func repeatIncremental(ctx context.Context, exe string, src *provider, source, target string, c benchConfig, cred benchCred, log io.Writer) (*benchRepeated, error) {
	rr := &benchRepeated{Runs: c.repeat, Changes: c.changes}
	var changedCPU, quietCPU []float64
	for i := range c.repeat {
		if err := changeResources(ctx, source, c.changes, i+1, cred); err != nil {
			return nil, err
		}
		s0 := src.cpuPrecise()
		p, err := runPassChild(ctx, exe, source, target, c.pageSize, "bench-incremental-"+strconv.Itoa(i+1), cred)
		if err != nil {
			return nil, err
		}
		if p.Entries != c.changes {
			return nil, fmt.Errorf("incremental pass %d moved %d entries, want %d", i+1, p.Entries, c.changes)
		}
		rr.Changed = append(rr.Changed, p.Seconds)
		changedCPU = append(changedCPU, src.cpuPrecise()-s0)
		rr.ChangedEntries = p.Entries
	}
	for i := range c.repeat {
		s0 := src.cpuPrecise()
		p, err := runPassChild(ctx, exe, source, target, c.pageSize, "bench-quiet-"+strconv.Itoa(i+1), cred)
		if err != nil {
			return nil, err
		}
		if p.Entries != 0 {
			return nil, fmt.Errorf("a pass with no change moved %d entries", p.Entries)
		}
		rr.Quiet = append(rr.Quiet, p.Seconds)
		quietCPU = append(quietCPU, src.cpuPrecise()-s0)
	}
	rr.ChangedMedian, rr.QuietMedian = median(rr.Changed), median(rr.Quiet)
	rr.ChangedSrcCPU, rr.QuietSrcCPU = median(changedCPU), median(quietCPU)
	fmt.Fprintf(log, "incremental passes: %d changes %s s, none %s s\n", c.changes, fmtSeconds(rr.Changed), fmtSeconds(rr.Quiet))
	return rr, nil
}

func fmtSeconds(xs []float64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.FormatFloat(x, 'f', 3, 64)
	}
	return strings.Join(s, " ")
}

// benchSizes runs the bench at each size of c.sizes and prints one line
// per size (or the reports as JSON).
func benchSizes(ctx context.Context, c benchConfig, stdout, stderr io.Writer) int {
	var reps []*benchReport
	for _, n := range c.sizes {
		cn := c
		cn.resources = n
		if cn.changes > n {
			cn.changes = n
		}
		fmt.Fprintf(stderr, "== %d resources\n", n)
		rep, err := runBench(ctx, cn, stderr)
		if err != nil {
			fmt.Fprintln(stderr, "sdatasync bench:", err)
			return 1
		}
		reps = append(reps, rep)
	}
	if c.json {
		return writeJSON(stdout, reps)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "resources\tseed s\tfull s\tfull entries/s\tincremental s (median)\tquiet s (median)\tsource CPU s incr/quiet\tpeak RSS MiB source/target/engine\t\n")
	for _, r := range reps {
		rr := r.Repeated
		if rr == nil {
			rr = &benchRepeated{}
		}
		fmt.Fprintf(tw, "%d\t%.1f\t%.2f\t%.0f\t%.3f (%d changes)\t%.3f\t%.3f/%.3f\t%.0f/%.0f/%.0f\t\n", r.Resources, r.SeedSeconds, r.Full.Seconds,
			r.Full.EntriesPerSec, rr.ChangedMedian, rr.Changes, rr.QuietMedian, rr.ChangedSrcCPU, rr.QuietSrcCPU,
			r.SourceRSSMiB, r.TargetRSSMiB, r.Full.EngineRSSMiB)
	}
	tw.Flush()
	return 0
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return 1
	}
	return 0
}

// cpuPrecise is the CPU time the process's threads have run so far, in
// seconds, at nanosecond resolution (Linux schedstat; /proc/PID/stat counts
// hundredths, too coarse for a pass of a few milliseconds). It falls back
// to cpuSeconds.
func (p *provider) cpuPrecise() float64 {
	dir := fmt.Sprintf("/proc/%d/task", p.cmd.Process.Pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return p.cpuSeconds()
	}
	var ns int64
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue // the thread just ended
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return p.cpuSeconds()
		}
		v, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return p.cpuSeconds()
		}
		ns += v
	}
	return float64(ns) / 1e9
}

// reusable reports whether both databases of an earlier run are there.
func reusable(log io.Writer, dbs ...string) bool {
	for _, db := range dbs {
		if _, err := os.Stat(db); err != nil {
			fmt.Fprintf(log, "%s: %v: seeding again\n", db, err)
			return false
		}
	}
	fmt.Fprintln(log, "reusing the databases of an earlier run: no seeding, no full pass")
	return true
}

// benchExe is the binary whose providers (and engine) a bench runs: path,
// or this one.
func benchExe(path string) (string, error) {
	if path == "" {
		return os.Executable()
	}
	if _, err := os.Stat(path); err != nil {
		return "", err
	}
	return filepath.Abs(path)
}
