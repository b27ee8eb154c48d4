package digest

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The testdata files hold one case per block, in the style of etcd's
// datadriven package:
//
//	# comment
//	command [arg ...]
//	key: value          (input lines; keys may repeat)
//	----
//	expected output     (up to the next blank line)
//
// Notation follows the spec tables: a digest is a list of (endpoint tick
// priority [stamp]) triplets, "_" meaning an unset (0) priority; a sync state
// is (endpoint tick [stamp]) or "none"; a stamp is hh:mm[:ss] on 2008-10-30 UTC
// or an RFC 3339 time. Text after " # " on an input line is a comment.

type ddCase struct {
	file  string
	line  int
	cmd   string
	args  []string
	input [][2]string
	want  string
}

func (c *ddCase) hasArg(a string) bool { return slices.Contains(c.args, a) }

func (c *ddCase) values(key string) []string {
	var out []string
	for _, kv := range c.input {
		if kv[0] == key {
			out = append(out, kv[1])
		}
	}
	return out
}

func (c *ddCase) value(t *testing.T, key string) string {
	t.Helper()
	v := c.values(key)
	if len(v) != 1 {
		t.Fatalf("%s:%d: want exactly one %q input line, got %d", c.file, c.line, key, len(v))
	}
	return v[0]
}

func parseDataFile(t *testing.T, path string) []*ddCase {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		cases []*ddCase
		cur   *ddCase
		state int // 0: between cases, 1: input, 2: expected output
		want  []string
		sc    = bufio.NewScanner(f)
		n     int
	)
	finish := func() {
		if cur != nil {
			if state != 2 {
				t.Fatalf("%s:%d: case %q has no ---- separator", path, cur.line, cur.cmd)
			}
			cur.want = strings.Join(want, "\n")
			cases = append(cases, cur)
		}
		cur, want, state = nil, nil, 0
	}
	for sc.Scan() {
		n++
		line := sc.Text()
		switch state {
		case 0:
			trimmed := strings.TrimSpace(line)
			if trimmed == "" || strings.HasPrefix(trimmed, "#") {
				continue
			}
			fields := strings.Fields(trimmed)
			cur = &ddCase{file: filepath.Base(path), line: n, cmd: fields[0], args: fields[1:]}
			state = 1
		case 1:
			if line == "----" {
				state = 2
				continue
			}
			if i := strings.Index(line, " # "); i >= 0 {
				line = line[:i]
			}
			key, val, ok := strings.Cut(line, ":")
			if !ok {
				t.Fatalf("%s:%d: input line %q is not key: value", path, n, line)
			}
			cur.input = append(cur.input, [2]string{strings.TrimSpace(key), strings.TrimSpace(val)})
		case 2:
			if strings.TrimSpace(line) == "" {
				finish()
				continue
			}
			want = append(want, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	finish()
	if len(cases) == 0 {
		t.Fatalf("%s: no cases", path)
	}
	return cases
}

var (
	tripletRE = regexp.MustCompile(`\(([^()]*)\)`)
	baseDay   = time.Date(2008, 10, 30, 0, 0, 0, 0, time.UTC)
)

func parseStamp(s string) (time.Time, error) {
	if strings.Contains(s, "T") {
		return time.Parse(time.RFC3339Nano, s)
	}
	for _, layout := range []string{"15:04:05", "15:04"} {
		if c, err := time.Parse(layout, s); err == nil {
			return baseDay.Add(time.Duration(c.Hour())*time.Hour + time.Duration(c.Minute())*time.Minute +
				time.Duration(c.Second())*time.Second), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad stamp %q", s)
}

func formatStamp(s time.Time) string {
	if s.IsZero() {
		return "-"
	}
	if d := s.Sub(baseDay); d >= 0 && d < 24*time.Hour && s.Location() == time.UTC {
		if s.Second() == 0 && s.Nanosecond() == 0 {
			return s.Format("15:04")
		}
		return s.Format("15:04:05")
	}
	return s.Format(time.RFC3339Nano)
}

func triplets(t *testing.T, c *ddCase, s string) [][]string {
	t.Helper()
	var out [][]string
	rest := tripletRE.ReplaceAllStringFunc(s, func(m string) string {
		out = append(out, strings.Fields(m[1:len(m)-1]))
		return ""
	})
	if strings.TrimSpace(rest) != "" {
		t.Fatalf("%s:%d: stray text %q in %q", c.file, c.line, rest, s)
	}
	return out
}

func mustInt(t *testing.T, c *ddCase, s string) int64 {
	t.Helper()
	if s == "_" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%s:%d: %v", c.file, c.line, err)
	}
	return n
}

func mustStamp(t *testing.T, c *ddCase, s string) time.Time {
	t.Helper()
	ts, err := parseStamp(s)
	if err != nil {
		t.Fatalf("%s:%d: %v", c.file, c.line, err)
	}
	return ts
}

func parseDigest(t *testing.T, c *ddCase, s string) Digest {
	t.Helper()
	var d Digest
	for _, f := range triplets(t, c, s) {
		if len(f) < 3 || len(f) > 4 {
			t.Fatalf("%s:%d: digest entry %v: want (endpoint tick priority [stamp])", c.file, c.line, f)
		}
		e := Entry{Endpoint: f[0], Tick: mustInt(t, c, f[1]), ConflictPriority: int(mustInt(t, c, f[2]))}
		if len(f) == 4 {
			e.Stamp = mustStamp(t, c, f[3])
		}
		d.Entries = append(d.Entries, e) // not Set: duplicates must survive for Validate
	}
	return d
}

func parseState(t *testing.T, c *ddCase, s string) *SyncState {
	t.Helper()
	if s == "none" {
		return nil
	}
	ts := triplets(t, c, s)
	if len(ts) != 1 || len(ts[0]) < 2 || len(ts[0]) > 3 {
		t.Fatalf("%s:%d: sync state %q: want (endpoint tick [stamp])", c.file, c.line, s)
	}
	f := ts[0]
	st := &SyncState{Endpoint: f[0], Tick: mustInt(t, c, f[1])}
	if len(f) == 3 {
		st.Stamp = mustStamp(t, c, f[2])
	}
	return st
}

// parseResource parses "name (endpoint tick [stamp])".
func parseResource(t *testing.T, c *ddCase, s string) (string, SyncState) {
	t.Helper()
	name, rest, ok := strings.Cut(s, " ")
	st := parseState(t, c, strings.TrimSpace(rest))
	if !ok || st == nil {
		t.Fatalf("%s:%d: resource %q: want name (endpoint tick [stamp])", c.file, c.line, s)
	}
	return name, *st
}

func formatDigest(d Digest, stamps bool) string {
	var b strings.Builder
	for _, e := range d.Entries {
		p := strconv.Itoa(e.ConflictPriority)
		if e.ConflictPriority == 0 {
			p = "_"
		}
		fmt.Fprintf(&b, "(%s %d %s", e.Endpoint, e.Tick, p)
		if stamps {
			fmt.Fprintf(&b, " %s", formatStamp(e.Stamp))
		}
		b.WriteString(")")
	}
	if b.Len() == 0 {
		return "(empty)"
	}
	return b.String()
}

func formatState(s SyncState, stamps bool) string {
	if stamps {
		return fmt.Sprintf("(%s %d %s)", s.Endpoint, s.Tick, formatStamp(s.Stamp))
	}
	return fmt.Sprintf("(%s %d)", s.Endpoint, s.Tick)
}

func TestDataDriven(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata files")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			for _, c := range parseDataFile(t, path) {
				got := runCase(t, c)
				if got != c.want {
					t.Errorf("%s:%d: %s\n--- got:\n%s\n--- want:\n%s", c.file, c.line, c.cmd, got, c.want)
				}
			}
		})
	}
}

func runCase(t *testing.T, c *ddCase) string {
	t.Helper()
	stamps := c.hasArg("stamps")
	switch c.cmd {
	case "missing":
		rs := Missing(parseDigest(t, c, c.value(t, "source")), parseDigest(t, c, c.value(t, "target")))
		if len(rs) == 0 {
			return "none"
		}
		lines := make([]string, len(rs))
		for i, r := range rs {
			lines[i] = r.String()
		}
		return strings.Join(lines, "\n")

	case "sync":
		return runSync(t, c, stamps)

	case "decide":
		src := parseState(t, c, c.value(t, "source"))
		if src == nil {
			t.Fatalf("%s:%d: source state required", c.file, c.line)
		}
		sd := parseDigest(t, c, c.value(t, "source-digest"))
		td := parseDigest(t, c, c.value(t, "target-digest"))
		sdBefore, tdBefore := sd.Clone(), td.Clone()
		out := Decide(sd, td, *src, parseState(t, c, c.value(t, "target")))
		if formatDigest(sd, true) != formatDigest(sdBefore, true) || formatDigest(td, true) != formatDigest(tdBefore, true) {
			t.Errorf("%s:%d: Decide modified a digest", c.file, c.line)
		}
		return out.String()

	case "after-entry":
		target := parseDigest(t, c, c.value(t, "target"))
		var source Digest
		if v := c.values("source"); len(v) > 0 {
			source = parseDigest(t, c, v[0])
		}
		var lines []string
		for i, e := range c.values("entry") {
			AfterEntry(&target, source, *parseState(t, c, e))
			lines = append(lines, fmt.Sprintf("after entry %d: %s", i+1, formatDigest(target, stamps)))
		}
		return strings.Join(lines, "\n")

	case "end-of-feed":
		target := parseDigest(t, c, c.value(t, "target"))
		EndOfFeed(&target, parseDigest(t, c, c.value(t, "source")))
		return formatDigest(target, stamps)

	case "immediate":
		target := parseDigest(t, c, c.value(t, "target"))
		source := parseDigest(t, c, c.value(t, "source"))
		var states []SyncState
		for _, e := range c.values("entry") {
			states = append(states, *parseState(t, c, e))
		}
		before := formatDigest(target, true)
		err := CheckImmediate(target, source, states)
		if formatDigest(target, true) != before {
			t.Errorf("%s:%d: CheckImmediate modified the target digest", c.file, c.line)
		}
		if err != nil {
			var gap *GapError
			if !errors.As(err, &gap) {
				t.Errorf("%s:%d: error %v is not a *GapError", c.file, c.line, err)
			}
			return fmt.Sprintf("gap at entry %d: %s tick %d, expected at most %d\n%v",
				gap.Index, gap.Endpoint, gap.Tick, gap.Expected, err)
		}
		for _, s := range states {
			AfterEntry(&target, source, s)
		}
		return "ok: " + formatDigest(target, stamps)

	case "validate":
		d := parseDigest(t, c, c.value(t, "digest"))
		if v := c.values("origin"); len(v) > 0 {
			d.Origin = v[0]
		}
		if err := d.Validate(); err != nil {
			if !errors.Is(err, ErrInvalidDigest) {
				t.Errorf("%s:%d: error %v does not wrap ErrInvalidDigest", c.file, c.line, err)
			}
			return "error: " + err.Error()
		}
		return "ok"

	case "advance":
		d := parseDigest(t, c, c.value(t, "digest"))
		var lines []string
		for _, w := range c.values("write") {
			ep, st, _ := strings.Cut(w, " ")
			tick := d.Advance(ep, mustStamp(t, c, strings.TrimSpace(st)))
			lines = append(lines, fmt.Sprintf("tick %d: %s", tick, formatDigest(d, stamps)))
		}
		return strings.Join(lines, "\n")
	}
	t.Fatalf("%s:%d: unknown command %q", c.file, c.line, c.cmd)
	return ""
}

// runSync runs one complete catchUp pass: change selection at the source
// (Missing + Selects, entries ordered by ascending tick), Decide + AfterEntry
// at the target for every entry, then EndOfFeed.
func runSync(t *testing.T, c *ddCase, stamps bool) string {
	t.Helper()
	source := parseDigest(t, c, c.value(t, "source"))
	target := parseDigest(t, c, c.value(t, "target"))
	type res struct {
		name  string
		state SyncState
	}
	var feed []res
	targetRes := map[string]SyncState{}
	for _, v := range c.values("target-resource") {
		n, s := parseResource(t, c, v)
		targetRes[n] = s
	}
	ranges := Missing(source, target)
	for _, v := range c.values("source-resource") {
		n, s := parseResource(t, c, v)
		if Selects(ranges, s) {
			feed = append(feed, res{n, s})
		}
	}
	slices.SortStableFunc(feed, func(a, b res) int {
		return cmp.Or(cmp.Compare(a.state.Tick, b.state.Tick), cmp.Compare(a.state.Endpoint, b.state.Endpoint))
	})
	rs := make([]string, len(ranges))
	for i, r := range ranges {
		rs[i] = r.String()
	}
	lines := []string{"select: " + strings.Join(rs, " or ")}
	for _, r := range feed {
		var ts *SyncState
		if s, ok := targetRes[r.name]; ok {
			ts = &s
		}
		out := Decide(source, target, r.state, ts)
		if out.Applies() {
			targetRes[r.name] = r.state
		}
		AfterEntry(&target, source, r.state)
		lines = append(lines, fmt.Sprintf("%s %s: %s", r.name, formatState(r.state, stamps), out))
	}
	EndOfFeed(&target, source)
	lines = append(lines, "target digest: "+formatDigest(target, stamps))
	names := make([]string, 0, len(targetRes))
	for n := range targetRes {
		names = append(names, n)
	}
	slices.Sort(names)
	for i, n := range names {
		names[i] = n + " " + formatState(targetRes[n], stamps)
	}
	return strings.Join(append(lines, "target resources: "+strings.Join(names, ", ")), "\n")
}
