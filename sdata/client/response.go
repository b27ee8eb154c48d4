package client

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"sdatasync/feeds"
)

// Response is a fully read HTTP answer.
type Response struct {
	// URL is the URL the request was sent to; relative references of the
	// answer (Location, links) resolve against it.
	URL    *url.URL
	Status int
	Header http.Header
	Body   []byte
}

// Location returns the Location header resolved against the request URL,
// "" when there is none.
func (r *Response) Location() (string, error) {
	loc := r.Header.Get("Location")
	if loc == "" {
		return "", nil
	}
	u, err := r.URL.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("bad Location %q: %w", Redact(loc), redactErr(err))
	}
	return u.String(), nil
}

// Resolve resolves a link href of the answer (an Atom link, a `next` page)
// against the request URL.
func (r *Response) Resolve(href string) (string, error) {
	u, err := r.URL.Parse(href)
	if err != nil {
		return "", fmt.Errorf("bad link %q: %w", Redact(href), redactErr(err))
	}
	return u.String(), nil
}

// HTTPError is an answer other than 2xx: a non-transient one, or a
// transient one no longer retried. It carries the status and the
// sdata:diagnoses of the body, if any, else the start of the body.
type HTTPError struct {
	Method, URL string // URL without any user:password part
	Status      int
	Diagnoses   []feeds.Diagnosis
	Body        string // the start of a body that was not diagnoses
}

// maxErrorBody bounds HTTPError.Body.
const maxErrorBody = 200

// newHTTPError reads an error answer's body: its sdata:diagnoses, else the
// start of the body, trimmed.
func newHTTPError(method, u string, status int, body []byte) *HTTPError {
	he := &HTTPError{Method: method, URL: Redact(u), Status: status}
	if ds, err := feeds.ParseDiagnoses(bytes.NewReader(body), feeds.Limits{}); err == nil && len(ds) > 0 {
		he.Diagnoses = ds
	} else {
		s := strings.TrimSpace(string(body))
		if len(s) > maxErrorBody {
			s = s[:maxErrorBody] + "..."
		}
		he.Body = s
	}
	return he
}

// Error implements error: method, URL, status, then every diagnosis (or
// the start of the body).
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

// Message is the short reason of the error: the first diagnosis's message,
// else the start of the body, else the status text.
func (e *HTTPError) Message() string {
	for _, d := range e.Diagnoses {
		if d.Message != "" {
			return d.Message
		}
	}
	if e.Body != "" {
		return e.Body
	}
	return http.StatusText(e.Status)
}

// retryAfter reads a Retry-After header (delay seconds or an HTTP date,
// relative to now), capped at maxWait; 0 when absent or unreadable.
func retryAfter(v string, now time.Time, maxWait time.Duration) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		if int64(n) > int64(maxWait/time.Second) {
			return maxWait // also keeps n*time.Second from overflowing
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxWait)
	}
	return 0
}

// Params are query parameters as name/value pairs, in order. A pair whose
// value is "" is left out.
type Params [][2]string

// Query returns "?name=value&..." for the pairs (names sorted, values
// escaped as url.Values.Encode does).
func Query(ps Params) string {
	q := url.Values{}
	for _, kv := range ps {
		if kv[1] != "" {
			q.Set(kv[0], kv[1])
		}
	}
	return "?" + q.Encode()
}

// WithParams returns u with the parameters of add set where u does not
// already carry them (names compared case-insensitively): a link given by a
// provider keeps its own parameters, and gets the run's where it lacks
// them. u is returned unchanged when nothing is added.
func WithParams(u string, add Params) (string, error) {
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
