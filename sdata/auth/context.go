package auth

import (
	"context"
	"net/http"
)

type principalKey struct{}

// WithPrincipal returns ctx carrying the principal a request authenticated
// as.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// From returns the principal of a request's context, nil when the request
// is anonymous.
func From(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Name is the name of the principal of a request ("" when anonymous): what
// audit records and local writes name, never a name the client merely
// asserts.
func Name(r *http.Request) string {
	if p := From(r.Context()); p != nil {
		return p.Name
	}
	return ""
}

// Unchecked is the principal of every request of a provider that runs
// without authentication (--insecure-no-auth, and tests): an admin of
// every dataset.
func Unchecked() *Principal {
	return &Principal{Name: "anonymous", Grants: []Grant{{AnyDataset, Admin}}}
}

// Authenticator says who a request is from: its principal, nil for a
// request without credentials, or an error for credentials that do not
// verify (a *diag.Error of status 401, or 429 while throttled).
type Authenticator interface {
	Authenticate(r *http.Request) (*Principal, error)
}
