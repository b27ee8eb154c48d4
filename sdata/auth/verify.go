package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"sdatasync/sdata/diag"
	"sdatasync/sdata/store"
)

// Defaults of a Verifier.
const (
	DefaultMaxFailures   = 10               // failed authentications per client or user in a window before 429
	DefaultFailureWindow = time.Minute      // the throttle's window
	DefaultTouchEvery    = 30 * time.Second // how often tokens' last use is written
	MaxConcurrentHashes  = 2                // password hashes computed at once (19 MiB each)
	maxCached            = 4096             // verified credentials kept
)

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	Accounts store.Accounts
	Log      *slog.Logger
	// MaxFailures failed authentications from one client address, or for
	// one user, within FailureWindow throttle it (429 with Retry-After)
	// until the window ends (0: the defaults).
	MaxFailures   int
	FailureWindow time.Duration
	// TouchEvery is how often the last use of tokens is written (batched;
	// 0: DefaultTouchEvery).
	TouchEvery time.Duration
}

// Verifier authenticates requests against the users and tokens of a store
// (it implements Authenticator): HTTP Basic with argon2id password hashes,
// and bearer API tokens (sds_<id>_<secret>, the secret's SHA-256 stored).
//
// What it verified it caches, keyed by an HMAC of the Authorization header
// under a key drawn at start (the cache never holds a secret), until the
// store's auth epoch changes (any change of users, grants or tokens: a
// revocation takes effect on the next request, even in the middle of a
// pass) or the token expires; so a sync pass hashes a password once. Each
// request reads the epoch (one indexed row).
//
// Unknown users and wrong passwords get the same 401, after the same work
// (a dummy hash is checked for an unknown user). Failures are throttled per
// client address and per user name, and logged without the secret.
// Close stops its goroutine and writes the last uses it holds.
type Verifier struct {
	st         store.Accounts
	log        *slog.Logger
	key        []byte
	dummyHash  string
	hashes     chan struct{}
	clients    *throttle
	users      *throttle
	touchEvery time.Duration

	mu      sync.Mutex
	cache   map[[sha256.Size]byte]cached
	touched map[int64]time.Time

	stop context.CancelFunc
	done chan struct{}

	hashed atomic.Int64 // password hashes checked (tests: the unknown-user path hashes too)
}

// cached is a verified credential.
type cached struct {
	p       *Principal
	epoch   int64
	expires time.Time // zero: never
}

// NewVerifier starts a verifier (and its goroutine, which writes tokens'
// last use).
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.Accounts == nil {
		return nil, errors.New("auth: verifier without accounts")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = DefaultMaxFailures
	}
	if cfg.FailureWindow <= 0 {
		cfg.FailureWindow = DefaultFailureWindow
	}
	if cfg.TouchEvery <= 0 {
		cfg.TouchEvery = DefaultTouchEvery
	}
	v := &Verifier{st: cfg.Accounts, log: cfg.Log, key: make([]byte, 32), hashes: make(chan struct{}, MaxConcurrentHashes),
		clients: newThrottle(cfg.MaxFailures, cfg.FailureWindow), users: newThrottle(cfg.MaxFailures, cfg.FailureWindow),
		touchEvery: cfg.TouchEvery, cache: map[[sha256.Size]byte]cached{}, touched: map[int64]time.Time{}, done: make(chan struct{})}
	if _, err := rand.Read(v.key); err != nil {
		return nil, err
	}
	dummy := make([]byte, 16)
	rand.Read(dummy)
	var err error
	if v.dummyHash, err = HashPassword(string(dummy), DefaultArgon2()); err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	v.stop = stop
	go v.run(ctx)
	return v, nil
}

// Close stops the verifier's goroutine and writes the last uses it holds.
func (v *Verifier) Close() {
	v.stop()
	<-v.done
}

func (v *Verifier) run(ctx context.Context) {
	defer close(v.done)
	t := time.NewTicker(v.touchEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			v.Flush(context.Background())
			return
		case now := <-t.C:
			v.Flush(ctx)
			v.clients.prune(now)
			v.users.prune(now)
		}
	}
}

// Flush writes the last use of the tokens used since the last flush.
func (v *Verifier) Flush(ctx context.Context) {
	v.mu.Lock()
	used := v.touched
	v.touched = map[int64]time.Time{}
	v.mu.Unlock()
	if len(used) == 0 {
		return
	}
	if err := v.st.TouchTokens(ctx, used); err != nil && ctx.Err() == nil {
		v.log.Warn("recording the last use of tokens failed", "tokens", len(used), "err", err)
	}
}

// Failure is the error of credentials that did not verify (401) or of a
// throttled client (429). Claimed is the user name or token id the
// credentials claimed (never a secret); Audit says whether to record the
// attempt (every 401; a throttled attempt is logged once per window only).
type Failure struct {
	Err     *diag.Error
	Claimed string
	Audit   bool
}

// Error renders the diagnosis.
func (f *Failure) Error() string { return f.Err.Error() }

// Unwrap returns the diagnosis.
func (f *Failure) Unwrap() error { return f.Err }

// Authenticate implements Authenticator: nil for a request without an
// Authorization header, the principal of verified credentials, or a
// *Failure.
func (v *Verifier) Authenticate(r *http.Request) (*Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, nil
	}
	ctx := r.Context()
	epoch, err := v.st.AuthEpoch(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	mac := hmac.New(sha256.New, v.key)
	mac.Write([]byte(h))
	var k [sha256.Size]byte
	mac.Sum(k[:0])
	v.mu.Lock()
	c, ok := v.cache[k]
	if ok && c.epoch == epoch && (c.expires.IsZero() || now.Before(c.expires)) {
		if c.p.TokenID != 0 {
			v.touched[c.p.TokenID] = now
		}
		v.mu.Unlock()
		return c.p, nil
	}
	v.mu.Unlock()

	client := clientAddr(r)
	if secs, blocked := v.clients.blocked(client, now); blocked {
		return nil, v.throttled(secs, "")
	}
	cred, err := ParseAuthorization(h)
	if err != nil {
		return nil, v.fail(r, client, "", "", "malformed Authorization header")
	}
	var p *Principal
	var expires time.Time
	switch cred.Scheme {
	case Basic:
		if secs, blocked := v.users.blocked(cred.User, now); blocked {
			return nil, v.throttled(secs, cred.User)
		}
		p, err = v.password(ctx, r, client, cred)
	default:
		p, expires, err = v.token(ctx, r, client, cred.Token, now)
	}
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	if len(v.cache) >= maxCached {
		clear(v.cache)
	}
	v.cache[k] = cached{p: p, epoch: epoch, expires: expires}
	if p.TokenID != 0 {
		v.touched[p.TokenID] = now
	}
	v.mu.Unlock()
	return p, nil
}

// password verifies a user name and password.
func (v *Verifier) password(ctx context.Context, r *http.Request, client string, cred Credential) (*Principal, error) {
	select {
	case v.hashes <- struct{}{}:
		defer func() { <-v.hashes }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	u, err := v.st.User(ctx, cred.User)
	switch {
	case errors.Is(err, store.ErrNotFound):
		v.hashed.Add(1)
		CheckPassword(v.dummyHash, cred.Password) // the same work as a known user
		return nil, v.fail(r, client, cred.User, cred.User, "unknown user")
	case err != nil:
		return nil, err
	}
	v.hashed.Add(1)
	if !CheckPassword(u.PasswordHash, cred.Password) {
		return nil, v.fail(r, client, cred.User, cred.User, "wrong password")
	}
	if u.Disabled {
		return nil, v.fail(r, client, cred.User, cred.User, "disabled user")
	}
	return &Principal{Name: u.Name, User: u.Name, Grants: grantsOf(u.Grants), Endpoints: u.Endpoints}, nil
}

// token verifies an API token.
func (v *Verifier) token(ctx context.Context, r *http.Request, client, tok string, now time.Time) (*Principal, time.Time, error) {
	id, secret, ok := ParseToken(tok)
	if !ok {
		return nil, time.Time{}, v.fail(r, client, "", "", "malformed token")
	}
	claimed := "token " + id
	t, err := v.st.TokenByPublicID(ctx, id)
	sum := sha256.Sum256([]byte(secret))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, time.Time{}, v.fail(r, client, "", claimed, "unknown token")
	case err != nil:
		return nil, time.Time{}, err
	case subtle.ConstantTimeCompare(sum[:], t.SecretHash) != 1:
		return nil, time.Time{}, v.fail(r, client, "", claimed, "wrong token secret")
	case !t.Revoked.IsZero():
		return nil, time.Time{}, v.fail(r, client, "", claimed, "revoked token")
	case !t.Expires.IsZero() && !now.Before(t.Expires):
		return nil, time.Time{}, v.fail(r, client, "", claimed, "expired token")
	}
	p := &Principal{Name: "token:" + t.Name, TokenID: t.ID, Grants: grantsOf(t.Grants), Endpoints: t.Endpoints, Device: t.Device}
	if t.User != "" {
		u, err := v.st.User(ctx, t.User)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, time.Time{}, err
		}
		if err != nil || u.Disabled {
			return nil, time.Time{}, v.fail(r, client, "", claimed, "token of a disabled or removed user")
		}
		// A user's token acts as the user, with at most the user's roles:
		// its own grants narrow them, none inherits them all.
		owner := &Principal{Name: u.Name, Grants: grantsOf(u.Grants), Endpoints: u.Endpoints}
		p.Name, p.User = u.Name, u.Name
		// ... and speaks for at most the user's endpoints (none of its
		// own: all of them).
		if len(p.Endpoints) == 0 {
			p.Endpoints = owner.Endpoints
		} else {
			p.Endpoints = slices.DeleteFunc(slices.Clone(p.Endpoints), func(e string) bool { return !owner.SpeaksFor(e) })
		}
		if len(p.Grants) == 0 {
			p.Grants = owner.Grants
		} else {
			var kept []Grant
			for _, g := range p.Grants {
				if owner.Can(g.Dataset, g.Role) {
					kept = append(kept, g)
				}
			}
			p.Grants = kept
		}
	}
	if t.Device != "" && len(p.Grants) == 0 {
		p.Grants = []Grant{{Dataset: AnyDataset, Role: Device}}
	}
	return p, t.Expires, nil
}

// fail counts a failed authentication against the client and the user,
// logs it (never the secret) and returns the 401.
func (v *Verifier) fail(r *http.Request, client, user, claimed, reason string) error {
	now := time.Now()
	if v.clients.fail(client, now) {
		v.log.Warn("authentication throttled: too many failures from a client", "client", client)
	}
	if user != "" && v.users.fail(user, now) {
		v.log.Warn("authentication throttled: too many failures for a user", "user", user)
	}
	v.log.WarnContext(r.Context(), "authentication failed", "client", client, "claimed", claimed, "reason", reason,
		"method", r.Method, "path", r.URL.Path)
	return &Failure{Err: diag.Unauthorized(), Claimed: claimed, Audit: true}
}

// throttled is the 429 of a throttled client or user.
func (v *Verifier) throttled(secs int, user string) error {
	e := diag.New(diag.Throttled, "too many failed authentications from this client or for this user; try again in %d s", secs)
	e.RetryAfter = secs
	return &Failure{Err: e, Claimed: user}
}

// clientAddr is the address a request came from, without its port.
func clientAddr(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

func grantsOf(gs []store.Grant) []Grant {
	out := make([]Grant, 0, len(gs))
	for _, g := range gs {
		out = append(out, Grant{Dataset: g.Dataset, Role: Role(g.Role)})
	}
	return out
}

// StoreGrants converts grants to their stored form.
func StoreGrants(gs []Grant) []store.Grant {
	out := make([]store.Grant, 0, len(gs))
	for _, g := range gs {
		out = append(out, store.Grant{Dataset: g.Dataset, Role: string(g.Role)})
	}
	return out
}
