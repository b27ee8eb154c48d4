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

// TestListingCostsThePage: the default listing's total comes from the
// counter the triggers keep (it equals a count of the live rows after local
// creates and deletes, sync creates, deletions and revivals, and a hard
// delete), and its page statement walks the partial index of live resources
// in id order without reading the rows it skips: no scan, no sort of the
// table.
func TestListingCostsThePage(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	ep := testEndpoint(t, s)
	other, err := s.Endpoint(ctx, "-", "contacts", "http://localhost/sdata/app/gcrm/-/contacts", 3)
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string, want int) {
		t.Helper()
		var counted int
		if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM resources WHERE endpoint_id = ? AND deleted = 0`, ep.ID).Scan(&counted); err != nil {
			t.Fatal(err)
		}
		page, total, err := s.List(ctx, ep, ListQuery{Limit: 3, Offset: 1})
		if err != nil {
			t.Fatal(err)
		}
		if counted != want || total != want || len(page) != min(3, max(want-1, 0)) {
			t.Fatalf("%s: total %d, %d live rows, page of %d; want %d", when, total, counted, len(page), want)
		}
		all, _, err := s.List(ctx, ep, ListQuery{IncludeDeleted: true})
		if err != nil {
			t.Fatal(err)
		}
		live := 0
		for i, r := range all {
			if i > 0 && all[i-1].Key >= r.Key && len(all[i-1].Key) >= len(r.Key) {
				t.Fatalf("%s: not in id order: %q then %q", when, all[i-1].Key, r.Key)
			}
			if !r.Deleted {
				live++
			}
		}
		if live != want {
			t.Fatalf("%s: %d live resources listed with the deleted ones, want %d", when, live, want)
		}
	}
	check("empty", 0)
	for i := range 6 {
		if _, err := s.Create(ctx, ep, Write{Payload: fmt.Appendf(nil, `<tradingAccount><name>%d</name></tradingAccount>`, i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Create(ctx, other, Write{Payload: []byte(`<contact/>`)}); err != nil {
		t.Fatal(err)
	}
	check("6 created", 6)
	for _, k := range []string{"2", "5"} {
		if _, err := s.Delete(ctx, ep, k, "u", nil); err != nil {
			t.Fatal(err)
		}
	}
	check("2 deleted", 4)

	// Through sync: a creation, then its deletion, then its revival.
	src := "http://elsewhere/sdata/app/gcrm/-/tradingAccounts"
	now := time.Now().UTC()
	u := "00000000-0000-0000-0000-000000000042"
	for i, del := range []bool{false, true, false} {
		fd := digest.Digest{}
		fd.Set(digest.Entry{Endpoint: src, Tick: int64(i + 2), Stamp: now, ConflictPriority: 5})
		j, _, err := s.CreateJob(ctx, Job{EndpointID: ep.ID, Type: JobTarget, TrackingID: fmt.Sprint("count", i), Expires: now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		in := Incoming{UUID: u, Method: "PUT", Deleted: del, State: digest.SyncState{Endpoint: src, Tick: int64(i + 1), Stamp: now}, Payload: []byte(`<tradingAccount/>`)}
		if _, _, err := s.RunTarget(ctx, ep, j, fd, false, true, Entries{in}); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("sync step %d (deleted %v)", i, del), map[bool]int{false: 5, true: 4}[del])
	}
	// A hard delete (none of today's paths does one; a purge of tombstones
	// or a future path might) counts too.
	if _, err := s.w.ExecContext(ctx, `DELETE FROM resources WHERE endpoint_id = ? AND key = '1'`, ep.ID); err != nil {
		t.Fatal(err)
	}
	check("hard delete", 4)

	plan := strings.Join(queryPlan(t, s, listPageSQL(`r.endpoint_id = ? AND r.deleted = 0`, `r.id`), ep.ID, 100, 500), "\n")
	t.Logf("page plan:\n%s", plan)
	if !strings.Contains(plan, "COVERING INDEX resources_live") || strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan, "SCAN r") {
		t.Errorf("the default listing does not walk resources_live in order:\n%s", plan)
	}
	if plan := strings.Join(queryPlan(t, s, sqlLiveCount, ep.ID), "\n"); strings.Contains(plan, "SCAN") {
		t.Errorf("the live count scans:\n%s", plan)
	}
}

// TestSelectionRowsUseIndexes: the check every write of a resource makes
// (does a selection still name it? migration 17) searches the partial index
// of selection rows, and a page of a selection reads the rows by the job's
// key and the resources by id: neither walks a table.
func TestSelectionRowsUseIndexes(t *testing.T) {
	s, _ := openTest(t)
	for _, c := range []struct {
		name, stmt string
		args       []any
		index      string
	}{
		{"a write's check", `SELECT 1 FROM sync_job_entries WHERE resource_id = ?`, []any{1}, "sync_job_entries_lazy (resource_id=?)"},
		{"a page of a selection", sqlSourceEntries, []any{1, 0, 100}, "PRIMARY KEY (job_id=? AND seq>?)"},
	} {
		plan := queryPlan(t, s, c.stmt, c.args...)
		all := strings.Join(plan, "\n")
		for _, line := range plan {
			if strings.HasPrefix(line, "SCAN") {
				t.Errorf("%s: the plan scans a table:\n%s", c.name, all)
			}
		}
		if !strings.Contains(all, c.index) {
			t.Errorf("%s: the plan does not use %s:\n%s", c.name, c.index, all)
		}
	}
}
