package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"sdatasync/sdata/auth"
	"sdatasync/sdata/store"
)

// cli runs a user or token command in this process with stdin.
func cli(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	var code int
	switch args[0] {
	case "user":
		code = userCmd(context.Background(), args[1:], strings.NewReader(stdin), &out, &errb)
	case "token":
		code = tokenCmd(context.Background(), args[1:], &out, &errb)
	default:
		code = run(args, &out, &errb)
	}
	return code, out.String(), errb.String()
}

// TestUserAndTokenCommands: the user and token commands on a database,
// with their refusals; no secret is ever printed but the new token, once.
func TestUserAndTokenCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "a.db")
	steps := []struct {
		stdin  string
		args   []string
		code   int
		out    string // substring of stdout
		errOut string // substring of stderr
	}{
		{"root-password-1\n", []string{"user", "add", "--db", db, "--role", "admin", "--password-stdin", "root"}, 0, "user root added with roles admin@*", ""},
		{"ann-password-1\n", []string{"user", "add", "ann", "--db", db, "--role", "writer@-", "--role", "sync@crm", "--password-stdin"}, 0, "writer@-,sync@crm", ""},
		{"ann-password-1\n", []string{"user", "add", "--db", db, "--password-stdin", "ann"}, 1, "", "the name is taken"},
		{"short\n", []string{"user", "add", "--db", db, "--password-stdin", "bob"}, 1, "", "at least 8"},
		{"", []string{"user", "add", "--db", db, "bob"}, 1, "", "--password-stdin"},
		{"x\n", []string{"user", "add", "--db", db, "--role", "root", "--password-stdin", "bob"}, 2, "", "unknown role"},
		{"", []string{"user", "add", "--db", db}, 2, "", "want 1 name"},
		{"new-password-2\n", []string{"user", "passwd", "--db", db, "--password-stdin", "ann"}, 0, "password of ann changed", ""},
		{"new-password-2\n", []string{"user", "passwd", "--db", db, "--password-stdin", "nobody"}, 1, "", "no such user"},
		{"", []string{"user", "roles", "--db", db, "--role", "reader", "ann"}, 0, "roles of ann: reader@*", ""},
		{"", []string{"user", "endpoints", "--db", db, "--endpoint", "http://crm.example/sdata", "ann"}, 0, "ann speaks for: http://crm.example/sdata", ""},
		{"", []string{"user", "endpoints", "--db", db, "--endpoint", "crm", "ann"}, 1, "", "endpoint prefix"},
		{"", []string{"user", "list", "--db", db}, 0, "ann   reader@*  http://crm.example/sdata", ""},
		{"", []string{"token", "create", "--db", db, "--role", "sync", "--endpoint", "http://erp.example/", "--expires", "24h", "engine"}, 0, "sds_", "shown once"},
		{"", []string{"token", "create", "--db", db, "--role", "sync", "engine"}, 1, "", "the name is taken"},
		{"", []string{"token", "create", "--db", db, "--user", "ann", "ann-token"}, 0, "sds_", ""},
		{"", []string{"token", "create", "--db", db, "--expires", "yesterday", "--role", "sync", "x"}, 2, "", "--expires"},
		{"", []string{"token", "create", "--db", db, "--endpoint", "ftp://x/", "--role", "sync", "x"}, 1, "", "endpoint prefix"},
		{"", []string{"token", "list", "--db", db}, 0, "http://erp.example/", ""},
		{"", []string{"token", "revoke", "--db", db, "engine"}, 0, "token engine revoked", ""},
		{"", []string{"token", "revoke", "--db", db, "nothing"}, 1, "", "no such"},
		{"", []string{"user", "remove", "--db", db, "ann"}, 0, "removed", ""},
		{"", []string{"user", "frob", "--db", db, "x"}, 1, "", "unknown command"},
	}
	var tokens []string
	for _, s := range steps {
		code, out, errOut := cli(t, s.stdin, s.args...)
		if code != s.code || !strings.Contains(out, s.out) || !strings.Contains(errOut, s.errOut) {
			t.Fatalf("%q: exit %d, stdout %q, stderr %q; want %d, %q, %q", s.args, code, out, errOut, s.code, s.out, s.errOut)
		}
		if strings.HasPrefix(out, "sds_") {
			tokens = append(tokens, strings.TrimSpace(out))
		}
		for _, pw := range []string{"root-password-1", "ann-password-1", "new-password-2"} {
			if strings.Contains(out+errOut, pw) {
				t.Fatalf("%q printed a password", s.args)
			}
		}
	}
	_, list, _ := cli(t, "", "token", "list", "--db", db, "--json")
	var ts []map[string]any
	if err := json.Unmarshal([]byte(list), &ts); err != nil || len(ts) != 1 || ts[0]["name"] != "engine" || ts[0]["revoked"] == nil {
		t.Fatalf("token list --json after removing ann: %v %s", err, list)
	}
	for _, tok := range tokens {
		_, secret, _ := auth.ParseToken(tok)
		if strings.Contains(list, secret) {
			t.Fatal("token list shows a secret")
		}
	}
	// What the commands stored verifies: root's password, not ann's (removed).
	st, err := store.OpenSQLite(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.User(context.Background(), "root")
	if err != nil || !auth.CheckPassword(u.PasswordHash, "root-password-1") {
		t.Fatalf("root: %v", err)
	}
	if _, err := st.User(context.Background(), "ann"); err == nil {
		t.Fatal("ann was not removed")
	}
}

// TestServeSecureDefaults: serve refuses a database without users, and
// --insecure-no-auth on an address that is not loopback; with a user it
// authenticates, and --insecure-no-auth on loopback serves anonymously.
func TestServeSecureDefaults(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	code, _, errOut := cli(t, "", "serve", "--addr", "127.0.0.1:0", "--db", db)
	if code != 1 || !strings.Contains(errOut, "has no user") {
		t.Fatalf("serve without users: exit %d, %s", code, errOut)
	}
	code, _, errOut = cli(t, "", "serve", "--addr", "0.0.0.0:0", "--db", db, "--insecure-no-auth")
	if code != 1 || !strings.Contains(errOut, "only for loopback") {
		t.Fatalf("--insecure-no-auth on 0.0.0.0: exit %d, %s", code, errOut)
	}
	if code, _, errOut := cli(t, "ops-password-1\n", "user", "add", "--db", db, "--role", "reader@-", "--password-stdin", "ops"); code != 0 {
		t.Fatal(errOut)
	}
	base, done, errb := startServeWith(t, db)
	u := base + "/sdata/sdatasync/gcrm/-/tradingAccounts"
	if res, err := http.Get(u); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous: %v %v", res.Status, err)
	}
	if res, err := getAs(u, "ops", "ops-password-1"); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("ops: %v %v", res.Status, err)
	}
	stopServe(t, done)
	if strings.Contains(errb.String(), "ops-password-1") {
		t.Fatal("a password reached the log")
	}
	base, done, errb = startServeWith(t, db, "--insecure-no-auth")
	if res, err := http.Get(base + "/sdata/sdatasync/gcrm/-/tradingAccounts"); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("--insecure-no-auth: %v %v", res.Status, err)
	}
	stopServe(t, done)
	if !strings.Contains(errb.String(), "AUTHENTICATION IS OFF") {
		t.Fatalf("--insecure-no-auth is not logged loudly: %s", errb.String())
	}
}
