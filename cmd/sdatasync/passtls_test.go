package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"sdatasync/sdata"
	"sdatasync/sdata/auth"
	"sdatasync/sdata/client"
	"sdatasync/sdata/demo"
	"sdatasync/sdata/sdatatest"
)

// The secrets of the TLS pass: each known to one provider only.
const (
	erpPassword = "erp-pw-S3CR3T"
	crmToken    = "crm-tok-S3CR3T"
)

// tlsPair is two providers over TLS with certificates of different CAs,
// each authenticating with its own table: the ERP accepts Basic
// ann:erpPassword, the CRM the bearer token crmToken. Each credential is a
// sync credential (and reader, for $schema) speaking for the other
// provider's endpoints.
type tlsPair struct {
	erp, crm             *passProvider
	erpAuth, crmAuth     *sdatatest.AuthTable
	erpCAFile, crmCAFile string
}

func newTLSPair(t *testing.T) *tlsPair {
	t.Helper()
	dir := t.TempDir()
	var pair tlsPair
	erpP := &auth.Principal{Name: "ann", Grants: []auth.Grant{{Dataset: auth.AnyDataset, Role: auth.Sync}, {Dataset: auth.AnyDataset, Role: auth.Reader}}}
	crmP := &auth.Principal{Name: "token:engine", Grants: erpP.Grants}
	pair.erpAuth = sdatatest.NewAuthTable(sdatatest.AuthEntry{User: "ann", Password: erpPassword, Principal: erpP})
	pair.crmAuth = sdatatest.NewAuthTable(sdatatest.AuthEntry{Token: crmToken, Principal: crmP})
	for _, side := range []struct {
		p     **passProvider
		file  *string
		name  string
		authn *sdatatest.AuthTable
	}{{&pair.erp, &pair.erpCAFile, "erp", pair.erpAuth}, {&pair.crm, &pair.crmCAFile, "crm", pair.crmAuth}} {
		ca, err := sdatatest.NewCA(side.name)
		if err != nil {
			t.Fatal(err)
		}
		if *side.file, err = ca.WriteCert(dir); err != nil {
			t.Fatal(err)
		}
		authn := side.authn
		*side.p = &passProvider{sdatatest.Start(t, sdatatest.Options{TLS: ca, Config: func(c *sdata.Config) { c.Auth = authn }})}
	}
	erpP.Endpoints = []string{pair.crm.URL + "/"}
	crmP.Endpoints = []string{pair.erp.URL + "/"}
	return &pair
}

// TestPassOverTLSWithCredentialsPerSide: a pass --both between two
// providers over TLS with different CAs and different credentials per
// side (Basic from a file at the source, a token from the environment at
// the target). Each provider received only its own credentials, on every
// request, and no secret shows in the output.
func TestPassOverTLSWithCredentialsPerSide(t *testing.T) {
	p := newTLSPair(t)
	if _, err := demo.SeedDataset(context.Background(), p.erp.Server, "-", demo.Sizes{TradingAccounts: 5, Contacts: 3, Commodities: 2, SalesOrders: 2}); err != nil {
		t.Fatal(err)
	}
	creds := writeCredFile(t, t.TempDir(), "creds", "# the ERP\nsource.user = ann\nsource.password = "+erpPassword+"\n", 0o600)
	t.Setenv("SDATASYNC_TARGET_TOKEN", crmToken)
	code, stdout, stderr := runPass("--source", p.erp.DatasetURL(), "--target", p.crm.DatasetURL(), "--both", "--json", "--page-size", "2",
		"--credentials", creds, "--ca-cert", p.erpCAFile, "--ca-cert", p.crmCAFile)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	var doc passJSON
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || !doc.OK || len(doc.Kinds) != 8 {
		t.Fatalf("summary %v: %+v", err, doc)
	}
	if got := p.crm.count(t, "tradingAccounts"); got != 5 {
		t.Errorf("the CRM has %d trading accounts, want 5", got)
	}
	assertOnly(t, "ERP", p.erpAuth.Presented(), sdatatest.Presented{Scheme: "basic", User: "ann", Secret: erpPassword, Accepted: true})
	assertOnly(t, "CRM", p.crmAuth.Presented(), sdatatest.Presented{Scheme: "bearer", Secret: crmToken, Accepted: true})
	for _, out := range []string{stdout, stderr} {
		if strings.Contains(out, "S3CR3T") {
			t.Errorf("a secret in the output:\n%s", out)
		}
	}
}

// assertOnly checks that every request a provider received presented want.
func assertOnly(t *testing.T, name string, got []sdatatest.Presented, want sdatatest.Presented) {
	t.Helper()
	if len(got) < 10 {
		t.Errorf("%s received %d requests", name, len(got))
	}
	for i, g := range got {
		if g != want {
			t.Errorf("%s request %d presented %s %q (accepted %v), want only its own credentials", name, i, g.Scheme, g.User, g.Accepted)
			return
		}
	}
}

// TestPassTLSVerification: without the CAs the pass fails at once (a
// certificate that does not verify is not retried), nothing is sent with
// credentials to anyone; --insecure-skip-verify works and warns.
func TestPassTLSVerification(t *testing.T) {
	p := newTLSPair(t)
	if _, err := demo.SeedDataset(context.Background(), p.erp.Server, "-", demo.Sizes{TradingAccounts: 2}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SDATASYNC_SOURCE_TOKEN", "wrong-S3CR3T")
	t.Setenv("SDATASYNC_TARGET_TOKEN", crmToken)
	args := []string{"--source", p.erp.DatasetURL(), "--target", p.crm.DatasetURL(), "--kinds", "tradingAccounts"}
	code, _, stderr := runPass(append(args, "--ca-cert", p.crmCAFile)...)
	if code != 1 || !strings.Contains(stderr, "certificate") || strings.Contains(stderr, "retrying") {
		t.Errorf("the ERP's CA unknown: exit %d\n%s", code, stderr)
	}
	if n := len(p.erpAuth.Presented()); n != 0 {
		t.Errorf("the ERP served %d requests over an unverified connection", n)
	}
	t.Setenv("SDATASYNC_SOURCE_TOKEN", "")
	t.Setenv("SDATASYNC_SOURCE_PASSWORD", erpPassword)
	code, _, stderr = runPass(append(args, "--source-user", "ann", "--insecure-skip-verify")...)
	if code != 0 || !strings.Contains(stderr, "--insecure-skip-verify") || strings.Contains(stderr, "S3CR3T") {
		t.Errorf("insecure: exit %d\n%s", code, stderr)
	}
	if got := p.crm.count(t, "tradingAccounts"); got != 2 {
		t.Errorf("the CRM has %d trading accounts", got)
	}
}

// TestPassRefusesSecretsInArgv: a URL with user:password and --password
// are usage errors that do not echo the secret.
func TestPassRefusesSecretsInArgv(t *testing.T) {
	a := newPassProvider(t, nil)
	withUser := strings.Replace(a.DatasetURL(), "://", "://ann:argv-S3CR3T@", 1)
	for _, args := range [][]string{
		{"--source", withUser, "--target", a.DatasetURL()},
		{"--source", a.DatasetURL(), "--target", a.DatasetURL(), "--registry", withUser},
		{"--source", a.DatasetURL(), "--target", a.DatasetURL(), "--password", "argv-S3CR3T"},
	} {
		code, stdout, stderr := runPass(args...)
		if code != 2 || strings.Contains(stdout+stderr, "S3CR3T") {
			t.Errorf("%d: exit %d\n%s%s", len(args), code, stdout, stderr)
		}
	}
}

// TestWarnPlainHTTP: credentials over plain http to another host are
// warned (without the secret); https, this machine or no credentials are
// not.
func TestWarnPlainHTTP(t *testing.T) {
	cred := client.Credentials{User: "ann", Password: "warn-S3CR3T"}
	for _, tc := range []struct {
		u    string
		cred client.Credentials
		warn bool
	}{
		{"http://erp.example/sdata/a/b/-", cred, true},
		{"http://10.0.0.5:8080/sdata/a/b/-", cred, true},
		{"https://erp.example/sdata/a/b/-", cred, false},
		{"http://127.0.0.1:8080/sdata/a/b/-", cred, false},
		{"http://localhost/sdata/a/b/-", cred, false},
		{"http://[::1]:80/sdata/a/b/-", cred, false},
		{"http://erp.example/sdata/a/b/-", client.Credentials{}, false},
	} {
		var buf bytes.Buffer
		warnPlainHTTP(slog.New(slog.NewTextHandler(&buf, nil)), "source", tc.u, tc.cred)
		if got := buf.Len() > 0; got != tc.warn || strings.Contains(buf.String(), "S3CR3T") {
			t.Errorf("%s: warned %v: %s", tc.u, got, buf.String())
		}
	}
}
