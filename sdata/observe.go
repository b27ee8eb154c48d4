package sdata

import (
	"context"
	"net/http"
	"time"

	"sdatasync/sdata/console"
	"sdatasync/sdata/metrics"
	"sdatasync/sdata/mobile"
	"sdatasync/sdata/site"
)

// storeObserver is what a store offers the metrics: the duration of its
// write transactions and the size of its write-ahead log
// (store.SQLite).
type storeObserver interface {
	ObserveWrites(fn func(time.Duration))
	WALBytes() int64
}

// newMetrics makes the server's metrics (its own registry) and connects the
// store's observations; the job runtime's are connected when it is made.
func (s *Server) newMetrics() *metrics.Metrics {
	src := metrics.Source{RunningJobs: func() int {
		if s.jobs == nil {
			return 0
		}
		return s.jobs.Running()
	}}
	so, ok := s.st.(storeObserver)
	if ok {
		src.WALBytes = so.WALBytes
	}
	m := metrics.New(src)
	if ok {
		so.ObserveWrites(m.StoreWrite)
	}
	return m
}

// stopObserving disconnects the store from the metrics (Close).
func (s *Server) stopObserving() {
	if so, ok := s.st.(storeObserver); ok {
		so.ObserveWrites(nil)
	}
}

// Metrics is the server's Prometheus instrumentation (device sync handlers
// count their syncs with Metrics().DeviceSync).
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// serveMetrics serves GET /metrics: the server's registry in the
// Prometheus text format.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request, t site.Target) error {
	s.metrics.Handler().ServeHTTP(w, r)
	return nil
}

// label names a group in metrics until a row of it is chosen: the pattern
// of its first row.
func (g *group) label() string {
	if len(g.collection) > 0 {
		return g.collection[0].pattern
	}
	return g.single[0].pattern
}

// newConsole makes the operations console over the store's console
// summaries (store.SQLite keeps them; another store gets a console whose
// APIs answer 503).
func (s *Server) newConsole() *console.Service {
	cs, _ := s.st.(console.Store)
	return console.New(console.Config{Site: s.site, Store: cs, Resources: s.resources, Metrics: s.metrics, Running: s.jobs.Running, Log: s.log,
		// s.mobile is made after the console (it is set before serving).
		Components: func(ctx context.Context) ([]mobile.Component, error) { return s.mobile.Components(ctx) }})
}
