package mobile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"sdatasync/sdata/diag"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
)

// Request status codes (outputParams statusCode).
const (
	StatusInvalid   = 30 // app/component association invalid, component suspended or disabled, or a uid cannot be derived
	StatusBadFilter = 31 // filter keys not those of the component
	StatusOK        = 40
	StatusInternal  = 50
)

// Limits bound the work of one request. The zero value of a field takes
// its default.
type Limits struct {
	RowsPerRequest  int // input rows (default 1000)
	FieldsPerRecord int // fields of one mDataRow (default 500)
	PageSize        int // download rows per response when the request names none (default 500)
	MaxPageSize     int // the most a request may ask for (default 5000)
	FilterValues    int // values of all filter keys together (default 1000)
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.RowsPerRequest, 1000)
	def(&l.FieldsPerRecord, 500)
	def(&l.PageSize, 500)
	def(&l.MaxPageSize, 5000)
	def(&l.FilterValues, 1000)
	return l
}

// Config says what an Engine serves.
type Config struct {
	Site   *site.Site
	Store  store.Mobile
	Logger *slog.Logger
	Limits Limits
	// OnChange, when set, is told of every committed write a sync made
	// (immediate pushes listen here); it must not block.
	OnChange func(sc site.Scope, res store.Resource)
	// OnSync, when set, is told of every device sync's outcome: "ok",
	// "conflict" (a row resolved or left unresolvable), "refused"
	// (statusCode 30 or 31, or a malformed request) or "failed" (50).
	OnSync func(status string)
}

// Engine is the device-sync engine: one per provider, shared by every
// wire format.
type Engine struct {
	site   *site.Site
	st     store.Mobile
	log    *slog.Logger
	limits Limits
	change func(sc site.Scope, res store.Resource)
	onSync func(status string)

	mu     sync.RWMutex
	sealer Sealer
}

// New returns the engine of a provider; it loads (or makes) the keys that
// seal versions.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{site: cfg.Site, st: cfg.Store, log: log, limits: cfg.Limits.withDefaults(), change: cfg.OnChange, onSync: cfg.OnSync}
	if err := e.loadKeys(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// Limits returns the engine's limits.
func (e *Engine) Limits() Limits { return e.limits }

func (e *Engine) loadKeys(ctx context.Context) error {
	keys, err := e.st.MobileKeys(ctx)
	if err != nil {
		return err
	}
	s := Sealer{}
	for _, k := range keys {
		s.Keys = append(s.Keys, Key{ID: k.ID, Secret: k.Secret})
	}
	e.mu.Lock()
	e.sealer = s
	e.mu.Unlock()
	return nil
}

// RotateKey seals new versions with a new key; with retireOld the versions
// sealed before no longer open (their devices do a full download).
func (e *Engine) RotateKey(ctx context.Context, retireOld bool) error {
	if _, err := e.st.RotateMobileKey(ctx, retireOld); err != nil {
		return err
	}
	return e.loadKeys(ctx)
}

func (e *Engine) seal() Sealer {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.sealer
}

// Caller is who sends a request. A device request carries both App and
// AppVersion (the X-Mobile-App-Name and X-Mobile-App-Version headers) and
// names its Device; a request with neither is a backend notification.
type Caller struct {
	Device     string
	User       string // the authenticated principal, recorded with every write
	App        string
	AppVersion string
}

// IsDevice reports whether the caller claims to be a device (either app
// header present).
func (c Caller) IsDevice() bool { return c.App != "" || c.AppVersion != "" }

// InputRow is one inputPayload row.
type InputRow struct {
	Record   Record
	UID      string
	ActionID int
}

// OutputRow is one outputPayload row. Message, when not empty, says why a
// row failed (rowStatus 1) or must be resubmitted (3).
type OutputRow struct {
	Record    Record
	UID       string
	ActionID  int
	RowStatus int
	Message   string
}

// Request is one synchronize call.
type Request struct {
	Alias       string
	Caller      Caller
	LastVersion string
	Filter      Filter
	Rows        []InputRow
	// PageSize is the most rows downloaded in this response (0: the
	// engine's default; capped at Limits.MaxPageSize).
	PageSize int
	// Dataset, when set (the dataset-scoped URL), is the only dataset whose
	// components the request may name.
	Dataset string
	// RequestID tags the audit record (the trackingID); RunName and
	// RunStamp default to "mobile:<alias>" and the request time.
	RequestID, RunName, RunStamp string
}

// Result is the outcome of a synchronize call (outputParams).
type Result struct {
	StatusCode int
	// Message says why a request got 30, 31 or 50 (not part of the
	// protocol; wire formats may carry it).
	Message string
	// CurrentVersion is empty for backend notifications and failed
	// requests.
	CurrentVersion string
	// HasMore says the download was cut at the page size: sync again with
	// CurrentVersion for the rest.
	HasMore              bool
	Uploaded, Downloaded int
}

// Sync runs one synchronize request: it checks the request as a whole
// (statusCode 30 or 31 apply nothing), applies the rows in one transaction
// (each device change a local write of the provider, audited with device
// and user), then downloads what the device lacks since its lastVersion
// from one consistent snapshot, with the version that snapshot stands
// for. Rows go to emit as they are ready: the results of the input rows
// first, in order, then the downloaded rows; the Result comes last.
//
// A malformed request (a row that is no row, a lastVersion refused) is a
// *diag.Error (HTTP 400) and nothing is applied. An internal failure is
// StatusInternal with nothing applied (and, if it happens while
// downloading, the rows emitted so far must be discarded). An error from
// emit is returned as is.
func (e *Engine) Sync(ctx context.Context, req Request, emit func(OutputRow) error) (Result, error) {
	started := time.Now()
	var conflicts bool
	res, err := e.sync(ctx, req, func(o OutputRow) error {
		conflicts = conflicts || o.RowStatus == RowResolved || o.RowStatus == RowUnresolvable
		return emit(o)
	}, started)
	if e.onSync != nil && req.Caller.IsDevice() {
		var de *diag.Error
		switch {
		case errors.As(err, &de) || res.StatusCode == StatusInvalid || res.StatusCode == StatusBadFilter:
			e.onSync("refused")
		case err != nil || res.StatusCode == StatusInternal:
			e.onSync("failed")
		case conflicts:
			e.onSync("conflict")
		default:
			e.onSync("ok")
		}
	}
	if err == nil && res.StatusCode != StatusOK && req.Caller.Device != "" && req.Caller.IsDevice() {
		// The registry keeps the time and status of a refused or failed sync.
		if merr := e.st.MarkDevice(context.WithoutCancel(ctx), req.Alias, req.Caller.Device, res.StatusCode, started); merr != nil {
			e.log.Warn("device registry", "alias", req.Alias, "device", req.Caller.Device, "err", merr)
		}
	}
	return res, err
}

func (e *Engine) sync(ctx context.Context, req Request, emit func(OutputRow) error, started time.Time) (Result, error) {
	comp, err := e.Component(ctx, req.Alias)
	if errors.Is(err, store.ErrNotFound) {
		return Result{StatusCode: StatusInvalid, Message: fmt.Sprintf("no mobile sync component %q", req.Alias)}, nil
	}
	if err != nil {
		return e.internal(ctx, req, err)
	}
	if req.Dataset != "" && comp.Dataset != req.Dataset {
		return Result{StatusCode: StatusInvalid, Message: fmt.Sprintf("mobile sync component %q serves dataset %q, not %q", req.Alias, comp.Dataset, req.Dataset)}, nil
	}
	if res, ok := checkCaller(comp, req.Caller); !ok {
		return res, nil
	}
	device := req.Caller.IsDevice()
	if len(req.Rows) > e.limits.RowsPerRequest {
		return Result{}, diag.New(diag.TooLarge, "%d rows in one request; at most %d", len(req.Rows), e.limits.RowsPerRequest)
	}
	var v Version
	fresh := true
	filter := Filter{}
	if device {
		if res, ok := e.checkFilter(comp, req.Filter); !ok {
			return res, nil
		}
		filter = req.Filter.canonical()
		if req.LastVersion != "" {
			fresh = false
			if v, err = e.seal().Open(req.LastVersion, comp.Alias, req.Caller.Device, comp.Fingerprint()); err != nil {
				return Result{}, diag.New(diag.BadRequest, "%v", err)
			}
		}
	}
	sc, ok := e.site.Scope(comp.Dataset, comp.Kind)
	if !ok {
		return e.internal(ctx, req, fmt.Errorf("component %s: no endpoint %s/%s", comp.Alias, comp.Dataset, comp.Kind))
	}
	rows, res, err := e.prepare(sc, comp, req.Rows)
	if err != nil || res.StatusCode != 0 {
		return res, err
	}
	up, err := e.upload(ctx, sc, comp, req, v, fresh, rows, started)
	var ve *VersionError
	if errors.As(err, &ve) {
		return Result{}, diag.New(diag.BadRequest, "%v", err)
	}
	if err != nil {
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		return e.internal(ctx, req, err)
	}
	for _, w := range up.written {
		if e.change != nil {
			e.change(sc, w)
		}
	}
	for _, o := range up.out {
		if err := emit(o); err != nil {
			return Result{}, err
		}
	}
	result := Result{StatusCode: StatusOK, Uploaded: len(up.out)}
	if !device {
		return result, nil
	}
	size := req.PageSize
	if size <= 0 {
		size = e.limits.PageSize
	}
	size = min(size, e.limits.MaxPageSize)
	dl, err := e.download(ctx, sc, comp, req.Caller.Device, v, fresh, filter, up, size, emit)
	if err != nil {
		if dl.emitErr {
			return Result{}, err
		}
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		return e.internal(ctx, req, err)
	}
	dl.next.Alias, dl.next.Device, dl.next.Config, dl.next.Response = comp.Alias, req.Caller.Device, comp.Fingerprint(), up.response
	if result.CurrentVersion, err = e.seal().Seal(dl.next); err != nil {
		return e.internal(ctx, req, err)
	}
	result.HasMore, result.Downloaded = dl.more, dl.n
	e.log.Debug("device sync", "alias", comp.Alias, "device", req.Caller.Device, "uploaded", result.Uploaded,
		"downloaded", result.Downloaded, "more", result.HasMore, "trackingID", req.RequestID)
	return result, nil
}

func (e *Engine) internal(ctx context.Context, req Request, err error) (Result, error) {
	e.log.ErrorContext(ctx, "device sync failed", "alias", req.Alias, "device", req.Caller.Device, "trackingID", req.RequestID, "err", err)
	return Result{StatusCode: StatusInternal, Message: "internal error; nothing was applied"}, nil
}

// checkCaller decides statusCode 30 for the caller.
func checkCaller(c Component, cl Caller) (Result, bool) {
	bad := func(format string, args ...any) (Result, bool) {
		return Result{StatusCode: StatusInvalid, Message: fmt.Sprintf(format, args...)}, false
	}
	if c.State == Disabled {
		return bad("mobile sync component %s is disabled", c.Alias)
	}
	if !cl.IsDevice() {
		return Result{}, true
	}
	switch {
	case cl.App == "" || cl.AppVersion == "":
		return bad("a device request carries both X-Mobile-App-Name and X-Mobile-App-Version")
	case c.State == Suspended:
		return bad("mobile sync component %s is suspended", c.Alias)
	case !c.Allows(cl.App, cl.AppVersion):
		return bad("application %s version %s is not associated with mobile sync component %s", cl.App, cl.AppVersion, c.Alias)
	case cl.Device == "":
		return bad("a device request names its device")
	}
	return Result{}, true
}

// checkFilter decides statusCode 31: the filter keys must be exactly the
// component's, each with at least one value.
func (e *Engine) checkFilter(c Component, f Filter) (Result, bool) {
	bad := func(format string, args ...any) (Result, bool) {
		return Result{StatusCode: StatusBadFilter, Message: fmt.Sprintf(format, args...)}, false
	}
	if len(f) != len(c.FilterKeys) {
		return bad("mobile sync component %s filters on %d keys %v; the request passed %d", c.Alias, len(c.FilterKeys), c.FilterKeys, len(f))
	}
	n := 0
	for k, vs := range f {
		if !slices.Contains(c.FilterKeys, k) {
			return bad("%q is not a filter key of mobile sync component %s (%v)", k, c.Alias, c.FilterKeys)
		}
		if len(vs) == 0 {
			return bad("filter key %q has no value", k)
		}
		n += len(vs)
	}
	if n > e.limits.FilterValues {
		return bad("the filter holds %d values; at most %d", n, e.limits.FilterValues)
	}
	return Result{}, true
}

// Component returns the stored component with alias.
func (e *Engine) Component(ctx context.Context, alias string) (Component, error) {
	sc, err := e.st.MobileComponentByAlias(ctx, alias)
	if err != nil {
		return Component{}, err
	}
	var c Component
	if err := json.Unmarshal(sc.Config, &c); err != nil {
		return Component{}, fmt.Errorf("mobile: stored component %s unreadable: %w", alias, err)
	}
	return c, nil
}
