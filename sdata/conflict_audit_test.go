package sdata_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"sdatasync/digest"
	"sdatasync/sdata/store"
	"sdatasync/sdata/syncurls"
)

// editBoth makes one concurrent edit of the resource key of src (already
// synchronized to dst) on each side.
func editBoth(t *testing.T, src, dst *provider, kind, key, srcName, dstName string) {
	t.Helper()
	src.update(kind, key, ta(srcName, "S"+key))
	r, err := src.Store.Get(t.Context(), src.endpoint(kind), key)
	if err != nil {
		t.Fatal(err)
	}
	held, err := dst.Store.GetByUUID(t.Context(), dst.endpoint(kind), r.UUID)
	if err != nil {
		t.Fatal(err)
	}
	// Stamps have millisecond precision: the target's edit must fall in a
	// later millisecond to be the later one (else the endpoints decide).
	for time.Now().UTC().Truncate(time.Millisecond).Equal(r.State.Stamp) || !time.Now().UTC().After(r.State.Stamp) {
		time.Sleep(time.Millisecond)
	}
	dst.update(kind, held.Key, ta(dstName, "T"+key))
}

// TestConflictAuditKeepsBothVersions: the audit record of a conflict
// carries the winning and the losing version, the rule that decided and
// the winner, whichever side wins.
func TestConflictAuditKeepsBothVersions(t *testing.T) {
	for _, tc := range []struct {
		name         string
		srcP, dstP   int
		winner, rule string
	}{
		{"source wins by priority", 3, 5, "source", digest.RulePriority},
		{"target wins by priority", 5, 3, "target", digest.RulePriority},
		{"equal priorities: later stamp", 5, 5, "target", digest.RuleStamp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := newProvider(t, tc.srcP), newProvider(t, tc.dstP)
			const kind = "tradingAccounts"
			key := src.create(kind, ta("Original Ltd", "O1"))
			catchUp(t, src, dst, kind, 10, "conflict-1")
			editBoth(t, src, dst, kind, key, "Source Side Ltd", "Target Side Ltd") // the target edits last
			catchUp(t, src, dst, kind, 10, "conflict-2")
			recs, _, err := dst.Store.AuditLog(t.Context(), store.AuditQuery{Operation: "target.conflict"})
			if err != nil || len(recs) != 1 {
				t.Fatalf("conflict records: %d %v", len(recs), err)
			}
			var d syncurls.ConflictDetail
			if err := json.Unmarshal([]byte(recs[0].Detail), &d); err != nil {
				t.Fatal(err)
			}
			won, lost := "Source Side Ltd", "Target Side Ltd"
			if tc.winner == "target" {
				won, lost = lost, won
			}
			if d.Winner != tc.winner || d.Rule != tc.rule || d.Won == nil || d.Lost == nil {
				t.Fatalf("detail %+v, want winner %s by %s with both versions", d, tc.winner, tc.rule)
			}
			if !strings.Contains(d.Won.Payload, won) || !strings.Contains(d.Lost.Payload, lost) {
				t.Errorf("winner payload %s\nloser payload %s\nwant %q won over %q", d.Won.Payload, d.Lost.Payload, won, lost)
			}
			if d.Key == "" || d.UUID == "" {
				t.Errorf("the record names no resource: %+v", d)
			}
		})
	}
}
