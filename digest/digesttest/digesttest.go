// Package digesttest reads the spec-table testdata of package digest, so
// that the same tables run against the pure functions of digest and
// through the SQLite store (one table, two runners).
//
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
package digesttest

import (
	"bufio"
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

	"sdatasync/digest"
)

// Case is one block of a testdata file.
type Case struct {
	File  string      // base name of the file
	Line  int         // line of the command
	Cmd   string      // the command
	Args  []string    // its arguments
	Input [][2]string // key: value input lines, in order
	Want  string      // the expected output
}

// HasArg reports whether the command has argument a.
func (c *Case) HasArg(a string) bool { return slices.Contains(c.Args, a) }

// Values returns the values of every input line with key, in order.
func (c *Case) Values(key string) []string {
	var out []string
	for _, kv := range c.Input {
		if kv[0] == key {
			out = append(out, kv[1])
		}
	}
	return out
}

// Value returns the value of the one input line with key, failing the test
// unless there is exactly one.
func (c *Case) Value(t testing.TB, key string) string {
	t.Helper()
	v := c.Values(key)
	if len(v) != 1 {
		t.Fatalf("%s:%d: want exactly one %q input line, got %d", c.File, c.Line, key, len(v))
	}
	return v[0]
}

// ParseFile reads the cases of a testdata file, failing the test on a
// malformed file.
func ParseFile(t testing.TB, path string) []*Case {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		cases []*Case
		cur   *Case
		state int // 0: between cases, 1: input, 2: expected output
		want  []string
		sc    = bufio.NewScanner(f)
		n     int
	)
	finish := func() {
		if cur != nil {
			if state != 2 {
				t.Fatalf("%s:%d: case %q has no ---- separator", path, cur.Line, cur.Cmd)
			}
			cur.Want = strings.Join(want, "\n")
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
			cur = &Case{File: filepath.Base(path), Line: n, Cmd: fields[0], Args: fields[1:]}
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
			cur.Input = append(cur.Input, [2]string{strings.TrimSpace(key), strings.TrimSpace(val)})
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

// ParseStamp reads a stamp: hh:mm[:ss] on 2008-10-30 UTC, or RFC 3339.
func ParseStamp(s string) (time.Time, error) {
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

// FormatStamp writes a stamp the way ParseStamp reads it ("-" for zero).
func FormatStamp(s time.Time) string {
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

// Triplets splits "(a b c)(d e f)" into its parenthesised groups of fields.
func Triplets(t testing.TB, c *Case, s string) [][]string {
	t.Helper()
	var out [][]string
	rest := tripletRE.ReplaceAllStringFunc(s, func(m string) string {
		out = append(out, strings.Fields(m[1:len(m)-1]))
		return ""
	})
	if strings.TrimSpace(rest) != "" {
		t.Fatalf("%s:%d: stray text %q in %q", c.File, c.Line, rest, s)
	}
	return out
}

// MustInt reads an integer ("_" is 0), failing the test otherwise.
func MustInt(t testing.TB, c *Case, s string) int64 {
	t.Helper()
	if s == "_" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%s:%d: %v", c.File, c.Line, err)
	}
	return n
}

// MustStamp is ParseStamp failing the test on an error.
func MustStamp(t testing.TB, c *Case, s string) time.Time {
	t.Helper()
	ts, err := ParseStamp(s)
	if err != nil {
		t.Fatalf("%s:%d: %v", c.File, c.Line, err)
	}
	return ts
}

// ParseDigest reads a digest: (endpoint tick priority [stamp]) triplets.
func ParseDigest(t testing.TB, c *Case, s string) digest.Digest {
	t.Helper()
	var d digest.Digest
	for _, f := range Triplets(t, c, s) {
		if len(f) < 3 || len(f) > 4 {
			t.Fatalf("%s:%d: digest entry %v: want (endpoint tick priority [stamp])", c.File, c.Line, f)
		}
		e := digest.Entry{Endpoint: f[0], Tick: MustInt(t, c, f[1]), ConflictPriority: int(MustInt(t, c, f[2]))}
		if len(f) == 4 {
			e.Stamp = MustStamp(t, c, f[3])
		}
		d.Entries = append(d.Entries, e) // not Set: duplicates must survive for Validate
	}
	return d
}

// ParseState reads a sync state (endpoint tick [stamp]), or "none" (nil).
func ParseState(t testing.TB, c *Case, s string) *digest.SyncState {
	t.Helper()
	if s == "none" {
		return nil
	}
	ts := Triplets(t, c, s)
	if len(ts) != 1 || len(ts[0]) < 2 || len(ts[0]) > 3 {
		t.Fatalf("%s:%d: sync state %q: want (endpoint tick [stamp])", c.File, c.Line, s)
	}
	f := ts[0]
	st := &digest.SyncState{Endpoint: f[0], Tick: MustInt(t, c, f[1])}
	if len(f) == 3 {
		st.Stamp = MustStamp(t, c, f[2])
	}
	return st
}

// ParseResource reads "name (endpoint tick [stamp])".
func ParseResource(t testing.TB, c *Case, s string) (string, digest.SyncState) {
	t.Helper()
	name, rest, ok := strings.Cut(s, " ")
	st := ParseState(t, c, strings.TrimSpace(rest))
	if !ok || st == nil {
		t.Fatalf("%s:%d: resource %q: want name (endpoint tick [stamp])", c.File, c.Line, s)
	}
	return name, *st
}

// FormatDigest writes a digest as ParseDigest reads it ("(empty)" for none).
func FormatDigest(d digest.Digest, stamps bool) string {
	var b strings.Builder
	for _, e := range d.Entries {
		p := strconv.Itoa(e.ConflictPriority)
		if e.ConflictPriority == 0 {
			p = "_"
		}
		fmt.Fprintf(&b, "(%s %d %s", e.Endpoint, e.Tick, p)
		if stamps {
			fmt.Fprintf(&b, " %s", FormatStamp(e.Stamp))
		}
		b.WriteString(")")
	}
	if b.Len() == 0 {
		return "(empty)"
	}
	return b.String()
}

// FormatState writes a sync state as ParseState reads it.
func FormatState(s digest.SyncState, stamps bool) string {
	if stamps {
		return fmt.Sprintf("(%s %d %s)", s.Endpoint, s.Tick, FormatStamp(s.Stamp))
	}
	return fmt.Sprintf("(%s %d)", s.Endpoint, s.Tick)
}

// Arrive is the input of an arrive case: one incoming entry at a target.
type Arrive struct {
	Origin      string // the target's own endpoint
	Priority    int    // its conflict priority
	Feed        digest.Digest
	Target      digest.Digest // before the entry
	Last        bool          // the page is the last of its feed
	Immediate   bool          // the feed is immediate
	Held        *digest.SyncState
	HeldContext digest.Context
	Arrival     digest.Arrival
}

// ReadArrive reads the input lines of an arrive case (see
// digest/testdata/arrive_5.4.txt). An invalid entry's error is "bad
// payload".
func ReadArrive(t testing.TB, c *Case) Arrive {
	t.Helper()
	var a Arrive
	o := strings.Fields(c.Value(t, "origin"))
	if len(o) != 2 {
		t.Fatalf("%s:%d: origin: want endpoint priority", c.File, c.Line)
	}
	a.Origin, a.Priority = o[0], int(MustInt(t, c, o[1]))
	a.Feed = ParseDigest(t, c, c.Value(t, "feed"))
	a.Target = ParseDigest(t, c, c.Value(t, "target"))
	switch page := c.Value(t, "page"); page {
	case "last":
		a.Last = true
	case "more":
	case "immediate":
		a.Immediate, a.Last = true, true
	default:
		t.Fatalf("%s:%d: page %q: want last, more or immediate", c.File, c.Line, page)
	}
	a.Held = ParseState(t, c, c.Value(t, "held"))
	if v := c.Values("held-context"); len(v) > 0 {
		a.HeldContext = digest.ContextOf(ParseDigest(t, c, v[0]))
	}
	st := ParseState(t, c, c.Value(t, "entry"))
	if st == nil {
		t.Fatalf("%s:%d: entry: a sync state is required", c.File, c.Line)
	}
	a.Arrival = digest.Arrival{State: *st, Deleted: c.HasArg("deleted")}
	if c.HasArg("invalid") {
		a.Arrival.Invalid = errors.New("bad payload")
	}
	return a
}

// Outcome is what an arrive case checks: the decision, the version the
// target holds after the entry (Held for a decision that writes nothing)
// and its context, and the target's digest.
type Outcome struct {
	Decision digest.Decision
	Held     *digest.SyncState
	Context  digest.Context
	Target   digest.Digest
}

// Format writes an Outcome as the expected output of an arrive case.
func (o Outcome) Format(stamps bool) string {
	d := o.Decision
	var b strings.Builder
	fmt.Fprintf(&b, "outcome: %s %d", d.Outcome, d.Status)
	if d.Severity != "" {
		fmt.Fprintf(&b, " %s %q", d.Severity, d.Message)
	}
	if d.Restamp {
		b.WriteString(" restamp")
	}
	state := "none"
	switch {
	case d.Writes() || d.Restamp:
		state = FormatState(d.State, stamps)
	case o.Held != nil:
		state = FormatState(*o.Held, stamps)
	}
	fmt.Fprintf(&b, "\nstate: %s\ncontext: %s\ntarget: %s", state, FormatContext(o.Context), FormatDigest(o.Target, stamps))
	return b.String()
}

// FormatContext writes a context as (endpoint tick) pairs in endpoint
// order, "none" when empty.
func FormatContext(c digest.Context) string {
	if len(c) == 0 {
		return "none"
	}
	var b strings.Builder
	for _, ep := range c.Endpoints() {
		fmt.Fprintf(&b, "(%s %d)", ep, c[ep])
	}
	return b.String()
}
