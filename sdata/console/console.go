// Package console is the provider's operations console, served at
// /console/: a page of plain HTML, CSS and JavaScript embedded in the
// binary (no build step, no network), and the JSON APIs behind it, each a
// row of the route table: endpoints and their digests, runs and their
// detail, live jobs, conflicts with both versions and the restore of the
// losing one, charts, the registry, devices. Reads need the auditor role,
// the restore needs writer (route table). Every read is a paged, indexed
// query (store/console.go): the console stays fast on big stores.
package console

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"sdatasync/sdata/diag"
	"sdatasync/sdata/metrics"
	"sdatasync/sdata/mobile"
	"sdatasync/sdata/resources"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
	"sdatasync/sdata/wire"
)

//go:embed assets
var assets embed.FS

// Prefix is the path of the console.
const Prefix = "/console/"

// Store is what the console reads: the audit log and the summaries the
// store keeps for it (store.SQLite).
type Store interface {
	Runs(ctx context.Context, q store.RunQuery) ([]store.RunSummary, int, error)
	RunKinds(ctx context.Context, runName, runStamp string) ([]store.RunSummary, error)
	RunErrors(ctx context.Context, runName, runStamp string, limit int) ([]store.AuditRecord, error)
	AuditLog(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, int, error)
	AuditRecordByID(ctx context.Context, id int64) (store.AuditRecord, error)
	Audit(ctx context.Context, recs ...store.AuditRecord) error
	DailyCounts(ctx context.Context, operation string, since time.Time) ([]store.DailyCount, error)
	Jobs(ctx context.Context, limit int) ([]store.JobInfo, error)
	EndpointDigests(ctx context.Context) ([]store.EndpointDigest, error)
	RegistryList(ctx context.Context, builtin []store.RegistryEntry, q store.ListQuery) ([]store.RegistryEntry, int, error)
	Get(ctx context.Context, ep store.Endpoint, key string) (store.Resource, error)
	ConsoleDevices(ctx context.Context, q store.ConsoleDeviceQuery) ([]store.MobileDevice, string, error)
}

// Config configures the console.
type Config struct {
	Site      *site.Site
	Store     Store // nil: the store keeps no console summaries; the APIs answer 503
	Resources *resources.Service
	Metrics   *metrics.Metrics
	// Running is how many jobs run in this process now.
	Running func() int
	// Components lists the mobile sync components (nil: device sync is
	// not served; the devices page says so).
	Components func(ctx context.Context) ([]mobile.Component, error)
	Log        *slog.Logger
}

// Service serves the console.
type Service struct {
	site    *site.Site
	st      Store
	res     *resources.Service
	metrics *metrics.Metrics
	running func() int
	comps   func(ctx context.Context) ([]mobile.Component, error)
	log     *slog.Logger
	files   http.Handler
}

// New makes the console.
func New(cfg Config) *Service {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is part of the binary
	}
	s := &Service{site: cfg.Site, st: cfg.Store, res: cfg.Resources, metrics: cfg.Metrics, running: cfg.Running, comps: cfg.Components, log: cfg.Log,
		files: http.FileServerFS(sub)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.running == nil {
		s.running = func() int { return 0 }
	}
	return s
}

// csp is the Content-Security-Policy of the console: its own scripts,
// styles and API only; no inline script, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// secure sets the headers of every console answer.
func secure(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// Redirect serves GET /console: to /console/.
func (s *Service) Redirect(w http.ResponseWriter, r *http.Request, t site.Target) error {
	secure(w)
	http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
	return nil
}

// Assets serves the page and its scripts and styles (GET /console/...).
func (s *Service) Assets(w http.ResponseWriter, r *http.Request, t site.Target) error {
	secure(w)
	name := strings.TrimPrefix(r.URL.Path, Prefix)
	if name == "" {
		name = "index.html"
	}
	if f, err := fs.Stat(assets, path.Join("assets", name)); err != nil || f.IsDir() || strings.Contains(name, "..") {
		return diag.New(diag.NoSuchURL, "no console page at %s", r.URL.Path)
	}
	w.Header().Set("Cache-Control", "no-cache")
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + name
	if name == "index.html" {
		r2.URL.Path = "/" // FileServer serves index.html for the folder
	}
	s.files.ServeHTTP(w, r2)
	return nil
}

// writeJSON answers v as JSON, never cached.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	secure(w)
	return wire.WriteJSON(w, status, v)
}

// ready answers 503 when the store keeps no console summaries.
func (s *Service) ready() error {
	if s.st == nil {
		return diag.New(diag.Unavailable, "this provider's store keeps no console summaries")
	}
	return nil
}
