package store

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
)

// TestReadAfterWriteIsNeverStale: a read through the reader pool (with its
// statement cache) always sees the write committed just before it, while
// other readers keep the pool busy.
func TestReadAfterWriteIsNeverStale(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	ep := testEndpoint(t, s)
	var keys []string
	for i := 0; i < 20; i++ {
		r, err := s.Create(ctx, ep, Write{Payload: []byte(`<x/>`), Props: []byte(`{"n":1}`)})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, r.Key)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				s.List(ctx, ep, ListQuery{Limit: 5})
				s.Get(ctx, ep, keys[0])
				s.GetByUUID(ctx, ep, "00000000-0000-0000-0000-000000000000")
				s.Digest(ctx, ep)
			}
		}()
	}
	defer func() { stop.Store(true); wg.Wait() }()
	for i := 0; i < 1000; i++ {
		k := keys[i%len(keys)]
		w, err := s.Update(ctx, ep, k, func(cur Resource) (Write, error) {
			return Write{Payload: []byte(`<x>` + string(rune('a'+i%26)) + `</x>`), Props: cur.Props}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		rs, _, err := s.List(ctx, ep, ListQuery{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Key == k && r.ETag != w.ETag {
				t.Fatalf("iteration %d: list shows ETag %s for %s, the write committed %s", i, r.ETag, k, w.ETag)
			}
		}
		g, err := s.Get(ctx, ep, k)
		if err != nil || g.ETag != w.ETag {
			t.Fatalf("iteration %d: get shows %s, want %s (%v)", i, g.ETag, w.ETag, err)
		}
	}
}
