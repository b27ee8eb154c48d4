package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"sdatasync/feeds"
	"sdatasync/sdata/client"
)

func tracking(pollingMillis, remaining int) string {
	return fmt.Sprintf(`<sdata:tracking xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><sdata:phase>running</sdata:phase>`+
		`<sdata:pollingMillis>%d</sdata:pollingMillis><sdata:remainingSeconds>%d</sdata:remainingSeconds></sdata:tracking>`, pollingMillis, remaining)
}

// TestAwaitFollowsLocation: a 202's Location (relative here) is polled with
// the parameters added, a new Location replaces it, every tracking
// document is reported, and the final answer and Location are returned.
func TestAwaitFollowsLocation(t *testing.T) {
	var mu sync.Mutex
	var polled []string
	ts := server(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost:
			w.Header().Set("Location", "job('42')")
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, tracking(0, 9))
			return
		case r.Method != http.MethodGet:
			http.Error(w, "method", http.StatusMethodNotAllowed)
			return
		}
		mu.Lock()
		polled = append(polled, r.URL.RequestURI())
		n := len(polled)
		mu.Unlock()
		switch n {
		case 1:
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, tracking(1, 5))
		case 2:
			// The job moved: poll the new Location from now on.
			w.Header().Set("Location", "/jobs/43?runName=theirs")
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, tracking(1, 1))
		case 3:
			http.Error(w, "busy", http.StatusServiceUnavailable) // retried like any request
		case 4:
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, "not a tracking document")
		default:
			io.WriteString(w, "done")
		}
	})
	c := fast(&retryLog{})
	ctx := context.Background()
	res, err := c.Do(ctx, http.MethodPost, ts.URL+"/sdata/a/c/-/k/start", []byte("x"), client.TypeEntry)
	if err != nil {
		t.Fatal(err)
	}
	var remaining []int
	res, loc, err := c.Await(ctx, res, client.Params{{"runName", "r"}, {"runStamp", "s"}}, func(tr *feeds.Tracking) {
		remaining = append(remaining, tr.RemainingSeconds)
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusOK || string(res.Body) != "done" || loc != ts.URL+"/jobs/43?runName=theirs" {
		t.Fatalf("final answer %d %q, Location %q", res.Status, res.Body, loc)
	}
	want := []string{
		"/sdata/a/c/-/k/job('42')?runName=r&runStamp=s",
		"/sdata/a/c/-/k/job('42')?runName=r&runStamp=s",
		"/jobs/43?runName=theirs&runStamp=s",
		"/jobs/43?runName=theirs&runStamp=s",
		"/jobs/43?runName=theirs&runStamp=s",
	}
	if strings.Join(polled, "\n") != strings.Join(want, "\n") {
		t.Errorf("polled\n%s\nwant\n%s", strings.Join(polled, "\n"), strings.Join(want, "\n"))
	}
	if fmt.Sprint(remaining) != "[9 5 1]" {
		t.Errorf("tracking documents reported: %v", remaining)
	}
}

// TestAwaitOutcomes: synchronous answers, a 202 without a Location, a job
// that fails, and cancellation while waiting to poll.
func TestAwaitOutcomes(t *testing.T) {
	ts := server(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sync":
			io.WriteString(w, "at once")
		case "/noloc":
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, tracking(1, 0))
		case "/failing":
			w.Header().Set("Location", "/gone")
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, tracking(1, 0))
		case "/gone":
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, notFound)
		case "/slow":
			w.Header().Set("Location", "/slow")
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, tracking(60000, 60))
		}
	})
	ctx := context.Background()
	c := fast(&retryLog{})
	start := func(path string) *client.Response {
		t.Helper()
		res, err := c.Do(ctx, http.MethodPost, ts.URL+path, []byte("x"), client.TypeFeed)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	res := start("/sync")
	if got, loc, err := c.Await(ctx, res, nil, nil); err != nil || got != res || loc != "" {
		t.Errorf("synchronous: %v, %q, %v", got, loc, err)
	}

	if _, _, err := c.Await(ctx, start("/noloc"), nil, nil); err == nil || !strings.Contains(err.Error(), "without a Location") {
		t.Errorf("202 without Location: %v", err)
	}

	_, loc, err := c.Await(ctx, start("/failing"), nil, nil)
	var he *client.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusNotFound || he.Message() != "no kind here" || loc != ts.URL+"/gone" {
		t.Errorf("failed job: %v, Location %q (the caller frees the job with it)", err, loc)
	}

	// The provider asks for a minute between polls, which the bounds allow;
	// cancelling ends the wait.
	slow := &client.Client{MinPoll: time.Hour, MaxPoll: time.Hour}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, loc, err = slow.Await(cctx, start("/slow"), nil, func(*feeds.Tracking) { cancel() })
	if !errors.Is(err, context.Canceled) || loc != ts.URL+"/slow" {
		t.Errorf("cancelled while waiting to poll: %v, Location %q", err, loc)
	}
}
