// Package sdata is the HTTP face of the provider: the SData URL grammar, the
// router, the resource handlers (CRUD, query and paging, $schema, $template)
// and the diagnoses every error leaves as.
package sdata

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"

	"sdatasync/contracts"
	"sdatasync/digest"
	"sdatasync/feeds"
	"sdatasync/sdata/store"
)

// Defaults and limits of the HTTP layer.
const (
	DefaultMaxBody   = 16 << 20 // bytes of a request body
	DefaultPageSize  = 100      // entries of a page when count is not given
	MaxPageSize      = 1000     // the cap on count, reported in opensearch:itemsPerPage
	DefaultMaxDepth  = 64       // XML nesting depth of a request body
	DefaultDatasetID = "-"
)

// Config configures a Server.
type Config struct {
	App              string              // application name in URLs
	Contract         *contracts.Contract // the contract served (New marks its child kinds as not synchronized on their own)
	Datasets         []string            // datasets; "-" is always added
	BaseURL          string              // externally visible base URL, e.g. http://127.0.0.1:8080
	ConflictPriority int                 // default endpoint conflict priority (1..9) for kinds that declare none
	MaxBody          int64               // request body limit in bytes (0: DefaultMaxBody)
	JobTTL           time.Duration       // how long unclaimed sync jobs live (0: DefaultJobTTL)
	AliasTTL         time.Duration       // how long a former UUID keeps naming a relinked resource (0: DefaultAliasTTL)
	PushTo           []string            // immediate push targets: dataset or resource-kind URLs of other providers
	PushClient       *http.Client        // client for pushes (nil: a default with a 30 s timeout)
	Logger           *slog.Logger
}

// Server serves one contract of one application over a Store.
type Server struct {
	cfg      Config
	st       store.Store
	log      *slog.Logger
	base     string // BaseURL without trailing slash
	datasets []string
	eps      map[epKey]store.Endpoint
	limits   feeds.Limits
	router   *mux.Router

	life context.Context // cancelled by Close: the lifetime of background jobs
	stop context.CancelFunc
	jobs sync.WaitGroup
	// running signals the end of each background job to the GETs polling it.
	running runningJobs
	// results keeps the results of the last target jobs for their GETs.
	results recentResults
	// purging and purgePending coordinate the background purge of freed jobs.
	purging, purgePending atomic.Bool
	push                  *pusher // nil without push targets

	children map[string]childLink // child kinds (plural name), served as views of their parents
}

type epKey struct{ dataset, kind string }

// New creates the server and makes sure every (dataset, resource kind)
// endpoint exists in the store. An endpoint keeps the URL it was created
// with; when the configured base URL no longer matches, a warning is logged.
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
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, st: st, log: cfg.Logger, base: strings.TrimRight(cfg.BaseURL, "/"),
		eps: map[epKey]store.Endpoint{}, limits: feeds.Limits{MaxDepth: DefaultMaxDepth, MaxBytes: cfg.MaxBody}}
	s.children = findChildKinds(cfg.Contract)
	s.datasets = []string{DefaultDatasetID}
	for _, d := range cfg.Datasets {
		if !validSegment(d) {
			return nil, fmt.Errorf("sdata: invalid dataset name %q", d)
		}
		if !slices.Contains(s.datasets, d) {
			s.datasets = append(s.datasets, d)
		}
	}
	for _, ds := range s.datasets {
		for _, k := range cfg.Contract.Kinds {
			prio := k.SyncConflictPriority
			if prio == 0 {
				prio = cfg.ConflictPriority
			}
			want := s.kindURL(ds, k)
			ep, err := st.Endpoint(ctx, ds, k.PluralName, want, prio)
			if err != nil {
				return nil, err
			}
			if ep.URL != want {
				s.log.Warn("endpoint keeps the URL it was created with; the configured base URL differs",
					"dataset", ds, "kind", k.PluralName, "endpoint", ep.URL, "configured", want)
			}
			s.eps[epKey{ds, k.PluralName}] = ep
		}
	}
	s.router = s.routes()
	s.life, s.stop = context.WithCancel(context.WithoutCancel(ctx))
	if err := s.resumeJobs(ctx); err != nil {
		s.Close()
		return nil, err
	}
	s.jobs.Add(1)
	go func() {
		defer s.jobs.Done()
		s.sweep(time.Minute)
	}()
	if len(cfg.PushTo) > 0 {
		p, err := newPusher(s, cfg.PushTo, cfg.PushClient)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.push = p
		s.jobs.Add(1)
		go func() {
			defer s.jobs.Done()
			p.run(s.life)
		}()
	}
	return s, nil
}

var segmentRE = regexp.MustCompile(`^[A-Za-z0-9_.~-]+$`)

func validSegment(s string) bool { return segmentRE.MatchString(s) && !strings.HasPrefix(s, "$") }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

// Endpoint returns the store endpoint of kind (plural name) in dataset.
func (s *Server) Endpoint(dataset, kind string) (store.Endpoint, bool) {
	ep, ok := s.eps[epKey{dataset, kind}]
	return ep, ok
}

// Datasets lists the datasets served.
func (s *Server) Datasets() []string { return slices.Clone(s.datasets) }

// appURL is the application URL; contractURL, datasetURL and kindURL build on it.
func (s *Server) contractURL() string {
	return s.base + "/sdata/" + url.PathEscape(s.cfg.App) + "/" + url.PathEscape(s.cfg.Contract.Name)
}
func (s *Server) datasetURL(ds string) string { return s.contractURL() + "/" + url.PathEscape(ds) }
func (s *Server) kindURL(ds string, k *contracts.ResourceKind) string {
	return s.datasetURL(ds) + "/" + k.PluralName
}
func (s *Server) resourceURL(ds string, k *contracts.ResourceKind, key string) string {
	return s.kindURL(ds, k) + "('" + url.PathEscape(strings.ReplaceAll(key, "'", "''")) + "')"
}

// handlerFunc is a handler that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) wrap(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			writeError(w, asError(r.Context(), s.log, err))
		}
	}
}

func (s *Server) routes() *mux.Router {
	m := mux.NewRouter()
	m.StrictSlash(false)
	m.Use(s.logRequests)
	m.HandleFunc("/healthz", s.wrap(s.health))
	m.HandleFunc("/sdata", s.wrap(s.listApps))
	m.HandleFunc("/sdata/$system/registry/-/{seg}", s.wrap(s.registryLevel))
	m.HandleFunc("/sdata/$system/registry/-/{seg}/{op}", s.wrap(s.registryOp))
	m.PathPrefix("/sdata/$system").Handler(s.wrap(s.systemNotFound))
	m.HandleFunc("/sdata/{app}", s.wrap(s.listContracts))
	m.HandleFunc("/sdata/{app}/{contract}", s.wrap(s.contractLevel))
	m.HandleFunc("/sdata/{app}/{contract}/{dataset}", s.wrap(s.datasetLevel))
	m.HandleFunc("/sdata/{app}/{contract}/{dataset}/{kind}", s.wrap(s.kindLevel))
	m.HandleFunc("/sdata/{app}/{contract}/{dataset}/{kind}/{op}", s.wrap(s.kindOp))
	m.NotFoundHandler = s.wrap(func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusNotFound, CodeBadURLSyntax, "no SData resource at %s: URLs have the form /sdata/{application}/{contract}/{dataset}/{resourceKind}", r.URL.Path)
	})
	return m
}

// statusWriter records the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets streaming handlers flush through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		attrs := []slog.Attr{slog.String("method", r.Method), slog.String("uri", r.URL.RequestURI()),
			slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)), slog.String("client", r.RemoteAddr)}
		// Sync requests are tagged with their run, for auditors reading logs.
		if strings.Contains(r.URL.Path, "/$sync") || strings.Contains(r.URL.Path, "/$batch") {
			ru := runOf(r)
			attrs = append(attrs, slog.String("runName", ru.name), slog.String("runStamp", ru.stamp), slog.String("trackingID", ru.tracking),
				slog.String("kind", mux.Vars(r)["kind"]))
		}
		s.log.LogAttrs(r.Context(), levelFor(sw.status), "request", attrs...)
	})
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	if err := allow(r, http.MethodGet, http.MethodHead); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := fmt.Fprintln(w, "ok")
	return err
}

// allow returns a 405 Error unless r's method is one of methods.
func allow(r *http.Request, methods ...string) error {
	if slices.Contains(methods, r.Method) {
		return nil
	}
	if r.Method == http.MethodHead && slices.Contains(methods, http.MethodGet) {
		return nil
	}
	e := errorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method %s is not allowed here; allowed: %s", r.Method, strings.Join(methods, ", "))
	e.Allow = strings.Join(methods, ", ")
	return e
}

// scope is what the URL path named, resolved against the configuration.
type scope struct {
	dataset string
	kind    *contracts.ResourceKind
	ep      store.Endpoint
	key     string // single-resource key, "" for the collection
	single  bool
}

func (s *Server) checkApp(r *http.Request) error {
	v := mux.Vars(r)
	if v["app"] != s.cfg.App {
		return errorf(http.StatusNotFound, CodeApplicationNotFound, "application %q not found (this provider serves %q)", v["app"], s.cfg.App)
	}
	if c, ok := v["contract"]; ok && c != s.cfg.Contract.Name {
		return errorf(http.StatusNotFound, CodeContractNotFound, "contract %q not found (this provider serves %q)", c, s.cfg.Contract.Name)
	}
	if ds, ok := v["dataset"]; ok && !slices.Contains(s.datasets, ds) {
		return errorf(http.StatusNotFound, CodeDatasetNotFound, "dataset %q not found; datasets: %s", ds, strings.Join(s.datasets, ", "))
	}
	return nil
}

// resolve parses the {kind} segment: `kinds`, `kinds('key')` or `kinds(key)`.
func (s *Server) resolve(r *http.Request) (scope, error) {
	if err := s.checkApp(r); err != nil {
		return scope{}, err
	}
	v := mux.Vars(r)
	sc := scope{dataset: v["dataset"]}
	seg := v["kind"]
	name := seg
	if i := strings.IndexByte(seg, '('); i >= 0 {
		if !strings.HasSuffix(seg, ")") {
			return scope{}, errorf(http.StatusBadRequest, CodeBadURLSyntax, "malformed resource selector %q: expected %s('key')", seg, seg[:i])
		}
		name = seg[:i]
		key, err := parseKey(seg[i+1 : len(seg)-1])
		if err != nil {
			return scope{}, errorf(http.StatusBadRequest, CodeBadURLSyntax, "malformed resource selector %q: %v", seg, err)
		}
		sc.key, sc.single = key, true
	}
	if strings.HasPrefix(name, "$") {
		return scope{}, errorf(http.StatusNotFound, CodeBadURLSyntax, "%q is not a resource kind or a service of the dataset", name)
	}
	sc.kind = s.cfg.Contract.Kind(name)
	if sc.kind == nil || sc.kind.PluralName != name && sc.kind.Name != name {
		return scope{}, errorf(http.StatusNotFound, CodeResourceKindNotFound, "resource kind %q not found in contract %q", name, s.cfg.Contract.Name)
	}
	sc.ep = s.eps[epKey{sc.dataset, sc.kind.PluralName}]
	return sc, nil
}

// parseKey reads a key selector's content: 'quoted' (” escapes a quote) or a bare token.
func parseKey(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("empty key")
	}
	if s[0] != '\'' {
		if strings.ContainsAny(s, "'() ") {
			return "", fmt.Errorf("unquoted key %q", s)
		}
		return s, nil
	}
	if len(s) < 2 || s[len(s)-1] != '\'' {
		return "", fmt.Errorf("unterminated quoted key")
	}
	inner := s[1 : len(s)-1]
	var b strings.Builder
	for i := 0; i < len(inner); i++ {
		if inner[i] == '\'' {
			if i+1 < len(inner) && inner[i+1] == '\'' {
				b.WriteByte('\'')
				i++
				continue
			}
			return "", fmt.Errorf("stray quote in key")
		}
		b.WriteByte(inner[i])
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("empty key")
	}
	return b.String(), nil
}
