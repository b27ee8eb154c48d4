// Package devjobs serves asynchronous per-device sync jobs (issue 15): a
// device posts everything it changed since its last sync (POST /sync, the
// changes inline or by an upload URL this server issued), gets a
// SyncJobUUID at once and polls /sync/jobinfo/{id} until the server has
// merged its changes and prepared what changed on the server since; the
// two answers are streamed from /sync/results/{id}/local and /remote.
//
// One job runs at a time per DeviceExternalID; when a job ends, only the
// newest queued request of its device runs and the older queued ones are
// skipped, superseded by it. Devices run in parallel on a bounded pool of
// workers owned by the job runtime. Jobs, their queue, their answers and
// the LastSyncDateTime cursors the server issues are persisted: a restart
// resumes a running job from its last recorded step (each step, one
// synchronize call of a component, is recorded with its results, its
// server changes and the job's progress in one transaction; a step cut
// before it was recorded is sent again, which the engine makes safe).
//
// The merge and the selection of server changes are the device-sync
// engine's (Engine, the engine of the synchronize service): one engine,
// two wire formats.
package devjobs

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"sdatasync/sdata/jobs"
	"sdatasync/sdata/store"
)

// Defaults of the service.
const (
	DefaultWorkers     = 4                // jobs running at once (of different devices)
	DefaultResultTTL   = 24 * time.Hour   // how long a finished job and its answers live
	DefaultUploadTTL   = time.Hour        // how long an upload URL may be used
	DefaultMaxUpload   = 64 << 20         // bytes of an upload
	DefaultMaxBody     = 16 << 20         // bytes of a POST /sync body
	InlineMax          = 500 << 10        // an inline LocalDataUpdates above this is kept as an upload
	DefaultPageRows    = 1000             // server changes asked of the engine at a time
	DefaultKeepCursors = 20               // issued cursors kept per device
	DefaultSkew        = 5 * time.Minute  // margin for a LastSyncDateTime the server did not issue
	dispatchEvery      = 2 * time.Second  // the dispatcher looks at the queue at least this often
	purgeEvery         = time.Minute      // how often expired jobs and uploads are purged
	rowsChunk          = 1000             // answer rows read from the store at a time
	cursorLayout       = time.RFC3339Nano // the form of an issued LastSyncDateTime
)

// Row is one row of a mobile sync component in the shape of the
// synchronize service (issue 14): uid, actionId (0 insert, 1 delete, 2
// update), mDataRow, and in answers to rows a device sent, rowStatus (0
// done, 1 failed, 2 conflict resolved by the component's rule, 3 conflict
// left unresolved: resubmit).
type Row struct {
	UID       string          `json:"uid,omitempty"`
	ActionID  int             `json:"actionId"`
	MDataRow  json.RawMessage `json:"mDataRow,omitempty"`
	RowStatus *int            `json:"rowStatus,omitempty"`
	// Message says why a row failed (not part of the synchronize shape;
	// omitted when empty).
	Message string `json:"message,omitempty"`
}

// The action ids of rows.
const (
	ActionInsert = 0
	ActionDelete = 1
	ActionUpdate = 2
)

// Device is who a job syncs for: the device fields of its request and the
// principal that posted it.
type Device struct {
	ExternalID   string // DeviceExternalID
	ClientDBUUID string
	App          string // BrandedAppID
	AppVersion   string // SoftwareVersion
	User         string // UserFullName
	Principal    string
	// Filters are the filter values per component alias (the request's
	// Filters member, an extension of the API: components with filter
	// keys need them).
	Filters map[string]map[string][]string
	// Job and RunStamp tag what the engine records of a job's calls: the
	// SyncJobUUID (trackingID) and the job's run stamp.
	Job, RunStamp string
}

// Component is a mobile sync component as jobs see it.
type Component struct {
	Alias   string
	Dataset string
	Kind    string
}

// Engine is the device-sync engine as the job layer uses it (package
// sdata adapts the engine of the synchronize service to it).
type Engine interface {
	// Component returns the component alias names, when dev may use it;
	// an error otherwise (the request is refused with a 400 carrying it).
	Component(ctx context.Context, dev Device, alias string) (Component, error)
	// Components lists the components whose server changes dev receives.
	Components(ctx context.Context, dev Device) ([]Component, error)
	// Sync is one synchronize call of a component: it merges rows (at
	// most MaxRows; none is fine) from what dev last saw of the component
	// (version; "" for nothing: a full download) under the component's
	// conflict rule, then selects up to limit server changes since
	// version, leaving out the rows whose state its results carry. Sent
	// again after a crash with the same rows and version, it gives the same
	// results and changes nothing more.
	Sync(ctx context.Context, dev Device, alias, version string, rows []Row, limit int) (Page, error)
	// MaxRows is the most rows one Sync takes.
	MaxRows() int
}

// Page is what one Sync did: a result per row sent, in order; the server
// changes selected; the version the device holds once it has them; and
// whether more changes remain.
type Page struct {
	Results []Row
	Changes []Row
	Next    string
	More    bool
}

// Config configures the service.
type Config struct {
	Store  store.DevJobStore
	Engine Engine        // nil: the routes answer 503 (no device-sync engine configured)
	Jobs   *jobs.Runtime // owns the goroutines; writes the audit log
	Log    *slog.Logger
	// BaseURL is the provider's external URL, the base of the URLs in
	// answers and of the upload URLs it accepts.
	BaseURL     string
	Workers     int           // 0: DefaultWorkers
	ResultTTL   time.Duration // 0: DefaultResultTTL
	UploadTTL   time.Duration // 0: DefaultUploadTTL
	MaxUpload   int64         // 0: DefaultMaxUpload
	MaxBody     int64         // 0: DefaultMaxBody
	PageRows    int           // 0: DefaultPageRows
	KeepCursors int           // 0: DefaultKeepCursors
	Skew        time.Duration // 0: DefaultSkew
}

// Service serves the device job routes and runs the jobs.
type Service struct {
	cfg  Config
	st   store.DevJobStore
	eng  Engine
	rt   *jobs.Runtime
	log  *slog.Logger
	wake chan struct{}     // a buffered wake-up of the dispatcher
	work chan store.DevJob // jobs for the workers
	busy atomic.Int64      // jobs handed to workers and not finished

	mu       sync.Mutex
	inflight map[string]bool // ClientDBUUIDs of POST /sync requests being handled
}

// New creates the service. Start starts its dispatcher, workers and
// purger on the job runtime's goroutines.
func New(cfg Config) *Service {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.ResultTTL <= 0 {
		cfg.ResultTTL = DefaultResultTTL
	}
	if cfg.UploadTTL <= 0 {
		cfg.UploadTTL = DefaultUploadTTL
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = DefaultMaxUpload
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.PageRows <= 0 {
		cfg.PageRows = DefaultPageRows
	}
	if cfg.KeepCursors <= 0 {
		cfg.KeepCursors = DefaultKeepCursors
	}
	if cfg.Skew <= 0 {
		cfg.Skew = DefaultSkew
	}
	return &Service{cfg: cfg, st: cfg.Store, eng: cfg.Engine, rt: cfg.Jobs, log: cfg.Log, wake: make(chan struct{}, 1),
		work: make(chan store.DevJob, cfg.Workers), inflight: map[string]bool{}}
}

// Start resumes the jobs a previous process left running, then starts the
// dispatcher, the workers and the purger (stopped by the runtime's Close).
// Without an engine or a store nothing starts.
func (s *Service) Start(ctx context.Context) error {
	if s.eng == nil || s.st == nil {
		return nil
	}
	running, err := s.st.RunningDevJobs(ctx)
	if err != nil {
		return err
	}
	for i := 0; i < s.cfg.Workers; i++ {
		s.rt.Go(s.worker)
	}
	s.busy.Add(int64(len(running)))
	s.rt.Go(func(ctx context.Context) {
		for _, j := range running {
			s.log.Info("resuming device job", "trackingID", j.UUID, "device", j.Device, "runName", runName(j.Device))
			select {
			case s.work <- j:
			case <-ctx.Done():
				return
			}
		}
		s.dispatch(ctx)
	})
	s.rt.Every(purgeEvery, s.Purge)
	return nil
}

// wakeUp asks the dispatcher to look at the queue.
func (s *Service) wakeUp() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Purge deletes the jobs whose results expired (with the uploads they
// hold) and the upload URLs that expired unused.
func (s *Service) Purge(ctx context.Context, now time.Time) {
	jobs, uploads, err := s.st.PurgeDevJobs(ctx, now)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("purging device jobs", "err", err)
		}
		return
	}
	if jobs+uploads > 0 {
		s.log.Info("purged device jobs", "jobs", jobs, "uploads", uploads)
	}
}

// runName is the run of a device's jobs in the audit log and the logs.
func runName(device string) string { return "device:" + device }
