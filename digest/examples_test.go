package digest

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// examplesDir locates the shared spec example documents: walk up from the
// working directory to the module root (the folder holding go.mod), then
// ../shared/sdata/examples. The test is skipped when they are absent.
func examplesDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("module root not found")
		}
		dir = parent
	}
	ex := filepath.Join(dir, "..", "shared", "sdata", "examples")
	if _, err := os.Stat(ex); err != nil {
		t.Skipf("spec examples not available: %v", err)
	}
	return ex
}

// Minimal decoding of the sync elements of a feed (test-only; the real codec
// lives elsewhere).
type xmlFeed struct {
	SyncMode string `xml:"http://schemas.sage.com/sdata/sync/2008/1 syncMode"`
	Digest   struct {
		Origin  string `xml:"origin"`
		Entries []struct {
			Endpoint         string    `xml:"endpoint"`
			Tick             int64     `xml:"tick"`
			Stamp            time.Time `xml:"stamp"`
			ConflictPriority int       `xml:"conflictPriority"`
		} `xml:"digestEntry"`
	} `xml:"http://schemas.sage.com/sdata/sync/2008/1 digest"`
	Entries []struct {
		SyncState struct {
			Endpoint string    `xml:"endpoint"`
			Tick     int64     `xml:"tick"`
			Stamp    time.Time `xml:"stamp"`
		} `xml:"http://schemas.sage.com/sdata/sync/2008/1 syncState"`
	} `xml:"http://www.w3.org/2005/Atom entry"`
}

func readFeed(t *testing.T, name string) (string, Digest, []SyncState) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(examplesDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	var f xmlFeed
	if err := xml.Unmarshal(data, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	d := Digest{Origin: f.Digest.Origin}
	for _, e := range f.Digest.Entries {
		d.Entries = append(d.Entries, Entry{Endpoint: e.Endpoint, Tick: e.Tick, Stamp: e.Stamp, ConflictPriority: e.ConflictPriority})
	}
	var states []SyncState
	for _, e := range f.Entries {
		states = append(states, SyncState{Endpoint: e.SyncState.Endpoint, Tick: e.SyncState.Tick, Stamp: e.SyncState.Stamp})
	}
	return f.SyncMode, d, states
}

const (
	app1 = "http://www.example.com/sdata/myApp1/myContract/-/accounts"
	app2 = "http://www.example.com/sdata/myApp2/myContract/-/accounts"
	app3 = "http://www.example.com/sdata/sageApp3/test/-/accounts"
)

// TestSpecImmediateExample processes the spec's 5.8 immediate feed against
// the 5.8 target digest (6 11 10) and against one that missed a change.
func TestSpecImmediateExample(t *testing.T) {
	mode, source, states := readFeed(t, "immediate-5.8.xml")
	if mode != "immediate" || len(states) != 1 {
		t.Fatalf("unexpected example: mode %q, %d entries", mode, len(states))
	}
	if err := source.Validate(); err != nil {
		t.Fatal(err)
	}
	target := Digest{Origin: app2, Entries: []Entry{
		{Endpoint: app1, Tick: 6, ConflictPriority: 1},
		{Endpoint: app2, Tick: 11, ConflictPriority: 2},
		{Endpoint: app3, Tick: 10, ConflictPriority: 3},
	}}
	if err := CheckImmediate(target, source, states); err != nil {
		t.Fatalf("5.8 example rejected: %v", err)
	}
	for _, s := range states {
		AfterEntry(&target, source, s)
	}
	for ep, want := range map[string]int64{app1: 7, app2: 11, app3: 10} {
		if got := target.Tick(ep); got != want {
			t.Errorf("after the 5.8 example: tick of %s = %d, want %d", ep, got, want)
		}
	}
	behind := Digest{Entries: []Entry{{Endpoint: app1, Tick: 5}}}
	if err := CheckImmediate(behind, source, states); err == nil {
		t.Error("a target at tick 5 accepted the tick-6 entry: gap not detected")
	}
}

// TestSpecCatchUpExample runs the spec's 4.4 feed through the 5.5 tables:
// per-entry updates from (5 11 8), then the end-of-feed merge.
func TestSpecCatchUpExample(t *testing.T) {
	mode, source, states := readFeed(t, "feed-4.4.xml")
	if mode != "catchUp" || len(states) != 2 {
		t.Fatalf("unexpected example: mode %q, %d entries", mode, len(states))
	}
	if err := source.Validate(); err != nil {
		t.Fatal(err)
	}
	target := Digest{Origin: app2, Entries: []Entry{
		{Endpoint: app1, Tick: 5, ConflictPriority: 2},
		{Endpoint: app2, Tick: 11, ConflictPriority: 1},
		{Endpoint: app3, Tick: 8, ConflictPriority: 3},
	}}
	want := []map[string]int64{{app1: 6, app2: 11, app3: 8}, {app1: 6, app2: 11, app3: 9}}
	for i, s := range states {
		AfterEntry(&target, source, s)
		for ep, w := range want[i] {
			if got := target.Tick(ep); got != w {
				t.Errorf("after entry %d: tick of %s = %d, want %d", i+1, ep, got, w)
			}
		}
	}
	EndOfFeed(&target, source)
	for ep, w := range map[string]int64{app1: 6, app2: 11, app3: 10} {
		if got := target.Tick(ep); got != w {
			t.Errorf("after the end of feed: tick of %s = %d, want %d", ep, got, w)
		}
	}
}
