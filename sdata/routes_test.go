package sdata_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"sdatasync/feeds"
)

// concrete fills the variables of a route pattern with values that name
// something this provider serves (key names an existing trading account).
func concrete(pattern, key, id string) string {
	pattern = strings.Replace(pattern, "{kind}('{key}')/{op}", "{kind}('{key}')/contacts", 1)
	r := strings.NewReplacer(
		"{app}", "sdatasync", "{contract}", "gcrm", "{dataset}", "-",
		"{kind}('{key}')", "tradingAccounts('"+key+"')", "{kind}", "tradingAccounts",
		"('{id}')", "('"+id+"')", "{seg}", "contracts", "{op}", "$nothing", "{rest}", "/other")
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
