package client_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"sdatasync/contracts"
	"sdatasync/sdata"
	"sdatasync/sdata/client"
	"sdatasync/sdata/store"
)

// retryLog is a slog.Handler that keeps the waits the client logs before
// its retries (the values it computed, not measured times) and may act on
// each retry.
type retryLog struct {
	mu      sync.Mutex
	waits   []time.Duration
	onRetry func()
}

func (l *retryLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *retryLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *retryLog) WithGroup(string) slog.Handler            { return l }

func (l *retryLog) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "wait" {
			l.mu.Lock()
			l.waits = append(l.waits, a.Value.Duration())
			l.mu.Unlock()
		}
		return true
	})
	if l.onRetry != nil {
		l.onRetry()
	}
	return nil
}

func (l *retryLog) got() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Duration(nil), l.waits...)
}

// logTo returns a logger writing to l.
func logTo(l *retryLog) *slog.Logger { return slog.New(l) }

// fast is a client with quick retries and polls, logging to l.
func fast(l *retryLog) *client.Client {
	return &client.Client{MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
		MinPoll: time.Millisecond, MaxPoll: 2 * time.Millisecond, Logger: logTo(l)}
}

// server serves h over real HTTP for the test.
func server(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

// newProvider starts a real provider (the built-in gcrm contract over
// SQLite in a temporary directory) and returns its base URL.
func newProvider(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c, err := contracts.Builtin("gcrm")
	if err != nil {
		t.Fatal(err)
	}
	var srv *sdata.Server
	ts := server(t, func(w http.ResponseWriter, r *http.Request) { srv.ServeHTTP(w, r) })
	srv, err = sdata.New(ctx, sdata.Config{App: "sdatasync", Contract: c, BaseURL: ts.URL, ConflictPriority: 5,
		Logger: slog.New(slog.DiscardHandler)}, st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return ts.URL
}
