package digest

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestContextProperties checks ContextOf, Union, Beyond and Including on
// random digests and contexts over a small set of endpoints.
func TestContextProperties(t *testing.T) {
	eps := []string{"A", "B", "C", "D"}
	r := rand.New(rand.NewPCG(3, 4))
	randDigest := func() Digest {
		var d Digest
		for _, ep := range eps {
			if r.IntN(3) > 0 {
				d.Set(Entry{Endpoint: ep, Tick: int64(r.IntN(6)), ConflictPriority: r.IntN(10)})
			}
		}
		return d
	}
	randContext := func() Context {
		c := Context{}
		for _, ep := range eps {
			if r.IntN(2) == 0 {
				c[ep] = int64(r.IntN(6))
			}
		}
		return c
	}
	for i := range 2000 {
		d, c, o := randDigest(), randContext(), randContext()
		before := fmt.Sprint(d)
		inc := d.Including(c)
		if fmt.Sprint(d) != before {
			t.Fatalf("%d: Including modified its receiver", i)
		}
		for _, ep := range eps {
			if got, want := inc.Tick(ep), max(d.Tick(ep), c[ep]); got != want {
				t.Fatalf("%d: %v.Including(%v) tick of %s = %d, want %d", i, d, c, ep, got, want)
			}
			if e, ok := d.Get(ep); ok && inc.Priority(ep) != d.Priority(ep) {
				t.Fatalf("%d: Including changed the priority of %v", i, e)
			}
			if got := ContextOf(d)[ep]; got != d.Tick(ep) {
				t.Fatalf("%d: ContextOf(%v)[%s] = %d", i, d, ep, got)
			}
			u, v := c.Union(o), o.Union(c)
			if u[ep] != max(c[ep], o[ep]) || v[ep] != u[ep] {
				t.Fatalf("%d: %v ∪ %v = %v / %v", i, c, o, u, v)
			}
		}
		// What Beyond keeps is exactly what the digest does not claim, and
		// deciding with it is deciding with the whole context.
		b := c.Beyond(d)
		for ep, tk := range c {
			if _, kept := b[ep]; kept != (tk > d.Tick(ep)) {
				t.Fatalf("%d: %v.Beyond(%v) = %v", i, c, d, b)
			}
		}
		if fmt.Sprint(ContextOf(d.Including(b))) != fmt.Sprint(ContextOf(inc)) {
			t.Fatalf("%d: Including(Beyond) %v differs from Including %v", i, d.Including(b), inc)
		}
	}
	if Context(nil).Union(nil) == nil || len(Context(nil).Union(Context{"A": 1})) != 1 {
		t.Fatal("Union of nil contexts")
	}
}
