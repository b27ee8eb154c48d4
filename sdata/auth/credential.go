package auth

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Scheme is the authentication scheme of a credential.
type Scheme int

// The schemes the provider accepts.
const (
	Basic  Scheme = iota + 1 // HTTP Basic: user name and password
	Bearer                   // an API token
)

// Credential is what an Authorization header carries. It holds a secret:
// never log it, never put it in an error.
type Credential struct {
	Scheme   Scheme
	User     string // Basic
	Password string // Basic
	Token    string // Bearer: the whole token string
}

// MaxAuthorization is the longest Authorization header accepted.
const MaxAuthorization = 4096

// errMalformed is the one error of a header that does not parse: it says
// nothing of the header (which may hold a secret).
var errMalformed = errors.New("auth: malformed Authorization header")

// ParseAuthorization reads an Authorization header: `Basic base64(user:password)`
// or `Bearer token` (schemes case-insensitive, RFC 9110 11.6.2). The user
// name must be a valid name (ValidName); the password valid UTF-8 without
// control characters; the token token68 characters. Errors never quote the
// header.
func ParseAuthorization(h string) (Credential, error) {
	if len(h) > MaxAuthorization {
		return Credential{}, errMalformed
	}
	scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok {
		return Credential{}, errMalformed
	}
	rest = strings.TrimLeft(rest, " ")
	switch {
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return Credential{}, errMalformed
		}
		user, pw, ok := strings.Cut(string(raw), ":")
		if !ok || ValidName(user) != nil || !printable(pw) {
			return Credential{}, errMalformed
		}
		return Credential{Scheme: Basic, User: user, Password: pw}, nil
	case strings.EqualFold(scheme, "Bearer"):
		if rest == "" || !token68(rest) {
			return Credential{}, errMalformed
		}
		return Credential{Scheme: Bearer, Token: rest}, nil
	}
	return Credential{}, errMalformed
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// token68 reports whether s is an RFC 9110 token68.
func token68(s string) bool {
	t := strings.TrimRight(s, "=")
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-._~+/", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// MaxNameLen is the longest user or token name.
const MaxNameLen = 64

// ValidName checks a user or token name: 1 to 64 letters, digits and
// . _ @ - (no colon: a Basic user name ends at the first one).
func ValidName(s string) error {
	if s == "" || len(s) > MaxNameLen {
		return fmt.Errorf("a name has 1 to %d characters", MaxNameLen)
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("._@-", r):
		default:
			return fmt.Errorf("a name has only letters, digits and . _ @ -")
		}
	}
	return nil
}

// Token strings are sds_<id>_<secret>: the id (16 hex digits, 64 random
// bits) finds the token, the secret (64 hex digits, 256 random bits) proves
// it. Only the SHA-256 of the secret is stored: a 256-bit random secret
// cannot be guessed or brute-forced from its hash, so it needs no slow hash
// (a slow hash protects low-entropy passwords), and the sync path verifies a
// token with one hash.
const (
	TokenPrefix    = "sds_"
	tokenIDLen     = 16
	tokenSecretLen = 64
)

// NewToken makes a new token: its public id, its secret and the whole
// string to give to the client (shown once).
func NewToken() (publicID, secret, token string, err error) {
	var b [tokenIDLen/2 + tokenSecretLen/2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", "", err
	}
	publicID, secret = hex.EncodeToString(b[:tokenIDLen/2]), hex.EncodeToString(b[tokenIDLen/2:])
	return publicID, secret, TokenPrefix + publicID + "_" + secret, nil
}

// ParseToken splits a token string into its public id and secret.
func ParseToken(tok string) (publicID, secret string, ok bool) {
	rest, ok := strings.CutPrefix(tok, TokenPrefix)
	if !ok || len(rest) != tokenIDLen+1+tokenSecretLen || rest[tokenIDLen] != '_' {
		return "", "", false
	}
	publicID, secret = rest[:tokenIDLen], rest[tokenIDLen+1:]
	if !isHex(publicID) || !isHex(secret) {
		return "", "", false
	}
	return publicID, secret, true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ParseGrant reads a grant written role@dataset, or role alone (every
// dataset).
func ParseGrant(s string) (Grant, error) {
	role, ds, ok := strings.Cut(strings.TrimSpace(s), "@")
	if !ok {
		ds = AnyDataset
	}
	r, known := ParseRole(role)
	if !known {
		return Grant{}, fmt.Errorf("unknown role %q (roles: %s)", role, roleList())
	}
	ds = strings.TrimSpace(ds)
	if ds == "" || ds != AnyDataset && strings.ContainsAny(ds, "/?#'() ") {
		return Grant{}, fmt.Errorf("grant %q: a dataset is * or a dataset name", s)
	}
	return Grant{Dataset: ds, Role: r}, nil
}

func roleList() string {
	var out []string
	for _, r := range Roles() {
		out = append(out, string(r))
	}
	return strings.Join(out, ", ")
}
