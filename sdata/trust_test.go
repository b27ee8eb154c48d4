package sdata_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"sdatasync/feeds"
	"sdatasync/sdata"
	"sdatasync/sdata/auth"
	"sdatasync/sdata/sdatatest"
	"sdatasync/sdata/store"
)

// securedWith starts a provider that authenticates the role tokens and
// extra, with a conflict priority.
func securedWith(t *testing.T, priority int, extra tokenTable) *provider {
	tt := roleTokens()
	for k, v := range extra {
		tt[k] = v
	}
	return &provider{t: t, Provider: sdatatest.Start(t, sdatatest.Options{Config: func(c *sdata.Config) {
		c.Auth, c.ConflictPriority = tt, priority
	}})}
}

// as sends a request with a bearer token.
func as(t *testing.T, token, method, url string, body []byte) (int, []byte) {
	t.Helper()
	st, _, b := doWith(t, method, url, body, "Authorization", "Bearer "+token)
	return st, b
}

// pushPage runs the source half of a pass from src (unauthenticated) for
// dst, whose digest is read with token, and posts the page to dst with
// token, synchronously: it returns dst's answer.
func pushPage(t *testing.T, src, dst *provider, token, kind string) (int, []byte) {
	t.Helper()
	st, dg := as(t, token, http.MethodGet, dst.kind(kind)+"/$syncDigest", nil)
	mustStatus(t, http.StatusOK, st, dg)
	st, _, page := do(t, http.MethodPost, src.kind(kind)+"/$syncSource", dg)
	mustStatus(t, http.StatusOK, st, page)
	return as(t, token, http.MethodPost, dst.kind(kind)+"/$syncTarget", page)
}

// forgedFeed is the feed of the attack of issue 12: an invented endpoint
// with conflict priority 1 whose user is "ceo".
func forgedFeed(kind string) []byte {
	ep := "http://evil.example/sdata/x/gcrm/-/" + kind
	return []byte(`<feed xmlns="http://www.w3.org/2005/Atom" xmlns:sdata="http://schemas.sage.com/sdata/2008/1" xmlns:sync="http://schemas.sage.com/sdata/sync/2008/1">
<sync:syncMode>catchUp</sync:syncMode>
<sync:digest><sync:origin>` + ep + `</sync:origin><sync:digestEntry><sync:endpoint>` + ep + `</sync:endpoint><sync:tick>5</sync:tick><sync:stamp>2026-11-28T00:00:00Z</sync:stamp><sync:conflictPriority>1</sync:conflictPriority></sync:digestEntry></sync:digest>
<entry><id>` + ep + `('1')</id><title>forged</title><updated>2026-11-28T00:00:00Z</updated>
<sync:syncState><sync:endpoint>` + ep + `</sync:endpoint><sync:tick>1</sync:tick><sync:stamp>2026-11-28T00:00:00Z</sync:stamp><sync:user>ceo</sync:user></sync:syncState>
<sdata:payload>` + fmt.Sprintf(taXML, "Forged", "EVIL") + `</sdata:payload></entry></feed>`)
}

// TestForgedFeedRefused: a sync feed that introduces versions of an
// endpoint the credential does not speak for is refused, changes nothing
// and is audited with the principal; the credential's own endpoints pass.
func TestForgedFeedRefused(t *testing.T) {
	src := newProvider(t, 5)
	src.create("tradingAccounts", ta("Genuine", "G1"))
	dst := securedWith(t, 5, tokenTable{"sync-src": {Name: "token:sync-src", Grants: []auth.Grant{{Dataset: "*", Role: auth.Sync}},
		Endpoints: []string{src.URL}}})
	ep := dst.endpoint("tradingAccounts")
	before := dst.digest("tradingAccounts")
	for _, c := range []struct {
		token  string
		status int
	}{{"", http.StatusUnauthorized}, {"reader", http.StatusForbidden}, {"sync", http.StatusForbidden}, {"sync-src", http.StatusForbidden}} {
		var st int
		var b []byte
		if c.token == "" {
			st, _, b = do(t, http.MethodPost, dst.kind("tradingAccounts")+"/$syncTarget", forgedFeed("tradingAccounts"))
		} else {
			st, b = as(t, c.token, http.MethodPost, dst.kind("tradingAccounts")+"/$syncTarget", forgedFeed("tradingAccounts"))
		}
		mustStatus(t, c.status, st, b)
		diagnosesOf(t, b)
	}
	after := dst.digest("tradingAccounts")
	if fmt.Sprint(after) != fmt.Sprint(before) || len(dst.resources("tradingAccounts")) != 0 {
		t.Fatalf("a refused feed changed the target: %v -> %v, %d resources", before, after, len(dst.resources("tradingAccounts")))
	}
	// The refused attempts of authenticated principals are in the audit
	// log: the reader's by the router, the sync credentials' by $syncTarget.
	recs, _, err := dst.Store.AuditLog(context.Background(), store.AuditQuery{Operation: "target.post"})
	if err != nil || len(recs) != 2 || recs[0].Status != http.StatusForbidden || recs[1].Status != http.StatusForbidden {
		t.Fatalf("the refused feeds in the audit log: %+v %v", recs, err)
	}
	recs, _, err = dst.Store.AuditLog(context.Background(), store.AuditQuery{Operation: "denied.post"})
	if err != nil || len(recs) != 1 || !strings.Contains(recs[0].Detail, `"principal":"token:reader"`) {
		t.Fatalf("the refused reader in the audit log: %+v %v", recs, err)
	}
	// The genuine source, with the credential that speaks for it.
	st, b := pushPage(t, src, dst, "sync-src", "tradingAccounts")
	mustStatus(t, http.StatusOK, st, b)
	if rs := dst.resources("tradingAccounts"); len(rs) != 1 {
		t.Fatalf("the genuine page: %d resources\n%s", len(rs), b)
	}
	if got := dst.digest("tradingAccounts").Tick(src.endpoint("tradingAccounts").URL); got < 2 {
		t.Fatalf("the digest did not take in the source: tick %d (own %s)", got, ep.URL)
	}
	// A digest or a result feed naming a foreign endpoint is refused too.
	st, b = as(t, "sync-src", http.MethodPut, dst.kind("tradingAccounts")+"/$syncDigest",
		[]byte(`<digest xmlns="http://schemas.sage.com/sdata/sync/2008/1"><digestEntry><endpoint>http://evil.example/x</endpoint><tick>99999999</tick></digestEntry></digest>`))
	mustStatus(t, http.StatusForbidden, st, b)
	st, b = as(t, "sync", http.MethodPost, dst.kind("tradingAccounts")+"/$syncResults", bytes.Replace(forgedFeed("tradingAccounts"), []byte("<sync:syncMode>catchUp</sync:syncMode>"), nil, 1))
	mustStatus(t, http.StatusForbidden, st, b)
}

// TestConfiguredPriority: a conflict priority configured in the registry
// for another provider's endpoints replaces what its feeds claim.
func TestConfiguredPriority(t *testing.T) {
	for _, configured := range []bool{false, true} {
		t.Run(fmt.Sprint("configured=", configured), func(t *testing.T) {
			src := newProvider(t, 1) // claims the highest priority
			dst := newProvider(t, 5)
			key := src.create("tradingAccounts", ta("Shared", "SH"))
			catchUp(t, src, dst, "tradingAccounts", 100, "first")
			if configured {
				st, _, b := do(t, http.MethodPost, dst.registry(), regPayload(`<title>Source</title><url>`+src.DatasetURL()+`</url>`+
					`<properties><property name="conflictPriority" ns="urn:sdatasync:registry">9</property></properties>`))
				mustStatus(t, http.StatusCreated, st, b)
			}
			dk := dst.resourceKey(t, "tradingAccounts", "SH")
			src.update("tradingAccounts", key, `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><name>Source edit</name></tradingAccount>`)
			dst.update("tradingAccounts", dk, `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><name>Target edit</name></tradingAccount>`)
			catchUp(t, src, dst, "tradingAccounts", 100, "conflict")
			want := "Source edit"
			if configured {
				want = "Target edit"
			}
			if got := dst.resourceNames(t, "tradingAccounts"); got != want {
				t.Fatalf("after the conflict the target holds %q, want %q", got, want)
			}
		})
	}
}

// resourceKey finds the key of the live resource of kind whose payload
// holds reference ref.
func (p *provider) resourceKey(t *testing.T, kind, ref string) string {
	t.Helper()
	rs, _, err := p.Store.List(context.Background(), p.endpoint(kind), store.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if bytes.Contains(r.Payload, []byte("<reference>"+ref+"</reference>")) {
			return r.Key
		}
	}
	t.Fatalf("no %s with reference %s", kind, ref)
	return ""
}

// TestRegistryTitlesUnique: a second endpoint with a title taken (by a
// registered endpoint or by one of the provider's own) is refused; so is a
// rename to a taken title.
func TestRegistryTitlesUnique(t *testing.T) {
	p := newProvider(t, 5)
	st, h, b := do(t, http.MethodPost, p.registry(), regPayload(`<title>ERP production</title><url>http://erp.example.com/sdata/erp/gcrm/-</url>`))
	mustStatus(t, http.StatusCreated, st, b)
	for _, title := range []string{"ERP production", "sdatasync gcrm dataset -"} {
		st, _, b := do(t, http.MethodPost, p.registry(), regPayload(`<title>`+title+`</title><url>http://attacker.example.com/sdata/erp/gcrm/-</url>`))
		mustStatus(t, http.StatusConflict, st, b)
		if ds := diagnosesOf(t, b); !strings.Contains(ds[0].Message, "titled") {
			t.Errorf("diagnosis %+v", ds)
		}
	}
	st, _, b = do(t, http.MethodPost, p.registry(), regPayload(`<title>CRM</title><url>http://crm.example.com/sdata/crm/gcrm/-</url>`))
	mustStatus(t, http.StatusCreated, st, b)
	var loc string
	if e, err := feeds.ParseEntry(bytes.NewReader(b), feeds.Limits{}); err == nil {
		loc = e.ID
	}
	st, _, b = do(t, http.MethodPut, loc, regPayload(`<title>ERP production</title>`))
	mustStatus(t, http.StatusConflict, st, b)
	_ = h
}
