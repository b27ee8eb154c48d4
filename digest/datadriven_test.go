package digest_test

import (
	"cmp"
	"errors"
	"fmt"
	"path/filepath"
	"sdatasync/digest"
	"sdatasync/digest/digesttest"
	"slices"
	"strings"
	"testing"
)

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
			for _, c := range digesttest.ParseFile(t, path) {
				got := runCase(t, c)
				if got != c.Want {
					t.Errorf("%s:%d: %s\n--- got:\n%s\n--- want:\n%s", c.File, c.Line, c.Cmd, got, c.Want)
				}
			}
		})
	}
}

func runCase(t *testing.T, c *digesttest.Case) string {
	t.Helper()
	stamps := c.HasArg("stamps")
	switch c.Cmd {
	case "missing":
		rs := digest.Missing(digesttest.ParseDigest(t, c, c.Value(t, "source")), digesttest.ParseDigest(t, c, c.Value(t, "target")))
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

	case "arrive":
		return runArrive(t, c)

	case "decide":
		src := digesttest.ParseState(t, c, c.Value(t, "source"))
		if src == nil {
			t.Fatalf("%s:%d: source state required", c.File, c.Line)
		}
		sd := digesttest.ParseDigest(t, c, c.Value(t, "source-digest"))
		td := digesttest.ParseDigest(t, c, c.Value(t, "target-digest"))
		sdBefore, tdBefore := sd.Clone(), td.Clone()
		out := digest.Decide(sd, td, *src, digesttest.ParseState(t, c, c.Value(t, "target")))
		if digesttest.FormatDigest(sd, true) != digesttest.FormatDigest(sdBefore, true) || digesttest.FormatDigest(td, true) != digesttest.FormatDigest(tdBefore, true) {
			t.Errorf("%s:%d: Decide modified a digest", c.File, c.Line)
		}
		return out.String()

	case "after-entry":
		target := digesttest.ParseDigest(t, c, c.Value(t, "target"))
		var source digest.Digest
		if v := c.Values("source"); len(v) > 0 {
			source = digesttest.ParseDigest(t, c, v[0])
		}
		var lines []string
		for i, e := range c.Values("entry") {
			digest.AfterEntry(&target, source, *digesttest.ParseState(t, c, e))
			lines = append(lines, fmt.Sprintf("after entry %d: %s", i+1, digesttest.FormatDigest(target, stamps)))
		}
		return strings.Join(lines, "\n")

	case "end-of-feed":
		target := digesttest.ParseDigest(t, c, c.Value(t, "target"))
		digest.EndOfFeed(&target, digesttest.ParseDigest(t, c, c.Value(t, "source")))
		return digesttest.FormatDigest(target, stamps)

	case "immediate":
		target := digesttest.ParseDigest(t, c, c.Value(t, "target"))
		source := digesttest.ParseDigest(t, c, c.Value(t, "source"))
		var states []digest.SyncState
		for _, e := range c.Values("entry") {
			states = append(states, *digesttest.ParseState(t, c, e))
		}
		before := digesttest.FormatDigest(target, true)
		err := digest.CheckImmediate(target, source, states)
		if digesttest.FormatDigest(target, true) != before {
			t.Errorf("%s:%d: CheckImmediate modified the target digest", c.File, c.Line)
		}
		if err != nil {
			var gap *digest.GapError
			if !errors.As(err, &gap) {
				t.Errorf("%s:%d: error %v is not a *digest.GapError", c.File, c.Line, err)
			}
			return fmt.Sprintf("gap at entry %d: %s tick %d, expected at most %d\n%v",
				gap.Index, gap.Endpoint, gap.Tick, gap.Expected, err)
		}
		for _, s := range states {
			digest.AfterEntry(&target, source, s)
		}
		return "ok: " + digesttest.FormatDigest(target, stamps)

	case "validate":
		d := digesttest.ParseDigest(t, c, c.Value(t, "digest"))
		if v := c.Values("origin"); len(v) > 0 {
			d.Origin = v[0]
		}
		var err error
		if v := c.Values("own"); len(v) > 0 {
			err = d.ValidateOwn(v[0])
		} else {
			err = d.Validate()
		}
		for _, v := range c.Values("state") {
			if err != nil {
				break
			}
			s := digesttest.ParseState(t, c, v)
			if err = s.Validate(); err == nil {
				err = d.Claims().Check(*s)
			}
		}
		if err != nil {
			var ie *digest.InvalidError
			if !errors.As(err, &ie) || !errors.Is(err, digest.ErrInvalidDigest) && !errors.Is(err, digest.ErrInvalidSyncState) {
				t.Errorf("%s:%d: error %v is not an *InvalidError wrapping ErrInvalidDigest or ErrInvalidSyncState", c.File, c.Line, err)
			}
			return "error: " + err.Error()
		}
		return "ok"

	case "advance":
		d := digesttest.ParseDigest(t, c, c.Value(t, "digest"))
		var lines []string
		for _, w := range c.Values("write") {
			ep, st, _ := strings.Cut(w, " ")
			tick := d.Advance(ep, digesttest.MustStamp(t, c, strings.TrimSpace(st)))
			lines = append(lines, fmt.Sprintf("tick %d: %s", tick, digesttest.FormatDigest(d, stamps)))
		}
		return strings.Join(lines, "\n")
	}
	t.Fatalf("%s:%d: unknown command %q", c.File, c.Line, c.Cmd)
	return ""
}

// runSync runs one complete catchUp pass: change selection at the source
// (Missing + Selects, entries ordered by ascending tick), Decide + AfterEntry
// at the target for every entry, then EndOfFeed.
func runSync(t *testing.T, c *digesttest.Case, stamps bool) string {
	t.Helper()
	source := digesttest.ParseDigest(t, c, c.Value(t, "source"))
	target := digesttest.ParseDigest(t, c, c.Value(t, "target"))
	type res struct {
		name  string
		state digest.SyncState
	}
	var feed []res
	targetRes := map[string]digest.SyncState{}
	for _, v := range c.Values("target-resource") {
		n, s := digesttest.ParseResource(t, c, v)
		targetRes[n] = s
	}
	ranges := digest.Missing(source, target)
	for _, v := range c.Values("source-resource") {
		n, s := digesttest.ParseResource(t, c, v)
		if digest.Selects(ranges, s) {
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
		var ts *digest.SyncState
		if s, ok := targetRes[r.name]; ok {
			ts = &s
		}
		out := digest.Decide(source, target, r.state, ts)
		if out.Applies() {
			targetRes[r.name] = r.state
		}
		digest.AfterEntry(&target, source, r.state)
		lines = append(lines, fmt.Sprintf("%s %s: %s", r.name, digesttest.FormatState(r.state, stamps), out))
	}
	digest.EndOfFeed(&target, source)
	lines = append(lines, "target digest: "+digesttest.FormatDigest(target, stamps))
	names := make([]string, 0, len(targetRes))
	for n := range targetRes {
		names = append(names, n)
	}
	slices.Sort(names)
	for i, n := range names {
		names[i] = n + " " + digesttest.FormatState(targetRes[n], stamps)
	}
	return strings.Join(append(lines, "target resources: "+strings.Join(names, ", ")), "\n")
}

// runArrive runs an arrive case against digest.DecideEntry.
func runArrive(t *testing.T, c *digesttest.Case) string {
	t.Helper()
	a := digesttest.ReadArrive(t, c)
	tgt := a.Target.Clone()
	page := digest.NewPage(a.Feed, tgt, a.Origin, a.Priority, a.Immediate, a.Last)
	d, err := digest.DecideEntry(&tgt, page, a.Arrival, a.Held, func() (digest.Context, error) { return a.HeldContext, nil })
	if err != nil {
		t.Fatalf("%s:%d: %v", c.File, c.Line, err)
	}
	page.End(&tgt)
	after := digesttest.Outcome{Decision: d, Held: a.Held, Target: tgt}
	switch d.ContextRule {
	case digest.KeepContext:
		after.Context = a.HeldContext
	case digest.FeedContext:
		after.Context = page.Context
	case digest.OwnContext:
		after.Context = d.Context
	}
	return after.Format(c.HasArg("stamps"))
}
