package sdata_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
)

// TestPollHeldUntilDone: one GET on the Location right after the POST
// answers with the finished job (no 202 round trips for a short job).
func TestPollHeldUntilDone(t *testing.T) {
	a, b := newProvider(t, 5), newProvider(t, 5)
	for i := 0; i < 20; i++ {
		a.create("tradingAccounts", ta("Acc "+itoa(i), "R"+itoa(i)))
	}
	q := "?runName=hold&runStamp=2026-11-22T10:00:00Z&trackingID="
	page := firstPage(t, a, b, "tradingAccounts", 100)
	st, h, body := do(t, http.MethodPost, b.kind("tradingAccounts")+"/$syncTarget"+q+uuid.NewString(), page)
	mustStatus(t, http.StatusAccepted, st, body)
	st, _, res := do(t, http.MethodGet, h.Get("Location"), nil)
	mustStatus(t, http.StatusOK, st, res)
	if f := parseFeedBytes(t, res); f.TotalResults != 20 {
		t.Fatalf("results for %d entries, want 20", f.TotalResults)
	}
}
