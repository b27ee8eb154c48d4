package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"sdatasync/sdata/client"
)

// register POSTs an endpoint to the registry of the provider at base.
func register(t *testing.T, base, children string) {
	t.Helper()
	body := `<entry xmlns="http://www.w3.org/2005/Atom"><id/><title/><content/>
<payload xmlns="http://schemas.sage.com/sdata/2008/1"><endpoint xmlns="http://schemas.sage.com/sdata/registry/2009">` +
		children + `</endpoint></payload></entry>`
	res, err := (&client.Client{}).Do(context.Background(), http.MethodPost, base+client.RegistryPath, []byte(body), client.TypeEntry)
	if err != nil || res.Status != http.StatusCreated {
		t.Fatalf("registering %s: %v", children, err)
	}
}

// TestResolveRegistered runs against a real provider's registry.
func TestResolveRegistered(t *testing.T) {
	base := newProvider(t)
	register(t, base, `<title>CRM A</title><url>http://crm.example.com/sdata/crm/gcrm/a</url>`)
	register(t, base, `<title>O'Brien's ERP</title><url>http://ob.example.com/sdata/erp/gcrm/-</url>`)
	ctx := context.Background()
	c := &client.Client{}
	// The registry's URL, or the provider's base URL in its usual forms.
	for _, reg := range []string{base + client.RegistryPath, base, base + "/", base + "/sdata", base + "/sdata/"} {
		u, err := c.ResolveRegistered(ctx, reg, "CRM A")
		if err != nil || u != "http://crm.example.com/sdata/crm/gcrm/a" {
			t.Errorf("resolve at %s: %q, %v", reg, u, err)
		}
	}
	// Quotes in the title are doubled in the query.
	if u, err := c.ResolveRegistered(ctx, base, "O'Brien's ERP"); err != nil || u != "http://ob.example.com/sdata/erp/gcrm/-" {
		t.Errorf("quoted title: %q, %v", u, err)
	}
	// The provider's own endpoints resolve too.
	if u, err := c.ResolveRegistered(ctx, base, "sdatasync gcrm dataset -"); err != nil || u != base+"/sdata/sdatasync/gcrm/-" {
		t.Errorf("own dataset: %q, %v", u, err)
	}
	// A title nobody has.
	if _, err := c.ResolveRegistered(ctx, base, "Nobody"); !errors.Is(err, client.ErrNotRegistered) || !strings.Contains(err.Error(), `"Nobody"`) {
		t.Errorf("absent: %v", err)
	}
	// Our registry refuses a second endpoint with a title (ambiguous titles
	// from other registries: TestResolveRegisteredAnswers).
	// Not a registry: the provider's 404 diagnosis comes back.
	_, err := c.ResolveRegistered(ctx, base+"/sdata/$system/registry/-/contracts", "CRM A")
	var he *client.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusNotFound || len(he.Diagnoses) == 0 || !strings.Contains(err.Error(), "404") {
		t.Errorf("not a registry: %v", err)
	}
	// Bad arguments.
	for _, reg := range []string{"not a url", "ftp://h/x", "/sdata", "http://"} {
		if _, err := c.ResolveRegistered(ctx, reg, "CRM A"); err == nil {
			t.Errorf("registry URL %q accepted", reg)
		}
	}
	if _, err := c.ResolveRegistered(ctx, base, "  "); err == nil {
		t.Error("an empty title accepted")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.ResolveRegistered(cctx, base, "CRM A"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// registryFeed is a registry answer listing endpoints with these URLs,
// and totalResults total (left out when total < 0).
func registryFeed(total int, urls ...string) string {
	var b strings.Builder
	b.WriteString(`<feed xmlns="http://www.w3.org/2005/Atom" xmlns:sdata="http://schemas.sage.com/sdata/2008/1" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">` +
		`<id>r</id><title>endpoints</title>`)
	if total >= 0 {
		fmt.Fprintf(&b, `<opensearch:totalResults>%d</opensearch:totalResults>`, total)
	}
	for i, u := range urls {
		fmt.Fprintf(&b, `<entry><id>e%d</id><title>T</title><sdata:payload><endpoint xmlns="http://schemas.sage.com/sdata/registry/2009">`+
			`<title>T</title><url>%s</url></endpoint></sdata:payload></entry>`, i, u)
	}
	b.WriteString(`</feed>`)
	return b.String()
}

// TestResolveRegisteredAnswers: what other registries may answer.
func TestResolveRegisteredAnswers(t *testing.T) {
	const forbidden = `<sdata:diagnoses xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><sdata:diagnosis>
<sdata:severity>error</sdata:severity><sdata:sdataCode>ApplicationDiagnosis</sdata:sdataCode>
<sdata:message>reading the registry needs the admin role</sdata:message></sdata:diagnosis></sdata:diagnoses>`
	for _, c := range []struct {
		name     string
		status   int
		body     string
		want     string // the URL, or "" for an error
		errText  string
		notFound bool
	}{
		{"one endpoint", 200, registryFeed(1, " http://a.example.com/sdata/a/c/d "), "http://a.example.com/sdata/a/c/d", "", false},
		{"no total given", 200, registryFeed(-1, "http://a.example.com/x"), "http://a.example.com/x", "", false},
		{"none", 200, registryFeed(0), "", "no endpoint titled", true},
		{"only empty urls", 200, registryFeed(1, " "), "", "no endpoint titled", true},
		{"two", 200, registryFeed(2, "http://a/x", "http://b/x"), "", "2 endpoints are titled \"T\"", false},
		{"more than the page shows", 200, registryFeed(12, "http://a/x"), "", "12 endpoints are titled", false},
		{"a bad url", 200, registryFeed(1, "http://a/%zz"), "", "bad url", false},
		{"not a feed", 200, "hello", "", "registry at", false},
		{"no content", 204, "", "", "answered 204", false},
		{"refused with a diagnosis", 403, forbidden, "", "reading the registry needs the admin role", false},
		{"down", 503, "maintenance", "", "giving up after 3 attempts", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var mu sync.Mutex
			var queries []url.Values
			ts := server(t, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				queries = append(queries, r.URL.Query())
				mu.Unlock()
				if r.URL.Path != client.RegistryPath {
					http.NotFound(w, r)
					return
				}
				w.WriteHeader(c.status)
				io.WriteString(w, c.body)
			})
			got, err := fast(&retryLog{}).ResolveRegistered(context.Background(), ts.URL, "T")
			if c.want != "" {
				if err != nil || got != c.want {
					t.Fatalf("got %q, %v; want %q", got, err, c.want)
				}
			} else if err == nil || !strings.Contains(err.Error(), c.errText) || errors.Is(err, client.ErrNotRegistered) != c.notFound {
				t.Fatalf("got %q, %v; want an error with %q (not registered: %v)", got, err, c.errText, c.notFound)
			}
			if q := queries[0]; q.Get("where") != "title eq 'T'" || q.Get("count") != "10" {
				t.Errorf("query %v", q)
			}
		})
	}
}

// TestResolveRegisteredQuery: the registry URL given keeps its path and
// parameters; the title is quoted as the query language wants.
func TestResolveRegisteredQuery(t *testing.T) {
	var got *url.URL
	ts := server(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.URL
		io.WriteString(w, registryFeed(1, "http://a/x"))
	})
	if _, err := (&client.Client{}).ResolveRegistered(context.Background(), ts.URL+"/other/registry?tenant=7&count=3", "It's"); err != nil {
		t.Fatal(err)
	}
	q := got.Query()
	if got.Path != "/other/registry" || q.Get("tenant") != "7" || q.Get("count") != "10" || q.Get("where") != "title eq 'It''s'" {
		t.Errorf("asked %s", got)
	}
}
