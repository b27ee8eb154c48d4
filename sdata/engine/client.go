package engine

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
	"strconv"
	"strings"
	"time"

	"sdatasync/feeds"
)

// Retry defaults (see Engine).
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
)

// Content types sent by the engine.
const (
	typeFeed  = "application/atom+xml; type=feed"
	typeEntry = "application/atom+xml; type=entry"
)

// HTTPError is a non-transient (or no longer retried) error answer of a
// provider: the status and the sdata:diagnoses it carried, if any.
type HTTPError struct {
	Method, URL string
	Status      int
	Diagnoses   []feeds.Diagnosis
	Body        string // the start of a body that was not diagnoses
}

func (e *HTTPError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	for _, d := range e.Diagnoses {
		fmt.Fprintf(&b, "; %s %s: %s", d.Severity, d.SDataCode, d.Message)
	}
	if len(e.Diagnoses) == 0 && e.Body != "" {
		fmt.Fprintf(&b, ": %s", e.Body)
	}
	return b.String()
}

// response is a fully read HTTP answer.
type response struct {
	url    *url.URL // the request URL, to resolve relative references against
	status int
	header http.Header
	body   []byte
}

// location returns the Location header resolved against the request URL,
// "" when absent.
func (r *response) location() (string, error) {
	loc := r.header.Get("Location")
	if loc == "" {
		return "", nil
	}
	u, err := r.url.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("bad Location %q: %w", loc, err)
	}
	return u.String(), nil
}

// resolve resolves a link href against the request URL.
func (r *response) resolve(href string) (string, error) {
	u, err := r.url.Parse(href)
	if err != nil {
		return "", fmt.Errorf("bad link %q: %w", href, err)
	}
	return u.String(), nil
}

// transient reports whether an answer status is worth retrying.
func transient(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return false
	}
	return status >= 500
}

func (e *Engine) pollMin() time.Duration {
	if e.MinPoll > 0 {
		return e.MinPoll
	}
	return MinPoll
}

func (e *Engine) pollMax() time.Duration {
	if e.MaxPoll > 0 {
		return max(e.MaxPoll, e.pollMin())
	}
	return MaxPoll
}

// do sends one request, retrying transient failures (network errors,
// timeouts, 408, 429, 5xx) with capped exponential backoff. Answers other
// than 2xx are returned as *HTTPError.
func (e *Engine) do(ctx context.Context, method, u string, body []byte, contentType string) (*response, error) {
	attempts := e.MaxAttempts
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	minB, maxB := e.MinBackoff, e.MaxBackoff
	if minB <= 0 {
		minB = DefaultMinBackoff
	}
	if maxB <= 0 {
		maxB = DefaultMaxBackoff
	}
	backoff := minB
	for attempt := 1; ; attempt++ {
		res, err := e.once(ctx, method, u, body, contentType)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var wait time.Duration
		switch {
		case err != nil:
			// Network errors: connection refused or reset, timeouts, EOF.
			var ne net.Error
			if !errors.As(err, &ne) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) && !isConnError(err) {
				return nil, err
			}
		case transient(res.status):
			err = httpError(method, u, res)
			wait = retryAfter(res.header.Get("Retry-After"), maxB)
		case res.status >= 300:
			return nil, httpError(method, u, res)
		default:
			return res, nil
		}
		if attempt >= attempts {
			return nil, fmt.Errorf("giving up after %d attempts: %w", attempt, err)
		}
		if wait < backoff {
			wait = backoff
		}
		e.logger().LogAttrs(ctx, slog.LevelWarn, "transient failure, retrying", slog.String("method", method), slog.String("url", u),
			slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.Any("err", err))
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
		backoff = min(backoff*2, maxB)
	}
}

func isConnError(err error) bool {
	var oe *net.OpError
	var ue *url.Error
	return errors.As(err, &oe) || (errors.As(err, &ue) && !errors.Is(err, context.Canceled))
}

// retryAfter reads a Retry-After header (seconds or HTTP date), capped.
func retryAfter(v string, maxWait time.Duration) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return min(time.Duration(n)*time.Second, maxWait)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), maxWait)
	}
	return 0
}

func (e *Engine) once(ctx context.Context, method, u string, body []byte, contentType string) (*response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/atom+xml, application/xml;q=0.9, */*;q=0.1")
	if e.User != "" || e.Password != "" {
		req.SetBasicAuth(e.User, e.Password)
	}
	c := e.Client
	if c == nil {
		c = http.DefaultClient
	}
	res, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &response{url: req.URL, status: res.StatusCode, header: res.Header, body: b}, nil
}

func httpError(method, u string, res *response) *HTTPError {
	he := &HTTPError{Method: method, URL: u, Status: res.status}
	if ds, err := feeds.ParseDiagnoses(bytes.NewReader(res.body), feeds.Limits{}); err == nil && len(ds) > 0 {
		he.Diagnoses = ds
	} else {
		s := strings.TrimSpace(string(res.body))
		if len(s) > 200 {
			s = s[:200] + "..."
		}
		he.Body = s
	}
	return he
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

// withParams returns u with the query parameters of add set where u does
// not already carry them (names compared case-insensitively).
func withParams(u string, add [][2]string) (string, error) {
	p, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	q := p.Query()
	changed := false
	for _, kv := range add {
		if kv[1] == "" {
			continue
		}
		found := false
		for k := range q {
			if strings.EqualFold(k, kv[0]) {
				found = true
				break
			}
		}
		if !found {
			q.Set(kv[0], kv[1])
			changed = true
		}
	}
	if !changed {
		return u, nil
	}
	p.RawQuery = q.Encode()
	return p.String(), nil
}

// await follows an asynchronous operation: while the answer is 202 it
// waits the tracking payload's pollingMillis (bounded by MinPoll..MaxPoll)
// and GETs the Location it was given. It returns the final 2xx answer and
// the last Location seen ("" when the operation was synchronous).
func (e *Engine) await(ctx context.Context, res *response, loc string, params [][2]string, onTrack func(*feeds.Tracking)) (*response, string, error) {
	for polls := 0; res.status == http.StatusAccepted; polls++ {
		l, err := res.location()
		if err != nil {
			return nil, loc, err
		}
		if l != "" {
			loc = l
		}
		if loc == "" {
			return nil, "", fmt.Errorf("%s answered 202 Accepted without a Location to poll", res.url)
		}
		wait := 200 * time.Millisecond
		if t, err := feeds.ParseTracking(bytes.NewReader(res.body), feeds.Limits{}); err == nil {
			if t.PollingMillis > 0 {
				wait = time.Duration(t.PollingMillis) * time.Millisecond
			}
			if onTrack != nil {
				onTrack(t)
			}
		}
		floor := e.pollMin()
		if polls == 0 {
			floor = min(floor, FirstPoll)
		}
		wait = min(max(wait, floor), e.pollMax())
		if err := sleep(ctx, wait); err != nil {
			return nil, loc, err
		}
		pu, err := withParams(loc, params)
		if err != nil {
			return nil, loc, err
		}
		res, err = e.do(ctx, http.MethodGet, pu, nil, "")
		if err != nil {
			return nil, loc, err
		}
	}
	return res, loc, nil
}
