package digest

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// The one validation of what arrives from outside: digests, digest
// entries and sync states. The codec (package feeds) runs it on every
// digest and sync state it decodes, the store runs it again before it
// replaces a digest, and a $syncDigest replacement checks its origin with
// ValidateOwn. Each failure is an *InvalidError naming the field.

// Bounds of what a digest or sync state received from outside may hold.
const (
	// MaxEntries is the most entries a digest may have. A digest has one
	// entry per endpoint that ever changed the kind; real ones have a few.
	MaxEntries = 1000
	// MaxEndpointLen is the longest endpoint URL, in bytes.
	MaxEndpointLen = 2048
	// MaxUserLen is the longest sync:user of a sync state, in bytes.
	MaxUserLen = 256
	// MinConflictPriority is the lowest (strongest) conflict priority.
	MinConflictPriority = 1
	// MaxConflictPriority is the highest (weakest) conflict priority (spec
	// 4.2: priorities are integers in [1, 9]).
	MaxConflictPriority = 9
)

// ErrInvalidDigest is wrapped by every error about a digest or one of its
// entries.
var ErrInvalidDigest = errors.New("digest: invalid digest")

// ErrInvalidSyncState is wrapped by every error about a sync state.
var ErrInvalidSyncState = errors.New("digest: invalid sync state")

// InvalidError is a digest or sync state that breaks a rule: Path names
// the offending field as an element path ("digest/digestEntry[2]/tick",
// "syncState/endpoint"; indexes are 1-based), Msg says what is wrong.
type InvalidError struct {
	Path string
	Msg  string
	kind error // ErrInvalidDigest or ErrInvalidSyncState
}

func (e *InvalidError) Error() string { return e.kind.Error() + ": " + e.Path + ": " + e.Msg }

// Unwrap returns ErrInvalidDigest or ErrInvalidSyncState.
func (e *InvalidError) Unwrap() error { return e.kind }

// In returns a copy of e whose path is placed under prefix (the path of
// the element that holds the digest or sync state, e.g. "feed/entry[3]").
func (e *InvalidError) In(prefix string) *InvalidError {
	c := *e
	if prefix != "" {
		c.Path = prefix + "/" + e.Path
	}
	return &c
}

func invalidDigest(path, format string, args ...any) *InvalidError {
	return &InvalidError{Path: path, Msg: fmt.Sprintf(format, args...), kind: ErrInvalidDigest}
}

func invalidState(path, format string, args ...any) *InvalidError {
	return &InvalidError{Path: path, Msg: fmt.Sprintf(format, args...), kind: ErrInvalidSyncState}
}

// ValidEndpoint checks that u names an endpoint: an absolute http or https
// URL with a host, without user info, query or fragment, at most
// MaxEndpointLen bytes, with no space or control character. The error says
// why, without a path.
func ValidEndpoint(u string) error {
	if u == "" {
		return errors.New("is empty")
	}
	if len(u) > MaxEndpointLen {
		return fmt.Errorf("is %d bytes long, more than %d", len(u), MaxEndpointLen)
	}
	for i := 0; i < len(u); i++ {
		if c := u[i]; c <= ' ' || c == 0x7f {
			return fmt.Errorf("%q is not a URL: it holds a space or control character", u)
		}
	}
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("%q is not a URL", u)
	}
	switch strings.ToLower(p.Scheme) {
	case "http", "https":
	default:
		return fmt.Errorf("%q is not an absolute http or https URL", u)
	}
	switch {
	case p.Opaque != "" || p.Host == "" || p.Hostname() == "":
		return fmt.Errorf("%q has no host", u)
	case p.User != nil:
		return fmt.Errorf("%q holds user info", u)
	case p.RawQuery != "" || p.ForceQuery || p.Fragment != "" || strings.Contains(u, "#"):
		return fmt.Errorf("%q has a query or fragment", u)
	}
	if port := p.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%q has an invalid port", u)
		}
	}
	return nil
}

// ValidPriority checks a conflict priority: an integer in 1..9.
func ValidPriority(p int) error {
	if p < MinConflictPriority || p > MaxConflictPriority {
		return fmt.Errorf("conflict priority %d is outside %d..%d", p, MinConflictPriority, MaxConflictPriority)
	}
	return nil
}

// validStampYear reports whether a stamp's year is one xs:dateTime writes
// with four digits (a zero stamp, "unknown", is year 1).
func validStampYear(y int) bool { return y >= 1 && y <= 9999 }

// Validate checks one digest entry; paths are relative to the entry
// ("endpoint", "tick", "stamp", "conflictPriority"). Its endpoint is a
// valid endpoint URL, its tick is >= 0 (0 means "holds nothing of that
// endpoint": compliance checkers post digests with every tick 0), its
// conflict priority within 1..9 (a decoder gives an entry without one
// DefaultConflictPriority) and its stamp, if any, within years 1..9999.
func (e Entry) Validate() error {
	if err := ValidEndpoint(e.Endpoint); err != nil {
		return invalidDigest("endpoint", "the endpoint %v", err)
	}
	if e.Tick < 0 {
		return invalidDigest("tick", "negative tick %d", e.Tick)
	}
	if err := ValidPriority(e.ConflictPriority); err != nil {
		return invalidDigest("conflictPriority", "%v", err)
	}
	if !validStampYear(e.Stamp.Year()) {
		return invalidDigest("stamp", "stamp %s is outside years 1..9999", e.Stamp)
	}
	return nil
}

// Validate checks a digest received from outside (a $syncSource request,
// a sync feed, a $syncDigest replacement, the digest another provider
// answers): at most MaxEntries entries, each valid (Entry.Validate), no
// endpoint twice, and an origin, when present, that is a valid endpoint
// URL. An empty digest is valid ("holds nothing"), and the origin is
// optional: immediate feeds carry none, and an engine may post an empty
// digest to $syncSource. The origin need not have an entry (a fresh
// provider has none yet). The error is an *InvalidError whose path starts
// at "digest"; it wraps ErrInvalidDigest.
func (d Digest) Validate() error {
	if n := len(d.Entries); n > MaxEntries {
		return invalidDigest("digest", "%d entries, more than %d", n, MaxEntries)
	}
	if d.Origin != "" {
		if err := ValidEndpoint(d.Origin); err != nil {
			return invalidDigest("digest/origin", "the origin %v", err)
		}
	}
	seen := make(map[string]int, len(d.Entries))
	for i, e := range d.Entries {
		at := "digest/digestEntry[" + strconv.Itoa(i+1) + "]"
		if err := e.Validate(); err != nil {
			var ie *InvalidError
			errors.As(err, &ie)
			return ie.In(at)
		}
		if j, dup := seen[e.Endpoint]; dup {
			return invalidDigest(at+"/endpoint", "endpoint %s repeats entry %d", e.Endpoint, j+1)
		}
		seen[e.Endpoint] = i
	}
	return nil
}

// ValidateOwn checks a digest that is to replace the digest of the
// endpoint self (a $syncDigest PUT): valid as Validate says, with an
// origin, and that origin is self.
func (d Digest) ValidateOwn(self string) error {
	if err := d.Validate(); err != nil {
		return err
	}
	switch d.Origin {
	case "":
		return invalidDigest("digest/origin", "the digest has no origin; a replacement names its endpoint %s", self)
	case self:
		return nil
	}
	return invalidDigest("digest/origin", "the origin %s is not this endpoint %s", d.Origin, self)
}

// Validate checks a sync state received from outside; paths start at
// "syncState". Its endpoint is a valid endpoint URL, its tick is >= 0, its
// stamp, if any, within years 1..9999 and its user at most MaxUserLen
// bytes. The error wraps ErrInvalidSyncState.
func (s SyncState) Validate() error {
	if s.Endpoint == "" {
		return invalidState("syncState/endpoint", "the sync state has no sync:endpoint")
	}
	if err := ValidEndpoint(s.Endpoint); err != nil {
		return invalidState("syncState/endpoint", "the endpoint %v", err)
	}
	if s.Tick < 0 {
		return invalidState("syncState/tick", "negative tick %d", s.Tick)
	}
	if !validStampYear(s.Stamp.Year()) {
		return invalidState("syncState/stamp", "stamp %s is outside years 1..9999", s.Stamp)
	}
	if len(s.User) > MaxUserLen {
		return invalidState("syncState/user", "user is %d bytes long, more than %d", len(s.User), MaxUserLen)
	}
	return nil
}

// Claims indexes the ticks of a digest by endpoint, to check the sync
// states of a feed against the feed's own digest.
type Claims map[string]int64

// Claims returns d's ticks by endpoint.
func (d Digest) Claims() Claims {
	c := make(Claims, len(d.Entries))
	for _, e := range d.Entries {
		c[e.Endpoint] = e.Tick
	}
	return c
}

// Check checks a sync state of a feed against the feed's digest: a digest
// holds every change of an endpoint below its tick (spec 4.3: every
// resource's tick is below the digest tick of its endpoint), so a change
// at an endpoint the digest names must have a tick below the digest's.
// An endpoint the digest does not name is not checked (a compliance
// checker sends an entry of a new endpoint). The path is
// "syncState/tick".
func (c Claims) Check(s SyncState) error {
	if t, ok := c[s.Endpoint]; ok && s.Tick >= t {
		return invalidState("syncState/tick", "tick %d of %s is not below the feed digest's tick %d for that endpoint", s.Tick, s.Endpoint, t)
	}
	return nil
}
