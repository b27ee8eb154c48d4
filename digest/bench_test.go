package digest

import (
	"fmt"
	"testing"
	"time"
)

func benchDigests(n int) (Digest, Digest) {
	var s, t Digest
	for i := range n {
		ep := fmt.Sprintf("http://host%d.example/sdata/app/contract/-/accounts", i)
		s.Set(Entry{Endpoint: ep, Tick: int64(100 + i), ConflictPriority: 1 + i%9})
		t.Set(Entry{Endpoint: ep, Tick: int64(100 + i - i%2), ConflictPriority: 1 + i%9})
	}
	return s, t
}

func BenchmarkDecide(b *testing.B) {
	for _, n := range []int{3, 20} {
		b.Run(fmt.Sprintf("endpoints=%d", n), func(b *testing.B) {
			sd, td := benchDigests(n)
			now := time.Now()
			src := SyncState{Endpoint: sd.Entries[n-1].Endpoint, Tick: 99 + int64(n), Stamp: now}
			tgt := SyncState{Endpoint: td.Entries[n-2].Endpoint, Tick: 98 + int64(n), Stamp: now}
			for b.Loop() {
				_ = Decide(sd, td, src, &tgt)
			}
		})
	}
}

func BenchmarkMissing(b *testing.B) {
	for _, n := range []int{3, 20} {
		b.Run(fmt.Sprintf("endpoints=%d", n), func(b *testing.B) {
			sd, td := benchDigests(n)
			for b.Loop() {
				_ = Missing(sd, td)
			}
		})
	}
}
