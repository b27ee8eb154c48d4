package engine

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestPollWaits: the first poll of a job follows the provider's advice
// (here 0 ms) down to FirstPoll; later polls wait at least MinPoll, however
// short the advice; the Location given is what is polled.
func TestPollWaits(t *testing.T) {
	var mu sync.Mutex
	var polls []time.Time
	const running = 3 // GETs answered 202 before the job is done
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.Header().Set("Location", "http://"+r.Host+"/job/42")
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprint(w, `<sdata:tracking xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><sdata:pollingMillis>0</sdata:pollingMillis></sdata:tracking>`)
			return
		}
		if r.URL.Path != "/job/42" {
			http.Error(w, "not the Location given", http.StatusNotFound)
			return
		}
		mu.Lock()
		polls = append(polls, time.Now())
		n := len(polls)
		mu.Unlock()
		if n <= running {
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprint(w, `<sdata:tracking xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><sdata:pollingMillis>0</sdata:pollingMillis></sdata:tracking>`)
			return
		}
		fmt.Fprint(w, "done")
	}))
	defer ts.Close()
	e := &Engine{}
	ctx := context.Background()
	res, err := e.do(ctx, http.MethodPost, ts.URL+"/start", []byte("x"), "application/xml")
	if err != nil {
		t.Fatal(err)
	}
	posted := time.Now()
	res, loc, err := e.await(ctx, res, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.status != http.StatusOK || string(res.body) != "done" || loc != ts.URL+"/job/42" {
		t.Fatalf("final answer %d %q from %q", res.status, res.body, loc)
	}
	if len(polls) != running+1 {
		t.Fatalf("%d polls, want %d", len(polls), running+1)
	}
	if polls[0].Sub(posted) < FirstPoll-time.Millisecond/2 {
		t.Errorf("first poll after %v, below FirstPoll", polls[0].Sub(posted))
	}
	for i := 1; i < len(polls); i++ {
		if gap := polls[i].Sub(polls[i-1]); gap < MinPoll {
			t.Errorf("poll %d came %v after the previous one, want at least %v", i+1, gap, MinPoll)
		}
	}
}
