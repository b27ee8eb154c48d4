package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sdatasync/sdata/client"
)

const notFound = `<sdata:diagnoses xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><sdata:diagnosis>
<sdata:severity>error</sdata:severity><sdata:sdataCode>ResourceKindNotFound</sdata:sdataCode>
<sdata:message>no kind here</sdata:message></sdata:diagnosis></sdata:diagnoses>`

// TestDoRetryClassification: which answers Do retries, and what it returns.
func TestDoRetryClassification(t *testing.T) {
	for _, c := range []struct {
		name     string
		statuses []int // answered in order, the last one repeated
		attempts int   // requests the server sees (MaxAttempts is 3)
		status   int   // of the answer, or of the *HTTPError
		gaveUp   bool
	}{
		{"200", []int{200}, 1, 200, false},
		{"201", []int{201}, 1, 201, false},
		{"202 is returned, not followed", []int{202}, 1, 202, false},
		{"503 then 200", []int{503, 200}, 2, 200, false},
		{"502 and 504 then 200", []int{502, 504, 200}, 3, 200, false},
		{"408 then 200", []int{408, 200}, 2, 200, false},
		{"429 then 200", []int{429, 200}, 2, 200, false},
		{"500 until giving up", []int{500}, 3, 500, true},
		{"507 until giving up", []int{507}, 3, 507, true},
		{"501 is final", []int{501}, 1, 501, false},
		{"505 is final", []int{505}, 1, 505, false},
		{"400 is final", []int{400}, 1, 400, false},
		{"404 is final", []int{404}, 1, 404, false},
		{"409 is final", []int{409}, 1, 409, false},
		{"412 is final", []int{412}, 1, 412, false},
		{"304 is an error", []int{304}, 1, 304, false},
		{"503 then 404", []int{503, 404}, 2, 404, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var hits atomic.Int64
			ts := server(t, func(w http.ResponseWriter, r *http.Request) {
				n := int(hits.Add(1))
				st := c.statuses[min(n, len(c.statuses))-1]
				if st == 404 {
					w.Header().Set("Content-Type", "application/xml")
					w.WriteHeader(st)
					fmt.Fprint(w, notFound)
					return
				}
				w.WriteHeader(st)
				fmt.Fprintf(w, "answer %d", n)
			})
			l := &retryLog{}
			res, err := fast(l).Do(context.Background(), http.MethodGet, ts.URL+"/k", nil, "")
			if got := int(hits.Load()); got != c.attempts {
				t.Errorf("%d attempts, want %d", got, c.attempts)
			}
			if len(l.got()) != c.attempts-1 {
				t.Errorf("%d retries logged, want %d", len(l.got()), c.attempts-1)
			}
			if c.status < 300 {
				if err != nil || res.Status != c.status || string(res.Body) != fmt.Sprintf("answer %d", c.attempts) {
					t.Fatalf("got %+v, %v", res, err)
				}
				if res.URL.String() != ts.URL+"/k" {
					t.Errorf("response URL %s", res.URL)
				}
				return
			}
			var he *client.HTTPError
			if !errors.As(err, &he) || he.Status != c.status || he.Method != http.MethodGet || he.URL != ts.URL+"/k" {
				t.Fatalf("got %v, want an HTTPError %d", err, c.status)
			}
			if gave := strings.Contains(err.Error(), "giving up after 3 attempts"); gave != c.gaveUp {
				t.Errorf("error %q: giving up %v, want %v", err, gave, c.gaveUp)
			}
			if c.status == 404 && (len(he.Diagnoses) != 1 || he.Message() != "no kind here") {
				t.Errorf("diagnoses %+v", he.Diagnoses)
			}
		})
	}
}

// TestDoBackoff: the waits between attempts start at MinBackoff, double up
// to MaxBackoff, and are raised to what Retry-After asks (capped).
func TestDoBackoff(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		name       string
		retryAfter string
		failures   int
		want       []time.Duration
	}{
		{"doubling, capped", "", 4, []time.Duration{ms, 2 * ms, 4 * ms, 5 * ms}},
		{"Retry-After 0 keeps the backoff", "0", 2, []time.Duration{ms, 2 * ms}},
		{"Retry-After seconds, capped", "1", 2, []time.Duration{5 * ms, 5 * ms}},
		{"Retry-After date, capped", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), 1, []time.Duration{5 * ms}},
		{"Retry-After date in the past", "Mon, 02 Jan 2006 15:04:05 GMT", 1, []time.Duration{ms}},
		{"unreadable Retry-After", "later", 1, []time.Duration{ms}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var hits atomic.Int64
			ts := server(t, func(w http.ResponseWriter, r *http.Request) {
				if int(hits.Add(1)) <= c.failures {
					if c.retryAfter != "" {
						w.Header().Set("Retry-After", c.retryAfter)
					}
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			})
			l := &retryLog{}
			cl := &client.Client{MinBackoff: ms, MaxBackoff: 5 * ms, Logger: logTo(l)}
			if _, err := cl.Do(context.Background(), http.MethodGet, ts.URL, nil, ""); err != nil {
				t.Fatal(err)
			}
			if got := l.got(); !slices.Equal(got, c.want) {
				t.Errorf("waits %v, want %v", got, c.want)
			}
		})
	}
}

// TestDoNetworkErrors: a connection dropped before an answer is retried; a
// refused connection too, until the attempts run out.
func TestDoNetworkErrors(t *testing.T) {
	var hits atomic.Int64
	ts := server(t, func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= 2 {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		io.WriteString(w, "at last")
	})
	// A POST: the transport itself never retries it, so every attempt is Do's.
	res, err := fast(&retryLog{}).Do(context.Background(), http.MethodPost, ts.URL, []byte("x"), client.TypeEntry)
	if err != nil || string(res.Body) != "at last" || hits.Load() != 3 {
		t.Fatalf("dropped connections: %v after %d attempts", err, hits.Load())
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	l := &retryLog{}
	_, err = fast(l).Do(context.Background(), http.MethodGet, "http://"+addr+"/k", nil, "")
	if err == nil || !strings.Contains(err.Error(), "giving up after 3 attempts") || len(l.got()) != 2 {
		t.Fatalf("refused connection: %v, %d retries", err, len(l.got()))
	}
	// A request that cannot be built is not retried.
	l = &retryLog{}
	if _, err := fast(l).Do(context.Background(), "BAD METHOD", ts.URL, nil, ""); err == nil || len(l.got()) != 0 {
		t.Fatalf("bad request: %v, %d retries", err, len(l.got()))
	}
}

// TestOnce: a single attempt, whatever the answer.
func TestOnce(t *testing.T) {
	var hits atomic.Int64
	ts := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			hits.Add(1)
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "up")
	})
	c := fast(&retryLog{})
	var he *client.HTTPError
	if _, err := c.Once(context.Background(), http.MethodGet, ts.URL+"/down", nil, ""); !errors.As(err, &he) || he.Status != 503 || hits.Load() != 1 {
		t.Fatalf("Once of a 503: %v after %d attempts", err, hits.Load())
	}
	if res, err := c.Once(context.Background(), http.MethodGet, ts.URL+"/up", nil, ""); err != nil || string(res.Body) != "up" {
		t.Fatalf("Once of a 200: %v", err)
	}
}

// TestRequestHeaders: Accept always, Content-Type with a body, Basic
// credentials when set.
func TestRequestHeaders(t *testing.T) {
	var mu sync.Mutex
	var got []http.Header
	ts := server(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
	})
	ctx := context.Background()
	if _, err := (&client.Client{}).Do(ctx, http.MethodGet, ts.URL, nil, ""); err != nil {
		t.Fatal(err)
	}
	origin, err := client.Origin(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&client.Client{Credentials: client.Credentials{User: "ann", Password: "s3cret"}, Origin: origin}).Do(ctx, http.MethodPost, ts.URL, []byte("<feed/>"), client.TypeFeed); err != nil {
		t.Fatal(err)
	}
	if _, err := (&client.Client{Credentials: client.Credentials{Password: "only"}, Origin: origin}).Once(ctx, http.MethodPut, ts.URL, []byte{}, client.TypeEntry); err != nil {
		t.Fatal(err)
	}
	const accept = "application/atom+xml, application/xml;q=0.9, */*;q=0.1"
	for i, h := range got {
		if h.Get("Accept") != accept {
			t.Errorf("request %d: Accept %q", i, h.Get("Accept"))
		}
	}
	if got[0].Get("Content-Type") != "" || got[0].Get("Authorization") != "" {
		t.Errorf("GET: %v", got[0])
	}
	r := &http.Request{Header: got[1]}
	if u, p, ok := r.BasicAuth(); !ok || u != "ann" || p != "s3cret" || got[1].Get("Content-Type") != "application/atom+xml; type=feed" {
		t.Errorf("POST: %v", got[1])
	}
	r = &http.Request{Header: got[2]}
	if u, p, ok := r.BasicAuth(); !ok || u != "" || p != "only" || got[2].Get("Content-Type") != "application/atom+xml; type=entry" {
		t.Errorf("PUT with an empty body: %v", got[2])
	}
}

// TestMaxBody: an answer over the limit is an error, and not retried.
func TestMaxBody(t *testing.T) {
	var hits atomic.Int64
	ts := server(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, strings.TrimPrefix(r.URL.Path, "/"))
	})
	c := fast(&retryLog{})
	c.MaxBody = 10
	if res, err := c.Do(context.Background(), http.MethodGet, ts.URL+"/0123456789", nil, ""); err != nil || len(res.Body) != 10 {
		t.Fatalf("at the limit: %v", err)
	}
	hits.Store(0)
	if _, err := c.Do(context.Background(), http.MethodGet, ts.URL+"/0123456789a", nil, ""); !errors.Is(err, client.ErrBodyTooLarge) || hits.Load() != 1 {
		t.Fatalf("over the limit: %v after %d attempts", err, hits.Load())
	}
}

// TestDoCancel: cancelling the context ends Do while a request is in
// flight and while it waits before a retry.
func TestDoCancel(t *testing.T) {
	t.Run("in flight", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ts := server(t, func(w http.ResponseWriter, r *http.Request) {
			cancel()
			<-r.Context().Done() // the client gave up the request
		})
		if _, err := fast(&retryLog{}).Do(ctx, http.MethodGet, ts.URL, nil, ""); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("between attempts", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ts := server(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		l := &retryLog{onRetry: cancel}
		c := &client.Client{MinBackoff: time.Hour, MaxBackoff: time.Hour, Logger: logTo(l)}
		if _, err := c.Do(ctx, http.MethodGet, ts.URL, nil, ""); !errors.Is(err, context.Canceled) || len(l.got()) != 1 {
			t.Fatalf("got %v after %d retries", err, len(l.got()))
		}
	})
	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		ts := server(t, func(w http.ResponseWriter, r *http.Request) { t.Error("request sent") })
		if _, err := fast(&retryLog{}).Once(ctx, http.MethodGet, ts.URL, nil, ""); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
	})
}
