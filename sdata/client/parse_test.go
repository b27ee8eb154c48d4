package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestTransient(t *testing.T) {
	for _, c := range []struct {
		status int
		want   bool
	}{
		{200, false}, {202, false}, {301, false}, {400, false}, {401, false}, {404, false}, {409, false}, {412, false},
		{http.StatusRequestTimeout, true}, {http.StatusTooManyRequests, true},
		{500, true}, {502, true}, {503, true}, {504, true}, {507, true}, {599, true},
		{http.StatusNotImplemented, false}, {http.StatusHTTPVersionNotSupported, false},
	} {
		if got := Transient(c.status); got != c.want {
			t.Errorf("Transient(%d) = %v, want %v", c.status, got, c.want)
		}
	}
}

func TestRetryable(t *testing.T) {
	opErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", &url.Error{Op: "Get", URL: "http://x", Err: opErr}, true},
		{"bare op error", opErr, true},
		{"timeout", &url.Error{Op: "Get", URL: "http://x", Err: context.DeadlineExceeded}, true},
		{"EOF", &url.Error{Op: "Get", URL: "http://x", Err: io.EOF}, true},
		{"body cut short", io.ErrUnexpectedEOF, true},
		// A *url.Error is a net.Error, so every failure of http.Client.Do is
		// retried, cancellation included: Do checks its context first.
		{"cancelled", &url.Error{Op: "Get", URL: "http://x", Err: context.Canceled}, true},
		{"body too large", fmt.Errorf("%w: GET x", ErrBodyTooLarge), false},
		{"request error", errors.New(`net/http: invalid method "B A D"`), false},
	} {
		if got := retryable(c.err); got != c.want {
			t.Errorf("%s: retryable(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	date := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	const cap = 5 * time.Second
	for _, c := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"2", 2 * time.Second},
		{" 3 ", 3 * time.Second},
		{"5", 5 * time.Second},
		{"6", cap},
		{"99999999999999999", cap}, // no overflow into a negative wait
		{"-1", 0},
		{"1.5", 0},
		{"soon", 0},
		{date(2 * time.Second), 2 * time.Second},
		{date(time.Hour), cap},
		{date(-time.Hour), 0}, // a date in the past: no wait
		{now.Add(3 * time.Second).Format(time.RFC850), 3 * time.Second},
	} {
		if got := retryAfter(c.v, now, cap); got != c.want {
			t.Errorf("retryAfter(%q) = %v, want %v", c.v, got, c.want)
		}
	}
}

const diagnosesBody = `<sdata:diagnoses xmlns:sdata="http://schemas.sage.com/sdata/2008/1">
<sdata:diagnosis><sdata:severity>error</sdata:severity><sdata:sdataCode>ApplicationDiagnosis</sdata:sdataCode>
<sdata:message>tick gap at 1</sdata:message></sdata:diagnosis>
<sdata:diagnosis><sdata:severity>warning</sdata:severity><sdata:sdataCode>BadWhereSyntax</sdata:sdataCode>
<sdata:message>second</sdata:message></sdata:diagnosis></sdata:diagnoses>`

// A single diagnosis, as the spec also allows.
const diagnosisBody = `<diagnosis xmlns="http://schemas.sage.com/sdata/2008/1"><severity>error</severity>
<sdataCode>ResourceKindNotFound</sdataCode><message>no such kind</message></diagnosis>`

func TestNewHTTPError(t *testing.T) {
	long := strings.Repeat("x", 500)
	for _, c := range []struct {
		name      string
		status    int
		body      string
		diagnoses int
		errText   string // Error() contains it
		message   string
	}{
		{"diagnoses", 400, diagnosesBody, 2, "POST http://p/k: 400 Bad Request; error ApplicationDiagnosis: tick gap at 1; warning BadWhereSyntax: second", "tick gap at 1"},
		{"one diagnosis", 404, diagnosisBody, 1, "404 Not Found; error ResourceKindNotFound: no such kind", "no such kind"},
		{"plain text", 502, "  bad gateway\n", 0, "502 Bad Gateway: bad gateway", "bad gateway"},
		{"empty body", 503, "", 0, "503 Service Unavailable", "Service Unavailable"},
		{"long body", 500, long, 0, ": " + long[:maxErrorBody] + "...", long[:maxErrorBody] + "..."},
		{"other XML", 400, `<feed xmlns="http://www.w3.org/2005/Atom"/>`, 0, `: <feed xmlns=`, `<feed xmlns="http://www.w3.org/2005/Atom"/>`},
		{"empty diagnoses", 409, `<sdata:diagnoses xmlns:sdata="http://schemas.sage.com/sdata/2008/1"/>`, 0, "409 Conflict: <sdata:diagnoses", `<sdata:diagnoses xmlns:sdata="http://schemas.sage.com/sdata/2008/1"/>`},
	} {
		he := newHTTPError(http.MethodPost, "http://p/k", c.status, []byte(c.body))
		if he.Status != c.status || he.Method != http.MethodPost || he.URL != "http://p/k" {
			t.Errorf("%s: %+v", c.name, he)
		}
		if len(he.Diagnoses) != c.diagnoses {
			t.Errorf("%s: %d diagnoses, want %d: %+v", c.name, len(he.Diagnoses), c.diagnoses, he.Diagnoses)
		}
		if !strings.Contains(he.Error(), c.errText) {
			t.Errorf("%s: Error() = %q, want it to contain %q", c.name, he.Error(), c.errText)
		}
		if he.Message() != c.message {
			t.Errorf("%s: Message() = %q, want %q", c.name, he.Message(), c.message)
		}
	}
}

func TestWithParams(t *testing.T) {
	run := Params{{"runName", "r 1"}, {"runStamp", "2025-01-01T00:00:00Z"}}
	for _, c := range []struct {
		u    string
		add  Params
		want string
	}{
		{"http://h/k/$syncSource('a')", run, "http://h/k/$syncSource('a')?runName=r+1&runStamp=2025-01-01T00%3A00%3A00Z"},
		// Parameters the provider put in its link are kept, whatever their case.
		{"http://h/k?RUNNAME=theirs&startIndex=11", run, "http://h/k?RUNNAME=theirs&runStamp=2025-01-01T00%3A00%3A00Z&startIndex=11"},
		// Nothing to add: the URL comes back exactly as given.
		{"http://h/k?runName=a&runstamp=b&x=%7e", run, "http://h/k?runName=a&runstamp=b&x=%7e"},
		{"http://h/k?x=1", Params{{"count", ""}}, "http://h/k?x=1"},
		{"http://h/k", nil, "http://h/k"},
		{"http://h/k", Params{{"count", "50"}}, "http://h/k?count=50"},
	} {
		got, err := WithParams(c.u, c.add)
		if err != nil || got != c.want {
			t.Errorf("WithParams(%q) = %q, %v, want %q", c.u, got, err, c.want)
		}
	}
	if _, err := WithParams("http://h/%zz", run); err == nil {
		t.Error("a malformed URL was accepted")
	}
}

func TestQuery(t *testing.T) {
	for _, c := range []struct {
		ps   Params
		want string
	}{
		{Params{{"trackingID", "t-1"}, {"runName", "a&b"}, {"runStamp", ""}}, "?runName=a%26b&trackingID=t-1"},
		{Params{{"where", "title eq 'O''Brien'"}}, "?where=title+eq+%27O%27%27Brien%27"},
		{nil, "?"},
	} {
		if got := Query(c.ps); got != c.want {
			t.Errorf("Query(%v) = %q, want %q", c.ps, got, c.want)
		}
	}
}

func TestPollWait(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		name             string
		minPoll, maxPoll time.Duration
		advice           time.Duration
		first            bool
		want             time.Duration
	}{
		{"defaults, advice kept", 0, 0, 100 * ms, false, 100 * ms},
		{"defaults, short advice raised to MinPoll", 0, 0, ms, false, MinPoll},
		{"defaults, first poll follows the advice down to FirstPoll", 0, 0, 0, true, FirstPoll},
		{"defaults, first poll with a short advice", 0, 0, 5 * ms, true, 5 * ms},
		{"defaults, long advice capped", 0, 0, time.Minute, false, MaxPoll},
		{"defaults, first poll capped too", 0, 0, time.Minute, true, MaxPoll},
		{"tuned bounds", ms, 20 * ms, 0, false, ms},
		{"tuned bounds, capped", ms, 20 * ms, 30 * ms, false, 20 * ms},
		{"tuned MinPoll below FirstPoll", time.Microsecond, 0, 0, true, time.Microsecond},
		{"MaxPoll below MinPoll is raised to it", 50 * ms, 10 * ms, time.Second, false, 50 * ms},
		{"MaxPoll alone, below the default MinPoll", 0, 10 * ms, time.Second, false, MinPoll},
		{"MaxPoll alone", 0, 100 * ms, time.Second, false, 100 * ms},
	} {
		c0 := &Client{MinPoll: c.minPoll, MaxPoll: c.maxPoll}
		if got := c0.pollWait(c.advice, c.first); got != c.want {
			t.Errorf("%s: pollWait(%v, %v) = %v, want %v", c.name, c.advice, c.first, got, c.want)
		}
	}
}

func TestLocationAndResolve(t *testing.T) {
	base, _ := url.Parse("http://h:8080/sdata/a/c/-/k/$syncSource?trackingID=t")
	for _, c := range []struct {
		loc, want string
		bad       bool
	}{
		{"", "", false},
		{"http://other/x('1')", "http://other/x('1')", false},
		{"$syncSource('t')", "http://h:8080/sdata/a/c/-/k/$syncSource('t')", false},
		{"/job/42?x=1", "http://h:8080/job/42?x=1", false},
		{"//other:1/p", "http://other:1/p", false},
		{"http://h/%zz", "", true},
	} {
		r := &Response{URL: base, Header: http.Header{}}
		if c.loc != "" {
			r.Header.Set("Location", c.loc)
		}
		got, err := r.Location()
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("Location %q: %q, %v; want %q (error %v)", c.loc, got, err, c.want, c.bad)
		}
		if c.loc == "" {
			continue
		}
		got, err = r.Resolve(c.loc)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("Resolve %q: %q, %v; want %q (error %v)", c.loc, got, err, c.want, c.bad)
		}
	}
}

// FuzzErrorBody: whatever an error answer's body holds, reading it neither
// panics nor keeps more than the start of it, and the error names the
// status.
func FuzzErrorBody(f *testing.F) {
	for _, s := range []string{diagnosesBody, diagnosisBody, "", "plain", "<x", `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`,
		strings.Repeat("é", 150)} {
		f.Add(400, []byte(s))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		he := newHTTPError(http.MethodGet, "http://p/k", status, body)
		if len(he.Body) > maxErrorBody+len("...") {
			t.Fatalf("kept %d bytes of the body", len(he.Body))
		}
		if len(he.Diagnoses) > 0 && he.Body != "" {
			t.Fatal("both diagnoses and a body")
		}
		if !strings.Contains(he.Error(), fmt.Sprint(status)) {
			t.Fatalf("Error() %q does not name the status", he.Error())
		}
		_ = he.Message()
		_ = utf8.ValidString(he.Body) // a cut may split a rune; it is only shown
	})
}

// FuzzRetryAfter: any Retry-After value gives a wait within [0, cap].
func FuzzRetryAfter(f *testing.F) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{"", "0", "1", "120", "-5", "9223372036854775807", "Sat, 01 Mar 2025 12:00:03 GMT", "Monday, 01-Jan-99 00:00:00 GMT", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		const cap = 5 * time.Second
		if d := retryAfter(v, now, cap); d < 0 || d > cap {
			t.Fatalf("retryAfter(%q) = %v", v, d)
		}
	})
}

// FuzzLocation: a Location or link from a provider resolves against the
// request URL to an absolute URL, or is an error; never a panic.
func FuzzLocation(f *testing.F) {
	for _, s := range []string{"", "/job/1", "job('a')", "http://x/y", "//h/p", "?q=1", "#f", "http://[::1", "%zz", "javascript:x"} {
		f.Add(s)
	}
	base, _ := url.Parse("http://h/sdata/a/c/-/k/$syncSource?trackingID=t")
	f.Fuzz(func(t *testing.T, loc string) {
		r := &Response{URL: base, Header: http.Header{"Location": {loc}}}
		got, err := r.Location()
		if err != nil || loc == "" {
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("Location %q resolved to %q, which does not parse: %v", loc, got, err)
		}
		if u.Scheme == "" {
			t.Fatalf("Location %q resolved to %q, not absolute", loc, got)
		}
	})
}
