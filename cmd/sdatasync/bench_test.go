package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestBenchCommand runs `sdatasync bench` small, as a real binary with real
// child processes, and checks the report.
func TestBenchCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	exe := buildBinary(t, t.TempDir())
	var out bytes.Buffer
	cmd := exec.CommandContext(context.Background(), exe, "bench", "--resources", "300", "--changes", "20", "--page-size", "100", "--repeat", "2", "--json")
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	var rep benchReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.Bytes())
	}
	if rep.Full.Entries != 300 || rep.Incremental.Entries != 20 || rep.Full.BytesSent == 0 || rep.Full.BytesReceived == 0 ||
		rep.SourceRSSMiB <= 0 || rep.TargetRSSMiB <= 0 || rep.Full.EngineRSSMiB <= 0 || rep.Full.EntriesPerSec <= 0 {
		t.Fatalf("report: %+v", rep)
	}
	if r := rep.Repeated; r == nil || len(r.Changed) != 2 || len(r.Quiet) != 2 || r.ChangedEntries != 20 || r.ChangedMedian <= 0 || r.QuietMedian <= 0 {
		t.Fatalf("repeated incremental passes: %+v", rep.Repeated)
	}

	// --sizes: one report per size, each with its repeated passes.
	out.Reset()
	cmd = exec.CommandContext(context.Background(), exe, "bench", "--sizes", "40,90", "--changes", "10", "--page-size", "25", "--repeat", "1", "--json")
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	var reps []benchReport
	if err := json.Unmarshal(out.Bytes(), &reps); err != nil {
		t.Fatalf("%v\n%s", err, out.Bytes())
	}
	if len(reps) != 2 || reps[0].Resources != 40 || reps[1].Resources != 90 || reps[1].Full.Entries != 90 ||
		reps[1].Repeated == nil || reps[1].Repeated.ChangedEntries != 10 {
		t.Fatalf("sizes report: %s", out.Bytes())
	}
	// --keep, then --reuse: the second run serves the kept databases at
	// the addresses that made them (the endpoints keep their URLs and the
	// sync token speaks for them) and only runs the incremental passes.
	dir := filepath.Join(t.TempDir(), "kept") // made by the bench
	for i, extra := range [][]string{{"--keep"}, {"--keep", "--reuse"}} {
		out.Reset()
		args := append([]string{"bench", "--resources", "60", "--changes", "5", "--page-size", "25", "--repeat", "1", "--dir", dir, "--json"}, extra...)
		cmd = exec.CommandContext(context.Background(), exe, args...)
		var errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("run %d %q: %v\n%s", i+1, extra, err, errb.Bytes())
		}
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("%v\n%s", err, out.Bytes())
		}
		if wantFull := map[int]int{0: 60, 1: 0}[i]; rep.Full.Entries != wantFull || rep.Incremental.Entries != 5 {
			t.Fatalf("run %d %q: full pass %d entries (want %d), incremental %d\n%s", i+1, extra, rep.Full.Entries, wantFull, rep.Incremental.Entries, errb.Bytes())
		}
		if bytes.Contains(errb.Bytes(), []byte("configured base URL differs")) {
			t.Errorf("run %d: the providers were not served at their endpoints' URLs:\n%s", i+1, errb.Bytes())
		}
	}

	for _, bad := range [][]string{{"--changes", "5", "--resources", "2"}, {"--sizes", "10,x"}, {"--repeat", "-1"}, {"--reuse"}} {
		if code := bench(context.Background(), bad, &out, &out); code != 2 {
			t.Fatalf("bad flags %q: exit %d", bad, code)
		}
	}
}

// TestBenchAPICommand runs `sdatasync bench api` small against a real
// provider process: every mode answers without errors, and the mix reports
// its methods apart.
func TestBenchAPICommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	exe := buildBinary(t, t.TempDir())
	var out bytes.Buffer
	cmd := exec.CommandContext(context.Background(), exe, "bench", "api", "--resources", "300", "--clients", "1,4",
		"--duration", "400ms", "--page-depth", "150", "--json")
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	var rep apiReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.Bytes())
	}
	if len(rep.Runs) != 2*len(apiModes) {
		t.Fatalf("%d runs, want %d: %s", len(rep.Runs), 2*len(apiModes), out.Bytes())
	}
	for _, r := range rep.Runs {
		if r.Requests == 0 || r.Errors != 0 || r.PerSecond <= 0 || r.P50ms <= 0 || r.P99ms < r.P50ms || r.ServerCPU <= 0 {
			t.Errorf("%s with %d clients: %+v", r.Mode, r.Clients, r)
		}
		if r.Mode == "mix" && (r.ByMethod["GET"].Requests == 0 || r.ByMethod["PUT"].Requests == 0 || r.ByMethod["POST"].Requests == 0) {
			t.Errorf("mix with %d clients: methods %+v", r.Clients, r.ByMethod)
		}
	}
	for _, bad := range [][]string{{"api", "--modes", "read,fly"}, {"api", "--clients", "0"}, {"api", "--reuse"}, {"api", "--duration", "0s"}} {
		if code := bench(context.Background(), bad, &out, &out); code != 2 {
			t.Fatalf("bad flags %q: exit %d", bad, code)
		}
	}
}

// buildBinary builds the sdatasync binary into dir for tests and benchmarks
// that run it as real processes.
func buildBinary(tb testing.TB, dir string) string {
	tb.Helper()
	exe := filepath.Join(dir, "sdatasync")
	build := exec.Command("go", "build", "-o", exe, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		tb.Fatal(err)
	}
	return exe
}
