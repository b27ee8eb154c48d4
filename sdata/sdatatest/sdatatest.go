// Package sdatatest starts real sdatasync providers for tests, the way
// net/http/httptest starts real HTTP servers: a SQLite store, an
// *sdata.Server of the built-in gcrm contract over it and an
// httptest.Server in front of it on 127.0.0.1, whose URL is the provider's
// BaseURL.
//
// Start is the one call a test needs; it fails the test on an error and
// closes the provider when the test ends:
//
//	p := sdatatest.Start(t, sdatatest.Options{Config: func(c *sdata.Config) { c.ConflictPriority = 3 }})
//	res, err := p.HTTP.Client().Get(p.KindURL("tradingAccounts"))
//
// New is the same without a testing.TB, for harnesses that are not test
// code (the caller closes the provider). A provider can be stopped and
// restarted on the same database and URL, with a changed Config.
package sdatatest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sdatasync/contracts"
	"sdatasync/sdata"
	"sdatasync/sdata/auth"
	"sdatasync/sdata/store"
)

// Options say how to start a provider. The zero value (in Start) is a
// provider of the built-in gcrm contract over a fresh database, logging
// nowhere.
type Options struct {
	// DB is the SQLite file, created if missing. Start picks a fresh file
	// in tb.TempDir() when it is empty; New requires it.
	DB string
	// TLS, when set, serves the provider over HTTPS with a certificate for
	// 127.0.0.1 issued by this CA (see NewCA); URL is then https://.
	TLS *CA
	// Config, when set, adjusts the configuration before sdata.New. It
	// starts as App "sdatasync", the built-in gcrm contract, BaseURL the
	// test server's URL and a discarding logger.
	Config func(*sdata.Config)
	// Wrap, when set, puts a middleware in front of the provider (fault
	// injection, rewriting of requests).
	Wrap func(http.Handler) http.Handler
	// Auth, when set, runs the provider with real authentication: an
	// auth.Verifier over its store (it replaces Config.Auth), with these
	// users and tokens created at the first start (see Provider.Tokens).
	Auth *Auth
}

// Auth lists the users and tokens of a provider with real authentication.
type Auth struct {
	Users  []User
	Tokens []auth.TokenSpec
	// Verifier adjusts the verifier's configuration (throttle limits).
	Verifier func(*auth.VerifierConfig)
}

// User is a user to create: name, password and grants.
type User struct {
	Name, Password string
	Grants         []auth.Grant
}

// Provider is one real provider under test.
type Provider struct {
	// DB is the SQLite file of the store.
	DB string
	// URL is the provider's base URL, http://127.0.0.1:port (https://
	// with Options.TLS; Config.BaseURL).
	URL string
	// Config is the configuration the provider runs with. Changes made
	// while it is stopped apply at Restart.
	Config sdata.Config
	// HTTP is the test server in front of the provider; it keeps its URL
	// over restarts and answers 503 while the provider is stopped.
	HTTP *httptest.Server
	// Store and Server are the running store and provider, nil while the
	// provider is stopped.
	Store  *store.SQLite
	Server *sdata.Server
	// Verifier authenticates requests when Options.Auth is set (nil
	// otherwise, and while stopped); Tokens are the token strings created
	// for Options.Auth, by token name.
	Verifier *auth.Verifier
	Tokens   map[string]string

	auth *Auth

	cur  atomic.Pointer[sdata.Server] // what HTTP serves
	once sync.Once                    // closes HTTP
}

// Start starts a provider for the test tb and closes it when the test and
// its subtests end. It fails the test if the provider does not start.
func Start(tb testing.TB, o Options) *Provider {
	tb.Helper()
	if o.DB == "" {
		o.DB = filepath.Join(tb.TempDir(), "provider.db")
	}
	p, err := New(context.Background(), o)
	if err != nil {
		tb.Fatalf("sdatatest: starting a provider over %s: %v", o.DB, err)
	}
	tb.Cleanup(p.Close)
	return p
}

// New starts a provider over the SQLite file o.DB. The caller must Close
// it.
func New(ctx context.Context, o Options) (*Provider, error) {
	if o.DB == "" {
		return nil, errors.New("sdatatest: no database file")
	}
	c, err := contracts.Builtin("gcrm")
	if err != nil {
		return nil, err
	}
	p := &Provider{DB: o.DB, auth: o.Auth, Tokens: map[string]string{}}
	var h http.Handler = http.HandlerFunc(p.serve)
	if o.Wrap != nil {
		h = o.Wrap(h)
	}
	if p.HTTP, err = startServer(h, o.TLS); err != nil {
		return nil, err
	}
	p.URL = p.HTTP.URL
	p.Config = sdata.Config{App: "sdatasync", Contract: c, BaseURL: p.URL, Logger: slog.New(slog.DiscardHandler)}
	if o.Config != nil {
		o.Config(&p.Config)
	}
	if err := p.Restart(ctx); err != nil {
		p.Close()
		return nil, err
	}
	if o.Auth != nil {
		if err := p.createAccounts(ctx, o.Auth); err != nil {
			p.Close()
			return nil, err
		}
	}
	return p, nil
}

// createAccounts creates the users and tokens of a provider with real
// authentication.
func (p *Provider) createAccounts(ctx context.Context, a *Auth) error {
	for _, u := range a.Users {
		if _, err := auth.AddUser(ctx, p.Store, u.Name, u.Password, u.Grants); err != nil {
			return err
		}
	}
	for _, spec := range a.Tokens {
		_, tok, err := auth.IssueToken(ctx, p.Store, spec, time.Now())
		if err != nil {
			return err
		}
		p.Tokens[spec.Name] = tok
	}
	return nil
}

// serve hands a request to the running provider.
func (p *Provider) serve(w http.ResponseWriter, r *http.Request) {
	srv := p.cur.Load()
	if srv == nil {
		http.Error(w, "sdatatest: provider stopped", http.StatusServiceUnavailable)
		return
	}
	srv.ServeHTTP(w, r)
}

// Restart starts the provider (again) over its database with p.Config,
// stopping it first if it runs. The URL does not change.
func (p *Provider) Restart(ctx context.Context) error {
	p.Stop()
	st, err := store.OpenSQLite(ctx, p.DB)
	if err != nil {
		return err
	}
	cfg := p.Config
	var v *auth.Verifier
	if p.auth != nil {
		vc := auth.VerifierConfig{Accounts: st, Log: cfg.Logger}
		if p.auth.Verifier != nil {
			p.auth.Verifier(&vc)
		}
		if v, err = auth.NewVerifier(vc); err != nil {
			st.Close()
			return err
		}
		cfg.Auth = v
	}
	srv, err := sdata.New(ctx, cfg, st)
	if err != nil {
		if v != nil {
			v.Close()
		}
		st.Close()
		return err
	}
	p.Store, p.Server, p.Verifier = st, srv, v
	p.cur.Store(srv)
	return nil
}

// Stop closes the provider and its store; the test server stays up and
// answers 503 until Restart. Stopping a stopped provider does nothing.
func (p *Provider) Stop() {
	p.cur.Store(nil)
	if p.Server != nil {
		p.Server.Close()
		p.Server = nil
	}
	if p.Verifier != nil {
		p.Verifier.Close()
		p.Verifier = nil
	}
	if p.Store != nil {
		p.Store.Close()
		p.Store = nil
	}
}

// Close shuts the test server down (waiting for the requests in flight),
// then stops the provider. It may be called more than once.
func (p *Provider) Close() {
	p.once.Do(p.HTTP.Close)
	p.Stop()
}

// ContractURL is the URL of the provider's contract,
// URL/sdata/{app}/{contract}; a dataset's URL is ContractURL()+"/"+dataset.
func (p *Provider) ContractURL() string {
	return p.URL + "/sdata/" + p.Config.App + "/" + p.Config.Contract.Name
}

// DatasetURL is the URL of the default dataset "-".
func (p *Provider) DatasetURL() string { return p.ContractURL() + "/" + sdata.DefaultDatasetID }

// KindURL is the URL of a resource kind in the default dataset; it is also
// the kind's endpoint URL in sync states and digests.
func (p *Provider) KindURL(kind string) string { return p.DatasetURL() + "/" + kind }

// ResourceURL is the URL of the resource of kind with that key in the
// default dataset (quotes in the key doubled).
func (p *Provider) ResourceURL(kind, key string) string {
	return p.KindURL(kind) + "('" + strings.ReplaceAll(key, "'", "''") + "')"
}

// Shared returns the path of a file or folder of the shared reference
// material (../shared beside the module root: the SData schemas, Sage's
// contracts, the device protocols), or skips the test when it is absent.
func Shared(tb testing.TB, elem ...string) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("module root not found")
		}
		dir = parent
	}
	p := filepath.Join(append([]string{dir, "..", "shared"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared reference material not available: %v", err)
	}
	return p
}
