package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sdatasync/sdata/diag"
	"sdatasync/sdata/store"
)

// fixture is a real store with users and tokens, and a verifier over it.
type fixture struct {
	st   *store.SQLite
	v    *Verifier
	log  *bytes.Buffer
	toks map[string]string // token name -> token string
}

func newFixture(t *testing.T, cfg VerifierConfig) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, log: &bytes.Buffer{}, toks: map[string]string{}}
	cfg.Accounts = st
	cfg.Log = slog.New(slog.NewTextHandler(f.log, nil))
	if f.v, err = NewVerifier(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.v.Close)
	if _, err := AddUser(ctx, st, "ann", "ann-secret-1", []Grant{{"-", Writer}, {"crm", Sync}}); err != nil {
		t.Fatal(err)
	}
	if _, err := AddUser(ctx, st, "eng", "eng-secret-1", []Grant{{AnyDataset, Sync}}, "http://erp.example/", "http://crm.example/"); err != nil {
		t.Fatal(err)
	}
	if _, err := AddUser(ctx, st, "dora", "dora-secret-1", []Grant{{AnyDataset, Reader}}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetDisabled(ctx, "dora", true); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, spec := range []TokenSpec{
		{Name: "engine", Grants: []Grant{{AnyDataset, Sync}}, Endpoints: []string{"http://erp.example/"}, Expires: now.Add(time.Hour)},
		{Name: "ann-ci", User: "ann", Grants: []Grant{{"-", Reader}, {AnyDataset, Admin}}},
		{Name: "ann-all", User: "ann"},
		{Name: "old", Grants: []Grant{{AnyDataset, Reader}}, Expires: now.Add(time.Hour)},
		{Name: "gone", Grants: []Grant{{AnyDataset, Reader}}},
		{Name: "phone", Device: "dev-7"},
		{Name: "eng-erp", User: "eng", Endpoints: []string{"http://erp.example/sdata", "http://evil.example/"}},
	} {
		_, tok, err := IssueToken(ctx, st, spec, now)
		if err != nil {
			t.Fatal(err)
		}
		f.toks[spec.Name] = tok
	}
	if err := st.RevokeToken(ctx, "gone", now); err != nil {
		t.Fatal(err)
	}
	// "old" expires: its row is moved into the past (IssueToken refuses a
	// past expiry).
	w, _ := st.DB()
	if _, err := w.Exec(`UPDATE api_tokens SET expires = '2020-01-01T00:00:00.000000000Z' WHERE name = 'old'`); err != nil {
		t.Fatal(err)
	}
	return f
}

func basic(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

func (f *fixture) auth(t *testing.T, header, remote string) (*Principal, *diag.Error) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/sdata", nil)
	if header != "" {
		r.Header.Set("Authorization", header)
	}
	if remote != "" {
		r.RemoteAddr = remote
	}
	p, err := f.v.Authenticate(r)
	if err == nil {
		return p, nil
	}
	var fe *Failure
	if !errors.As(err, &fe) {
		t.Fatalf("Authenticate: %v is not a *Failure", err)
	}
	return nil, fe.Err
}

func TestVerifier(t *testing.T) {
	f := newFixture(t, VerifierConfig{})
	tok := f.toks
	for _, tc := range []struct {
		name, header string
		status       int    // 0: authenticated
		who          string // the principal's name
		can          []Grant
		cannot       []Grant
		endpoint     string // an endpoint the principal speaks for
		notEndpoint  string // one it does not
		device       string
	}{
		{name: "no header", header: "", who: ""},
		{name: "good password", header: basic("ann", "ann-secret-1"), who: "ann", can: []Grant{{"-", Writer}, {"crm", Sync}}, cannot: []Grant{{"crm", Reader}, {"-", Admin}}},
		{name: "wrong password", header: basic("ann", "ann-secret-2"), status: 401},
		{name: "unknown user", header: basic("zed", "ann-secret-1"), status: 401},
		{name: "disabled user, right password", header: basic("dora", "dora-secret-1"), status: 401},
		{name: "malformed basic", header: "Basic !!!", status: 401},
		{name: "unknown scheme", header: "Digest x", status: 401},
		{name: "sync token", header: "Bearer " + tok["engine"], who: "token:engine", can: []Grant{{"acme", Sync}}, cannot: []Grant{{"-", Reader}},
			endpoint: "http://erp.example/sdata/erp/gcrm/-/contacts"},
		{name: "scheme case-insensitive", header: "bearer " + tok["engine"], who: "token:engine"},
		{name: "user token scoped to the user's roles", header: "Bearer " + tok["ann-ci"], who: "ann", can: []Grant{{"-", Reader}},
			cannot: []Grant{{"-", Writer}, {"-", Admin}, {"crm", Sync}}},
		{name: "user token without grants inherits", header: "Bearer " + tok["ann-all"], who: "ann", can: []Grant{{"-", Writer}, {"crm", Sync}}},
		{name: "device token", header: "Bearer " + tok["phone"], who: "token:phone", can: []Grant{{"-", Device}}, cannot: []Grant{{"-", Reader}}, device: "dev-7"},
		{name: "sync user speaks for its endpoints", header: basic("eng", "eng-secret-1"), who: "eng", can: []Grant{{"x", Sync}},
			endpoint: "http://crm.example/sdata/crm/gcrm/-/contacts"},
		{name: "user token: at most the user's endpoints", header: "Bearer " + tok["eng-erp"], who: "eng", endpoint: "http://erp.example/sdata/a",
			notEndpoint: "http://evil.example/x"},
		{name: "expired token", header: "Bearer " + tok["old"], status: 401},
		{name: "revoked token", header: "Bearer " + tok["gone"], status: 401},
		{name: "wrong secret", header: "Bearer " + flipLast(tok["engine"]), status: 401},
		{name: "unknown token", header: "Bearer sds_0123456789abcdef_" + strings.Repeat("a", 64), status: 401},
		{name: "not a token", header: "Bearer hello", status: 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, e := f.auth(t, tc.header, "192.0.2.1:1234")
			if tc.status != 0 {
				if e == nil || e.Status != tc.status {
					t.Fatalf("got %+v, %v; want %d", p, e, tc.status)
				}
				if e.Status == 401 && e.Challenge == "" {
					t.Fatal("401 without WWW-Authenticate")
				}
				return
			}
			if e != nil {
				t.Fatalf("refused: %v", e)
			}
			if tc.who == "" {
				if p != nil {
					t.Fatalf("no header gave %+v", p)
				}
				return
			}
			if p.Name != tc.who {
				t.Fatalf("principal %q, want %q", p.Name, tc.who)
			}
			for _, g := range tc.can {
				if !p.Can(g.Dataset, g.Role) {
					t.Errorf("%s cannot %s", p.Name, g)
				}
			}
			for _, g := range tc.cannot {
				if p.Can(g.Dataset, g.Role) {
					t.Errorf("%s can %s", p.Name, g)
				}
			}
			if tc.endpoint != "" && !p.SpeaksFor(tc.endpoint) {
				t.Errorf("does not speak for %s", tc.endpoint)
			}
			if tc.notEndpoint != "" && p.SpeaksFor(tc.notEndpoint) {
				t.Errorf("speaks for %s", tc.notEndpoint)
			}
			if p.Device != tc.device {
				t.Errorf("device %q, want %q", p.Device, tc.device)
			}
		})
	}
	if strings.Contains(f.log.String(), "ann-secret") || strings.Contains(f.log.String(), tok["engine"][20:]) {
		t.Fatalf("a secret reached the log:\n%s", f.log.String())
	}
}

// TestUnknownUserSameAnswer: an unknown user and a wrong password get the
// same answer after the same work (one password hash each), and a cached
// credential is not hashed again.
func TestUnknownUserSameAnswer(t *testing.T) {
	f := newFixture(t, VerifierConfig{})
	h0 := f.v.hashed.Load()
	_, wrong := f.auth(t, basic("ann", "not-her-password"), "")
	h1 := f.v.hashed.Load()
	_, unknown := f.auth(t, basic("nobody", "not-her-password"), "")
	h2 := f.v.hashed.Load()
	if h1-h0 != 1 || h2-h1 != 1 {
		t.Fatalf("hashes: wrong password %d, unknown user %d; want 1 each", h1-h0, h2-h1)
	}
	if wrong == nil || unknown == nil || wrong.Error() != unknown.Error() || wrong.Challenge != unknown.Challenge {
		t.Fatalf("different answers: %v / %v", wrong, unknown)
	}
	for i := 0; i < 3; i++ {
		if _, e := f.auth(t, basic("ann", "ann-secret-1"), ""); e != nil {
			t.Fatal(e)
		}
	}
	if n := f.v.hashed.Load() - h2; n != 1 {
		t.Fatalf("three requests with the same password hashed %d times, want 1 (cached)", n)
	}
}

// TestThrottle: failures from one client, or for one user, are throttled
// with 429 and Retry-After, even with the right password; a credential
// verified before keeps working.
func TestThrottle(t *testing.T) {
	f := newFixture(t, VerifierConfig{MaxFailures: 3, FailureWindow: time.Hour})
	if _, e := f.auth(t, "Bearer "+f.toks["engine"], "198.51.100.1:1"); e != nil {
		t.Fatal(e)
	}
	for i := 0; i < 3; i++ {
		if _, e := f.auth(t, basic("ann", "guess"), "198.51.100.1:2"); e == nil || e.Status != 401 {
			t.Fatalf("attempt %d: %v", i, e)
		}
	}
	_, e := f.auth(t, basic("ann", "ann-secret-1"), "198.51.100.1:3")
	if e == nil || e.Status != http.StatusTooManyRequests || e.RetryAfter < 1 || e.RetryAfter > 3600 {
		t.Fatalf("after 3 failures: %+v, want 429 with Retry-After", e)
	}
	// Another client, the same user: throttled for the user.
	if _, e := f.auth(t, basic("ann", "ann-secret-1"), "203.0.113.9:1"); e == nil || e.Status != http.StatusTooManyRequests {
		t.Fatalf("the user from another client: %v, want 429", e)
	}
	// Another user from the throttled client: throttled for the client.
	if _, e := f.auth(t, "Bearer "+f.toks["ann-all"], "198.51.100.1:4"); e == nil || e.Status != http.StatusTooManyRequests {
		t.Fatalf("a token from the throttled client: %v, want 429", e)
	}
	// What was verified before the attack still works.
	if p, e := f.auth(t, "Bearer "+f.toks["engine"], "198.51.100.1:5"); e != nil || p.Name != "token:engine" {
		t.Fatalf("cached credential: %v", e)
	}
	if !strings.Contains(f.log.String(), "authentication throttled") || strings.Contains(f.log.String(), "guess") {
		t.Fatalf("log:\n%s", f.log.String())
	}
}

// TestCacheInvalidation: a verified token stops working on the next
// request after it is revoked, a user's after the password changes or the
// user is removed; last use is written in batches.
func TestCacheInvalidation(t *testing.T) {
	f := newFixture(t, VerifierConfig{})
	ctx := context.Background()
	for _, c := range []struct {
		header string
		change func() error
	}{
		{"Bearer " + f.toks["engine"], func() error { return f.st.RevokeToken(ctx, "engine", time.Now()) }},
		{basic("ann", "ann-secret-1"), func() error { return SetPassword(ctx, f.st, "ann", "ann-secret-new") }},
		{"Bearer " + f.toks["ann-all"], func() error { return f.st.RemoveUser(ctx, "ann") }},
	} {
		if _, e := f.auth(t, c.header, ""); e != nil {
			t.Fatal(e)
		}
		if _, e := f.auth(t, c.header, ""); e != nil {
			t.Fatal(e)
		}
		if err := c.change(); err != nil {
			t.Fatal(err)
		}
		if _, e := f.auth(t, c.header, ""); e == nil || e.Status != 401 {
			t.Fatalf("after the change: %v, want 401", e)
		}
	}
	f.v.Flush(ctx)
	tk, err := f.st.TokenByName(ctx, "engine")
	if err != nil || tk.LastUsed.IsZero() {
		t.Fatalf("last use of engine not recorded: %+v %v", tk, err)
	}
	if tk, _ := f.st.TokenByName(ctx, "old"); !tk.LastUsed.IsZero() {
		t.Fatal("an unused token has a last use")
	}
}

func TestIssueTokenRefusesBadInput(t *testing.T) {
	f := newFixture(t, VerifierConfig{})
	ctx := context.Background()
	now := time.Now()
	for _, spec := range []TokenSpec{
		{Name: "bad name!", Grants: []Grant{{AnyDataset, Reader}}},
		{Name: "nogrants"},
		{Name: "past", Grants: []Grant{{AnyDataset, Reader}}, Expires: now.Add(-time.Second)},
		{Name: "ep", Grants: []Grant{{AnyDataset, Sync}}, Endpoints: []string{"ftp://x/"}},
		{Name: "ep2", Grants: []Grant{{AnyDataset, Sync}}, Endpoints: []string{"http://u:p@x/"}},
		{Name: "dev", Device: "a b"},
	} {
		if _, _, err := IssueToken(ctx, f.st, spec, now); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", spec, err)
		}
	}
	if _, err := AddUser(ctx, f.st, "eve", "short", nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("short password: %v", err)
	}
	if _, err := AddUser(ctx, f.st, "e:ve", "long-enough-1", nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("colon in name: %v", err)
	}
	if _, err := AddUser(ctx, f.st, "ann", "long-enough-1", nil); !errors.Is(err, store.ErrConflict) {
		t.Errorf("existing user: %v", err)
	}
}

// flipLast changes the last hex digit of a token.
func flipLast(tok string) string {
	last := "0"
	if strings.HasSuffix(tok, "0") {
		last = "1"
	}
	return tok[:len(tok)-1] + last
}

// BenchmarkAuthenticate measures one request's authentication: a cached
// credential (what every request of a pass but the first costs: the epoch
// read and an HMAC) and a password verified from scratch (argon2id).
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	v, err := NewVerifier(VerifierConfig{Accounts: st})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	if _, err := AddUser(ctx, st, "engine", "engine-password", []Grant{{AnyDataset, Sync}}); err != nil {
		b.Fatal(err)
	}
	_, tok, err := IssueToken(ctx, st, TokenSpec{Name: "t", Grants: []Grant{{AnyDataset, Sync}}}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, header string }{{"cached-basic", basic("engine", "engine-password")}, {"cached-token", "Bearer " + tok}} {
		b.Run(c.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "/sdata", nil)
			r.Header.Set("Authorization", c.header)
			for b.Loop() {
				if _, err := v.Authenticate(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("argon2id-hash", func(b *testing.B) {
		h, _ := HashPassword("engine-password", DefaultArgon2())
		for b.Loop() {
			CheckPassword(h, "engine-password")
		}
	})
}
