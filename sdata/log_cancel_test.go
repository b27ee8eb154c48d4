package sdata

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestClientGoneIsNotAnError: a request whose client went away is answered
// 503 (nobody reads it) and logged at INFO with clientGone, while a 503 of
// the server's own (its context alive) stays an ERROR.
func TestClientGoneIsNotAnError(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	h := s.logRequests(s.errors(func(w http.ResponseWriter, r *http.Request) error {
		<-r.Context().Done()
		return r.Context().Err()
	}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/sdata/a/c/-/k", nil).WithContext(ctx))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d", rec.Code)
	}
	line := logs.String()
	if !strings.Contains(line, "level=INFO") || !strings.Contains(line, "clientGone=true") || strings.Contains(line, "level=ERROR") {
		t.Fatalf("a client that went away is logged as:\n%s", line)
	}

	logs.Reset()
	busy := s.logRequests(s.errors(func(w http.ResponseWriter, r *http.Request) error {
		return context.DeadlineExceeded // a timeout of the server's own
	}))
	busy.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/sdata/a/c/-/k", nil))
	if line := logs.String(); !strings.Contains(line, "level=ERROR") || strings.Contains(line, "clientGone") {
		t.Fatalf("a 503 of the server's own is logged as:\n%s", line)
	}
}
