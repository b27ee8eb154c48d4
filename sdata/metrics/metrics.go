// Package metrics is the provider's Prometheus instrumentation: one
// registry per Server (never the global default registry), the HTTP
// middleware that counts requests by route-table row (never the raw URL),
// and the collectors the sync, job, store and device layers feed. Handler
// serves the registry in the Prometheus text format for GET /metrics.
//
// Names follow the Prometheus conventions: the sdatasync_ prefix, base units
// in names (_seconds, _bytes), _total on counters, and labels of bounded
// cardinality only (route patterns, methods, status codes, resource kinds of
// the contract, outcomes, job types, device sync statuses).
package metrics

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric name.
const Namespace = "sdatasync"

// Unmatched is the route label of a request that matched no row of the
// route table (a 404 BadUrlSyntax, or a request refused before routing).
const Unmatched = "unmatched"

// Outcome labels of synchronized entries.
const (
	Applied    = "applied"
	Skipped    = "skipped"
	Conflicted = "conflicted"
	Invalid    = "invalid"
)

// Source of the gauges read at scrape time; every field may be nil.
type Source struct {
	// RunningJobs is how many jobs (source, target, batch) run now.
	RunningJobs func() int
	// WALBytes is the size of the store's write-ahead log.
	WALBytes func() int64
}

// Metrics holds a provider's collectors and their registry.
type Metrics struct {
	reg *prometheus.Registry

	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	entries       *prometheus.CounterVec
	jobDuration   *prometheus.HistogramVec
	storeWrites   prometheus.Histogram
	deviceSyncs   *prometheus.CounterVec
	consoleWrites *prometheus.CounterVec
}

// New makes the collectors and registers them, with the Go runtime and
// process collectors, in a fresh registry.
func New(src Source) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "http_requests_total",
		Help: "HTTP requests answered, by route-table pattern, method and status code."}, []string{"route", "method", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route-table pattern and method.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"route", "method"})
	m.entries = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "sync_entries_total",
		Help: "Sync feed entries processed as a target, by dataset, resource kind and outcome (applied, skipped, conflicted, invalid)."},
		[]string{"dataset", "kind", "outcome"})
	m.jobDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "sync_job_duration_seconds",
		Help:    "Duration of the work of sync jobs: a source selection, or a target applying one feed page, by job type and resource kind.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14)}, []string{"type", "kind"})
	m.storeWrites = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "store_write_duration_seconds",
		Help:    "Duration of store writes, from the call to the commit: waiting for the writer included (queued writes share a transaction).",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 14)})
	m.deviceSyncs = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "device_syncs_total",
		Help: "Device synchronizations, by status (ok, conflict, failed, refused)."}, []string{"status"})
	m.consoleWrites = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "console_restores_total",
		Help: "Losing versions of conflicts restored from the console, by resource kind."}, []string{"kind"})
	m.reg.MustRegister(m.requests, m.latency, m.entries, m.jobDuration, m.storeWrites, m.deviceSyncs, m.consoleWrites,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, st := range DeviceStatuses() {
		m.deviceSyncs.WithLabelValues(st) // exported at 0 before the first device syncs
	}
	if src.RunningJobs != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "jobs_running",
			Help: "Asynchronous jobs (sync source, sync target, batch) running now."}, func() float64 { return float64(src.RunningJobs()) }))
	}
	if src.WALBytes != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "store_wal_size_bytes",
			Help: "Size of the store's SQLite write-ahead log file."}, func() float64 { return float64(src.WALBytes()) }))
	}
	return m
}

// Registry is the registry the collectors live in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// routeKey carries the route slot of a request.
type routeKey struct{}

// routeSlot is where the router writes the pattern of the row that served a
// request.
type routeSlot struct{ pattern string }

// SetRoute names the route-table row serving the request of ctx (called by
// the router once it has chosen the row); outside Middleware it does
// nothing.
func SetRoute(ctx context.Context, pattern string) {
	if s, ok := ctx.Value(routeKey{}).(*routeSlot); ok {
		s.pattern = pattern
	}
}

// statusRecorder records the status of an answer.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets streaming handlers flush through the recorder.
func (w *statusRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Middleware counts and times every request by the route-table row that
// served it (SetRoute), its method and its status code. Methods outside
// the standard set are counted as "other", to keep the label bounded.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		slot := &routeSlot{}
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), routeKey{}, slot)))
		route := slot.pattern
		if route == "" {
			route = Unmatched
		}
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		method := methodLabel(r.Method)
		m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
		m.latency.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
	})
}

func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions:
		return method
	}
	return "other"
}

// SyncEntries adds n entries of kind in dataset with an outcome (Applied,
// Skipped, Conflicted, Invalid).
func (m *Metrics) SyncEntries(dataset, kind, outcome string, n int) {
	if n > 0 {
		m.entries.WithLabelValues(dataset, kind, outcome).Add(float64(n))
	}
}

// JobDone observes the duration of the work of a job of type typ (source,
// target, batch) on kind.
func (m *Metrics) JobDone(typ, kind string, d time.Duration) {
	m.jobDuration.WithLabelValues(typ, kind).Observe(d.Seconds())
}

// StoreWrite observes the duration of one store write (queue and commit).
func (m *Metrics) StoreWrite(d time.Duration) { m.storeWrites.Observe(d.Seconds()) }

// DeviceStatuses are the status labels of device syncs.
func DeviceStatuses() []string { return []string{"ok", "conflict", "failed", "refused"} }

// DeviceSync counts one device synchronization with its status (one of
// DeviceStatuses; anything else counts as "failed", to keep the label
// bounded): the device sync handlers call it.
func (m *Metrics) DeviceSync(status string) {
	if !slices.Contains(DeviceStatuses(), status) {
		status = "failed"
	}
	m.deviceSyncs.WithLabelValues(status).Inc()
}

// Restored counts one losing version restored from the console.
func (m *Metrics) Restored(kind string) { m.consoleWrites.WithLabelValues(kind).Inc() }
