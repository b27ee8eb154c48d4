package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"sdatasync/sdata/client"
)

// headerLog serves h and keeps the Authorization header of every request.
type headerLog struct {
	mu  sync.Mutex
	got []string
}

func (l *headerLog) add(r *http.Request) {
	l.mu.Lock()
	l.got = append(l.got, r.Header.Get("Authorization"))
	l.mu.Unlock()
}

func (l *headerLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.got...)
}

func mustOrigin(t *testing.T, u string) string {
	t.Helper()
	o, err := client.Origin(u)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestCredentialHeaders: a token goes as Bearer (even with a user and a
// password), otherwise Basic; no credentials, no header.
func TestCredentialHeaders(t *testing.T) {
	var hl headerLog
	ts := server(t, func(w http.ResponseWriter, r *http.Request) { hl.add(r) })
	o := mustOrigin(t, ts.URL)
	for _, tc := range []struct {
		cred client.Credentials
		want string
	}{
		{client.Credentials{}, ""},
		{client.Credentials{User: "ann", Password: "pw1"}, "Basic YW5uOnB3MQ=="},
		{client.Credentials{Token: "tok-1"}, "Bearer tok-1"},
		{client.Credentials{User: "ann", Password: "pw1", Token: "tok-2"}, "Bearer tok-2"},
	} {
		hl = headerLog{}
		c := &client.Client{Credentials: tc.cred, Origin: o}
		if _, err := c.Do(context.Background(), http.MethodGet, ts.URL+"/x", nil, ""); err != nil {
			t.Fatal(err)
		}
		if got := hl.all(); len(got) != 1 || got[0] != tc.want {
			t.Errorf("%v: Authorization %q, want %q", tc.cred, got, tc.want)
		}
	}
	// Credentials without an origin are a mistake: nothing is sent.
	hl = headerLog{}
	_, err := (&client.Client{Credentials: client.Credentials{Token: "t"}}).Do(context.Background(), http.MethodGet, ts.URL, nil, "")
	if err == nil || len(hl.all()) != 0 {
		t.Errorf("credentials without Origin: %v, %d requests", err, len(hl.all()))
	}
}

// secrets are the passwords and tokens of the rendering tests.
var secrets = []string{"pa55-Secret", "tok-Secret"}

func assertNoSecret(t *testing.T, what, s string) {
	t.Helper()
	for _, sec := range secrets {
		if strings.Contains(s, sec) {
			t.Errorf("%s shows a secret: %s", what, s)
		}
	}
}

// TestCredentialsRendering: fmt (every verb, plain, in a struct, behind a
// pointer), slog (text and JSON) and encoding/json show the kind and the
// user name, never the password or the token.
func TestCredentialsRendering(t *testing.T) {
	basic := client.Credentials{User: "ann", Password: secrets[0]}
	bearer := client.Credentials{User: "engine", Token: secrets[1]}
	for _, cr := range []client.Credentials{basic, bearer} {
		c := &client.Client{Credentials: cr, Origin: "https://a:443"}
		for _, v := range []any{cr, &cr, c, *c, struct{ C client.Credentials }{cr}, []client.Credentials{cr}} {
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
				assertNoSecret(t, verb, fmt.Sprintf(verb, v))
			}
		}
		if s := fmt.Sprint(cr); !strings.Contains(s, cr.Kind()) || !strings.Contains(s, cr.User) {
			t.Errorf("%q does not show the kind and the user", s)
		}
		var buf bytes.Buffer
		slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "cred", cr, "client", c)
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "cred", cr, "ptr", &cr)
		assertNoSecret(t, "slog", buf.String())
		if !strings.Contains(buf.String(), "cred.kind="+cr.Kind()) || !strings.Contains(buf.String(), `"user":"`+cr.User+`"`) {
			t.Errorf("slog does not show the kind and the user: %s", buf.String())
		}
		js, err := json.Marshal(map[string]any{"c": cr, "p": &cr, "client": c})
		if err != nil {
			t.Fatal(err)
		}
		assertNoSecret(t, "JSON", string(js))
		if !strings.Contains(string(js), `{"kind":"`+cr.Kind()+`","user":"`+cr.User+`"}`) {
			t.Errorf("JSON %s", js)
		}
	}
	if s := fmt.Sprint(client.Credentials{}); s != "none" {
		t.Errorf("no credentials render as %q", s)
	}
}

// TestNoSecretInErrorsAndRetryLogs: the errors of failed requests and the
// warnings of retries name neither the credentials' secret nor the
// user:password part of a URL.
func TestNoSecretInErrorsAndRetryLogs(t *testing.T) {
	var hits atomic.Int64
	ts := server(t, func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	})
	var buf bytes.Buffer
	c := &client.Client{Credentials: client.Credentials{User: "ann", Password: secrets[0]}, Origin: mustOrigin(t, ts.URL),
		MaxAttempts: 3, MinBackoff: 1, MaxBackoff: 2, Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	_, err := c.Do(context.Background(), http.MethodGet, ts.URL+"/a", nil, "")
	var he *client.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusUnauthorized {
		t.Fatalf("err %v", err)
	}
	if !strings.Contains(buf.String(), "retrying") {
		t.Fatalf("no retry logged: %s", buf.String())
	}
	assertNoSecret(t, "error", err.Error())
	assertNoSecret(t, "retry log", buf.String())

	// A URL with user:password (a provider's link) loses it in errors and
	// logs, for a transport failure and for an error answer alike.
	buf.Reset()
	withUser := strings.Replace(ts.URL, "://", "://mallory:"+secrets[1]+"@", 1)
	hits.Store(0)
	_, err = c.Do(context.Background(), http.MethodGet, withUser+"/b", nil, "")
	if err == nil {
		t.Fatal("no error")
	}
	dead := strings.Replace(withUser, "127.0.0.1", "127.0.0.1:1", 1)
	dead = dead[:strings.LastIndexByte(dead, ':')] // http://mallory:secret@127.0.0.1:1
	_, err2 := c.Do(context.Background(), http.MethodGet, dead+"/c", nil, "")
	if err2 == nil {
		t.Fatal("no error from a closed port")
	}
	for _, s := range []string{err.Error(), err2.Error(), buf.String()} {
		assertNoSecret(t, "error or log", s)
		if strings.Contains(s, "mallory") {
			t.Errorf("user name of a URL kept: %s", s)
		}
	}
}

// TestRedact is table-driven over URLs with and without user info,
// parseable or not.
func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://h/p?q=1", "http://h/p?q=1"},
		{"http://u:p@h:8/p", "http://h:8/p"},
		{"https://u@h/", "https://h/"},
		{"http://u:p%zz@h/x", "http://h/x"},      // a bad escape: not parseable
		{"http://u:p@h/%zz", "http://h/%zz"},     // ditto, in the path
		{"http://a@b@h/x?y=@", "http://h/x?y=@"}, // the last @ of the authority
		{"not a url at all @ all", "not a url at all @ all"},
		{"", ""},
	} {
		if got := client.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := client.HasUserInfo(tc.in); got != (tc.in != tc.want) {
			t.Errorf("HasUserInfo(%q) = %v", tc.in, got)
		}
	}
}

// TestOrigin is table-driven: default ports made explicit, case folded,
// schemes told apart.
func TestOrigin(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://A.example/x", "http://a.example:80"},
		{"http://a.example:80", "http://a.example:80"},
		{"https://a.example/", "https://a.example:443"},
		{"HTTPS://[::1]:8443/p", "https://[::1]:8443"},
		{"ftp://a/", ""},
		{"/relative", ""},
	} {
		got, err := client.Origin(tc.in)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("Origin(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestCredentialsStayAtTheirOrigin: a Location, a link or a redirect to
// another origin (here another port of the same host, which net/http
// alone would send the header to) is followed without credentials, and
// warned; the origin they were given for gets them.
func TestCredentialsStayAtTheirOrigin(t *testing.T) {
	var other headerLog
	ob := server(t, func(w http.ResponseWriter, r *http.Request) {
		other.add(r)
		w.Write([]byte("ok"))
	})
	var home headerLog
	ts := server(t, func(w http.ResponseWriter, r *http.Request) {
		home.add(r)
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, ob.URL+"/landed", http.StatusFound)
		case "/async":
			w.Header().Set("Location", ob.URL+"/poll")
			w.WriteHeader(http.StatusAccepted)
		default:
			w.Write([]byte("home"))
		}
	})
	var logs bytes.Buffer
	c := &client.Client{Credentials: client.Credentials{Token: secrets[1]}, Origin: mustOrigin(t, ts.URL),
		MinPoll: 1, MaxPoll: 2, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	ctx := context.Background()
	if res, err := c.Do(ctx, http.MethodGet, ts.URL+"/redirect", nil, ""); err != nil || string(res.Body) != "ok" {
		t.Fatalf("redirect: %v", err)
	}
	res, err := c.Do(ctx, http.MethodPost, ts.URL+"/async", []byte("<x/>"), client.TypeEntry)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Await(ctx, res, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(ctx, http.MethodGet, ob.URL+"/direct", nil, ""); err != nil {
		t.Fatal(err)
	}
	for i, h := range home.all() {
		if h != "Bearer "+secrets[1] {
			t.Errorf("home request %d: Authorization %q", i, h)
		}
	}
	if got := other.all(); len(got) != 3 || got[0] != "" || got[1] != "" || got[2] != "" {
		t.Errorf("the other origin got Authorization %q", got)
	}
	if n := strings.Count(logs.String(), "without credentials"); n != 3 {
		t.Errorf("%d warnings, want 3:\n%s", n, logs.String())
	}
	assertNoSecret(t, "warnings", logs.String())
}
