package sdata_test

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"sdatasync/feeds"
	"sdatasync/sdata"
	"sdatasync/sdata/auth"
	"sdatasync/sdata/sdatatest"
)

// concrete fills the variables of a route pattern with values that name
// something this provider serves (key names an existing trading account).
func concrete(pattern, key, id string) string {
	pattern = strings.Replace(pattern, "{kind}('{key}')/{op}", "{kind}('{key}')/contacts", 1)
	r := strings.NewReplacer(
		"{app}", "sdatasync", "{contract}", "gcrm", "{dataset}", "-",
		"{kind}('{key}')", "tradingAccounts('"+key+"')", "{kind}", "tradingAccounts",
		"('{id}')", "('"+id+"')", "{seg}", "contracts", "{op}", "$nothing", "{rest}", "/other", "{file}", "app.js", "{id}", id)
	return r.Replace(pattern)
}

// TestRouteTable walks the route table: every row is reached with its
// method (its handler answers, not the router's 404 or 405), and every
// other method of its path answers 405 listing exactly the table's methods
// (what the contract allows, for the rows that depend on it).
func TestRouteTable(t *testing.T) {
	p := newProvider(t, 5)
	key := p.create("tradingAccounts", ta("Route Ltd", "RT"))
	table := p.Server.Routes()
	id := uuid.NewString()
	methods := map[string][]string{} // concrete URL -> the methods the table lists
	for _, rt := range table {
		u := concrete(rt.Pattern, key, id)
		if rt.Any {
			continue
		}
		if rt.Method != http.MethodHead && !slices.Contains(methods[u], rt.Method) {
			methods[u] = append(methods[u], rt.Method)
		}
	}
	for _, rt := range table {
		u := concrete(rt.Pattern, key, id)
		t.Run(rt.Method+" "+rt.Pattern, func(t *testing.T) {
			method := rt.Method
			if rt.Any {
				method = http.MethodGet
			}
			st, _, body := do(t, method, p.HTTP.URL+u, []byte(`<x/>`))
			if st == http.StatusMethodNotAllowed {
				t.Fatalf("%s %s: 405: the row's method did not reach its handler\n%s", method, u, body)
			}
			if st == http.StatusNotFound && strings.Contains(string(body), "no SData resource at") {
				t.Fatalf("%s %s: the router matched no route\n%s", method, u, body)
			}
			if ds, err := feeds.ParseDiagnoses(strings.NewReader(string(body)), feeds.Limits{}); !rt.Any && err == nil &&
				st == http.StatusNotFound && len(ds) > 0 && ds[0].SDataCode == "BadUrlSyntax" {
				t.Fatalf("%s %s: a handler for unknown URLs answered: the row is shadowed\n%s", method, u, body)
			}
			if rt.Any {
				if st != http.StatusNotFound && st != http.StatusBadRequest {
					t.Fatalf("%s %s: %d, want a 404 or 400 diagnosis for a URL that names nothing", method, u, st)
				}
				return
			}
			for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
				if slices.Contains(methods[u], m) || m == http.MethodGet && rt.Pattern == "/healthz" {
					continue
				}
				st, h, body := do(t, m, p.HTTP.URL+u, []byte(`<x/>`))
				if st != http.StatusMethodNotAllowed {
					// A route check (a kind that does not sync, a bad id)
					// may refuse first; it must be a diagnosis.
					if st < 400 {
						t.Fatalf("%s %s: %d for a method the table does not list", m, u, st)
					}
					if _, err := feeds.ParseDiagnoses(strings.NewReader(string(body)), feeds.Limits{}); err != nil {
						t.Fatalf("%s %s: %d without a diagnosis", m, u, st)
					}
					continue
				}
				allow := strings.Split(h.Get("Allow"), ", ")
				want := methods[u]
				if rt.ByContract {
					want = slices.DeleteFunc(slices.Clone(want), func(m string) bool { return !p.Server.KindAllows("tradingAccounts", m) })
				}
				if rt.Pattern == "/healthz" {
					want = []string{http.MethodGet, http.MethodHead}
				}
				if !slices.Equal(allow, want) {
					t.Fatalf("%s %s: Allow %q, want %q", m, u, allow, want)
				}
			}
		})
	}
}

// TestRouteRoles walks the route table × every role (and no credentials):
// a route answers 401 without credentials unless it is public, 403 to a
// role that does not include the one it declares, and reaches its handler
// otherwise. A row without a role fails.
func TestRouteRoles(t *testing.T) {
	p := sdatatest.Start(t, sdatatest.Options{Config: func(c *sdata.Config) { c.Auth = roleTokens() }})
	key := createAs(t, p, "admin", "tradingAccounts", ta("Roles Ltd", "RL"))
	id := uuid.NewString()
	principals := append([]string{""}, func() []string {
		var out []string
		for _, r := range auth.Roles() {
			out = append(out, string(r))
		}
		return out
	}()...)
	for _, rt := range p.Server.Routes() {
		if rt.Role == "" {
			t.Errorf("%s %s declares no role", rt.Method, rt.Pattern)
			continue
		}
		if want, also := policy(rt.Pattern, rt.Method); rt.Role != want || rt.Also != also {
			t.Errorf("%s %s declares role %s (also %q); the security policy (issue 12) says %s (also %q)", rt.Method, rt.Pattern, rt.Role, rt.Also, want, also)
		}
		method := rt.Method
		if rt.Any {
			method = http.MethodGet
		}
		u := p.URL + concrete(rt.Pattern, key, id)
		for _, who := range principals {
			var hdr []string
			if who != "" {
				hdr = []string{"Authorization", "Bearer " + who}
			}
			st, _, body := doWith(t, method, u, []byte(`<x/>`), hdr...)
			// The requests carry no mobile app headers: a row with OrRoles
			// (the synchronize service) takes them as backend notifications.
			needs := []auth.Role{rt.Role}
			if rt.Also != "" {
				needs = append(needs, rt.Also)
			}
			if len(rt.OrRoles) > 0 {
				needs = rt.OrRoles
			}
			var want string
			switch {
			case rt.Role == auth.Public:
			case who == "":
				want = "401"
			case !slices.ContainsFunc(needs, func(n auth.Role) bool { return roleTokens()[who].Can("-", n) }):
				want = "403"
			}
			got := strconv.Itoa(st)
			if want != "" && got != want || want == "" && (st == http.StatusUnauthorized || st == http.StatusForbidden) {
				t.Errorf("%s %s as %q (route needs %s): %d, want %s\n%s", method, rt.Pattern, who, rt.Role, st, cmp.Or(want, "its handler"), body)
			}
		}
	}
}

// createAs creates a resource with the bearer token of a role.
func createAs(t *testing.T, p *sdatatest.Provider, token, kind, xml string) string {
	t.Helper()
	st, _, b := doWith(t, http.MethodPost, p.KindURL(kind), []byte(xml), "Authorization", "Bearer "+token)
	mustStatus(t, http.StatusCreated, st, b)
	e, err := feeds.ParseEntry(strings.NewReader(string(b)), feeds.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return feeds.PayloadKey(e.Payload)
}

// policy is the role each kind of URL needs (issue 12): reader reads,
// writer writes ($batch and $linked too), sync is what an engine needs
// (the four sync URLs and their jobs), auditor reads $syncLog and the
// registry, admin writes the registry and manages users and tokens;
// /healthz is public; the device sync jobs (/sync, issue 15) need the
// device role. $schema is read by readers and by sync engines
// (also).
func policy(pattern, method string) (need, also auth.Role) {
	write := method == http.MethodPost || method == http.MethodPut || method == http.MethodDelete
	switch {
	case pattern == "/healthz":
		return auth.Public, ""
	case pattern == "/sync" || strings.HasPrefix(pattern, "/sync/"):
		return auth.Device, ""
	case strings.HasSuffix(pattern, "/$undo"):
		return auth.Admin, ""
	case pattern == "/metrics":
		return auth.Auditor, ""
	case strings.HasPrefix(pattern, "/console") && write:
		return auth.Writer, "" // the console's restore: a local write
	case strings.HasPrefix(pattern, "/console"):
		return auth.Auditor, "" // the console reads what auditors may read
	case strings.HasPrefix(pattern, "/invoke/wm.mobile.datasync/"), strings.Contains(pattern, "/$mobile/"):
		return auth.Device, "" // backend notifications: writer or sync (OrRoles)
	case strings.Contains(pattern, "$syncLog"):
		return auth.Auditor, ""
	case strings.Contains(pattern, "$sync"):
		return auth.Sync, ""
	case strings.HasPrefix(pattern, "/sdata/$system/admin/"):
		return auth.Admin, ""
	case strings.HasPrefix(pattern, "/sdata/$system") && write:
		return auth.Admin, ""
	case strings.HasPrefix(pattern, "/sdata/$system"):
		return auth.Auditor, ""
	case strings.Contains(pattern, "$batch"), strings.Contains(pattern, "$linked"), write:
		return auth.Writer, ""
	case strings.HasSuffix(pattern, "/$schema") && method == http.MethodGet:
		return auth.Reader, auth.Sync
	}
	return auth.Reader, ""
}
