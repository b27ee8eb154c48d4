// Package syncurls serves the four synchronization URLs of a resource kind
// (SData sync 3): $syncDigest, $syncSource, $syncTarget and $syncResults,
// and the run-tagged audit log $syncLog. Handlers decode the request, call
// the store (which executes the protocol decisions of package digest) and
// encode the answer; source and target jobs run on the jobs runtime.
//
// The flow of one target page, from request to result feed:
//
//	StartTarget          reads the body, prepareTarget parses the feed and
//	                     starts preparePage (validation, canonical payloads)
//	jobs.Create          persists the job (and the body, to resume it)
//	applyTarget          store.RunTarget applies the prepared entries in one
//	                     transaction (digest.Arrive decides each entry) while
//	                     the result entries are encoded (preparedPage.Applied)
//	jobs.KeepResults     keeps results and encoded entries for the GET
//	PollTarget           resultPage writes the result feed
package syncurls

import (
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"strings"

	"sdatasync/digest"
	"sdatasync/feeds"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/jobs"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
	"sdatasync/sdata/wire"
)

// The sync ops of a resource kind.
const (
	OpDigest  = "$syncDigest"
	OpSource  = "$syncSource"
	OpTarget  = "$syncTarget"
	OpResults = "$syncResults"
	OpLog     = "$syncLog"
)

// Config configures a Service.
type Config struct {
	Site    *site.Site
	Store   store.Store
	Jobs    *jobs.Runtime
	Log     *slog.Logger
	MaxBody int64        // request body limit
	Limits  feeds.Limits // XML limits of request bodies
	// Priorities, when set, returns the conflict priorities configured for
	// other endpoints (URL prefix -> 1..9, from the registry): they replace
	// what a feed's digest claims for those endpoints.
	Priorities func(ctx context.Context) (map[string]int, error)
}

// Service serves the sync URLs of every kind of one provider.
type Service struct {
	site       *site.Site
	st         store.Store
	jobs       *jobs.Runtime
	log        *slog.Logger
	maxBody    int64
	limits     feeds.Limits
	priorities func(ctx context.Context) (map[string]int, error)
}

// New builds the service and registers the resumers of source and target
// jobs with the runtime.
func New(cfg Config) *Service {
	s := &Service{site: cfg.Site, st: cfg.Store, jobs: cfg.Jobs, log: cfg.Log, maxBody: cfg.MaxBody, limits: cfg.Limits, priorities: cfg.Priorities}
	s.jobs.Handle(store.JobSource, s.resumeSource)
	s.jobs.Handle(store.JobTarget, s.resumeTarget)
	return s
}

var trackingRE = regexp.MustCompile(`^[A-Za-z0-9._~{}-]{1,128}$`)

// Check is the route check of a sync op, before its methods: the kind must
// synchronize (and be a source for $syncSource, a target for $syncTarget)
// and a tracking id must be well-formed.
func (s *Service) Check(op string) func(r *http.Request, t site.Target) error {
	return func(r *http.Request, t site.Target) error {
		k := t.Kind
		if !k.IsSyncSource && !k.IsSyncTarget {
			return diag.New(diag.NoSuchURL, "resource kind %s is not synchronized (neither sme:isSyncSource nor sme:isSyncTarget)", k.PluralName)
		}
		return checkRun(r, t, op)
	}
}

// checkRun validates the tracking id and the kind's role for op.
func checkRun(r *http.Request, t site.Target, op string) error {
	if ru := jobs.RunOf(r, t); ru.Tracking != "" && !trackingRE.MatchString(ru.Tracking) {
		return diag.New(diag.BadParameter, "invalid trackingID %q", ru.Tracking)
	}
	switch {
	case op == OpSource && !t.Kind.IsSyncSource:
		return diag.New(diag.NoSuchURL, "resource kind %s is not a sync source", t.Kind.PluralName)
	case op == OpTarget && !t.Kind.IsSyncTarget:
		return diag.New(diag.NoSuchURL, "resource kind %s is not a sync target", t.Kind.PluralName)
	}
	return nil
}

// CheckTracking is the route check of a URL that takes a tracking id
// ($batch): a tracking id must be well-formed.
func CheckTracking(r *http.Request, t site.Target) error {
	if ru := jobs.RunOf(r, t); ru.Tracking != "" && !trackingRE.MatchString(ru.Tracking) {
		return diag.New(diag.BadParameter, "invalid trackingID %q", ru.Tracking)
	}
	return nil
}

// audited runs h as jobs.Runtime.Audited does: one audit record
// ("source.post", "target.get"...) and one log line per request.
func (s *Service) audited(op string, h jobs.RequestHandler) site.Handler {
	return s.jobs.Audited(strings.ToLower(strings.TrimPrefix(op, "$sync")), op, h)
}

// replaceDigest replaces a kind's digest and records in the audit log the
// digests before and after (an admin can restore the former from it).
func (s *Service) replaceDigest(ctx context.Context, sc site.Scope, ru wire.Run, d digest.Digest, op string, undoes int64) error {
	before, after, err := s.st.ReplaceDigest(ctx, sc.Endpoint, d)
	if err != nil {
		return err
	}
	s.jobs.Audit(ctx, store.AuditRecord{Dataset: sc.Dataset, Kind: sc.Kind.PluralName, Operation: op, TrackingID: ru.Tracking,
		RunName: ru.Name, RunStamp: ru.Stamp, RunTime: ru.StampTime, Status: http.StatusOK, Count: len(after.Entries),
		Detail: jsonString(digestChange{Before: before, After: after, Undoes: undoes})})
	return nil
}

// digestChange is the audit detail of a digest replacement.
type digestChange struct {
	Before digest.Digest `json:"before"`
	After  digest.Digest `json:"after"`
	// Undoes is the audit record an undo restored the digest of.
	Undoes int64 `json:"undoes,omitempty"`
}

// Digest serves $syncDigest: GET answers the kind's digest; PUT and POST
// replace it (re-seeding an endpoint) and answer the result.
func (s *Service) Digest() site.Handler {
	return s.audited(OpDigest, func(w http.ResponseWriter, r *http.Request, t site.Target, ru wire.Run) (int, error) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			d, err := s.readDigest(w, r)
			if err != nil {
				return 0, err
			}
			if err := s.trust(r.Context(), digestEndpoints(*d)...); err != nil {
				return 0, err
			}
			if err := d.ValidateOwn(t.Endpoint.URL); err != nil {
				return 0, err
			}
			if err := s.replaceDigest(r.Context(), t.Scope, ru, *d, OpReplaced, 0); err != nil {
				return 0, err
			}
		}
		d, err := s.st.Digest(r.Context(), t.Endpoint)
		if err != nil {
			return 0, err
		}
		u := s.site.OpURL(t.Scope, OpDigest, "")
		e := &feeds.Entry{ID: u, Title: "Synchronization digest", Updated: wire.NowUTC(), Digest: &d,
			Links: []feeds.Link{{Rel: "self", Type: wire.TypeEntry, Title: "Refresh", Href: u}}}
		return 0, wire.WriteEntry(w, http.StatusOK, e, "")
	})
}
