package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// benchStore is a store of n trading accounts in b's temporary folder.
func benchStore(b *testing.B, n int) (*SQLite, Endpoint, []Resource) {
	b.Helper()
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ep, err := s.Endpoint(ctx, "-", "tradingAccounts", epURL, 1)
	if err != nil {
		b.Fatal(err)
	}
	rs := make([]Resource, 0, n)
	for i := range n {
		r, err := s.Create(ctx, ep, Write{UUID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			Payload: fmt.Appendf(nil, `<tradingAccount><reference>ACC%07d</reference><name>Company %d Ltd</name></tradingAccount>`, i, i)})
		if err != nil {
			b.Fatal(err)
		}
		rs = append(rs, r)
	}
	return s, ep, rs
}

// BenchmarkGetByKey is the store's part of a single-resource read: one
// lookup by key, the row and its node's URL.
func BenchmarkGetByKey(b *testing.B) {
	s, ep, rs := benchStore(b, 20000)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := rs[(i*7919)%len(rs)]
		got, err := s.Get(ctx, ep, r.Key)
		if err != nil || got.ETag != r.ETag {
			b.Fatalf("get %s: %v (%q, want %q)", r.Key, err, got.ETag, r.ETag)
		}
	}
}

// BenchmarkGetByUUID is the lookup a target makes for each entry of a
// sync page: the UUID, then the row.
func BenchmarkGetByUUID(b *testing.B) {
	s, ep, rs := benchStore(b, 20000)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := rs[(i*7919)%len(rs)]
		got, err := s.GetByUUID(ctx, ep, r.UUID)
		if err != nil || got.Key != r.Key {
			b.Fatalf("get %s: %v (%q, want %q)", r.UUID, err, got.Key, r.Key)
		}
	}
}

// BenchmarkUUIDUnknown is the lookup a target makes for an entry it does
// not hold yet (every entry of a first full pass): the UUID, then its
// aliases.
func BenchmarkUUIDUnknown(b *testing.B) {
	s, ep, _ := benchStore(b, 20000)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u := fmt.Sprintf("00000000-0000-4000-9000-%012d", i)
		if _, err := s.GetByUUID(ctx, ep, u); err != ErrNotFound {
			b.Fatalf("get %s: %v, want not found", u, err)
		}
	}
}
