package sdata_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"sdatasync/sdata"
	"sdatasync/sdata/auth"
	"sdatasync/sdata/engine"
	"sdatasync/sdata/sdatatest"
	"sdatasync/sdata/store"
)

// Tests with real authentication: an auth.Verifier over the provider's own
// users and tokens (sdatatest.Options.Auth), no stand-in.

const (
	adminPW  = "admin-password-1"
	annPW    = "ann-password-1"
	enginePW = "engine-password-1"
)

// realAuth is the users and tokens of a provider with real authentication;
// the token "src-engine" speaks for the endpoints under src (if given).
func realAuth(src string) *sdatatest.Auth {
	a := &sdatatest.Auth{
		Users: []sdatatest.User{
			{Name: "admin", Password: adminPW, Grants: []auth.Grant{{Dataset: auth.AnyDataset, Role: auth.Admin}}},
			{Name: "ann", Password: annPW, Grants: []auth.Grant{{Dataset: "-", Role: auth.Writer}}},
			{Name: "engine", Password: enginePW, Grants: []auth.Grant{{Dataset: auth.AnyDataset, Role: auth.Sync}}},
		},
		Tokens: []auth.TokenSpec{
			{Name: "other-engine", Grants: []auth.Grant{{Dataset: auth.AnyDataset, Role: auth.Sync}}},
			{Name: "auditor", Grants: []auth.Grant{{Dataset: auth.AnyDataset, Role: auth.Auditor}}},
			{Name: "writer2", Grants: []auth.Grant{{Dataset: "-", Role: auth.Writer}}},
		},
	}
	if src != "" {
		a.Tokens = append(a.Tokens, auth.TokenSpec{Name: "src-engine", Grants: []auth.Grant{{Dataset: auth.AnyDataset, Role: auth.Sync}},
			Endpoints: []string{src}})
	}
	return a
}

func basicAuth(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

// realProvider starts a provider with real authentication.
func realProvider(t *testing.T, priority int, src string, wrap func(http.Handler) http.Handler) *provider {
	return &provider{t: t, Provider: sdatatest.Start(t, sdatatest.Options{Auth: realAuth(src), Wrap: wrap,
		Config: func(c *sdata.Config) { c.ConflictPriority = priority }})}
}

// bearer is the Authorization header of a token of p.
func bearer(p *provider, name string) string { return "Bearer " + p.Tokens[name] }

func (p *provider) audit(q store.AuditQuery) []store.AuditRecord {
	p.t.Helper()
	recs, _, err := p.Store.AuditLog(context.Background(), q)
	if err != nil {
		p.t.Fatal(err)
	}
	return recs
}

// TestIssueAttacksWithRealAuth reproduces both attacks of issue 12 against
// a provider with real authentication: the inflated digest and the forged
// feed, anonymous, with a made-up password (`-u cfo:anything`) and with a
// sync credential that does not speak for the endpoint. Each is refused,
// nothing stored changes, and each attempt is in the audit log, never
// naming a user the client merely asserted.
func TestIssueAttacksWithRealAuth(t *testing.T) {
	src := newProvider(t, 5)
	src.create("tradingAccounts", ta("Genuine", "G1"))
	dst := realProvider(t, 5, src.URL, nil)
	kind := dst.kind("tradingAccounts")
	srcEP := src.endpoint("tradingAccounts").URL
	inflated := []byte(`<digest xmlns="http://schemas.sage.com/sdata/sync/2008/1"><origin>` + srcEP + `</origin><digestEntry><endpoint>` + srcEP +
		`</endpoint><tick>99999999</tick><stamp>2026-11-28T00:00:00Z</stamp><conflictPriority>5</conflictPriority></digestEntry></digest>`)
	before := fmt.Sprint(dst.digest("tradingAccounts"))
	for _, c := range []struct {
		who, header string
		status      int
	}{
		{"anonymous", "", http.StatusUnauthorized},
		{"cfo:anything", basicAuth("cfo", "anything"), http.StatusUnauthorized},
		{"ann with a wrong password", basicAuth("ann", "nope-nope-1"), http.StatusUnauthorized},
		{"ann (writer, not sync)", basicAuth("ann", annPW), http.StatusForbidden},
		{"a sync token for other endpoints", bearer(dst, "other-engine"), http.StatusForbidden},
	} {
		for _, a := range []struct {
			name, method, url string
			body              []byte
		}{
			{"inflated digest", http.MethodPut, kind + "/$syncDigest", inflated},
			{"forged feed", http.MethodPost, kind + "/$syncTarget", forgedFeed("tradingAccounts")},
		} {
			var hdr []string
			if c.header != "" {
				hdr = []string{"Authorization", c.header}
			}
			st, h, b := doWith(t, a.method, a.url, a.body, hdr...)
			if st != c.status {
				t.Fatalf("%s by %s: %d, want %d\n%s", a.name, c.who, st, c.status, b)
			}
			diagnosesOf(t, b)
			if st == http.StatusUnauthorized && !strings.Contains(h.Get("WWW-Authenticate"), "Basic") {
				t.Fatalf("%s by %s: 401 without a Basic challenge", a.name, c.who)
			}
		}
	}
	if after := fmt.Sprint(dst.digest("tradingAccounts")); after != before || len(dst.resources("tradingAccounts")) != 0 {
		t.Fatalf("the attacks changed the target: %s -> %s, %d resources", before, after, len(dst.resources("tradingAccounts")))
	}
	unauth := dst.audit(store.AuditQuery{Operation: "denied.unauthenticated"})
	claimed := map[string]int{}
	for _, r := range unauth {
		if r.Principal != "" {
			t.Errorf("a refused authentication names principal %q", r.Principal)
		}
		for _, who := range []string{"cfo", "ann", ""} {
			if strings.Contains(r.Detail, `"claimed":"`+who+`"`) {
				claimed[who]++
			}
		}
	}
	if claimed[""] != 2 || claimed["cfo"] != 2 || claimed["ann"] != 2 {
		t.Fatalf("unauthenticated attempts in the audit log: %v\n%+v", claimed, unauth)
	}
	if recs := dst.audit(store.AuditQuery{Principal: "cfo"}); len(recs) != 0 {
		t.Fatalf("the audit log names the asserted user cfo: %+v", recs)
	}
	if recs := dst.audit(store.AuditQuery{Principal: "ann"}); len(recs) != 2 || !strings.HasPrefix(recs[0].Operation, "denied.") {
		t.Fatalf("ann's refused attempts: %+v", recs)
	}
	if recs := dst.audit(store.AuditQuery{Principal: "token:other-engine"}); len(recs) < 2 || recs[0].Status != http.StatusForbidden {
		t.Fatalf("the sync token's refused attempts: %+v", recs)
	}
	// The genuine engine, with the credential that speaks for the source.
	st, b := pushPageAs(t, src, dst, bearer(dst, "src-engine"), "tradingAccounts")
	mustStatus(t, http.StatusOK, st, b)
	if len(dst.resources("tradingAccounts")) != 1 {
		t.Fatalf("the genuine page was not applied\n%s", b)
	}
	if rs := dst.resources("tradingAccounts"); !strings.Contains(fmt.Sprint(rs), "Genuine") {
		t.Fatalf("target holds %v", rs)
	}
}

// pushPageAs is pushPage with an Authorization header for dst.
func pushPageAs(t *testing.T, src, dst *provider, authz, kind string) (int, []byte) {
	t.Helper()
	st, _, dg := doWith(t, http.MethodGet, dst.kind(kind)+"/$syncDigest", nil, "Authorization", authz)
	mustStatus(t, http.StatusOK, st, dg)
	st, _, page := do(t, http.MethodPost, src.kind(kind)+"/$syncSource", dg)
	mustStatus(t, http.StatusOK, st, page)
	st, _, b := doWith(t, http.MethodPost, dst.kind(kind)+"/$syncTarget", page, "Authorization", authz)
	return st, b
}

// TestJobOwnership: a sync job is read and freed by the principal that
// created it or an admin; another sync credential gets 403 (audited), even
// re-posting its tracking ID.
func TestJobOwnership(t *testing.T) {
	p := realProvider(t, 5, "", nil)
	kind := p.kind("tradingAccounts")
	eng, other, admin := basicAuth("engine", enginePW), bearer(p, "other-engine"), basicAuth("admin", adminPW)
	id := uuid.NewString()
	digest := []byte(`<digest xmlns="http://schemas.sage.com/sdata/sync/2008/1"></digest>`)
	st, h, b := doWith(t, http.MethodPost, kind+"/$syncSource?trackingID="+id, digest, "Authorization", eng)
	mustStatus(t, http.StatusAccepted, st, b)
	loc := h.Get("Location")
	for _, m := range []string{http.MethodGet, http.MethodDelete} {
		st, _, b := doWith(t, m, loc, nil, "Authorization", other)
		mustStatus(t, http.StatusForbidden, st, b)
	}
	st, _, b = doWith(t, http.MethodPost, kind+"/$syncSource?trackingID="+id, digest, "Authorization", other)
	mustStatus(t, http.StatusForbidden, st, b)
	st, _, b = doWith(t, http.MethodDelete, kind+"/$syncSource?trackingID="+id, nil, "Authorization", other)
	mustStatus(t, http.StatusForbidden, st, b)
	denied := p.audit(store.AuditQuery{Operation: "denied.job"})
	if len(denied) != 4 || denied[0].Principal != "token:other-engine" || !strings.Contains(denied[0].Detail, `"owner":"engine"`) {
		t.Fatalf("denied.job records: %+v", denied)
	}
	for {
		st, _, b = doWith(t, http.MethodGet, loc, nil, "Authorization", eng)
		if st != http.StatusAccepted {
			break
		}
	}
	mustStatus(t, http.StatusOK, st, b)
	st, _, b = doWith(t, http.MethodGet, loc, nil, "Authorization", admin)
	mustStatus(t, http.StatusOK, st, b)
	st, _, b = doWith(t, http.MethodDelete, loc, nil, "Authorization", eng)
	mustStatus(t, http.StatusOK, st, b)
	// Every request of the engine is audited under its name, and the
	// filter finds them through $syncLog.
	st, _, b = doWith(t, http.MethodGet, p.DatasetURL()+"/$syncLog?principal=engine", nil, "Authorization", bearer(p, "auditor"))
	mustStatus(t, http.StatusOK, st, b)
	f := parseFeedBytes(t, b)
	if len(f.Entries) < 3 || f.TotalResults != len(f.Entries) {
		t.Fatalf("$syncLog?principal=engine: %d entries (total %d)", len(f.Entries), f.TotalResults)
	}
	for _, e := range f.Entries {
		if got := text(e.Payload, "principal"); got != "engine" {
			t.Fatalf("an entry of principal %q in the engine's log\n%s", got, b)
		}
	}
	if recs := p.audit(store.AuditQuery{Operation: "source.selected"}); len(recs) != 1 || recs[0].Principal != "engine" {
		t.Fatalf("the background selection is not audited under the job's owner: %+v", recs)
	}
}

// TestRevokedMidPass: a token revoked while an engine runs a pass with it
// is refused from the next request on: the pass stops with 401, and the
// next pass cannot start.
func TestRevokedMidPass(t *testing.T) {
	src := newProvider(t, 3)
	for i := range 30 {
		src.create("tradingAccounts", ta(fmt.Sprintf("Account %d", i), fmt.Sprintf("R%02d", i)))
	}
	var dst *provider
	var pages atomic.Int32
	revoke := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/$syncTarget") && pages.Add(1) == 1 {
				if err := dst.Store.RevokeToken(context.Background(), "src-engine", time.Now()); err != nil {
					t.Error(err)
				}
			}
		})
	}
	dst = realProvider(t, 5, src.URL, revoke)
	tok := dst.Tokens["src-engine"]
	e := &engine.Engine{PageSize: 10, Client: &http.Client{Transport: authTransport{host: strings.TrimPrefix(dst.URL, "http://"), header: "Bearer " + tok}}}
	sum, err := e.Pass(context.Background(), engine.PassOptions{Source: src.kind("tradingAccounts"), Target: dst.kind("tradingAccounts")})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("the pass went on after the revocation: %v %+v", err, sum)
	}
	if n := len(dst.resources("tradingAccounts")); n != 10 {
		t.Fatalf("the target holds %d resources, want the first page's 10", n)
	}
	if _, err := e.Pass(context.Background(), engine.PassOptions{Source: src.kind("tradingAccounts"), Target: dst.kind("tradingAccounts")}); err == nil {
		t.Fatal("a pass with a revoked token ran")
	}
}

// authTransport adds an Authorization header to the requests to one host.
type authTransport struct{ host, header string }

func (a authTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == a.host {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", a.header)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestBatchJobOwnership: a batch job is read and re-posted only by its
// owner (or an admin).
func TestBatchJobOwnership(t *testing.T) {
	p := realProvider(t, 5, "", nil)
	ann, other := basicAuth("ann", annPW), bearer(p, "writer2")
	u := p.kind("tradingAccounts") + "/$batch"
	body := batchFeed(batchReq("POST", "", "", ta("Batch Ltd", "BL")))
	st, _, b := doWith(t, http.MethodPost, u+"?trackingID=b-1", body, "Authorization", ann)
	mustStatus(t, http.StatusAccepted, st, b)
	for _, c := range []struct{ method, url string }{{http.MethodGet, u + "('b-1')"}, {http.MethodPost, u + "?trackingID=b-1"}, {http.MethodDelete, u + "('b-1')"}} {
		st, _, b := doWith(t, c.method, c.url, body, "Authorization", other)
		mustStatus(t, http.StatusForbidden, st, b)
	}
	for {
		if st, _, b = doWith(t, http.MethodGet, u+"('b-1')", nil, "Authorization", ann); st != http.StatusAccepted {
			break
		}
	}
	mustStatus(t, http.StatusOK, st, b)
	if recs := p.audit(store.AuditQuery{Operation: "batch.applied"}); len(recs) != 1 || recs[0].Principal != "ann" {
		t.Fatalf("the batch is not audited under its owner: %+v", recs)
	}
	if n := len(p.audit(store.AuditQuery{Operation: "denied.job", Principal: "token:writer2"})); n != 3 {
		t.Fatalf("%d denied.job records, want 3", n)
	}
}

// TestThrottledOverHTTP: repeated failures get 429 with Retry-After and a
// diagnosis, also for the right password, from the same client.
func TestThrottledOverHTTP(t *testing.T) {
	a := realAuth("")
	a.Verifier = func(c *auth.VerifierConfig) { c.MaxFailures = 2 }
	p := &provider{t: t, Provider: sdatatest.Start(t, sdatatest.Options{Auth: a})}
	kind := p.kind("tradingAccounts")
	for range 2 {
		st, _, b := doWith(t, http.MethodGet, kind, nil, "Authorization", basicAuth("ann", "guess-guess"))
		mustStatus(t, http.StatusUnauthorized, st, b)
	}
	st, h, b := doWith(t, http.MethodGet, kind, nil, "Authorization", basicAuth("ann", annPW))
	mustStatus(t, http.StatusTooManyRequests, st, b)
	if ds := diagnosesOf(t, b); ds[0].ApplicationCode != "TooManyRequests" || h.Get("Retry-After") == "" {
		t.Fatalf("429: Retry-After %q, %+v", h.Get("Retry-After"), ds)
	}
}
