package store

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"sdatasync/digest"
)

// lazyRows counts the selection rows of job that still name their resource
// instead of holding a copy of it.
func lazyRows(t *testing.T, s *SQLite, job Job) int {
	t.Helper()
	var n int
	if err := s.w.QueryRowContext(context.Background(), `SELECT count(*) FROM sync_job_entries WHERE job_id = ? AND resource_id IS NOT NULL`, job.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSelectionStaysWhatWasSelected: a source job's feed is what the
// selection saw, whatever writes come after it (an update, a delete, a new
// UUID with its alias, aliases retired, a write that fails), page after
// page; a selection copies no resource until a write is about to change it
// (migration 17).
func TestSelectionStaysWhatWasSelected(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	ep := testEndpoint(t, s)
	const n = 8
	var keys []string
	for i := range n {
		r, err := s.Create(ctx, ep, Write{Payload: fmt.Appendf(nil, `<tradingAccount><name>A%d</name></tradingAccount>`, i)})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, r.Key)
	}
	// Resource 4 has an alias before the selection (linked to a new UUID
	// once it has a first one).
	if _, err := s.Link(ctx, ep, keys[4], "00000000-0000-4000-8000-000000000004", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Link(ctx, ep, keys[4], "00000000-0000-4000-8000-000000000044", "test"); err != nil {
		t.Fatal(err)
	}
	job, _, err := s.CreateJob(ctx, Job{EndpointID: ep.ID, Type: JobSource, TrackingID: "snapshot", Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if job, err = s.RunSource(ctx, ep, job, digest.Digest{}); err != nil {
		t.Fatal(err)
	}
	read := func() []Resource {
		t.Helper()
		var all []Resource
		for off := 0; ; off += 3 { // pages of 3
			page, err := s.SourceEntries(ctx, job, off, 3)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, page...)
			if len(page) < 3 {
				return all
			}
		}
	}
	selected := read()
	if len(selected) != n {
		t.Fatalf("%d entries selected, want %d", len(selected), n)
	}
	if got := lazyRows(t, s, job); got != n {
		t.Fatalf("%d of %d selection rows name their resource: the selection copied rows", got, n)
	}
	byKey := map[string]Resource{}
	for _, r := range selected {
		byKey[r.Key] = r
	}
	if a := byKey[keys[4]].Aliases; len(a) != 1 || a[0] != "00000000-0000-4000-8000-000000000004" {
		t.Fatalf("aliases of the linked resource in the feed: %q", a)
	}

	// The writes after the selection.
	if _, err := s.Update(ctx, ep, keys[1], func(cur Resource) (Write, error) {
		return Write{Payload: []byte(`<tradingAccount><name>changed</name></tradingAccount>`)}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, ep, keys[2], "test", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Link(ctx, ep, keys[3], "00000000-0000-4000-8000-000000000333", "test"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.RetireAliases(ctx, time.Now().Add(time.Hour)); err != nil || n == 0 {
		t.Fatalf("retire aliases: %d (%v)", n, err)
	}
	// Writes no store method makes today, straight in SQL: an alias added
	// to resource 6 alone, resource 7's row deleted.
	if _, err := s.w.ExecContext(ctx, `INSERT INTO uuid_aliases (endpoint_id, alias, resource_id, created)
		SELECT endpoint_id, '00000000-0000-4000-8000-000000000666', id, '2026-01-01T00:00:00Z' FROM resources WHERE endpoint_id = ? AND key = ?`, ep.ID, keys[6]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM resources WHERE endpoint_id = ? AND key = ?`, ep.ID, keys[7]); err != nil {
		t.Fatal(err)
	}
	refused := fmt.Errorf("refused")
	if _, err := s.Update(ctx, ep, keys[5], func(cur Resource) (Write, error) { return Write{}, refused }); err != refused {
		t.Fatalf("refused update: %v", err)
	}

	again := read()
	if !reflect.DeepEqual(again, selected) {
		for i := range selected {
			if i < len(again) && !reflect.DeepEqual(again[i], selected[i]) {
				t.Errorf("entry %d changed after the selection:\n got %+v\nwant %+v", i+1, again[i], selected[i])
			}
		}
		t.Fatalf("the feed changed after the selection (%d entries, want %d)", len(again), len(selected))
	}
	// Resources 1 to 4 and 6, 7 were copied (1 updated, 2 deleted, 3 linked
	// to a new UUID, 4 lost its alias, 6 gained one, 7's row went); 0 and
	// 5 still name their resource.
	if got := lazyRows(t, s, job); got != 2 {
		t.Fatalf("%d selection rows still name their resource after the writes, want 2", got)
	}
	// The store itself moved on: a new selection sees the new versions.
	cur, err := s.Get(ctx, ep, keys[1])
	if err != nil || cur.ETag == byKey[keys[1]].ETag {
		t.Fatalf("resource 1 after its update: %+v (%v)", cur, err)
	}
}
