package sdata_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"sdatasync/sdata/admin"
	"sdatasync/sdata/auth"
	"sdatasync/sdata/sdatatest"
	"sdatasync/sdata/store"
)

// adminDo sends a JSON request to the admin API.
func adminDo(t *testing.T, p *provider, authz, method, path, body string) (int, []byte) {
	t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	hdr := []string{"Authorization", authz}
	if body != "" {
		hdr = append(hdr, "Content-Type", "application/json")
	}
	st, _, rb := doWith(t, method, p.URL+admin.Path+path, b, hdr...)
	return st, rb
}

// TestAdminAPI manages users and tokens through real HTTP with real
// authentication: what it creates authenticates at once, what it revokes
// or changes takes effect on the next request, bad input is a diagnosis
// that changes nothing, no secret comes back but a new token's, once.
func TestAdminAPI(t *testing.T) {
	a := realAuth("")
	a.Users = append(a.Users, sdatatest.User{Name: "dsadmin", Password: "dsadmin-password", Grants: []auth.Grant{{Dataset: "-", Role: auth.Admin}}})
	p := &provider{t: t, Provider: sdatatest.Start(t, sdatatest.Options{Auth: a})}
	root := basicAuth("admin", adminPW)
	kind := p.kind("tradingAccounts")

	// Who may: admin@* only.
	for _, who := range []string{basicAuth("ann", annPW), basicAuth("dsadmin", "dsadmin-password"), bearer(p, "auditor")} {
		if st, b := adminDo(t, p, who, http.MethodGet, "/users", ""); st != http.StatusForbidden {
			t.Fatalf("%s lists users: %d %s", who, st, b)
		}
	}
	if st, _, _ := do(t, http.MethodGet, p.URL+admin.Path+"/users", nil); st != http.StatusUnauthorized {
		t.Fatalf("anonymous: %d", st)
	}

	// Bad input: a diagnosis, nothing created.
	for _, c := range []struct {
		body   string
		status int
	}{
		{`{"name":"bob","password":"bob-password-1","roles":["root"]}`, 400},
		{`{"name":"bob","password":"short"}`, 400},
		{`{"name":"bo b","password":"bob-password-1"}`, 400},
		{`{"name":"bob"}`, 400},
		{`{"name":"bob","password":"bob-password-1","admin":true}`, 400},
		{`{"name":"bob","password":"bob-password-1","endpoints":["not a url"]}`, 400},
		{`{"name":"bob",`, 400},
		{`{"name":"ann","password":"bob-password-1"}`, 409},
	} {
		st, b := adminDo(t, p, root, http.MethodPost, "/users", c.body)
		if st != c.status {
			t.Fatalf("POST %s: %d, want %d\n%s", c.body, st, c.status, b)
		}
		diagnosesOf(t, b)
		if strings.Contains(string(b), "bob-password-1") {
			t.Fatal("a diagnosis quotes the password")
		}
	}
	st, _, b := doWith(t, http.MethodPost, p.URL+admin.Path+"/users", []byte(`<user/>`), "Authorization", root, "Content-Type", "application/xml")
	mustStatus(t, http.StatusUnsupportedMediaType, st, b)
	if _, err := p.Store.User(t.Context(), "bob"); err == nil {
		t.Fatal("a refused request created bob")
	}

	// Create bob (reader): he reads at once, cannot write.
	st, b = adminDo(t, p, root, http.MethodPost, "/users", `{"name":"bob","password":"bob-password-1","roles":["reader@-"]}`)
	mustStatus(t, http.StatusCreated, st, b)
	var u admin.User
	if err := json.Unmarshal(b, &u); err != nil || u.Name != "bob" || len(u.Roles) != 1 || u.Roles[0] != "reader@-" || strings.Contains(string(b), "password") {
		t.Fatalf("created: %v %s", err, b)
	}
	bob := basicAuth("bob", "bob-password-1")
	if st, _, b := doWith(t, http.MethodGet, kind, nil, "Authorization", bob); st != http.StatusOK {
		t.Fatalf("bob reads: %d %s", st, b)
	}
	if st, _, _ := doWith(t, http.MethodPost, kind, []byte(ta("Bob Ltd", "BOB")), "Authorization", bob); st != http.StatusForbidden {
		t.Fatalf("bob writes as a reader: %d", st)
	}
	// Change his roles: writer from the next request on; disable him: 401.
	st, b = adminDo(t, p, root, http.MethodPut, "/users('bob')", `{"roles":["writer@-"]}`)
	mustStatus(t, http.StatusOK, st, b)
	if st, _, b := doWith(t, http.MethodPost, kind, []byte(ta("Bob Ltd", "BOB")), "Authorization", bob); st != http.StatusCreated {
		t.Fatalf("bob writes as a writer: %d %s", st, b)
	}
	// The write is audited under bob (the refused one as denied.post).
	if recs := p.audit(store.AuditQuery{Principal: "bob", Operation: "resource.post"}); len(recs) != 1 || recs[0].Status != http.StatusCreated ||
		!strings.Contains(recs[0].Detail, "location") {
		t.Fatalf("bob's write in the audit log: %+v", recs)
	}
	if recs := p.audit(store.AuditQuery{Principal: "bob", Operation: "denied.post"}); len(recs) != 1 {
		t.Fatalf("bob's refused write in the audit log: %+v", recs)
	}
	st, b = adminDo(t, p, root, http.MethodPut, "/users('bob')", `{"disabled":true}`)
	mustStatus(t, http.StatusOK, st, b)
	if st, _, _ := doWith(t, http.MethodGet, kind, nil, "Authorization", bob); st != http.StatusUnauthorized {
		t.Fatalf("disabled bob: %d", st)
	}
	st, b = adminDo(t, p, root, http.MethodPut, "/users('bob')", `{"password":"x"}`)
	mustStatus(t, http.StatusBadRequest, st, b)
	st, b = adminDo(t, p, root, http.MethodPut, "/users('nobody')", `{"disabled":false}`)
	mustStatus(t, http.StatusNotFound, st, b)

	// A token: its secret once, then never; it works until revoked.
	st, b = adminDo(t, p, root, http.MethodPost, "/tokens", `{"name":"ci","roles":["reader"],"expiresIn":"1h"}`)
	mustStatus(t, http.StatusCreated, st, b)
	var tk admin.Token
	if err := json.Unmarshal(b, &tk); err != nil || !strings.HasPrefix(tk.Token, auth.TokenPrefix) || tk.Expires == nil {
		t.Fatalf("token created: %v %s", err, b)
	}
	st, b = adminDo(t, p, root, http.MethodGet, "/tokens", "")
	mustStatus(t, http.StatusOK, st, b)
	_, secret, _ := auth.ParseToken(tk.Token)
	if strings.Contains(string(b), secret) || strings.Contains(string(b), `"token"`) {
		t.Fatalf("the token list shows a secret\n%s", b)
	}
	if st, _, _ := doWith(t, http.MethodGet, kind, nil, "Authorization", "Bearer "+tk.Token); st != http.StatusOK {
		t.Fatalf("the new token reads: %d", st)
	}
	for _, bad := range []string{`{"name":"x"}`, `{"name":"x","roles":["reader"],"expiresIn":"-1h"}`, `{"name":"x","user":"nobody","roles":["reader"]}`,
		`{"name":"ci","roles":["reader"]}`, `{"name":"x","roles":["sync"],"endpoints":["ftp://x"]}`} {
		if st, b := adminDo(t, p, root, http.MethodPost, "/tokens", bad); st < 400 || st >= 500 {
			t.Fatalf("POST token %s: %d %s", bad, st, b)
		}
	}
	st, b = adminDo(t, p, root, http.MethodDelete, "/tokens('ci')", "")
	mustStatus(t, http.StatusOK, st, b)
	if st, _, _ := doWith(t, http.MethodGet, kind, nil, "Authorization", "Bearer "+tk.Token); st != http.StatusUnauthorized {
		t.Fatalf("the revoked token: %d", st)
	}
	st, b = adminDo(t, p, root, http.MethodDelete, "/users('bob')", "")
	mustStatus(t, http.StatusOK, st, b)
	st, b = adminDo(t, p, root, http.MethodGet, "/users('bob')", "")
	mustStatus(t, http.StatusNotFound, st, b)

	// Every change is audited under the admin, without secrets.
	recs := p.audit(store.AuditQuery{Principal: "admin"})
	ops := map[string]int{}
	for _, r := range recs {
		ops[r.Operation]++
		if strings.Contains(r.Detail, "bob-password") || strings.Contains(r.Detail, secret) {
			t.Fatalf("an audit record holds a secret: %+v", r)
		}
	}
	if ops["admin.user.add"] != 1 || ops["admin.user.change"] != 2 || ops["admin.token.create"] != 1 || ops["admin.token.revoke"] != 1 || ops["admin.user.remove"] != 1 {
		t.Fatalf("audited admin operations: %v", ops)
	}
}
