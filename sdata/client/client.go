// Package client is the one SData HTTP client of the project: the sync
// engine, the immediate pusher and registry resolution all talk to SData
// providers through it, so they send the same headers, retry the same
// failures and read errors the same way.
//
// A Client sends a request and reads the whole answer into a Response
// (bounded by an explicit body limit). Do retries transient failures
// (network errors, timeouts, 408, 429 and 5xx other than 501 and 505) with
// capped exponential backoff, honouring Retry-After; Once sends a single
// attempt. Answers other than 2xx come back as *HTTPError, which carries the
// provider's sdata:diagnoses. Await follows an asynchronous operation
// (202 Accepted + a tracking document + Location) until it ends, and
// ResolveRegistered finds an endpoint's URL by its title in an SData
// registry.
//
// The package keeps no state of its own: a Client is plain configuration,
// safe for concurrent use, and every request honours its context.
package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Retry and polling defaults, used when the matching Client field is zero.
const (
	DefaultMaxAttempts = 8
	DefaultMinBackoff  = 100 * time.Millisecond
	DefaultMaxBackoff  = 5 * time.Second
	// MinPoll and MaxPoll are the default bounds of the wait between two
	// polls of a tracking URL, whatever pollingMillis the provider asks for.
	// The first poll of a job follows the provider's advice down to
	// FirstPoll: a provider that holds polls until the job ends (ours does)
	// advises a short first wait.
	MinPoll   = 20 * time.Millisecond
	MaxPoll   = 5 * time.Second
	FirstPoll = time.Millisecond
	// DefaultPoll is the wait between two polls when the tracking document
	// gives no pollingMillis (before the bounds apply).
	DefaultPoll = 200 * time.Millisecond
	// DefaultMaxBody bounds the body of one answer (256 MiB: a large page
	// of a sync feed).
	DefaultMaxBody = 256 << 20
)

// Content types of the request bodies SData clients send.
const (
	TypeFeed  = "application/atom+xml; type=feed"
	TypeEntry = "application/atom+xml; type=entry"
)

// accept is the Accept header of every request.
const accept = "application/atom+xml, application/xml;q=0.9, */*;q=0.1"

// ErrBodyTooLarge is returned (wrapped) when an answer's body exceeds the
// Client's MaxBody. It is not retried.
var ErrBodyTooLarge = errors.New("client: answer body too large")

// Client sends SData requests. The zero value is usable: it uses
// http.DefaultClient, no authentication, the default retry policy and poll
// bounds, DefaultMaxBody and no logging. A Client is not modified by its
// methods and may be used by several goroutines at once.
type Client struct {
	// HTTP sends the requests; nil means http.DefaultClient. Its Timeout
	// bounds one attempt: an attempt that times out is retried by Do.
	HTTP *http.Client
	// Credentials, when set, are sent with every request to Origin, and
	// to no other: a request (a link, a Location, a redirect) to another
	// origin, or from https down to http, goes without them and is
	// warned. A Client with credentials and no Origin sends nothing.
	Credentials Credentials
	// Origin is the origin the Credentials were given for (see Origin:
	// "scheme://host:port").
	Origin string
	// MaxAttempts bounds the attempts of one request by Do (default
	// DefaultMaxAttempts; 1 means no retry). MinBackoff and MaxBackoff bound
	// the waits between them (defaults DefaultMinBackoff, DefaultMaxBackoff):
	// the wait starts at MinBackoff, doubles after each attempt up to
	// MaxBackoff, and is raised to a Retry-After the answer asks for (itself
	// capped at MaxBackoff).
	MaxAttempts            int
	MinBackoff, MaxBackoff time.Duration
	// MinPoll and MaxPoll bound the wait between two polls of an
	// asynchronous operation's Location (defaults: the package constants);
	// see Await.
	MinPoll, MaxPoll time.Duration
	// MaxBody bounds the body of one answer in bytes (default
	// DefaultMaxBody); a larger answer fails with ErrBodyTooLarge.
	MaxBody int64
	// Logger receives the retries (warn); nil discards them.
	Logger *slog.Logger
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

func (c *Client) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

func (c *Client) maxBody() int64 {
	if c.MaxBody > 0 {
		return c.MaxBody
	}
	return DefaultMaxBody
}

func (c *Client) pollMin() time.Duration {
	if c.MinPoll > 0 {
		return c.MinPoll
	}
	return MinPoll
}

func (c *Client) pollMax() time.Duration {
	if c.MaxPoll > 0 {
		return max(c.MaxPoll, c.pollMin())
	}
	return MaxPoll
}

// backoff returns the attempts and backoff bounds of the retry policy.
func (c *Client) backoff() (attempts int, minB, maxB time.Duration) {
	attempts, minB, maxB = c.MaxAttempts, c.MinBackoff, c.MaxBackoff
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	if minB <= 0 {
		minB = DefaultMinBackoff
	}
	if maxB <= 0 {
		maxB = DefaultMaxBackoff
	}
	return attempts, minB, maxB
}

// Do sends one request and reads its answer, retrying transient failures
// (network errors, timeouts, 408, 429, 5xx except 501 and 505) with capped
// exponential backoff that honours Retry-After. body, when not nil, is sent
// with the given content type. A 2xx answer is returned as is (a 202 is not
// followed: see Await); any other answer is returned as *HTTPError, wrapped
// when the attempts ran out. The context bounds the attempts and the waits
// between them.
func (c *Client) Do(ctx context.Context, method, u string, body []byte, contentType string) (*Response, error) {
	attempts, minB, maxB := c.backoff()
	backoff := minB
	for attempt := 1; ; attempt++ {
		res, err := c.send(ctx, method, u, body, contentType)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var wait time.Duration
		switch {
		case err != nil:
			if !retryable(err) || IsTLSFailure(err) {
				return nil, err
			}
		case Transient(res.Status):
			err = newHTTPError(method, u, res.Status, res.Body)
			wait = retryAfter(res.Header.Get("Retry-After"), time.Now(), maxB)
		case res.Status >= 300:
			return nil, newHTTPError(method, u, res.Status, res.Body)
		default:
			return res, nil
		}
		if attempt >= attempts {
			return nil, fmt.Errorf("giving up after %d attempts: %w", attempt, err)
		}
		wait = max(wait, backoff)
		c.logger().LogAttrs(ctx, slog.LevelWarn, "transient failure, retrying", slog.String("method", method), slog.String("url", Redact(u)),
			slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.Any("err", err))
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
		backoff = min(backoff*2, maxB)
	}
}

// Once sends one request in a single attempt: like Do with MaxAttempts 1.
// Answers other than 2xx are returned as *HTTPError.
func (c *Client) Once(ctx context.Context, method, u string, body []byte, contentType string) (*Response, error) {
	res, err := c.send(ctx, method, u, body, contentType)
	if err != nil {
		return nil, err
	}
	if res.Status >= 300 {
		return nil, newHTTPError(method, u, res.Status, res.Body)
	}
	return res, nil
}

// Transient reports whether an answer status is worth retrying: 408, 429
// and every 5xx but 501 Not Implemented and 505 HTTP Version Not Supported.
func Transient(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return false
	}
	return status >= 500
}

// retryable reports whether a failure to get an answer is worth retrying:
// network errors (connection refused or reset, timeouts, EOF). Every error
// of http.Client.Do is a *url.Error, itself a net.Error, so all of them
// count (Do checks its context before asking); errors of building the
// request (a malformed URL) and a body over the limit do not.
func retryable(err error) bool {
	if errors.Is(err, ErrBodyTooLarge) {
		return false
	}
	var ne net.Error
	var oe *net.OpError
	var ue *url.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.As(err, &oe) || (errors.As(err, &ue) && !errors.Is(err, context.Canceled))
}

// send makes one attempt and reads the whole answer, whatever its status.
func (c *Client) send(ctx context.Context, method, u string, body []byte, contentType string) (*Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, redactErr(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", accept)
	cred, err := c.credentialsFor(req.URL, method)
	if err != nil {
		return nil, err
	}
	hc := c.httpClient()
	if !cred.IsZero() {
		cred.apply(req.Header)
		h := *hc
		h.CheckRedirect = c.checkRedirect(hc.CheckRedirect)
		hc = &h
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, redactErr(err)
	}
	defer res.Body.Close()
	limit := c.maxBody()
	b, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s %s: more than %d bytes", ErrBodyTooLarge, method, Redact(u), limit)
	}
	return &Response{URL: req.URL, Status: res.StatusCode, Header: res.Header, Body: b}, nil
}

// redactErr takes the user:password part out of the URL of a *url.Error
// (net/http masks the password only).
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = Redact(ue.URL)
	}
	return err
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
