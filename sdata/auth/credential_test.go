package auth

import (
	"encoding/base64"
	"strings"
	"testing"
	"unicode/utf8"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestParseAuthorization(t *testing.T) {
	for _, tc := range []struct {
		h    string
		ok   bool
		want Credential
	}{
		{"Basic " + b64("ann:pw"), true, Credential{Scheme: Basic, User: "ann", Password: "pw"}},
		{"basic  " + b64("ann:p:w"), true, Credential{Scheme: Basic, User: "ann", Password: "p:w"}},
		{"BASIC " + b64("ann:"), true, Credential{Scheme: Basic, User: "ann", Password: ""}},
		{"Basic " + b64("ann:pässwörd"), true, Credential{Scheme: Basic, User: "ann", Password: "pässwörd"}},
		{"Basic " + b64(":pw"), false, Credential{}},
		{"Basic " + b64("ann"), false, Credential{}},
		{"Basic " + b64("a n:pw"), false, Credential{}},
		{"Basic " + b64("ann:p\nw"), false, Credential{}},
		{"Basic " + b64("ann:\xff"), false, Credential{}},
		{"Basic not base64!", false, Credential{}},
		{"Basic", false, Credential{}},
		{"Bearer sds_abc", true, Credential{Scheme: Bearer, Token: "sds_abc"}},
		{"bearer abc==", true, Credential{Scheme: Bearer, Token: "abc=="}},
		{"Bearer ", false, Credential{}},
		{"Bearer a b", false, Credential{}},
		{"Bearer ===", false, Credential{}},
		{"Digest abc", false, Credential{}},
		{"", false, Credential{}},
		{"Bearer " + strings.Repeat("a", MaxAuthorization), false, Credential{}},
	} {
		got, err := ParseAuthorization(tc.h)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseAuthorization(%q) = %+v, %v", tc.h, got, err)
		}
	}
}

func TestTokenFormat(t *testing.T) {
	id, secret, tok, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	gid, gs, ok := ParseToken(tok)
	if !ok || gid != id || gs != secret || len(secret) != 64 {
		t.Fatalf("ParseToken(%q) = %q %q %v", tok, gid, gs, ok)
	}
	if _, err := ParseAuthorization("Bearer " + tok); err != nil {
		t.Fatalf("a token is not a token68: %v", err)
	}
	for _, bad := range []string{"", "sds_", tok[:len(tok)-1], strings.ToUpper(tok), "xds" + tok[3:], strings.Replace(tok, "_", "-", 2)} {
		if _, _, ok := ParseToken(bad); ok {
			t.Errorf("ParseToken(%q) accepted", bad)
		}
	}
}

func TestParseGrant(t *testing.T) {
	for in, want := range map[string]Grant{
		"reader@-": {"-", Reader}, "admin": {AnyDataset, Admin}, "sync@*": {AnyDataset, Sync}, " Writer@crm ": {"crm", Writer},
	} {
		if g, err := ParseGrant(in); err != nil || g != want {
			t.Errorf("ParseGrant(%q) = %v, %v", in, g, err)
		}
	}
	for _, bad := range []string{"root", "reader@", "reader@a/b", ""} {
		if _, err := ParseGrant(bad); err == nil {
			t.Errorf("ParseGrant(%q) accepted", bad)
		}
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse", DefaultArgon2())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(h, "correct") {
		t.Fatalf("hash %q", h)
	}
	if !CheckPassword(h, "correct horse") || CheckPassword(h, "correct horsE") || CheckPassword("$argon2id$bad", "correct horse") {
		t.Fatal("CheckPassword")
	}
	h2, _ := HashPassword("correct horse", DefaultArgon2())
	if h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
}

// FuzzParseAuthorization: any header parses or is refused without a
// panic; what parses is well-formed, and the error never quotes the header.
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{"Basic " + b64("ann:pw"), "Bearer sds_0123456789abcdef_" + strings.Repeat("a", 64), "Basic", "Bearer ==",
		"basic " + b64("a:\x00"), "Digest x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		c, err := ParseAuthorization(h)
		if err != nil {
			if len(h) > 3 && strings.Contains(err.Error(), h) {
				t.Fatalf("the error quotes the header: %v", err)
			}
			return
		}
		switch c.Scheme {
		case Basic:
			if ValidName(c.User) != nil || !utf8.ValidString(c.Password) || strings.ContainsAny(c.Password, "\x00\r\n") {
				t.Fatalf("bad Basic credential accepted: %+v", c)
			}
		case Bearer:
			if c.Token == "" || strings.ContainsAny(c.Token, " \t\r\n") {
				t.Fatalf("bad token accepted: %q", c.Token)
			}
			ParseToken(c.Token)
		default:
			t.Fatalf("no scheme: %+v", c)
		}
	})
}
