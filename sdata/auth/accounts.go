package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"time"

	"sdatasync/sdata/store"
)

// Managing users and tokens: the one place that checks and hashes what the
// command line and the admin API store.

// ErrInvalid marks input that cannot be stored (a bad name, password,
// grant, endpoint or expiry); its message says why, never quoting a
// secret.
var ErrInvalid = errors.New("invalid")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Password limits.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 1024
)

// CheckNewPassword checks a password before it is hashed.
func CheckNewPassword(pw string) error {
	switch {
	case len(pw) < MinPasswordLen:
		return invalid("a password has at least %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return invalid("a password has at most %d bytes", MaxPasswordLen)
	case !printable(pw):
		return invalid("a password is UTF-8 text without control characters")
	}
	return nil
}

// AddUser checks and stores a new user with its password hashed
// (DefaultArgon2) and the endpoints (URL prefixes) it may speak for as a
// sync credential.
func AddUser(ctx context.Context, st store.Accounts, name, password string, grants []Grant, endpoints ...string) (store.User, error) {
	if err := ValidName(name); err != nil {
		return store.User{}, invalid("user name %q: %v", name, err)
	}
	if err := CheckEndpoints(endpoints); err != nil {
		return store.User{}, err
	}
	if err := CheckNewPassword(password); err != nil {
		return store.User{}, err
	}
	h, err := HashPassword(password, DefaultArgon2())
	if err != nil {
		return store.User{}, err
	}
	return st.CreateUser(ctx, store.User{Name: name, PasswordHash: h, Grants: StoreGrants(grants), Endpoints: endpoints})
}

// SetPassword checks, hashes and stores a user's new password.
func SetPassword(ctx context.Context, st store.Accounts, name, password string) error {
	if err := CheckNewPassword(password); err != nil {
		return err
	}
	h, err := HashPassword(password, DefaultArgon2())
	if err != nil {
		return err
	}
	return st.SetPassword(ctx, name, h)
}

// TokenSpec is what a new token is.
type TokenSpec struct {
	Name      string
	User      string   // "" for a token of no user
	Grants    []Grant  // a user's token: at most the user's (none: all of them)
	Endpoints []string // URL prefixes a sync credential may speak for
	Device    string   // the device a device token is bound to
	Expires   time.Time
}

// IssueToken checks and stores a new token; it returns the token string,
// to be shown once: only its hash is kept.
func IssueToken(ctx context.Context, st store.Accounts, spec TokenSpec, now time.Time) (store.Token, string, error) {
	if err := ValidName(spec.Name); err != nil {
		return store.Token{}, "", invalid("token name %q: %v", spec.Name, err)
	}
	if spec.User == "" && len(spec.Grants) == 0 && spec.Device == "" {
		return store.Token{}, "", invalid("a token of no user needs at least one grant (or a device)")
	}
	if !spec.Expires.IsZero() && !spec.Expires.After(now) {
		return store.Token{}, "", invalid("the expiry %s is not in the future", spec.Expires.UTC().Format(time.RFC3339))
	}
	if spec.Device != "" {
		if err := ValidName(spec.Device); err != nil {
			return store.Token{}, "", invalid("device id %q: %v", spec.Device, err)
		}
	}
	if err := CheckEndpoints(spec.Endpoints); err != nil {
		return store.Token{}, "", err
	}
	id, secret, tok, err := NewToken()
	if err != nil {
		return store.Token{}, "", err
	}
	sum := sha256.Sum256([]byte(secret))
	t, err := st.CreateToken(ctx, store.Token{PublicID: id, Name: spec.Name, User: spec.User, Grants: StoreGrants(spec.Grants),
		Endpoints: spec.Endpoints, Device: spec.Device, SecretHash: sum[:], Expires: spec.Expires.UTC()})
	if err != nil {
		return store.Token{}, "", err
	}
	return t, tok, nil
}

// CheckEndpoints checks the endpoint prefixes of a user or token.
func CheckEndpoints(eps []string) error {
	for _, e := range eps {
		if err := checkEndpointPrefix(e); err != nil {
			return err
		}
	}
	return nil
}

// checkEndpointPrefix checks the URL prefix of an endpoint a token may
// speak for: an absolute http or https URL without credentials, query or
// fragment.
func checkEndpointPrefix(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return invalid("endpoint prefix %q: an absolute http(s) URL without credentials, query or fragment", s)
	}
	return nil
}
