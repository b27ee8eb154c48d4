package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAccounts walks users, grants and tokens through the store: every
// change bumps the auth epoch (last use does not), names are unique,
// removing a user removes its tokens.
func TestAccounts(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	epoch := func() int64 {
		t.Helper()
		e, err := s.AuthEpoch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	bumped := func(what string, before int64) int64 {
		t.Helper()
		after := epoch()
		if after <= before {
			t.Fatalf("%s: auth epoch %d -> %d, want it bumped", what, before, after)
		}
		return after
	}
	e := epoch()
	if n, err := s.CountUsers(ctx); err != nil || n != 0 {
		t.Fatalf("CountUsers on a fresh store = %d, %v", n, err)
	}
	ann, err := s.CreateUser(ctx, User{Name: "ann", PasswordHash: "h1", Grants: []Grant{{"-", "writer"}, {"*", "auditor"}}, Endpoints: []string{"http://a/"}})
	if err != nil {
		t.Fatal(err)
	}
	e = bumped("create user", e)
	if _, err := s.CreateUser(ctx, User{Name: "ann", PasswordHash: "h2"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("second ann: %v, want ErrConflict", err)
	}
	if epoch() != e {
		t.Fatal("a refused create bumped the epoch")
	}
	got, err := s.User(ctx, "ann")
	if err != nil || got.ID != ann.ID || got.PasswordHash != "h1" || len(got.Grants) != 2 || got.Grants[0] != (Grant{"*", "auditor"}) ||
		!slices.Equal(got.Endpoints, []string{"http://a/"}) {
		t.Fatalf("User(ann) = %+v, %v", got, err)
	}
	if _, err := s.User(ctx, "bob"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("User(bob): %v", err)
	}
	if err := s.SetPassword(ctx, "ann", "h3"); err != nil {
		t.Fatal(err)
	}
	e = bumped("set password", e)
	if err := s.SetGrants(ctx, "ann", []Grant{{"-", "sync"}}); err != nil {
		t.Fatal(err)
	}
	e = bumped("set grants", e)
	if err := s.SetDisabled(ctx, "ann", true); err != nil {
		t.Fatal(err)
	}
	e = bumped("disable", e)
	if err := s.SetEndpoints(ctx, "ann", []string{"http://b/", "http://c/"}); err != nil {
		t.Fatal(err)
	}
	e = bumped("set endpoints", e)
	got, _ = s.User(ctx, "ann")
	if got.PasswordHash != "h3" || !got.Disabled || !slices.Equal(got.Grants, []Grant{{"-", "sync"}}) || len(got.Endpoints) != 2 {
		t.Fatalf("after changes: %+v", got)
	}
	for _, err := range []error{s.SetPassword(ctx, "bob", "x"), s.SetGrants(ctx, "bob", nil), s.SetDisabled(ctx, "bob", true), s.RemoveUser(ctx, "bob"),
		s.SetEndpoints(ctx, "bob", nil)} {
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("change of an unknown user: %v", err)
		}
	}

	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	tok, err := s.CreateToken(ctx, Token{PublicID: "p1", Name: "engine", User: "ann", Grants: []Grant{{"-", "sync"}},
		Endpoints: []string{"http://erp/"}, SecretHash: []byte{1, 2, 3}, Expires: exp})
	if err != nil {
		t.Fatal(err)
	}
	e = bumped("create token", e)
	if _, err := s.CreateToken(ctx, Token{PublicID: "p2", Name: "engine", SecretHash: []byte{1}}); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate token name: %v", err)
	}
	if _, err := s.CreateToken(ctx, Token{PublicID: "p3", Name: "x", User: "bob", SecretHash: []byte{1}}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("token of an unknown user: %v", err)
	}
	dev, err := s.CreateToken(ctx, Token{PublicID: "p4", Name: "phone", Device: "dev-1", SecretHash: []byte{4}})
	if err != nil {
		t.Fatal(err)
	}
	e = bumped("create device token", e)
	byID, err := s.TokenByPublicID(ctx, "p1")
	if err != nil || byID.ID != tok.ID || byID.User != "ann" || !byID.Expires.Equal(exp) || !slices.Equal(byID.Endpoints, []string{"http://erp/"}) ||
		!slices.Equal(byID.SecretHash, []byte{1, 2, 3}) || !byID.Revoked.IsZero() {
		t.Fatalf("TokenByPublicID = %+v, %v", byID, err)
	}
	used := time.Now().UTC().Truncate(time.Millisecond)
	if err := s.TouchTokens(ctx, map[int64]time.Time{tok.ID: used, dev.ID: used.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if epoch() != e {
		t.Fatal("last use bumped the epoch")
	}
	if err := s.TouchTokens(ctx, map[int64]time.Time{tok.ID: used.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.TokenByName(ctx, "engine"); !got.LastUsed.Equal(used) {
		t.Fatalf("last used %v, want %v (an older touch never goes back)", got.LastUsed, used)
	}
	if err := s.RevokeToken(ctx, "phone", used); err != nil {
		t.Fatal(err)
	}
	e = bumped("revoke", e)
	if err := s.RevokeToken(ctx, "nothing", used); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
	toks, err := s.Tokens(ctx)
	if err != nil || len(toks) != 2 || toks[0].Name != "engine" || toks[1].Revoked.IsZero() || toks[1].Device != "dev-1" {
		t.Fatalf("Tokens = %+v, %v", toks, err)
	}
	if err := s.RemoveUser(ctx, "ann"); err != nil {
		t.Fatal(err)
	}
	bumped("remove user", e)
	if _, err := s.TokenByName(ctx, "engine"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the token of a removed user: %v", err)
	}
	if us, err := s.Users(ctx); err != nil || len(us) != 0 {
		t.Fatalf("Users = %v, %v", us, err)
	}
}

// TestAuditPrincipalFilter: the audit log records the principal and
// filters by it.
func TestAuditPrincipalFilter(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	now := time.Now()
	if err := s.Audit(ctx, AuditRecord{Time: now, Operation: "a", Principal: "ann"}, AuditRecord{Time: now, Operation: "b", Principal: "bob"},
		AuditRecord{Time: now, Operation: "c", Principal: "ann"}); err != nil {
		t.Fatal(err)
	}
	recs, total, err := s.AuditLog(ctx, AuditQuery{Principal: "ann"})
	if err != nil || total != 2 || len(recs) != 2 || recs[0].Operation != "c" || recs[0].Principal != "ann" {
		t.Fatalf("AuditLog(principal=ann) = %+v, %d, %v", recs, total, err)
	}
	var plan string
	rows, err := s.r.QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT id FROM audit_log WHERE principal = ? ORDER BY id DESC`, "ann")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a, b, c int
		var d string
		rows.Scan(&a, &b, &c, &d)
		plan += d + ";"
	}
	rows.Close()
	if !strings.Contains(plan, "audit_by_principal") {
		t.Fatalf("the principal filter does not use its index: %s", plan)
	}
}
