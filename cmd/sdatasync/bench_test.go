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
	exe := filepath.Join(t.TempDir(), "sdatasync")
	build := exec.Command("go", "build", "-o", exe, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(context.Background(), exe, "bench", "--resources", "300", "--changes", "20", "--page-size", "100", "--json")
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
	if code := bench(context.Background(), []string{"--changes", "5", "--resources", "2"}, &out, &out); code != 2 {
		t.Fatalf("bad flags: exit %d", code)
	}
}
