package store

import (
	"context"
	"errors"
	"testing"
)

func TestRegistryStore(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	a, err := s.RegistryCreate(ctx, RegistryWrite{URL: "http://a/sdata/x", Payload: []byte("<endpoint/>"), Props: []byte(`{"title":"A","port":80}`), Title: "A"})
	if err != nil || a.Key != "1" || a.ETag == "" {
		t.Fatalf("create: %+v, %v", a, err)
	}
	if _, err := s.RegistryCreate(ctx, RegistryWrite{URL: "http://a/sdata/x", Payload: []byte("<endpoint/>"), Title: "dup"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate url: %v", err)
	}
	b, err := s.RegistryCreate(ctx, RegistryWrite{URL: "http://b/sdata/x", Payload: []byte("<endpoint/>"), Props: []byte(`{"title":"B","port":8080}`), Title: "B"})
	if err != nil || b.Key != "2" {
		t.Fatalf("create b: %+v, %v", b, err)
	}

	// Update: mutate sees the current state; its error aborts; URL stays unique.
	stop := errors.New("stop")
	if _, err := s.RegistryUpdate(ctx, "1", func(cur RegistryEntry) (RegistryWrite, error) { return RegistryWrite{}, stop }); !errors.Is(err, stop) {
		t.Fatalf("aborted update: %v", err)
	}
	if _, err := s.RegistryUpdate(ctx, "2", func(cur RegistryEntry) (RegistryWrite, error) {
		return RegistryWrite{URL: "http://a/sdata/x", Payload: cur.Payload, Title: cur.Title}, nil
	}); !errors.Is(err, ErrConflict) {
		t.Fatalf("update onto a taken url: %v", err)
	}
	a2, err := s.RegistryUpdate(ctx, "1", func(cur RegistryEntry) (RegistryWrite, error) {
		if cur.Title != "A" {
			t.Errorf("cur %+v", cur)
		}
		return RegistryWrite{URL: cur.URL, Payload: cur.Payload, Props: cur.Props, Title: "A2"}, nil
	})
	if err != nil || a2.ETag == a.ETag || a2.Title != "A2" {
		t.Fatalf("update: %+v (old etag %s), %v", a2, a.ETag, err)
	}
	for _, k := range []string{"9", "x", "01", "0", ""} {
		if _, err := s.RegistryGet(ctx, k); !errors.Is(err, ErrNotFound) {
			t.Fatalf("get %q: %v", k, err)
		}
	}

	// List: builtin first, filter and order apply to both.
	builtin := []RegistryEntry{{Key: "self", URL: "http://me/sdata/app", ETag: RegistryETag([]byte("<endpoint/>")), Payload: []byte("<endpoint/>"), Props: []byte(`{"title":"Me","port":443}`), Title: "Me"}}
	all, total, err := s.RegistryList(ctx, builtin, ListQuery{})
	if err != nil || total != 3 || len(all) != 3 || all[0].Key != "self" || !all[0].BuiltIn || all[1].Key != "1" || all[2].Key != "2" || all[1].BuiltIn {
		t.Fatalf("list: %d %+v, %v", total, all, err)
	}
	page, total, err := s.RegistryList(ctx, builtin, ListQuery{Where: `json_extract(r.props, '$."port"') > ?`, Args: []any{100},
		OrderBy: `json_extract(r.props, '$."port"') DESC`, Offset: 1, Limit: 5})
	if err != nil || total != 2 || len(page) != 1 || page[0].Key != "self" {
		t.Fatalf("filtered page: %d %+v, %v", total, page, err)
	}

	// Delete: check may abort; then it is gone, and keys are not reused.
	if err := s.RegistryDelete(ctx, "2", func(RegistryEntry) error { return ErrPrecondition }); !errors.Is(err, ErrPrecondition) {
		t.Fatalf("aborted delete: %v", err)
	}
	if err := s.RegistryDelete(ctx, "2", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.RegistryDelete(ctx, "2", nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	s.Close()
	s2, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, err := s2.RegistryGet(ctx, "1")
	if err != nil || got.Title != "A2" || got.ETag != a2.ETag {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
	c, err := s2.RegistryCreate(ctx, RegistryWrite{URL: "http://c/sdata/x", Payload: []byte("<endpoint/>"), Title: "C"})
	if err != nil || c.Key != "3" {
		t.Fatalf("key after delete and reopen: %+v, %v", c, err)
	}
}
