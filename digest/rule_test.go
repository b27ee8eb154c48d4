package digest

import (
	"testing"
	"time"
)

func TestConflictRule(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	a := SyncState{Endpoint: "http://a/x", Tick: 3, Stamp: t0}
	b := SyncState{Endpoint: "http://b/x", Tick: 7, Stamp: t0}
	later := b
	later.Stamp = t0.Add(time.Second)
	for _, tc := range []struct {
		name       string
		sp, tp     int
		src, tgt   SyncState
		rule       string
		sourceWins bool
	}{
		{"lower source priority", 1, 5, b, a, RulePriority, true},
		{"lower target priority", 5, 1, a, b, RulePriority, false},
		{"equal priority, later source stamp", 5, 5, later, a, RuleStamp, true},
		{"equal priority, later target stamp", 5, 5, a, later, RuleStamp, false},
		{"all equal, smaller source URL", 5, 5, a, b, RuleEndpoint, true},
		{"all equal, smaller target URL", 5, 5, b, a, RuleEndpoint, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ConflictRule(tc.sp, tc.tp, tc.src, tc.tgt); got != tc.rule {
				t.Errorf("rule %q, want %q", got, tc.rule)
			}
			if got := sourceWins(tc.sp, tc.tp, tc.src, tc.tgt); got != tc.sourceWins {
				t.Errorf("sourceWins %v, want %v", got, tc.sourceWins)
			}
			// Through DecideEntry: a real conflict decided by that rule.
			feed := Digest{Origin: tc.src.Endpoint, Entries: []Entry{{Endpoint: tc.src.Endpoint, Tick: tc.src.Tick + 1, Stamp: t0, ConflictPriority: tc.sp}}}
			target := Digest{Origin: tc.tgt.Endpoint, Entries: []Entry{{Endpoint: tc.tgt.Endpoint, Tick: tc.tgt.Tick + 1, Stamp: t0, ConflictPriority: tc.tp}}}
			p := NewPage(feed, target, tc.tgt.Endpoint, tc.tp, false, true)
			held := tc.tgt
			d, err := DecideEntry(&target, p, Arrival{State: tc.src}, &held, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !d.Outcome.Conflict() || d.Rule != tc.rule || (d.Outcome == ConflictSource) != tc.sourceWins {
				t.Errorf("DecideEntry: outcome %s rule %q, want a conflict by %q (source wins %v)", d.Outcome, d.Rule, tc.rule, tc.sourceWins)
			}
		})
	}
}
