package sdata

// Hooks for the tests of package sdata_test.

import (
	"context"
	"time"

	"sdatasync/sdata/auth"
	"sdatasync/sdata/jobs"
	"sdatasync/sdata/site"
)

// Child reports where the items of a child kind live.
func (s *Server) Child(kind string) (site.ChildLink, bool) { return s.site.Child(kind) }

// Retire retires the UUID aliases older than the alias TTL at now.
func (s *Server) Retire(ctx context.Context, now time.Time) { s.retire(ctx, now) }

// Jobs is the server's job runtime.
func (s *Server) Jobs() *jobs.Runtime { return s.jobs }

// Route is one row of the route table, as tests see it.
type Route struct {
	Pattern, Method string
	Role            auth.Role
	Also            auth.Role // another role that suffices
	ByContract      bool      // the contract decides whether the method is served
	Any             bool      // the row serves every method (URLs that name nothing)
	// OrRoles are the roles a request without the mobile app headers
	// needs instead of Role (the synchronize service).
	OrRoles []auth.Role
}

// Routes lists the route table.
func (s *Server) Routes() []Route {
	var out []Route
	for _, rt := range s.routes() {
		out = append(out, Route{Pattern: rt.pattern, Method: rt.method, Role: rt.role, Also: rt.also, ByContract: rt.byContract, Any: rt.method == anyMethod, OrRoles: rt.orRoles})
	}
	return out
}

// KindAllows reports whether the contract allows method on kind (plural name).
func (s *Server) KindAllows(kind, method string) bool {
	return kindAllows(s.site.Contract.Kind(kind), method)
}

// BadRequestLine says what is wrong with a first request line ("" when
// CheckRequestLines lets it through).
func BadRequestLine(line string) string { return badRequestLine(line) }

// MuxTemplate is the gorilla/mux template of a route pattern.
func MuxTemplate(pattern string) string { tpl, _ := muxTemplate(pattern); return tpl }

// ShapeFits reports whether path passes the cheap check the router makes
// before the regular expression of template.
func ShapeFits(template, path string) bool { return shapeOf(template).fits(path) }
