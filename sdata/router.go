package sdata

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"log/slog"

	"github.com/gorilla/mux"

	"sdatasync/contracts"
	"sdatasync/sdata/auth"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/metrics"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
	"sdatasync/sdata/wire"
)

// route is one row of the route table: a URL pattern, a method and the
// handler that serves it.
//
// A pattern is a path whose segments are literals or variables:
// {app}, {contract}, {dataset} are checked against what the provider
// serves; {kind} names a resource kind (plural or singular name) and
// {kind}('{key}') one of its resources; '{id}' in a service selector such as
// $syncSource('{id}') is a quoted or bare key; other variables ({op},
// {seg}, {rest}) are free text for the handlers of unknown URLs. HEAD goes
// where GET goes.
type route struct {
	pattern string
	method  string
	// role is what the principal must hold in the URL's dataset (in any
	// dataset, above the dataset level); every route declares one.
	role auth.Role
	// also, when set, is another role that suffices (the engine reads
	// $schema with the sync role).
	also   auth.Role
	handle site.Handler
	// byContract: the method is served only where the contract allows it
	// on the kind (sme:canGet, canPost, canPut, canDelete); the Allow
	// header of a 405 lists what the contract allows.
	byContract bool
	// check, when set, runs before the method is looked at (a sync URL on
	// a kind that does not synchronize is a 404 whatever the method).
	check func(r *http.Request, t site.Target) error
	// orRoles, with orWhen, are the roles that may call the row instead of
	// role when orWhen(r) holds (device sync: a request without the mobile
	// app headers is a backend notification, for writer or sync).
	orRoles []auth.Role
	orWhen  func(r *http.Request) bool
}

// needs is the roles of which a request to the row needs one.
func (rt route) needs(r *http.Request) []auth.Role {
	if rt.orWhen != nil && rt.orWhen(r) {
		return rt.orRoles
	}
	if rt.also != "" {
		return []auth.Role{rt.role, rt.also}
	}
	return []auth.Role{rt.role}
}

// anyMethod is the method of a row that serves every method (the handlers
// of URLs that name nothing the provider serves).
const anyMethod = "*"

// group is the rows of the route table that share a path: a collection
// pattern and its single-resource form ({kind}('{key}')) share one path.
type group struct {
	template           string // the gorilla/mux path template
	collection, single []route
	hasKind, hasID     bool
	shape              pathShape
}

// pathShape is what a path must have for a template to match it, checked
// before gorilla/mux's regular expression: its literal prefix and suffix
// and, unless a variable may span segments ({rest}), its number of
// slashes (every other variable stops at a slash). Most paths fail it at
// once, so a request runs the regular expression of one or two rows
// instead of every row above its own (routing was 10 % of the CPU of
// single-resource reads, issue 17).
type pathShape struct {
	prefix, suffix string
	slashes        int // -1: any
}

func shapeOf(tpl string) pathShape {
	sh := pathShape{prefix: tpl, slashes: strings.Count(tpl, "/")}
	if i := strings.IndexByte(tpl, '{'); i >= 0 {
		sh.prefix, sh.suffix = tpl[:i], tpl[strings.LastIndexByte(tpl, '}')+1:]
	}
	if strings.Contains(tpl, ":") { // a variable with its own pattern ({rest:.*})
		sh.slashes = -1
	}
	return sh
}

// fits reports whether path may match the template: when it does not,
// the template's regular expression would not either.
func (sh pathShape) fits(path string) bool {
	return len(path) >= len(sh.prefix)+len(sh.suffix) && strings.HasPrefix(path, sh.prefix) &&
		strings.HasSuffix(path, sh.suffix) && (sh.slashes < 0 || strings.Count(path, "/") == sh.slashes)
}

// muxTemplate translates a table pattern to a gorilla/mux template and
// says whether it names a single resource.
func muxTemplate(p string) (tpl string, single bool) {
	if strings.Contains(p, "{kind}('{key}')") {
		p, single = strings.Replace(p, "{kind}('{key}')", "{kind}", 1), true
	}
	p = strings.Replace(p, "('{id}')", "({id})", 1)
	p = strings.Replace(p, "{rest}", "{rest:.*}", 1)
	return p, single
}

// router builds the handler of the route table: one gorilla/mux route per
// path, in table order (the first match wins), dispatching on the method.
func (s *Server) router(table []route) http.Handler {
	var groups []*group
	byTemplate := map[string]*group{}
	for _, rt := range table {
		tpl, single := muxTemplate(rt.pattern)
		g := byTemplate[tpl]
		if g == nil {
			g = &group{template: tpl, hasKind: strings.Contains(tpl, "{kind}"), hasID: strings.Contains(tpl, "{id}"), shape: shapeOf(tpl)}
			byTemplate[tpl] = g
			groups = append(groups, g)
		}
		if single {
			g.single = append(g.single, rt)
		} else {
			g.collection = append(g.collection, rt)
		}
	}
	m := mux.NewRouter()
	m.StrictSlash(false)
	// Paths are matched as sent: a path with dot segments is refused (see
	// dotSegments), never cleaned and redirected (a 301 on a write).
	m.SkipClean(true)
	m.Use(s.logRequests, s.authenticate)
	for _, g := range groups {
		sh := g.shape
		m.NewRoute().MatcherFunc(func(r *http.Request, _ *mux.RouteMatch) bool { return sh.fits(r.URL.Path) }).
			Path(g.template).Handler(s.serveGroup(g))
	}
	m.NotFoundHandler = s.errors(func(w http.ResponseWriter, r *http.Request) error {
		return diag.New(diag.NoSuchURL, "no SData resource at %s: URLs have the form /sdata/{application}/{contract}/{dataset}/{resourceKind}", r.URL.Path)
	})
	return m
}

// dotSegments refuses a path with . or .. segments or an empty segment:
// SData URLs have none, and a cleaned path would name something else than
// the client wrote.
func (s *Server) dotSegments(next http.Handler) http.Handler {
	return s.errors(func(w http.ResponseWriter, r *http.Request) error {
		p := r.URL.Path
		if strings.Contains(p+"/", "/./") || strings.Contains(p+"/", "/../") || strings.Contains(p, "//") {
			return diag.New(diag.BadURL, "the path %q has an empty, . or .. segment: SData URLs have none", p)
		}
		next.ServeHTTP(w, r)
		return nil
	})
}

// errors writes the error a handler returns as a diagnosis; once an answer
// has begun (a feed cut while streaming) it can only be logged.
func (s *Server) errors(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		if sw, ok := w.(*wire.StatusWriter); ok && sw.Status != 0 {
			s.log.WarnContext(r.Context(), "answer cut", "method", r.Method, "uri", r.URL.RequestURI(), "status", sw.Status, "err", err)
			return
		}
		diag.Write(w, diag.As(r.Context(), s.log, err))
	})
}

// serveGroup resolves what the URL names, then the method, checks the role
// and calls the row's handler. An anonymous request to a path that needs a
// role is answered 401 before anything of the URL is resolved.
func (s *Server) serveGroup(g *group) http.Handler {
	public := slices.ContainsFunc(append(slices.Clone(g.collection), g.single...), func(rt route) bool { return rt.role == auth.Public })
	return s.errors(func(w http.ResponseWriter, r *http.Request) error {
		metrics.SetRoute(r.Context(), g.label()) // the row, once chosen, names it better
		p := auth.From(r.Context())
		if p == nil && !public {
			s.unauthenticated(r, "")
			return diag.Unauthorized()
		}
		t, err := s.target(r, g)
		if err != nil {
			return err
		}
		rows := g.collection
		if t.Single {
			rows = g.single
		}
		if len(rows) == 0 {
			return diag.New(diag.NoSuchURL, "%q is not available on a single resource", path.Base(r.URL.Path))
		}
		if chk := rows[0].check; chk != nil {
			if err := chk(r, t); err != nil {
				return err
			}
		}
		var allowed []string
		for _, rt := range rows {
			if rt.method == anyMethod || rt.byContract && !kindAllows(t.Kind, rt.method) || slices.Contains(allowed, rt.method) {
				continue
			}
			allowed = append(allowed, rt.method)
		}
		method := r.Method
		if method == http.MethodHead && !slices.Contains(allowed, http.MethodHead) {
			method = http.MethodGet
		}
		for _, rt := range rows {
			if rt.method == anyMethod || rt.method == method && slices.Contains(allowed, method) {
				metrics.SetRoute(r.Context(), rt.pattern)
				needs := rt.needs(r)
				if !slices.ContainsFunc(needs, func(n auth.Role) bool { return p.Can(t.Dataset, n) }) {
					if p == nil {
						return diag.Unauthorized()
					}
					s.denied(r, t, p, needs[0])
					return diag.New(diag.Forbidden, "%s may not %s %s: it needs the %s role in dataset %q", p.Name, r.Method, r.URL.Path, roleList(needs), datasetOf(t))
				}
				return rt.handle(w, r, t)
			}
		}
		return diag.NotAllowed(r.Method, allowed...)
	})
}

// denied records in the audit log a request refused for want of a role.
func (s *Server) denied(r *http.Request, t site.Target, p *auth.Principal, need auth.Role) {
	kind := ""
	if t.Kind != nil {
		kind = t.Kind.PluralName
	}
	detail, _ := json.Marshal(map[string]string{"principal": p.Name, "path": r.URL.Path, "needs": string(need)})
	s.jobs.Audit(r.Context(), store.AuditRecord{Dataset: t.Dataset, Kind: kind, Operation: "denied." + strings.ToLower(r.Method),
		Client: r.RemoteAddr, Principal: p.Name, Status: http.StatusForbidden, Detail: string(detail)})
}

// unauthenticated records in the audit log a write refused for want of
// credentials, or credentials that did not verify (claimed: the user or
// token they claimed, never a secret). Anonymous reads are not recorded.
func (s *Server) unauthenticated(r *http.Request, claimed string) {
	if claimed == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		return
	}
	ds := ""
	if v, ok := mux.Vars(r)["dataset"]; ok && s.site.HasDataset(v) {
		ds = v
	}
	detail, _ := json.Marshal(map[string]string{"path": r.URL.Path, "claimed": claimed})
	s.jobs.Audit(r.Context(), store.AuditRecord{Dataset: ds, Operation: "denied.unauthenticated", Client: r.RemoteAddr,
		Status: http.StatusUnauthorized, Detail: string(detail)})
}

// roleList names roles for messages: "writer or sync".
func roleList(rs []auth.Role) string {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = string(r)
	}
	return strings.Join(names, " or ")
}

// datasetOf names the dataset of a target for messages ("*" above the
// dataset level).
func datasetOf(t site.Target) string {
	if t.Dataset == "" {
		return auth.AnyDataset
	}
	return t.Dataset
}

// authenticate says who each request is from (auth.From), before routing:
// credentials that do not verify are refused at once (401, or 429 while
// throttled). Without an authenticator every request is auth.Unchecked.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.Unchecked()
		if s.cfg.Auth != nil {
			var err error
			if p, err = s.cfg.Auth.Authenticate(r); err != nil {
				var f *auth.Failure
				if errors.As(err, &f) && f.Audit {
					s.unauthenticated(r, f.Claimed)
				}
				diag.Write(w, diag.As(r.Context(), s.log, err))
				return
			}
		}
		if p != nil {
			r = r.WithContext(auth.WithPrincipal(r.Context(), p))
		}
		next.ServeHTTP(w, r)
	})
}

// kindAllows reports whether the contract allows method on kind k.
func kindAllows(k *contracts.ResourceKind, method string) bool {
	switch method {
	case http.MethodGet:
		return k.CanGet
	case http.MethodPost:
		return k.CanPost
	case http.MethodPut:
		return k.CanPut
	case http.MethodDelete:
		return k.CanDelete
	}
	return true
}

// target resolves the variables of a matched path: the application,
// contract and dataset must be the ones served, {kind} must name a resource
// kind (with a well-formed key selector), a service selector must be a
// well-formed key.
func (s *Server) target(r *http.Request, g *group) (site.Target, error) {
	v := mux.Vars(r)
	var t site.Target
	if app, ok := v["app"]; ok && app != s.site.App {
		return t, diag.New(diag.NoApplication, "application %q not found (this provider serves %q)", app, s.site.App)
	}
	if c, ok := v["contract"]; ok && c != s.site.Contract.Name {
		return t, diag.New(diag.NoContract, "contract %q not found (this provider serves %q)", c, s.site.Contract.Name)
	}
	if ds, ok := v["dataset"]; ok {
		if !s.site.HasDataset(ds) {
			return t, diag.New(diag.NoDataset, "dataset %q not found; datasets: %s", ds, strings.Join(s.site.Datasets(), ", "))
		}
		t.Dataset = ds
	}
	if g.hasKind {
		sc, err := s.resolveKind(t.Dataset, v["kind"])
		if err != nil {
			return t, err
		}
		t.Scope = sc
	}
	if g.hasID {
		sel := v["id"]
		id, err := site.ParseKey(sel)
		if err != nil {
			return t, diag.New(diag.BadURL, "malformed selector %q: %v", path.Base(r.URL.Path), err)
		}
		t.ID = id
	}
	return t, nil
}

// resolveKind parses a {kind} segment: `kinds`, `kinds('key')` or
// `kinds(key)`, the kind by plural or singular name.
func (s *Server) resolveKind(dataset, seg string) (site.Scope, error) {
	name := seg
	var key string
	single := false
	if i := strings.IndexByte(seg, '('); i >= 0 {
		if !strings.HasSuffix(seg, ")") {
			return site.Scope{}, diag.New(diag.BadURL, "malformed resource selector %q: expected %s('key')", seg, seg[:i])
		}
		name = seg[:i]
		k, err := site.ParseKey(seg[i+1 : len(seg)-1])
		if err != nil {
			return site.Scope{}, diag.New(diag.BadURL, "malformed resource selector %q: %v", seg, err)
		}
		key, single = k, true
	}
	if strings.HasPrefix(name, "$") {
		return site.Scope{}, diag.New(diag.NoSuchURL, "%q is not a resource kind or a service of the dataset", name)
	}
	k := s.site.Contract.Kind(name)
	if k == nil || k.PluralName != name && k.Name != name {
		return site.Scope{}, diag.New(diag.NoKind, "resource kind %q not found in contract %q", name, s.site.Contract.Name)
	}
	sc, _ := s.site.Scope(dataset, k.PluralName)
	sc.Key, sc.Single = key, single
	return sc, nil
}

// logRequests logs every request; sync and batch requests are tagged with
// their run, for auditors reading logs.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &wire.StatusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		attrs := []slog.Attr{slog.String("method", r.Method), slog.String("uri", r.URL.RequestURI()),
			slog.Int("status", sw.Status), slog.Duration("duration", time.Since(start)), slog.String("client", r.RemoteAddr)}
		if strings.Contains(r.URL.Path, "/$sync") || strings.Contains(r.URL.Path, "/$batch") {
			ru := wire.RunOf(r)
			attrs = append(attrs, slog.String("runName", ru.Name), slog.String("runStamp", ru.Stamp), slog.String("trackingID", ru.Tracking),
				slog.String("kind", mux.Vars(r)["kind"]))
		}
		level := diag.Level(sw.Status)
		if errors.Is(r.Context().Err(), context.Canceled) {
			// The client went away before the answer (a 503 no one reads):
			// noted, not an error of the server's.
			level = min(level, slog.LevelInfo)
			attrs = append(attrs, slog.Bool("clientGone", true))
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}
