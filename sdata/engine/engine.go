// Package engine is the stateless SData synchronization engine: an SData
// client that runs catch-up passes between any two providers that follow
// the SData 1.1 "Link & Sync" protocol (it depends on none of this
// project's extensions).
//
// One pass of one resource kind from a source S to a target T:
//
//	GET    T {kind}/$syncDigest                       the target's digest
//	POST   S {kind}/$syncSource?trackingID=a           (the digest entry) -> 202 + Location
//	GET    Location ... until 200                      page 1 of the sync feed
//	for every page:
//	  POST T {kind}/$syncTarget?trackingID=b           (the page)         -> 202 + Location
//	  GET  Location ... until 200, then every `next`   the result feed
//	  POST S {kind}/$syncResults?trackingID=a          (the results)
//	  DELETE the target Location
//	  GET  the page's `next` link, exactly as given
//	DELETE the source Location
//
// Every request carries runName and runStamp. The requests go through the
// project's SData client (sdatasync/sdata/client): transient failures
// (network errors, timeouts, 408, 429, 5xx) are retried with capped
// exponential backoff, and error answers come back as *client.HTTPError.
// The engine keeps no state between passes: a pass interrupted at
// any point can simply be run again, because the target's digest advances
// entry by entry and nothing is applied twice.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"sdatasync/sdata/client"
)

// ErrBadOptions marks errors caused by the pass options rather than by the
// providers: malformed URLs, unknown or unshared kinds.
var ErrBadOptions = errors.New("bad pass options")

// Engine runs synchronization passes. The zero value is usable: it uses
// http.DefaultClient, the providers' page size, no credentials and the
// default retry policy. An Engine may run several passes concurrently.
type Engine struct {
	// Client sends the requests; nil means http.DefaultClient.
	Client *http.Client
	// PageSize, when > 0, asks the source for sync feed pages (and the
	// target for result pages) of that many entries with the standard
	// `count` query parameter on the first GET of each job.
	PageSize int
	// Logger receives retries (warn) and per-page details (debug); nil
	// discards them.
	Logger *slog.Logger
	// Progress, when set, is called as a kind's pass advances: while the
	// source selects, after every page and when the kind is done. It is
	// called from the goroutine running Pass.
	Progress func(Progress)
	// MaxAttempts bounds the attempts of one request (default
	// client.DefaultMaxAttempts); MinBackoff and MaxBackoff bound the waits
	// between them (defaults client.DefaultMinBackoff,
	// client.DefaultMaxBackoff).
	MaxAttempts            int
	MinBackoff, MaxBackoff time.Duration
	// MinPoll and MaxPoll bound the wait between two polls of a job's
	// Location: the engine waits the tracking payload's pollingMillis
	// clamped to [MinPoll, MaxPoll] (defaults client.MinPoll,
	// client.MaxPoll; see client.Client.Await).
	MinPoll, MaxPoll time.Duration
}

func (e *Engine) logger() *slog.Logger {
	if e.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Logger
}

// client returns the SData client configured by the engine's fields for
// the provider at side (a dataset or kind URL): cred goes to side's origin
// and nowhere else.
func (e *Engine) client(side string, cred client.Credentials) *client.Client {
	origin, _ := client.Origin(side) // a bad URL fails the plan first
	return &client.Client{HTTP: e.Client, Credentials: cred, Origin: origin, MaxAttempts: e.MaxAttempts,
		MinBackoff: e.MinBackoff, MaxBackoff: e.MaxBackoff, MinPoll: e.MinPoll, MaxPoll: e.MaxPoll,
		MaxBody: maxBody, Logger: e.Logger}
}

// PassOptions says what a pass synchronizes.
type PassOptions struct {
	// Source and Target are dataset URLs
	// (http://host/sdata/{app}/{contract}/{dataset}: every kind that is a
	// sync source at the source and a sync target at the target) or
	// resource kind URLs (…/{dataset}/{kind}: that kind only).
	Source, Target string
	// Kinds, when not empty, restricts the pass to these kinds (plural or
	// element names).
	Kinds []string
	// Both runs the pass source -> target, then target -> source.
	Both bool
	// RunName and RunStamp identify the run at the providers; RunStamp
	// defaults to now (ISO 8601, UTC), RunName to "sdatasync".
	RunName, RunStamp string
	// SourceCredentials go to the source's provider and TargetCredentials
	// to the target's, in both directions of Both, each only to the origin
	// of its URL (see client.Client.Origin). URLs that carry credentials
	// themselves (user:password@) are refused.
	SourceCredentials, TargetCredentials client.Credentials
}

// Progress reports how a kind's pass advances.
type Progress struct {
	Source, Target string // the kind URLs
	Kind           string // plural name
	Phase          string // "selecting", "page", "done"
	Page           int    // pages applied so far
	Entries        int    // entries applied so far (all outcomes)
	Total          int    // opensearch:totalResults of the sync feed, -1 when unknown
	Elapsed        time.Duration
	// Remaining is the provider's estimate while it selects (tracking
	// remainingSeconds), or an estimate from the rate once pages flow; 0
	// when unknown.
	Remaining time.Duration
}

// Rate is the number of entries per second so far.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Entries) / p.Elapsed.Seconds()
}

// Summary is what a pass did, kind by kind, in the order they ran.
type Summary struct {
	RunName  string        `json:"runName"`
	RunStamp string        `json:"runStamp"`
	Kinds    []KindSummary `json:"kinds"`
	Seconds  float64       `json:"durationSeconds"`
	OK       bool          `json:"ok"` // every entry applied or legitimately skipped, and no kind failed
}

// KindSummary is the outcome of one kind in one direction, derived from the
// standard fields of the target's result entries (http:httpStatus and
// sdata:diagnosis severity): 2xx without diagnosis = applied, 2xx with an
// info diagnosis = skipped, 2xx with a warning = conflict won by the source,
// 409 = conflict won by the target, any other status (or a missing result)
// = error.
type KindSummary struct {
	Kind             string        `json:"kind"`
	Source           string        `json:"source"`
	Target           string        `json:"target"`
	Selected         int           `json:"selected"` // entries the source sent
	Applied          int           `json:"applied"`
	Skipped          int           `json:"skipped"`
	ConflictsSource  int           `json:"conflictsWonBySource"`
	ConflictsTarget  int           `json:"conflictsWonByTarget"`
	Errors           int           `json:"errors"`
	Pages            int           `json:"pages"`
	Duration         time.Duration `json:"-"`
	Seconds          float64       `json:"durationSeconds"`
	EntriesPerSecond float64       `json:"entriesPerSecond"`
	// Failures describes the first failed entries (at most MaxFailures).
	Failures []string `json:"failures,omitempty"`
	// Err is why the kind's pass stopped, "" when it completed.
	Err string `json:"error,omitempty"`
}

// MaxFailures bounds KindSummary.Failures.
const MaxFailures = 20

// OK reports whether every entry was applied or legitimately skipped
// (conflicts resolved either way count as fine) and the pass completed.
func (k *KindSummary) OK() bool { return k.Errors == 0 && k.Err == "" }

// Pass runs one catch-up pass for every selected kind, in ascending
// sme:syncOrder, source -> target and then, with opts.Both, target ->
// source. A kind that fails is recorded in its KindSummary and the pass
// goes on with the next kind; the returned error then says which kinds
// failed. The summary is returned even with an error, except when the
// kinds could not be determined. Errors caused by the options wrap
// ErrBadOptions.
func (e *Engine) Pass(ctx context.Context, opts PassOptions) (*Summary, error) {
	start := time.Now()
	if opts.RunStamp == "" {
		opts.RunStamp = time.Now().UTC().Format("2006-01-02T15:04:05Z")
	}
	if opts.RunName == "" {
		opts.RunName = "sdatasync"
	}
	for _, u := range []string{opts.Source, opts.Target} {
		if client.HasUserInfo(u) {
			return nil, fmt.Errorf("%w: %s: a URL may not carry credentials (user:password@); pass them as credentials", ErrBadOptions, client.Redact(u))
		}
	}
	plan, err := e.plan(ctx, e.client(opts.Source, opts.SourceCredentials), e.client(opts.Target, opts.TargetCredentials), opts)
	if err != nil {
		return nil, err
	}
	sum := &Summary{RunName: opts.RunName, RunStamp: opts.RunStamp, OK: true}
	var failed []error
	for _, p := range plan {
		if ctx.Err() != nil {
			failed = append(failed, ctx.Err())
			break
		}
		ks := e.passKind(ctx, p, opts.RunName, opts.RunStamp)
		if ks.Err != "" {
			failed = append(failed, fmt.Errorf("%s %s -> %s: %s", ks.Kind, ks.Source, ks.Target, ks.Err))
		}
		if !ks.OK() {
			sum.OK = false
		}
		sum.Kinds = append(sum.Kinds, ks)
	}
	sum.Seconds = time.Since(start).Seconds()
	if len(failed) > 0 {
		sum.OK = false
		return sum, errors.Join(failed...)
	}
	return sum, nil
}
