package store

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
)

func openTest(t *testing.T) (*SQLite, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sub", "test.db")
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

const epURL = "http://localhost/sdata/app/gcrm/-/tradingAccounts"

func testEndpoint(t *testing.T, s *SQLite) Endpoint {
	t.Helper()
	ep, err := s.Endpoint(context.Background(), "-", "tradingAccounts", epURL, 3)
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

func ownTick(t *testing.T, s *SQLite, ep Endpoint) int64 {
	t.Helper()
	d, err := s.Digest(context.Background(), ep)
	if err != nil {
		t.Fatal(err)
	}
	return d.Tick(ep.URL)
}

func TestEndpointIsPersistedAndStable(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	ep := testEndpoint(t, s)
	if ep.Priority != 3 || ep.URL != epURL {
		t.Fatalf("endpoint = %+v", ep)
	}
	d, _ := s.Digest(ctx, ep)
	if d.Origin != epURL || len(d.Entries) != 1 || d.Entries[0].Tick != 1 || d.Entries[0].ConflictPriority != 3 {
		t.Fatalf("new digest = %+v", d)
	}
	s.Close()
	s2, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	ep2, err := s2.Endpoint(ctx, "-", "tradingAccounts", "http://other/base/tradingAccounts", 5)
	if err != nil {
		t.Fatal(err)
	}
	if ep2.URL != epURL || ep2.ID != ep.ID || ep2.Priority != 3 {
		t.Fatalf("reopened endpoint changed: %+v", ep2)
	}
	if _, err := s2.Endpoint(ctx, "-", "contacts", "http://x/contacts", 0); err == nil {
		t.Fatal("priority 0 accepted")
	}
}

func TestEveryWriteTicksOnceAtomically(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	ep := testEndpoint(t, s)
	if got := ownTick(t, s, ep); got != 1 {
		t.Fatalf("initial tick %d", got)
	}
	a, err := s.Create(ctx, ep, Write{Payload: []byte(`<tradingAccount><name>A</name></tradingAccount>`), Props: []byte(`{"name":"A"}`), User: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Key != "1" || a.State.Tick != 1 || a.State.Endpoint != epURL || a.Change != Created || a.ETag == "" || a.State.User != "u1" {
		t.Fatalf("created %+v", a)
	}
	if got := ownTick(t, s, ep); got != 2 {
		t.Fatalf("tick after create %d", got)
	}
	b, err := s.Update(ctx, ep, a.Key, func(cur Resource) (Write, error) {
		return Write{Payload: []byte(`<tradingAccount><name>B</name></tradingAccount>`), Props: []byte(`{"name":"B"}`)}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if b.State.Tick != 2 || b.Change != Updated || b.ETag == a.ETag {
		t.Fatalf("updated %+v", b)
	}
	// A failed mutate advances nothing and changes nothing.
	boom := errors.New("boom")
	if _, err := s.Update(ctx, ep, a.Key, func(cur Resource) (Write, error) { return Write{}, boom }); !errors.Is(err, boom) {
		t.Fatalf("update error = %v", err)
	}
	if _, err := s.Delete(ctx, ep, a.Key, "", func(cur Resource) error { return ErrPrecondition }); !errors.Is(err, ErrPrecondition) {
		t.Fatalf("delete error = %v", err)
	}
	if got := ownTick(t, s, ep); got != 3 {
		t.Fatalf("tick after failed writes %d, want 3", got)
	}
	cur, _ := s.Get(ctx, ep, a.Key)
	if string(cur.Payload) != string(b.Payload) || cur.ETag != b.ETag {
		t.Fatalf("failed writes changed the resource: %+v", cur)
	}
	// Duplicate key: conflict, no tick.
	if _, err := s.Create(ctx, ep, Write{Key: a.Key, Payload: []byte(`<x/>`)}); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate key error = %v", err)
	}
	if got := ownTick(t, s, ep); got != 3 {
		t.Fatalf("tick after conflict %d, want 3", got)
	}
	d, err := s.Delete(ctx, ep, a.Key, "u2", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Deleted || d.State.Tick != 3 || d.Change != Deleted {
		t.Fatalf("deleted %+v", d)
	}
	// The tombstone stays readable; a second delete is not found.
	if tomb, err := s.Get(ctx, ep, a.Key); err != nil || !tomb.Deleted {
		t.Fatalf("tombstone %+v %v", tomb, err)
	}
	if _, err := s.Delete(ctx, ep, a.Key, "", nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete = %v", err)
	}
	if _, err := s.Update(ctx, ep, a.Key, func(Resource) (Write, error) { return Write{}, nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update of tombstone = %v", err)
	}
	if got := ownTick(t, s, ep); got != 4 {
		t.Fatalf("final tick %d, want 4", got)
	}
}

func TestConcurrentWritesGetDistinctTicks(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	ep := testEndpoint(t, s)
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Create(ctx, ep, Write{Payload: []byte(`<tradingAccount/>`)})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	rs, total, err := s.List(ctx, ep, ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if total != n || len(rs) != n {
		t.Fatalf("total %d len %d", total, len(rs))
	}
	seen := map[int64]bool{}
	for _, r := range rs {
		if seen[r.State.Tick] {
			t.Fatalf("tick %d used twice", r.State.Tick)
		}
		seen[r.State.Tick] = true
	}
	if got := ownTick(t, s, ep); got != n+1 {
		t.Fatalf("tick %d, want %d", got, n+1)
	}
}

func TestListFiltersOrdersAndPages(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	ep := testEndpoint(t, s)
	for _, p := range []string{`{"name":"c","n":3}`, `{"name":"a","n":1}`, `{"name":"b","n":2}`, `{"name":"d","n":4}`} {
		if _, err := s.Create(ctx, ep, Write{Payload: []byte("<x/>"), Props: []byte(p)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Delete(ctx, ep, "4", "", nil); err != nil {
		t.Fatal(err)
	}
	rs, total, err := s.List(ctx, ep, ListQuery{Where: `json_extract(props,'$."n"') > ?`, Args: []any{1}, OrderBy: `json_extract(props,'$."name"') DESC`, Limit: 1, Offset: 1})
	if err != nil {
		t.Fatal(err)
	}
	if total != 2 || len(rs) != 1 || rs[0].Key != "3" {
		t.Fatalf("total %d, page %+v", total, rs)
	}
	_, total, _ = s.List(ctx, ep, ListQuery{IncludeDeleted: true})
	if total != 4 {
		t.Fatalf("with tombstones: %d", total)
	}
}

func TestUUIDUniquePerEndpoint(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	ep := testEndpoint(t, s)
	const u = "74926A0D-D2C0-4DAA-9986-47C833691569"
	a, err := s.Create(ctx, ep, Write{UUID: u, Payload: []byte("<x/>")})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetByUUID(ctx, ep, u); err != nil || got.Key != a.Key {
		t.Fatalf("by uuid: %+v %v", got, err)
	}
	if _, err := s.Create(ctx, ep, Write{UUID: u, Payload: []byte("<x/>")}); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate uuid: %v", err)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	if _, err := s.w.ExecContext(ctx, `PRAGMA user_version = 99`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := OpenSQLite(ctx, path); err == nil {
		t.Fatal("opened a database with a newer schema")
	}
}
