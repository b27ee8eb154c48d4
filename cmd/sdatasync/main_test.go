package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"

	"sdatasync/feeds"
)

// lockedBuffer is a bytes.Buffer safe for the server's log goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestUsageErrors(t *testing.T) {
	db := filepath.Join(t.TempDir(), "never.db")
	cases := []struct {
		name   string
		args   []string
		status int
		stderr string // substring of stderr
	}{
		{"no command", nil, 2, "Usage"},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"bad flag", []string{"serve", "--no-such-flag"}, 2, "no-such-flag"},
		{"flag value", []string{"serve", "--max-body", "lots"}, 2, "max-body"},
		{"priority 0", []string{"serve", "--db", db, "--conflict-priority", "0"}, 2, "--conflict-priority must be 1..9"},
		{"priority 10", []string{"serve", "--db", db, "--conflict-priority", "10"}, 2, "--conflict-priority must be 1..9"},
		{"log level", []string{"serve", "--db", db, "--log-level", "loud"}, 2, "--log-level"},
		{"extra argument", []string{"serve", "--db", db, "now"}, 2, `unexpected argument "now"`},
		{"help", []string{"help"}, 0, ""},
		{"serve -h", []string{"serve", "-h"}, 0, "-conflict-priority"},
		{"unknown contract", []string{"serve", "--db", db, "--addr", "127.0.0.1:0", "--contract", filepath.Join(t.TempDir(), "missing.xsd")}, 1, "serve failed"},
		{"bad address", []string{"serve", "--db", db, "--addr", "not-an-address"}, 1, "serve failed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if got := run(c.args, &out, &errb); got != c.status {
				t.Errorf("run(%q) = %d, want %d; stderr %s", c.args, got, c.status, errb.String())
			}
			if !strings.Contains(errb.String(), c.stderr) {
				t.Errorf("stderr %q lacks %q", errb.String(), c.stderr)
			}
		})
	}
	if _, err := os.Stat(db); err == nil {
		t.Errorf("a failed start created the database")
	}
}

func TestEnvDefaults(t *testing.T) {
	t.Setenv("SDATASYNC_CONFLICT_PRIORITY", "0")
	var out, errb bytes.Buffer
	if got := run([]string{"serve", "--db", filepath.Join(t.TempDir(), "x.db")}, &out, &errb); got != 2 {
		t.Errorf("SDATASYNC_CONFLICT_PRIORITY=0: status %d, stderr %s", got, errb.String())
	}
	t.Setenv("SDATASYNC_CONFLICT_PRIORITY", "many")
	errb.Reset()
	if got := run([]string{"serve"}, &out, &errb); got != 2 || !strings.Contains(errb.String(), "SDATASYNC_CONFLICT_PRIORITY") {
		t.Errorf("SDATASYNC_CONFLICT_PRIORITY=many: status %d, stderr %s", got, errb.String())
	}
	// A flag given on the command line wins over the environment.
	errb.Reset()
	if got := run([]string{"serve", "--conflict-priority", "11"}, &out, &errb); got != 2 || !strings.Contains(errb.String(), "must be 1..9") {
		t.Errorf("flag over env: status %d, stderr %s", got, errb.String())
	}
}

var servingRE = regexp.MustCompile(`^sdatasync serving (http://127\.0\.0\.1:\d+) \(contract gcrm, datasets -,extra, db .*\)$`)
var tryRE = regexp.MustCompile(`^try: curl -u "\$\(cat (.+\.credentials)\)" '([^']+)'$`)
var demoRE = regexp.MustCompile(`^demo user: demo  password: ([0-9a-f]{32}) `)

// getAs is http.Get with HTTP Basic credentials.
func getAs(u, user, pw string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(user, pw)
	return http.DefaultClient.Do(req)
}

// TestServe starts the real server on a free port with demo data, uses it
// over HTTP and stops it the way an operator does: SIGINT.
//
// run has no stop hook (no context or listener parameter); it stops on
// SIGINT/SIGTERM through signal.NotifyContext only, so the test signals its
// own process. That is safe once the "serving" line is printed, because the
// signal handler is installed before it.
func TestServe(t *testing.T) {
	db := filepath.Join(t.TempDir(), "sub", "s.db")
	pr, pw := io.Pipe()
	var errb lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--demo", "--dataset", "extra", "--log-level", "warn"}, pw, &errb)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var lines []string
	for len(lines) < 3 && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) < 3 {
		t.Fatalf("server printed %q and stopped (status %d); stderr %s", lines, <-done, errb.String())
	}
	go io.Copy(io.Discard, pr) // nothing more is expected; never block the server
	dm := demoRE.FindStringSubmatch(lines[0])
	if dm == nil {
		t.Fatalf("first line %q: no demo credentials", lines[0])
	}
	demoPW := dm[1]
	m := servingRE.FindStringSubmatch(lines[1])
	if m == nil {
		t.Fatalf("second line %q", lines[1])
	}
	base := m[1]
	tm := tryRE.FindStringSubmatch(lines[2])
	if tm == nil || tm[2] != base+"/sdata/sdatasync/gcrm/-/tradingAccounts?count=5" || tm[1] != db+".credentials" {
		t.Fatalf("third line %q", lines[2])
	}
	tm = tm[1:]
	if b, err := os.ReadFile(db + ".credentials"); err != nil || string(b) != "demo:"+demoPW+"\n" {
		t.Fatalf("credentials file: %q %v", b, err)
	}
	if fi, err := os.Stat(db + ".credentials"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file mode: %v %v", fi.Mode(), err)
	}
	if res, err := http.Get(tm[1]); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous GET: %v %v, want 401", res.Status, err)
	}

	res, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != "ok" {
		t.Errorf("healthz: %d %q", res.StatusCode, b)
	}

	for _, u := range []string{tm[1], base + "/sdata/sdatasync/gcrm/extra/tradingAccounts?count=5"} {
		res, err = getAs(u, "demo", demoPW)
		if err != nil {
			t.Fatal(err)
		}
		f, err := feeds.ParseFeed(res.Body, feeds.Limits{})
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v", u, res.StatusCode, err)
		}
		if len(f.Entries) != 5 || f.TotalResults != 60 || f.ItemsPerPage != 5 {
			t.Errorf("GET %s: %d entries, total %d, perPage %d", u, len(f.Entries), f.TotalResults, f.ItemsPerPage)
		}
		if l, ok := f.Link("next"); !ok || !strings.HasPrefix(l.Href, base+"/") {
			t.Errorf("next link %+v does not use the printed base URL", l)
		}
	}

	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if st := <-done; st != 0 {
		t.Errorf("serve exited %d; stderr %s", st, errb.String())
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Errorf("server still answers after shutdown")
	}
	if _, err := os.Stat(db); err != nil {
		t.Errorf("database not created: %v", err)
	}

	// A restart on the same database does not seed again.
	pr2, pw2 := io.Pipe()
	go func() {
		done <- run([]string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--demo", "--dataset", "extra", "--log-level", "info"}, pw2, &errb)
		pw2.Close()
	}()
	sc = bufio.NewScanner(pr2)
	if !sc.Scan() {
		t.Fatalf("restart printed nothing (status %d); stderr %s", <-done, errb.String())
	}
	if dm := demoRE.FindStringSubmatch(sc.Text()); dm == nil || dm[1] != demoPW {
		t.Fatalf("restart: %q, want the same demo password", sc.Text())
	}
	sc.Scan()
	go io.Copy(io.Discard, pr2)
	base2 := servingRE.FindStringSubmatch(sc.Text())
	if base2 == nil {
		t.Fatalf("restart line %q", sc.Text())
	}
	res, err = getAs(base2[1]+"/sdata/sdatasync/gcrm/-/tradingAccounts?count=0", "demo", demoPW)
	if err != nil {
		t.Fatal(err)
	}
	f, err := feeds.ParseFeed(res.Body, feeds.Limits{})
	res.Body.Close()
	if err != nil || f.TotalResults != 60 {
		t.Errorf("after restart: total %v, %v", f, err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if st := <-done; st != 0 {
		t.Errorf("restarted serve exited %d", st)
	}
	if strings.Contains(errb.String(), "seeded demo data") {
		t.Errorf("restart seeded again: %s", errb.String())
	}
}
