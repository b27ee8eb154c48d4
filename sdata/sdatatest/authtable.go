package sdatatest

import (
	"net/http"
	"strings"
	"sync"

	"sdatasync/sdata/auth"
	"sdatasync/sdata/diag"
)

// AuthTable is an auth.Authenticator over a fixed table of credentials,
// for tests that are about what a client sends rather than about how a
// provider stores accounts: it accepts the Basic user/password pairs and
// the bearer tokens of its entries, answers anything else 401, and
// records every Authorization header it was presented (see Presented).
// Set it as sdata.Config.Auth.
type AuthTable struct {
	entries []AuthEntry
	mu      sync.Mutex
	seen    []Presented
}

// AuthEntry is one accepted credential and the principal it stands for.
// A Token entry accepts `Bearer Token`; otherwise `Basic User:Password`.
type AuthEntry struct {
	User, Password, Token string
	Principal             *auth.Principal
}

// Presented is what one request carried in its Authorization header.
type Presented struct {
	// Scheme is "basic", "bearer", "" for a request without the header, or
	// "malformed".
	Scheme string
	// User and Secret are the Basic user name and password, or "" and the
	// bearer token.
	User, Secret string
	// Accepted is whether the table accepted it.
	Accepted bool
}

// NewAuthTable returns an authenticator accepting entries.
func NewAuthTable(entries ...AuthEntry) *AuthTable {
	return &AuthTable{entries: entries}
}

// Authenticate implements auth.Authenticator.
func (a *AuthTable) Authenticate(r *http.Request) (*auth.Principal, error) {
	h := r.Header.Get("Authorization")
	var p Presented
	switch {
	case h == "":
	case strings.HasPrefix(h, "Bearer "):
		p = Presented{Scheme: "bearer", Secret: strings.TrimPrefix(h, "Bearer ")}
	default:
		if u, pw, ok := r.BasicAuth(); ok {
			p = Presented{Scheme: "basic", User: u, Secret: pw}
		} else {
			p = Presented{Scheme: "malformed", Secret: h}
		}
	}
	var pr *auth.Principal
	if p.Scheme == "basic" || p.Scheme == "bearer" {
		for _, e := range a.entries {
			if (p.Scheme == "bearer" && e.Token != "" && e.Token == p.Secret) ||
				(p.Scheme == "basic" && e.Token == "" && e.User == p.User && e.Password == p.Secret) {
				pr, p.Accepted = e.Principal, true
				break
			}
		}
	}
	a.mu.Lock()
	a.seen = append(a.seen, p)
	a.mu.Unlock()
	if h != "" && !p.Accepted {
		return nil, diag.Unauthorized()
	}
	return pr, nil
}

// Presented returns what every request so far presented, in order.
func (a *AuthTable) Presented() []Presented {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Presented(nil), a.seen...)
}
