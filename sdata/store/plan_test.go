package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"sdatasync/digest"
)

// queryPlan returns the lines of SQLite's EXPLAIN QUERY PLAN for stmt.
func queryPlan(t *testing.T, s *SQLite, stmt string, args ...any) []string {
	t.Helper()
	rows, err := s.w.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+stmt, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", stmt, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		out = append(out, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSelectionUsesIndexes: every statement of a source selection searches
// an index of resources on all the columns it constrains (a search on the
// endpoint alone walks all its resources); none scans the table (a scan makes the cost of an
// incremental pass grow with the number of resources, issue 17).
func TestSelectionUsesIndexes(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	ep := testEndpoint(t, s)
	// A few rows, some with UUIDs, some changed elsewhere: the plan must not
	// depend on an empty table.
	for i := range 20 {
		if _, err := s.Create(ctx, ep, Write{Payload: fmt.Appendf(nil, `<tradingAccount><name>%d</name></tradingAccount>`, i)}); err != nil {
			t.Fatal(err)
		}
	}
	j, _, err := s.CreateJob(ctx, Job{EndpointID: ep.ID, Type: JobSource, TrackingID: "plan", Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RunSource(ctx, ep, j, digest.Digest{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, stmt string
		args       []any
		index      string
	}{
		{"resources without a UUID", sqlWithoutUUID, []any{ep.ID}, "resources_without_uuid (endpoint_id=?)"},
		{"UUIDs assigned", sqlAssignUUIDs, []any{`{"1":"x"}`}, "INTEGER PRIMARY KEY"},
		{"changes of one endpoint", sqlSelectChanges, []any{j.ID, 0, ep.URL, ep.ID, 1, 5}, "resources_changes (endpoint_id=? AND sync_node=? AND sync_tick>?)"},
	} {
		plan := queryPlan(t, s, c.stmt, c.args...)
		all := strings.Join(plan, "\n")
		for _, line := range plan {
			// Scanning the window's co-routine or the JSON list is fine.
			if strings.HasPrefix(line, "SCAN") && !strings.HasPrefix(line, "SCAN (subquery") && !strings.HasPrefix(line, "SCAN j ") {
				t.Errorf("%s: the plan scans a table:\n%s", c.name, all)
			}
		}
		if !strings.Contains(all, c.index) {
			t.Errorf("%s: the plan does not use %s:\n%s", c.name, c.index, all)
		}
	}
}
