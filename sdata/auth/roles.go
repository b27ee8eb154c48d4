// Package auth is who may do what at a provider: principals (users and API
// tokens), their roles per dataset, and the endpoints a sync credential may
// speak for. Authentication (passwords, tokens, throttling) and the user
// and token store build on this model; the route table declares the role
// each route needs (package sdata) and checks it with Principal.Can.
package auth

import (
	"slices"
	"strings"
)

// Role is what a principal may do in a dataset.
type Role string

// The roles. Writer includes reader; admin includes every role. Sync,
// auditor and device include nothing else.
const (
	// Public is the role of routes anyone may call, authenticated or not
	// (/healthz). The empty Role is no role at all: a route must declare one.
	Public Role = "public"
	// Reader may GET resources, feeds, $schema, $template and property URLs.
	Reader Role = "reader"
	// Writer may also write resources, post $batch and use $linked.
	Writer Role = "writer"
	// Sync may use the four sync URLs and their jobs: what an engine needs,
	// nothing more.
	Sync Role = "sync"
	// Auditor may read $syncLog, the registry and the console.
	Auditor Role = "auditor"
	// Admin may write the registry, manage users and tokens and the
	// configuration, undo digest replacements, and do what every other
	// role may.
	Admin Role = "admin"
	// Device may use the device sync endpoints, for its own device only.
	Device Role = "device"
)

// Roles lists every role a grant may name.
func Roles() []Role { return []Role{Reader, Writer, Sync, Auditor, Admin, Device} }

// ParseRole reads a role name.
func ParseRole(s string) (Role, bool) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	return r, slices.Contains(Roles(), r)
}

// includes reports whether holding r grants need.
func (r Role) includes(need Role) bool {
	switch {
	case r == need, r == Admin:
		return true
	case r == Writer:
		return need == Reader
	}
	return false
}

// AnyDataset is the dataset of a grant that holds in every dataset.
const AnyDataset = "*"

// Grant is one role in one dataset (or AnyDataset).
type Grant struct {
	Dataset string
	Role    Role
}

// String renders a grant as role@dataset.
func (g Grant) String() string { return string(g.Role) + "@" + g.Dataset }

// Principal is who a request authenticated as.
type Principal struct {
	// Name is the user's name, or "token:" and the token's name; it is
	// what audit records and sync states name.
	Name string
	// User is the user a token belongs to ("" for a token of no user).
	User string
	// TokenID is the id of the token the request used (0 for a password).
	TokenID int64
	// Grants are the roles of the principal.
	Grants []Grant
	// Endpoints are the URL prefixes a sync credential may speak for: the
	// endpoints whose versions, ticks and results its feeds, digests and
	// result feeds may carry (besides the provider's own). Empty: none.
	Endpoints []string
	// Device is the device a device credential is bound to.
	Device string
}

// Can reports whether p holds role need in dataset (dataset "" asks for
// the role in any dataset: routes above the dataset level).
func (p *Principal) Can(dataset string, need Role) bool {
	if need == Public {
		return true
	}
	if p == nil {
		return false
	}
	for _, g := range p.Grants {
		if !g.Role.includes(need) {
			continue
		}
		if dataset == "" || g.Dataset == AnyDataset || g.Dataset == dataset {
			return true
		}
	}
	return false
}

// IsAdmin reports whether p is an admin in every dataset.
func (p *Principal) IsAdmin() bool { return p.Can(AnyDataset, Admin) }

// SpeaksFor reports whether a sync credential may carry versions of the
// endpoint with URL u: one of its Endpoints is a prefix of u (Under).
func (p *Principal) SpeaksFor(u string) bool {
	if p == nil {
		return false
	}
	return slices.ContainsFunc(p.Endpoints, func(pre string) bool { return Under(u, pre) })
}

// Under reports whether URL u is at or below the URL prefix pre, at a path
// boundary: http://erp/ and http://erp/sdata are prefixes of
// http://erp/sdata/a, http://erp/sd is not.
func Under(u, pre string) bool {
	if pre == "" || !strings.HasPrefix(u, pre) {
		return false
	}
	if len(u) == len(pre) || strings.HasSuffix(pre, "/") {
		return true
	}
	c := u[len(pre)]
	return c == '/' || c == '(' || c == '?'
}
