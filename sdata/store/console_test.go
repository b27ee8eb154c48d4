package store

import (
	"context"
	"testing"
	"time"
)

// TestRunSummaries: the triggers keep audit_runs and audit_daily in step
// with the audit log, and a migration backfills them from records written
// before it (the same figures either way).
func TestRunSummaries(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	rec := func(run, kind, op string, status, count int, detail string, at time.Duration) AuditRecord {
		return AuditRecord{Time: t0.Add(at), Dataset: "-", Kind: kind, Operation: op, RunName: run, RunStamp: "s1", Status: status,
			Count: count, Duration: 100 * time.Millisecond, Detail: detail}
	}
	recs := []AuditRecord{
		rec("a", "contacts", "target.applied", 200, 10, `{"Apply":7,"Skip":1,"ConflictSource":1,"ConflictTarget":1}`, 0),
		rec("a", "contacts", "target.conflict", 200, 1, `{}`, 0),
		rec("a", "contacts", "target.conflict", 409, 1, `{}`, 0),
		rec("a", "contacts", "target.applied", 200, 5, `{"Apply":4,"invalid":1}`, time.Second),
		rec("a", "tradingAccounts", "source.selected", 200, 30, ``, 2*time.Second),
		rec("a", "tradingAccounts", "source.get", 200, 20, ``, 3*time.Second),
		rec("a", "tradingAccounts", "target.failed", 500, 3, `{"error":"x"}`, 4*time.Second),
		rec("b", "contacts", "target.applied", 200, 2, `{"Apply":2}`, 24*time.Hour),
		{Time: t0, Dataset: "-", Kind: "contacts", Operation: "denied.get", Status: 403}, // no run
	}
	if err := s.Audit(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, s *SQLite) {
		runs, total, err := s.Runs(ctx, RunQuery{})
		if err != nil || total != 2 || len(runs) != 2 {
			t.Fatalf("runs %+v total %d err %v", runs, total, err)
		}
		b, a := runs[0], runs[1]
		if b.RunName != "b" || a.RunName != "a" {
			t.Fatalf("order: %s, %s; want the latest first", b.RunName, a.RunName)
		}
		want := RunSummary{RunName: "a", RunStamp: "s1", Kinds: 2, First: t0, Last: t0.Add(4 * time.Second), Records: 7, Pages: 2, Entries: 15,
			Applied: 11, Skipped: 1, Conflicts: 2, Invalid: 1, Selected: 30, Sent: 20, Errors: 1, Work: 300 * time.Millisecond}
		if a != want {
			t.Errorf("run a:\n%+v\nwant\n%+v", a, want)
		}
		for _, tc := range []struct {
			q    RunQuery
			want []string
		}{
			{RunQuery{Status: "failed"}, []string{"a"}},
			{RunQuery{Status: "ok"}, []string{"b"}},
			{RunQuery{Status: "conflicts"}, []string{"a"}},
			{RunQuery{Kind: "tradingAccounts"}, []string{"a"}},
			{RunQuery{Since: t0.Add(time.Hour)}, []string{"b"}},
			{RunQuery{Until: t0.Add(time.Hour)}, []string{"a"}},
			{RunQuery{RunName: "b"}, []string{"b"}},
			{RunQuery{Limit: 1, Offset: 1}, []string{"a"}},
		} {
			got, _, err := s.Runs(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, r := range got {
				names = append(names, r.RunName)
			}
			if len(names) != len(tc.want) || len(names) > 0 && names[0] != tc.want[0] {
				t.Errorf("%+v: %v, want %v", tc.q, names, tc.want)
			}
		}
		kinds, err := s.RunKinds(ctx, "a", "s1")
		if err != nil || len(kinds) != 2 || kinds[0].Kind != "contacts" || kinds[0].Entries != 15 || kinds[1].Sent != 20 {
			t.Errorf("run kinds %+v %v", kinds, err)
		}
		errs, err := s.RunErrors(ctx, "a", "s1", 10)
		if err != nil || len(errs) != 1 || errs[0].Operation != "target.failed" {
			t.Errorf("run errors %+v %v", errs, err)
		}
		days, err := s.DailyCounts(ctx, "target.conflict", t0.Add(-48*time.Hour))
		if err != nil || len(days) != 1 || days[0].Day != "2026-11-22" || days[0].Count != 2 || days[0].Kind != "contacts" {
			t.Errorf("daily conflicts %+v %v", days, err)
		}
	}
	t.Run("triggers", func(t *testing.T) { check(t, s) })
	t.Run("backfill", func(t *testing.T) {
		// Empty the summaries and run the migration's backfill again.
		if _, err := s.w.ExecContext(ctx, `DELETE FROM audit_runs; DELETE FROM audit_daily;`); err != nil {
			t.Fatal(err)
		}
		if _, err := s.w.ExecContext(ctx, backfillOnly()); err != nil {
			t.Fatal(err)
		}
		check(t, s)
	})
}

func backfillOnly() string { return consoleBackfill }
