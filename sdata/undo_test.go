package sdata_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"sdatasync/sdata/auth"
	"sdatasync/sdata/store"
)

// TestDigestReplacementUndone replays the silent-loss attack of issue 12
// with a credential that may replace digests (an admin's), then undoes it
// from the audit record: the pass that found nothing finds the changes
// again, and the undo is itself audited.
func TestDigestReplacementUndone(t *testing.T) {
	ctx := context.Background()
	src := newProvider(t, 5)
	src.create("tradingAccounts", ta("Before", "B1"))
	dst := securedWith(t, 5, tokenTable{"sync-src": {Name: "token:sync-src", Grants: []auth.Grant{{Dataset: "*", Role: auth.Sync}},
		Endpoints: []string{src.URL}}})
	st, b := pushPage(t, src, dst, "sync-src", "tradingAccounts")
	mustStatus(t, http.StatusOK, st, b)
	srcEP := src.endpoint("tradingAccounts").URL
	good := dst.digest("tradingAccounts")

	// The replacement claims the source's tick is 99999999.
	forged := fmt.Sprintf(`<digest xmlns="http://schemas.sage.com/sdata/sync/2008/1"><origin>%[1]s</origin><digestEntry><endpoint>%[2]s</endpoint><tick>99999999</tick><conflictPriority>5</conflictPriority></digestEntry></digest>`,
		dst.endpoint("tradingAccounts").URL, srcEP)
	st, b = as(t, "admin", http.MethodPut, dst.kind("tradingAccounts")+"/$syncDigest", []byte(forged))
	mustStatus(t, http.StatusOK, st, b)
	src.create("tradingAccounts", ta("After", "A1"))
	st, b = pushPage(t, src, dst, "sync-src", "tradingAccounts")
	mustStatus(t, http.StatusOK, st, b)
	if n := len(dst.resources("tradingAccounts")); n != 1 {
		t.Fatalf("with the forged digest the pass should select nothing new; the target holds %d resources", n)
	}
	recs, _, err := dst.Store.AuditLog(ctx, store.AuditQuery{Operation: "digest.replaced"})
	if err != nil || len(recs) != 1 {
		t.Fatalf("the replacement in the audit log: %+v %v", recs, err)
	}
	id := strconv.FormatInt(recs[0].ID, 10)
	undo := dst.kind("tradingAccounts") + "/$syncLog('" + id + "')/$undo"

	// Only an admin may undo.
	for _, tok := range []string{"sync", "auditor", "writer"} {
		st, b = as(t, tok, http.MethodPost, undo, nil)
		mustStatus(t, http.StatusForbidden, st, b)
	}
	st, b = as(t, "admin", http.MethodPost, undo, nil)
	mustStatus(t, http.StatusOK, st, b)
	if got, want := dst.digest("tradingAccounts").Tick(srcEP), good.Tick(srcEP); got != want {
		t.Fatalf("after the undo the source's tick is %d, want %d as before the replacement", got, want)
	}
	st, b = pushPage(t, src, dst, "sync-src", "tradingAccounts")
	mustStatus(t, http.StatusOK, st, b)
	if n := len(dst.resources("tradingAccounts")); n != 2 {
		t.Fatalf("after the undo the pass should bring the change made meanwhile; the target holds %d resources", n)
	}
	undone, _, err := dst.Store.AuditLog(ctx, store.AuditQuery{Operation: "digest.undone"})
	if err != nil || len(undone) != 1 || !strings.Contains(undone[0].Detail, `"undoes":`+id) {
		t.Fatalf("the undo in the audit log: %+v %v", undone, err)
	}

	// Records that are not replacements, unknown and malformed ids.
	other, _, err := dst.Store.AuditLog(ctx, store.AuditQuery{Operation: "target.post", Limit: 1})
	if err != nil || len(other) != 1 {
		t.Fatalf("a target.post record: %+v %v", other, err)
	}
	for _, c := range []struct {
		id     string
		status int
	}{{strconv.FormatInt(other[0].ID, 10), http.StatusConflict}, {"999999", http.StatusNotFound}, {"x", http.StatusBadRequest}, {"-1", http.StatusBadRequest}} {
		st, b = as(t, "admin", http.MethodPost, dst.kind("tradingAccounts")+"/$syncLog('"+c.id+"')/$undo", nil)
		mustStatus(t, c.status, st, b)
		diagnosesOf(t, b)
	}
}
