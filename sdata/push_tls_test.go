package sdata_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"sdatasync/sdata"
	"sdatasync/sdata/auth"
	"sdatasync/sdata/client"
	"sdatasync/sdata/sdatatest"
	"sdatasync/sdata/store"
)

// TestPushOverTLSWithCredentials: --push-to a provider over TLS (its CA
// given to the pusher's client) with a token: every push request carries
// the token, and the change arrives.
func TestPushOverTLSWithCredentials(t *testing.T) {
	const token = "push-tok-S3CR3T"
	ca, err := sdatatest.NewCA("push")
	if err != nil {
		t.Fatal(err)
	}
	principal := &auth.Principal{Name: "token:pusher", Grants: []auth.Grant{{Dataset: auth.AnyDataset, Role: auth.Sync}}}
	table := sdatatest.NewAuthTable(sdatatest.AuthEntry{Token: token, Principal: principal})
	b := sdatatest.Start(t, sdatatest.Options{TLS: ca, Config: func(c *sdata.Config) { c.Auth = table }})
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}}
	a := sdatatest.Start(t, sdatatest.Options{Config: func(c *sdata.Config) {
		c.PushTo = []string{b.DatasetURL()}
		c.PushClient = hc
		c.PushCredentials = client.Credentials{Token: token}
	}})
	principal.Endpoints = []string{a.URL + "/"}
	res, err := http.Post(a.KindURL("tradingAccounts"), "application/xml", strings.NewReader(ta("Pushed over TLS", "TLS1")))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d", res.StatusCode)
	}
	ep, ok := b.Server.Endpoint("-", "tradingAccounts")
	if !ok {
		t.Fatal("no endpoint")
	}
	waitFor(t, "the create pushed to B", func() bool {
		_, n, err := b.Store.List(context.Background(), ep, store.ListQuery{Limit: 1})
		return err == nil && n == 1
	})
	got := table.Presented()
	if len(got) < 2 {
		t.Fatalf("B saw %d requests", len(got))
	}
	for i, p := range got {
		if p != (sdatatest.Presented{Scheme: "bearer", Secret: token, Accepted: true}) {
			t.Errorf("request %d presented %s %q accepted %v", i, p.Scheme, p.User, p.Accepted)
		}
	}
}

// TestPushTargetWithCredentialsRefused: a push target URL carrying
// user:password does not start, and the error does not show the password.
func TestPushTargetWithCredentialsRefused(t *testing.T) {
	_, err := sdatatest.New(context.Background(), sdatatest.Options{DB: filepath.Join(t.TempDir(), "p.db"), Config: func(c *sdata.Config) {
		c.PushTo = []string{"https://ann:url-S3CR3T@erp.example/sdata/app/gcrm/-"}
	}})
	if err == nil || strings.Contains(err.Error(), "S3CR3T") || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("err %v", err)
	}
}
