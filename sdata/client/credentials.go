package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Credentials are what a client authenticates with at one provider: a
// token (sent as `Authorization: Bearer`) or else a user name and a
// password (HTTP Basic). They hold a secret, so every rendering of them
// (fmt verbs, slog, JSON) shows only their kind and the user name; the
// secret leaves the process only in the Authorization header of a request
// to the origin they were given for (Client.Origin).
type Credentials struct {
	// User is the HTTP Basic user name; with a token it only names the
	// token's owner in logs.
	User string
	// Password is the HTTP Basic password.
	Password string
	// Token, when set, is sent as a bearer token instead of Basic.
	Token string
}

// Kinds of credentials, as Credentials.Kind reports them.
const (
	KindNone   = "none"
	KindBasic  = "basic"
	KindBearer = "bearer"
)

// IsZero reports whether there are no credentials at all.
func (c Credentials) IsZero() bool { return c == Credentials{} }

// Kind is "bearer" with a token, "basic" with a user or a password, else
// "none".
func (c Credentials) Kind() string {
	switch {
	case c.Token != "":
		return KindBearer
	case c.User != "" || c.Password != "":
		return KindBasic
	}
	return KindNone
}

// String shows the kind and the user name, never the secret:
// "basic(ann)", "bearer", "bearer(ann)", "none".
func (c Credentials) String() string {
	if c.User == "" || c.Kind() == KindNone {
		return c.Kind()
	}
	return c.Kind() + "(" + c.User + ")"
}

// GoString is String, so that %#v does not show the secret either.
func (c Credentials) GoString() string { return "client.Credentials{" + c.String() + "}" }

// Format implements fmt.Formatter: every verb prints String (GoString for
// %#v), so that no verb reaches the fields.
func (c Credentials) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, c.GoString())
		return
	}
	fmt.Fprint(f, c.String())
}

// LogValue implements slog.LogValuer: the kind and the user name.
func (c Credentials) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("kind", c.Kind())}
	if c.User != "" {
		attrs = append(attrs, slog.String("user", c.User))
	}
	return slog.GroupValue(attrs...)
}

// MarshalJSON implements json.Marshaler: {"kind":…,"user":…}.
func (c Credentials) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Kind string `json:"kind"`
		User string `json:"user,omitempty"`
	}{c.Kind(), c.User})
}

// MarshalText implements encoding.TextMarshaler (String), for encoders
// that prefer it.
func (c Credentials) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// apply sets the Authorization header of a request.
func (c Credentials) apply(h http.Header) {
	switch c.Kind() {
	case KindBearer:
		h.Set("Authorization", "Bearer "+c.Token)
	case KindBasic:
		r := http.Request{Header: h}
		r.SetBasicAuth(c.User, c.Password)
	}
}

// Origin returns the origin of an absolute http(s) URL, the only place
// credentials given for it are sent: "scheme://host:port", lower case,
// with the scheme's default port made explicit (http://A.example and
// http://a.example:80 are one origin, https://a.example another).
func Origin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("client: %q is not a URL", Redact(raw))
	}
	return originOf(u)
}

func originOf(u *url.URL) (string, error) {
	scheme := strings.ToLower(u.Scheme)
	if (scheme != "http" && scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("client: %q is not an absolute http(s) URL", Redact(u.String()))
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if scheme == "https" {
			port = "443"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port), nil
}

// HasUserInfo reports whether a URL carries a user name or a password
// (http://user:password@host/...): such URLs are refused as
// configuration, because the secret would show in `ps` and in logs.
func HasUserInfo(raw string) bool {
	u, err := url.Parse(raw)
	if err == nil {
		return u.User != nil
	}
	// Not parseable: look for an @ in what would be the authority.
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return false
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return strings.Contains(rest, "@")
}

// Redact returns a URL without its user:password part, for errors and
// logs. A string that does not parse as a URL loses everything from the
// scheme to the last @ of its authority.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err == nil {
		if u.User == nil {
			return raw
		}
		u.User = nil
		return u.String()
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	end := len(rest)
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		end = i
	}
	if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
		return scheme + "://" + rest[at+1:]
	}
	return raw
}

// IsLoopback reports whether an http(s) URL names this machine
// (localhost, 127.0.0.0/8, ::1): credentials sent there over plain http
// do not cross a network.
func IsLoopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// errNoOrigin is the error of a Client with credentials but no Origin.
var errNoOrigin = errors.New("client: credentials without an Origin to send them to")

// credentialsFor returns the credentials to send to u: the Client's when
// u is of its Origin, none otherwise (warned once per request: a link to
// another host, or from https down to http).
func (c *Client) credentialsFor(u *url.URL, method string) (Credentials, error) {
	if c.Credentials.IsZero() {
		return Credentials{}, nil
	}
	if c.Origin == "" {
		return Credentials{}, errNoOrigin
	}
	if o, err := originOf(u); err == nil && o == c.Origin {
		return c.Credentials, nil
	}
	c.warnWithheld(method, u)
	return Credentials{}, nil
}

// warnWithheld logs that a request leaves the credentials' origin and
// goes without them.
func (c *Client) warnWithheld(method string, u *url.URL) {
	why := "another origin"
	if strings.EqualFold(u.Scheme, "http") && strings.HasPrefix(c.Origin, "https://") {
		why = "a downgrade from https to http"
	}
	c.logger().Warn("request sent without credentials: its URL is on "+why+" than the credentials were given for",
		slog.String("method", method), slog.String("url", Redact(u.String())), slog.String("origin", c.Origin),
		slog.Any("credentials", c.Credentials))
}

// checkRedirect wraps a redirect policy so that a redirect away from the
// credentials' origin goes without the Authorization header (net/http
// would keep it for a subdomain, or for the same host over plain http).
func (c *Client) checkRedirect(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if o, err := originOf(req.URL); err != nil || o != c.Origin {
			if req.Header.Get("Authorization") != "" {
				req.Header.Del("Authorization")
				c.warnWithheld(req.Method, req.URL)
			}
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}
