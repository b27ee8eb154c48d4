// Package sdata is the provider's HTTP face: the route table (routes.go,
// every URL the provider serves with its methods, on one screen), the
// router that resolves what a URL names, the handlers of resources and
// metadata, and the wiring of the packages behind the table: resources
// (local reads and writes), syncurls (the four sync URLs), batch,
// registry, jobs (the runtime of asynchronous jobs) and push (immediate
// sync to other providers). Errors leave as sdata:diagnoses (package diag).
package sdata

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"sdatasync/contracts"
	"sdatasync/digest"
	"sdatasync/feeds"
	"sdatasync/sdata/admin"
	"sdatasync/sdata/auth"
	"sdatasync/sdata/batch"
	"sdatasync/sdata/console"
	"sdatasync/sdata/devjobs"
	"sdatasync/sdata/jobs"
	"sdatasync/sdata/metrics"
	"sdatasync/sdata/mobile"
	"sdatasync/sdata/push"
	"sdatasync/sdata/registry"
	"sdatasync/sdata/resources"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
	"sdatasync/sdata/syncurls"

	"github.com/beevik/etree"
)

// Defaults and limits of the HTTP layer.
const (
	DefaultMaxBody   = 16 << 20 // bytes of a request body
	DefaultMaxDepth  = 64       // XML nesting depth of a request body
	DefaultDatasetID = site.DefaultDataset
	DefaultAliasTTL  = 30 * 24 * time.Hour // how long a former UUID keeps naming a relinked resource
)

// Config configures a Server.
type Config struct {
	App              string              // application name in URLs
	Contract         *contracts.Contract // the contract served (New marks its child kinds as not synchronized on their own)
	Datasets         []string            // datasets; "-" is always added
	BaseURL          string              // externally visible base URL, e.g. http://127.0.0.1:8080
	ConflictPriority int                 // default endpoint conflict priority (1..9) for kinds that declare none
	MaxBody          int64               // request body limit in bytes (0: DefaultMaxBody)
	JobTTL           time.Duration       // how long unclaimed jobs live (0: jobs.DefaultTTL)
	AliasTTL         time.Duration       // how long a former UUID keeps naming a relinked resource (0: DefaultAliasTTL)
	PushTo           []string            // immediate push targets: dataset or resource-kind URLs of other providers
	PushClient       *http.Client        // client for pushes (nil: a default with a 30 s timeout)
	// Stall is how long a request body or an answer may make no progress
	// before its connection is cut (0: DefaultStall).
	Stall time.Duration
	// MaxInFlight is how many requests run at once; more are answered 503
	// with Retry-After (0: DefaultMaxInFlight).
	MaxInFlight int
	// MobileComponents, when set, is a component file (a JSON array of
	// mobile sync components) loaded at start (device sync, issue 14).
	MobileComponents string
	// Auth authenticates requests; nil runs the provider without
	// authentication (every request is auth.Unchecked: only for
	// --insecure-no-auth on loopback, and tests).
	Auth   auth.Authenticator
	Logger *slog.Logger
	// DeviceJobs configures the asynchronous device sync jobs (POST /sync);
	// New fills its store, runtime, logger, base URL and body limit.
	DeviceJobs devjobs.Config
}

// Server serves one contract of one application over a Store.
type Server struct {
	cfg    Config
	st     store.Store
	log    *slog.Logger
	site   *site.Site
	limits feeds.Limits

	jobs      *jobs.Runtime
	resources *resources.Service
	sync      *syncurls.Service
	batch     *batch.Service
	registry  *registry.Service
	admin     *admin.Service
	push      *push.Pusher // nil without push targets
	metrics   *metrics.Metrics
	console   *console.Service
	mobile    *mobile.Engine
	devjobs   *devjobs.Service

	handler http.Handler
}

// New creates the server, makes sure every (dataset, resource kind)
// endpoint exists in the store, resumes the jobs a previous process left
// running and starts the background work (expiry, purges, pushes), which
// Close stops.
func New(ctx context.Context, cfg Config, st store.Store) (*Server, error) {
	if cfg.Contract == nil {
		return nil, fmt.Errorf("sdata: no contract")
	}
	if cfg.App == "" {
		cfg.App = "sdatasync"
	}
	if cfg.ConflictPriority == 0 {
		cfg.ConflictPriority = digest.DefaultConflictPriority
	}
	if cfg.ConflictPriority < 1 || cfg.ConflictPriority > 9 {
		return nil, fmt.Errorf("sdata: conflict priority %d out of range 1..9", cfg.ConflictPriority)
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.AliasTTL <= 0 {
		cfg.AliasTTL = DefaultAliasTTL
	}
	if cfg.Stall <= 0 {
		cfg.Stall = DefaultStall
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	st2, err := site.New(ctx, site.Config{Base: cfg.BaseURL, App: cfg.App, Contract: cfg.Contract, Datasets: cfg.Datasets,
		ConflictPriority: cfg.ConflictPriority}, st, cfg.Logger)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, st: st, log: cfg.Logger, site: st2, limits: feeds.Limits{MaxDepth: DefaultMaxDepth, MaxBytes: cfg.MaxBody}}
	s.metrics = s.newMetrics()
	s.jobs = jobs.New(ctx, jobs.Config{Store: st, Site: s.site, Log: s.log, TTL: cfg.JobTTL, Observe: s.metrics.Audited})
	s.resources = &resources.Service{Site: s.site, Store: st}
	s.registry = registry.New(registry.Config{Site: s.site, Store: st, Log: s.log, MaxBody: cfg.MaxBody, Limits: s.limits})
	s.sync = syncurls.New(syncurls.Config{Site: s.site, Store: st, Jobs: s.jobs, Log: s.log, MaxBody: cfg.MaxBody, Limits: s.limits,
		Priorities: s.registry.Priorities})
	s.admin = admin.New(st, s.jobs.Audit)
	s.batch = batch.New(batch.Config{Site: s.site, Resources: s.resources, Store: st, Jobs: s.jobs, Log: s.log, MaxBody: cfg.MaxBody, Limits: s.limits})
	s.console = s.newConsole()
	if len(cfg.PushTo) > 0 {
		p, err := push.New(push.Config{Site: s.site, Store: st, Log: s.log, Targets: cfg.PushTo, Client: cfg.PushClient,
			MaxBody: cfg.MaxBody, Limits: s.limits})
		if err != nil {
			s.jobs.Close()
			return nil, err
		}
		s.push = p
		s.resources.OnChange = p.Notify
	}
	ms, ok := st.(store.Mobile)
	if !ok {
		s.jobs.Close()
		return nil, fmt.Errorf("sdata: device sync needs a store that implements store.Mobile")
	}
	if s.mobile, err = mobile.New(ctx, mobile.Config{Site: s.site, Store: ms, Logger: s.log, OnChange: s.resources.Changed,
		OnSync: s.metrics.DeviceSync}); err == nil && cfg.MobileComponents != "" {
		var n int
		n, err = s.mobile.LoadFile(ctx, cfg.MobileComponents)
		s.log.Info("mobile sync components loaded", "file", cfg.MobileComponents, "count", n)
	}
	if err != nil {
		s.jobs.Close()
		return nil, err
	}
	if s.devjobs, err = s.newDevJobs(); err != nil {
		s.jobs.Close()
		return nil, err
	}
	s.handler = s.metrics.Middleware(s.guard(s.methodOverride(s.dotSegments(s.router(s.routes())))))
	if err := s.jobs.Resume(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.devjobs.Start(ctx); err != nil {
		s.Close()
		return nil, err
	}
	s.jobs.Every(time.Minute, s.retire)
	if s.push != nil {
		s.jobs.Go(s.push.Run)
	}
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Close stops the background work (jobs, expiry, purges, pushes) and waits
// for it. A job interrupted here stays running in the store and resumes at
// the next start.
func (s *Server) Close() error {
	s.jobs.Close()
	s.stopObserving()
	return nil
}

// Endpoint returns the store endpoint of kind (plural name) in dataset.
func (s *Server) Endpoint(dataset, kind string) (store.Endpoint, bool) {
	return s.site.Endpoint(dataset, kind)
}

// Mobile is the device-sync engine (issue 14), for the wire formats and
// tools built on it.
func (s *Server) Mobile() *mobile.Engine { return s.mobile }

// Datasets lists the datasets served.
func (s *Server) Datasets() []string { return s.site.Datasets() }

// Contract is the contract served.
func (s *Server) Contract() *contracts.Contract { return s.site.Contract }

// CreateLocal creates a resource of kind (plural name) in dataset from a
// payload element through the same validation and write path as a POST.
func (s *Server) CreateLocal(ctx context.Context, dataset, kind string, el *etree.Element, user string) (store.Resource, error) {
	return s.resources.CreateLocal(ctx, dataset, kind, el, user)
}

// Empty reports whether no resource of any kind (tombstones included) was
// ever stored in dataset.
func (s *Server) Empty(ctx context.Context, dataset string) (bool, error) {
	for _, k := range s.site.Contract.Kinds {
		ep, _ := s.site.Endpoint(dataset, k.PluralName)
		_, n, err := s.st.List(ctx, ep, store.ListQuery{Limit: 1, IncludeDeleted: true})
		if err != nil || n > 0 {
			return false, err
		}
	}
	return true, nil
}

// retire retires the UUID aliases older than the alias TTL at now.
func (s *Server) retire(ctx context.Context, now time.Time) {
	if n, err := s.st.RetireAliases(ctx, now.Add(-s.cfg.AliasTTL)); err != nil {
		if ctx.Err() == nil {
			s.log.Error("retiring UUID aliases", "err", err)
		}
	} else if n > 0 {
		s.log.Info("retired UUID aliases", "count", n, "olderThan", s.cfg.AliasTTL)
	}
}
