package sdatatest_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"sdatasync/sdata"
	"sdatasync/sdata/sdatatest"
)

func get(t *testing.T, p *sdatatest.Provider, u string) (int, string) {
	t.Helper()
	res, err := p.HTTP.Client().Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// TestStartStopRestart: a started provider serves its URLs; stopped, it
// answers 503; restarted with a changed Config, it serves the same data
// under the same URL.
func TestStartStopRestart(t *testing.T) {
	var seen atomic.Int64
	p := sdatatest.Start(t, sdatatest.Options{
		Config: func(c *sdata.Config) { c.ConflictPriority = 4 },
		Wrap: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen.Add(1); next.ServeHTTP(w, r) })
		},
	})
	if p.Config.BaseURL != p.URL || p.Config.ConflictPriority != 4 || p.Config.Contract.Name != "gcrm" {
		t.Fatalf("config %+v, URL %s", p.Config, p.URL)
	}
	if want := p.URL + "/sdata/sdatasync/gcrm/-/tradingAccounts('it''s')"; p.ResourceURL("tradingAccounts", "it's") != want {
		t.Errorf("ResourceURL = %s, want %s", p.ResourceURL("tradingAccounts", "it's"), want)
	}
	body := `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><reference>R1</reference><name>One</name></tradingAccount>`
	res, err := p.HTTP.Client().Post(p.KindURL("tradingAccounts"), "application/xml", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("POST: %d", res.StatusCode)
	}

	p.Stop()
	if p.Server != nil || p.Store != nil {
		t.Fatalf("stopped provider keeps its server or store")
	}
	if st, _ := get(t, p, p.KindURL("tradingAccounts")); st != http.StatusServiceUnavailable {
		t.Fatalf("stopped: %d", st)
	}
	p.Config.Datasets = []string{"other"}
	if err := p.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st, b := get(t, p, p.KindURL("tradingAccounts")); st != http.StatusOK || !strings.Contains(b, "<name>One</name>") {
		t.Fatalf("after restart: %d %s", st, b)
	}
	if st, _ := get(t, p, p.ContractURL()+"/other/tradingAccounts"); st != http.StatusOK {
		t.Fatalf("dataset added by the restart: %d", st)
	}
	if seen.Load() != 4 {
		t.Errorf("the middleware saw %d requests, want 4", seen.Load())
	}
	p.Close()
	p.Close() // again, as the cleanup does
}

// TestNewErrors: New needs a database file and a configuration sdata.New
// accepts, and leaves nothing running when it fails.
func TestNewErrors(t *testing.T) {
	ctx := context.Background()
	if p, err := sdatatest.New(ctx, sdatatest.Options{}); err == nil {
		p.Close()
		t.Fatal("New without a database succeeded")
	}
	db := t.TempDir() + "/x.db"
	if p, err := sdatatest.New(ctx, sdatatest.Options{DB: db, Config: func(c *sdata.Config) { c.ConflictPriority = 10 }}); err == nil {
		p.Close()
		t.Fatal("New with priority 10 succeeded")
	}
	p, err := sdatatest.New(ctx, sdatatest.Options{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.DB != db || p.Server == nil || p.Store == nil {
		t.Fatalf("provider %+v", p)
	}
}
