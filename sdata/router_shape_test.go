package sdata_test

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"sdatasync/sdata"
)

// TestRouteShapeNeverHidesAMatch: the router checks a path's literal
// prefix, suffix and number of segments before a row's regular
// expression; that check must never refuse a path the regular expression
// accepts (the row would be skipped and a later one, or a 404, would
// answer). Paths: every row's pattern filled in many ways, and random
// paths built from the patterns' own pieces.
func TestRouteShapeNeverHidesAMatch(t *testing.T) {
	p := newProvider(t, 5)
	var templates []string
	seen := map[string]bool{}
	for _, rt := range p.Server.Routes() {
		if tpl := sdata.MuxTemplate(rt.Pattern); !seen[tpl] {
			seen[tpl] = true
			templates = append(templates, tpl)
		}
	}
	values := []string{"x", "tradingAccounts", "$schema", "-", "a/b", "", "('1')", "(1)", "{kind}", "$syncSource('x')", "a%2Fb", "é"}
	var paths []string
	fill := func(tpl string, pick func() string) string {
		var b strings.Builder
		for {
			i := strings.IndexByte(tpl, '{')
			if i < 0 {
				b.WriteString(tpl)
				return b.String()
			}
			j := strings.IndexByte(tpl[i:], '}')
			b.WriteString(tpl[:i])
			b.WriteString(pick())
			tpl = tpl[i+j+1:]
		}
	}
	rng := rand.New(rand.NewPCG(17, 29))
	var pieces []string
	for _, tpl := range templates {
		for _, v := range values {
			paths = append(paths, fill(tpl, func() string { return v }))
		}
		for range 20 {
			paths = append(paths, fill(tpl, func() string { return values[rng.IntN(len(values))] }))
		}
		pieces = append(pieces, strings.Split(tpl, "/")...)
	}
	for range 2000 {
		var b strings.Builder
		for range 1 + rng.IntN(8) {
			b.WriteString("/")
			b.WriteString(fill(pieces[rng.IntN(len(pieces))], func() string { return values[rng.IntN(len(values))] }))
		}
		paths = append(paths, b.String())
	}
	matches, refused := 0, 0
	for _, tpl := range templates {
		route := mux.NewRouter().SkipClean(true).Path(tpl)
		for _, path := range paths {
			r, err := http.NewRequest(http.MethodGet, "http://localhost", nil)
			if err != nil {
				t.Fatal(err)
			}
			r.URL.Path = path
			if !sdata.ShapeFits(tpl, path) {
				refused++
			}
			if !route.Match(r, &mux.RouteMatch{}) {
				continue
			}
			matches++
			if !sdata.ShapeFits(tpl, path) {
				t.Errorf("%s matches %q, but the shape check refuses it", tpl, path)
			}
		}
	}
	if matches < len(templates) {
		t.Fatalf("only %d matches over %d templates: the paths do not exercise the rows", matches, len(templates))
	}
	// The check is also a real filter: most (row, path) pairs fail it.
	if total := len(templates) * len(paths); refused < total*9/10 {
		t.Errorf("the shape check refused %d of %d pairs: it filters little", refused, total)
	}
}
