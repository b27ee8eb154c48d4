package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"sdatasync/sdata/demo"
	"sdatasync/sdata/sdatatest"
	"sdatasync/sdata/store"
)

// passProvider is a provider behind a real HTTP server; mw, when set, sits
// in front of it.
type passProvider struct{ *sdatatest.Provider }

func newPassProvider(t *testing.T, mw func(http.Handler) http.Handler) *passProvider {
	t.Helper()
	return &passProvider{sdatatest.Start(t, sdatatest.Options{Wrap: mw})}
}

func (p *passProvider) count(t *testing.T, kind string) int {
	t.Helper()
	ep, _ := p.Server.Endpoint("-", kind)
	_, n, err := p.Store.List(context.Background(), ep, store.ListQuery{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func runPass(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = pass(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// passJSON is the --json document.
type passJSON struct {
	RunName  string `json:"runName"`
	RunStamp string `json:"runStamp"`
	OK       bool   `json:"ok"`
	Error    string `json:"error"`
	Kinds    []struct {
		Kind, Source, Target                       string
		Selected, Applied, Skipped, Errors, Pages  int
		ConflictsWonBySource, ConflictsWonByTarget int
		DurationSeconds, EntriesPerSecond          float64
		Failures                                   []string
	} `json:"kinds"`
}

func TestPassUsageErrors(t *testing.T) {
	p := newPassProvider(t, nil)
	for _, args := range [][]string{
		{},
		{"--source", p.DatasetURL()},
		{"--target", p.DatasetURL()},
		{"--source", p.DatasetURL(), "--target", p.DatasetURL(), "extra"},
		{"--source", p.DatasetURL(), "--target", p.DatasetURL(), "--nosuchflag"},
		{"--source", p.DatasetURL(), "--target", p.DatasetURL(), "--page-size", "-1"},
		{"--source", "ftp://x/y", "--target", p.DatasetURL()},
		{"--source", p.URL + "/not/sdata", "--target", p.DatasetURL()},
		{"--source", p.DatasetURL(), "--target", p.DatasetURL(), "--kinds", "nosuchkind"},
	} {
		if code, _, stderr := runPass(args...); code != 2 {
			t.Errorf("%q: exit %d, want 2; stderr:\n%s", args, code, stderr)
		}
	}
	if code, _, _ := runPass("-h"); code != 0 {
		t.Errorf("-h: exit %d", code)
	}
	// Through run, the subcommand is wired.
	var out, errb bytes.Buffer
	if code := run([]string{"pass"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--source and --target") {
		t.Errorf("run pass: %d %s", code, errb.String())
	}
}

func TestPassJSONAndExitZero(t *testing.T) {
	a, b := newPassProvider(t, nil), newPassProvider(t, nil)
	if _, err := demo.SeedDataset(context.Background(), a.Server, "-", demo.Sizes{TradingAccounts: 5, Contacts: 4, Commodities: 3, SalesOrders: 2}); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runPass("--source", a.DatasetURL(), "--target", b.DatasetURL(), "--both", "--json",
		"--page-size", "2", "--run-name", "cmdtest", "--run-stamp", "2024-05-01T10:00:00Z", "--timeout", "1m")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	var doc passJSON
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout)
	}
	if !doc.OK || doc.RunName != "cmdtest" || doc.RunStamp != "2024-05-01T10:00:00Z" || doc.Error != "" || len(doc.Kinds) != 8 { // 4 kinds each way (salesOrderLines travel inside salesOrders)
		t.Fatalf("summary: %+v", doc)
	}
	k := doc.Kinds[0]
	if k.Kind != "tradingAccounts" || k.Selected != 5 || k.Applied != 5 || k.Pages != 3 || !strings.HasPrefix(k.Source, a.URL) {
		t.Errorf("tradingAccounts: %+v", k)
	}
	if got := b.count(t, "tradingAccounts"); got != 5 {
		t.Errorf("B has %d trading accounts", got)
	}
	for _, want := range []string{"pass: tradingAccounts", "page 3", "conflicts src/tgt", "entries/s", "run cmdtest @ 2024-05-01T10:00:00Z", "OK in"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// TestPassExitOneOnFailedEntry corrupts the UUID of one entry on its way to
// the target: the target reports that entry 400, the others apply.
func TestPassExitOneOnFailedEntry(t *testing.T) {
	var corrupted atomic.Bool
	corrupt := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/tradingAccounts/$syncTarget") && !corrupted.Load() {
				body, _ := io.ReadAll(r.Body)
				if i := bytes.Index(body, []byte(`sdata:uuid="`)); i >= 0 {
					body = append(body[:i+len(`sdata:uuid="`):i+len(`sdata:uuid="`)], append([]byte("not-a-uuid-"), body[i+len(`sdata:uuid="`):]...)...)
					corrupted.Store(true)
				}
				r.Body = io.NopCloser(bytes.NewReader(body))
				r.ContentLength = int64(len(body))
			}
			next.ServeHTTP(w, r)
		})
	}
	a, b := newPassProvider(t, nil), newPassProvider(t, corrupt)
	if _, err := demo.SeedDataset(context.Background(), a.Server, "-", demo.Sizes{TradingAccounts: 3}); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runPass("--source", a.DatasetURL(), "--target", b.DatasetURL(), "--kinds", "tradingAccounts", "--json")
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	var doc passJSON
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OK || len(doc.Kinds) != 1 || doc.Kinds[0].Errors != 1 || doc.Kinds[0].Applied != 2 || len(doc.Kinds[0].Failures) != 1 {
		t.Errorf("summary: %+v", doc)
	}
	if !strings.Contains(stderr, "400") || !strings.Contains(stderr, "FAILED") {
		t.Errorf("stderr:\n%s", stderr)
	}
}

func TestPassExitOneOnFailedPass(t *testing.T) {
	a := newPassProvider(t, nil)
	code, stdout, stderr := runPass("--source", a.URL+"/sdata/sdatasync/nosuchcontract/-", "--target", a.DatasetURL(), "--json")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr)
	}
	var doc passJSON
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OK || !strings.Contains(doc.Error, "404") {
		t.Errorf("summary: %+v", doc)
	}
}

// TestPassByRegisteredTitle: --source and --target may be the titles of
// endpoints in a registry.
func TestPassByRegisteredTitle(t *testing.T) {
	a, b := newPassProvider(t, nil), newPassProvider(t, nil)
	if _, err := demo.SeedDataset(context.Background(), a.Server, "-", demo.Sizes{TradingAccounts: 3, Contacts: 1, Commodities: 1, SalesOrders: 1}); err != nil {
		t.Fatal(err)
	}
	// B's dataset registered at A's registry under the title "ERP".
	body := `<endpoint xmlns="http://schemas.sage.com/sdata/registry/2009"><title>ERP</title><url>` + b.DatasetURL() + `</url></endpoint>`
	resp, err := http.Post(a.URL+"/sdata/$system/registry/-/endpoints", "application/xml", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("registering: %d", resp.StatusCode)
	}
	code, _, stderr := runPass("--registry", a.URL, "--source", "sdatasync gcrm dataset -", "--target", "ERP", "--kinds", "tradingAccounts")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if got := b.count(t, "tradingAccounts"); got != 3 {
		t.Fatalf("B has %d trading accounts", got)
	}
	if code, _, stderr := runPass("--registry", a.URL, "--source", "nobody", "--target", "ERP"); code != 1 || !strings.Contains(stderr, "nobody") {
		t.Fatalf("unknown title: exit %d\n%s", code, stderr)
	}
	if code, _, _ := runPass("--source", "ERP", "--target", b.DatasetURL()); code != 2 {
		t.Fatalf("a title without --registry: exit %d, want 2", code)
	}
}
