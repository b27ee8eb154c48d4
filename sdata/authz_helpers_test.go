package sdata_test

import (
	"net/http"
	"strings"
	"testing"

	"sdatasync/sdata"
	"sdatasync/sdata/auth"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/sdatatest"
)

// tokenTable authenticates bearer tokens from a fixed table: "throttled"
// is answered 429, an unknown token 401. It stands in for the provider's
// authenticator where a test is about the router's answers to principals.
type tokenTable map[string]*auth.Principal

func (tt tokenTable) Authenticate(r *http.Request) (*auth.Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, nil
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	switch {
	case tok == "throttled":
		e := diag.New(diag.Throttled, "too many failed attempts; try again later")
		e.RetryAfter = 30
		return nil, e
	case !ok || tt[tok] == nil:
		return nil, diag.Unauthorized()
	}
	return tt[tok], nil
}

// roleTokens has one token per role (named after it, in every dataset).
func roleTokens() tokenTable {
	tt := tokenTable{}
	for _, r := range auth.Roles() {
		tt[string(r)] = &auth.Principal{Name: "token:" + string(r), Grants: []auth.Grant{{Dataset: auth.AnyDataset, Role: r}}}
	}
	return tt
}

// securedProvider starts a provider that authenticates with
// roleTokens.
func securedProvider(t *testing.T) *sdatatest.Provider {
	return sdatatest.Start(t, sdatatest.Options{Config: func(c *sdata.Config) { c.Auth = roleTokens() }})
}
