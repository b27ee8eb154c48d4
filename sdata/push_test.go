package sdata_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"sdatasync/sdata/store"
)

// waitFor polls cond (bounded) and fails when it never holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("never: %s", what)
}

// TestImmediatePush: with --push-to, a local change reaches the target as an
// immediate feed; a target that missed earlier changes refuses the push
// (gap) and the next catch-up pass repairs it.
func TestImmediatePush(t *testing.T) {
	b := newProvider(t, 5)
	a := newProvider(t, 3)
	const kind = "tradingAccounts"
	// Changes made before pushing was configured: tick 1 is superseded by
	// tick 2, so a push starting at B's tick (1) begins at tick 2: a gap.
	k0 := a.create(kind, ta("Before 1", "B1"))
	a.update(kind, k0, `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><name>Before 1 changed</name></tradingAccount>`)
	a.Stop()
	a.Config.PushTo = []string{b.HTTP.URL + "/sdata/sdatasync/gcrm/-"}
	a.restart()
	// B holds nothing of A: the push of ticks 2 and 3 has a gap at 1 and
	// is refused, nothing applied (the refusal is in B's audit log).
	a.create(kind, ta("Pushed 1", "P1"))
	waitFor(t, "B refused the push", func() bool {
		recs, _, err := b.Store.AuditLog(context.Background(), store.AuditQuery{RunName: "immediate-push", Operation: "target.post"})
		return err == nil && len(recs) > 0 && recs[0].Status == 400
	})
	if n := len(b.resources(kind)); n != 0 {
		t.Fatalf("B applied %d resources of a feed with a gap", n)
	}
	// A catch-up pass repairs; from then on pushes apply.
	catchUp(t, a, b, kind, 100, "repair")
	if n := len(b.resources(kind)); n != 2 {
		t.Fatalf("after catch-up B has %d", n)
	}
	k := a.create(kind, ta("Pushed 2", "P2"))
	waitFor(t, "the create pushed to B", func() bool { return len(b.resources(kind)) == 3 })
	a.update(kind, k, `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><name>Pushed 2 changed</name></tradingAccount>`)
	a.remove(kind, k)
	waitFor(t, "the delete pushed to B", func() bool {
		for _, s := range b.resources(kind) {
			if s.deleted {
				return true
			}
		}
		return false
	})
	// Only A's own endpoint ticks moved; B's digest holds A's latest tick.
	if got, want := b.digest(kind).Tick(a.endpoint(kind).URL), a.digest(kind).Tick(a.endpoint(kind).URL); got != want {
		t.Fatalf("B's tick for A %d, A's own %d", got, want)
	}
}

// TestPushedVersionIncludesItsAncestor: a version that arrived by an
// immediate push includes what its source held, beyond what the target's
// digest claims (immediate feeds have no end-of-feed merge). When the older
// version it was made from arrives later from a third provider, the target
// must see no conflict, although that provider has the highest priority:
// otherwise the older version would win and undo the edit everywhere.
func TestPushedVersionIncludesItsAncestor(t *testing.T) {
	c := newProvider(t, 1)
	a := newProvider(t, 5)
	b := newProvider(t, 5)
	const kind = "tradingAccounts"
	a.Stop()
	a.Config.PushTo = []string{b.HTTP.URL + "/sdata/sdatasync/gcrm/-"}
	a.restart()

	c.create(kind, ta("Origin", "O1"))
	catchUp(t, c, a, kind, 10, "c-to-a")
	a.update(kind, keyByName(t, a, kind, "Origin"), `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><name>Edited at A</name></tradingAccount>`)
	waitFor(t, "A's edit pushed to B", func() bool {
		for _, s := range b.resources(kind) {
			if strings.Contains(s.payload, "Edited at A") {
				return true
			}
		}
		return false
	})
	// B's digest claims A's tick, not C's: only the pushed version's
	// context says that it includes C's.
	if tk := ticks(b.digest(kind))[c.kind(kind)]; tk != 0 {
		t.Fatalf("B's digest claims C's ticks below %d before any pass from C", tk)
	}
	res := catchUp(t, c, b, kind, 10, "c-to-b")
	if len(res) != 1 || res[0].HTTPStatus != http.StatusOK || len(res[0].Diagnoses) != 1 || res[0].Diagnoses[0].ApplicationCode != "Skip" {
		t.Fatalf("C's older version at B: %d results, first %+v, want skipped without a conflict", len(res), *res[0])
	}
	if recs, _, err := b.Store.AuditLog(context.Background(), store.AuditQuery{Operation: "target.conflict"}); err != nil || len(recs) != 0 {
		t.Fatalf("B recorded conflicts: %+v %v", recs, err)
	}
	for _, p := range []*provider{a, b, c} {
		for _, q := range []*provider{a, b, c} {
			if p != q {
				catchUp(t, p, q, kind, 10, "settle")
			}
		}
	}
	assertConverged(t, a, b, kind)
	assertConverged(t, a, c, kind)
	for _, s := range c.resources(kind) {
		if !strings.Contains(s.payload, "Edited at A") {
			t.Fatalf("the edit made at A was undone: C holds %s", s.payload)
		}
	}
	// Contexts no resource names are swept when the store opens.
	b.Stop()
	b.restart()
	_, r := b.Store.DB()
	var stray int
	if err := r.QueryRow(`SELECT count(*) FROM sync_contexts WHERE id NOT IN
		(SELECT sync_context FROM resources WHERE sync_context IS NOT NULL)`).Scan(&stray); err != nil || stray != 0 {
		t.Fatalf("%d unreferenced contexts after open (%v)", stray, err)
	}
}
