// Package store holds the resources, ticks and digests of an SData provider.
//
// Store is the interface the HTTP layer and the sync engine program against;
// SQLite (OpenSQLite) is the implementation today, with room for a PostgreSQL
// one. Every local write takes the kind's next local tick and advances the
// kind's own digest entry in the same transaction as the write, so the digest
// can never claim a change that is not stored.
package store

import (
	"context"
	"errors"
	"time"

	"sdatasync/digest"
)

// Errors returned by the store. Callers test them with errors.Is.
var (
	// ErrNotFound: no resource with that key (or UUID) in that kind.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a unique constraint (key or UUID) would be violated.
	ErrConflict = errors.New("store: conflict")
	// ErrPrecondition: an If-Match ETag did not match the stored one.
	ErrPrecondition = errors.New("store: precondition failed")
)

// Endpoint is one resource kind in one dataset of this provider: the unit
// that owns a tick counter and a digest.
type Endpoint struct {
	ID       int64
	Dataset  string
	Kind     string // the kind's URL segment (plural name)
	URL      string // the endpoint URL as persisted at creation
	Priority int    // conflict priority, 1..9
	Created  time.Time
}

// Change says which kind of change produced a resource's current state.
type Change string

// The change kinds, named after the HTTP method a sync feed carries for them.
const (
	Created Change = "POST"
	Updated Change = "PUT"
	Deleted Change = "DELETE"
)

// Resource is one stored resource (or tombstone) with its sync state.
type Resource struct {
	Key     string   // local key, unique per endpoint
	UUID    string   // global correlation id, "" until linked or synchronized
	Aliases []string // former UUIDs that still name the resource (sync selections only)
	ETag    string
	Payload []byte // XML of the resource element, without sdata:key/url attributes
	Props   []byte // JSON object of the simple properties, for queries
	Title   string
	Deleted bool   // a tombstone
	Change  Change // the change that produced this state
	State   digest.SyncState
	Created time.Time
	Updated time.Time
}

// Write is the content of a local write.
type Write struct {
	Key     string // Create only: the key to use; "" allocates the next one
	UUID    string // "" keeps the current UUID (or none)
	Payload []byte
	Props   []byte
	Title   string
	User    string
}

// ListQuery selects and orders resources of one endpoint. Where and OrderBy
// are SQL fragments over the column `props` (a JSON object) built by the
// query compiler, with their arguments; they never contain user text.
type ListQuery struct {
	Where          string
	Args           []any
	OrderBy        string
	Offset, Limit  int
	IncludeDeleted bool
}

// Store is the provider's persistent state.
type Store interface {
	// Endpoint returns the endpoint of kind in dataset, creating it with url
	// and priority when it does not exist yet. An existing endpoint keeps the
	// URL it was created with.
	Endpoint(ctx context.Context, dataset, kind, url string, priority int) (Endpoint, error)
	// Digest returns the endpoint's digest.
	Digest(ctx context.Context, ep Endpoint) (digest.Digest, error)

	// Get returns the resource with key, tombstones included.
	Get(ctx context.Context, ep Endpoint, key string) (Resource, error)
	// GetByUUID returns the resource with the UUID, tombstones included.
	GetByUUID(ctx context.Context, ep Endpoint, uuid string) (Resource, error)
	// List returns one page of live resources matching q and the total count.
	List(ctx context.Context, ep Endpoint, q ListQuery) ([]Resource, int, error)

	// Create stores a new resource as a local change (it takes a tick).
	Create(ctx context.Context, ep Endpoint, w Write) (Resource, error)
	// Update changes a live resource as a local change. mutate is called in
	// the write transaction with the current state and returns the new
	// content; an error from it aborts the update and is returned as is.
	Update(ctx context.Context, ep Endpoint, key string, mutate func(cur Resource) (Write, error)) (Resource, error)
	// Delete turns a live resource into a tombstone as a local change.
	// check, when not nil, is called with the current state first (for
	// If-Match); an error from it aborts the delete.
	Delete(ctx context.Context, ep Endpoint, key, user string, check func(cur Resource) error) (Resource, error)

	// ReplaceDigest replaces the endpoint's digest after validating it.
	ReplaceDigest(ctx context.Context, ep Endpoint, d digest.Digest) (before, after digest.Digest, err error)

	// CreateJob persists a new running job or returns the existing one with
	// the same endpoint, type and tracking ID; created says which.
	CreateJob(ctx context.Context, j Job) (job Job, created bool, err error)
	// Job returns a job by endpoint, type and tracking ID.
	Job(ctx context.Context, endpointID int64, typ, trackingID string) (Job, error)
	// RunningJobs lists unfinished jobs, oldest first.
	RunningJobs(ctx context.Context) ([]Job, error)
	// FailJob marks a job failed (matched by ID and tracking ID).
	FailJob(ctx context.Context, j Job, reason string) error
	// DeleteJob frees a job; what it holds goes with PurgeDeletedJobs.
	DeleteJob(ctx context.Context, id int64) error
	// PurgeDeletedJobs removes what freed jobs held, a little at a time.
	PurgeDeletedJobs(ctx context.Context) (int, error)
	// ExpireJobs deletes jobs that expired before now.
	ExpireJobs(ctx context.Context, now time.Time) (int, error)
	// RunSource selects the changes a target lacks into a source job.
	RunSource(ctx context.Context, ep Endpoint, job Job, target digest.Digest) (Job, error)
	// SourceEntries pages through a source job's selection.
	SourceEntries(ctx context.Context, job Job, offset, limit int) ([]Resource, error)
	// RunTarget applies a sync feed page into a target job.
	// It returns the finished job and the results it recorded (payloads
	// included).
	// The entries are taken in order; the caller may still be preparing the
	// later ones while the first are applied.
	RunTarget(ctx context.Context, ep Endpoint, job Job, feedDigest digest.Digest, immediate, last bool, in IncomingPage) (Job, []Result, error)
	// OwnChanges lists the changes made at the endpoint itself from a tick
	// on, with the endpoint's digest (immediate-mode pushes).
	OwnChanges(ctx context.Context, ep Endpoint, from int64, limit int) ([]Resource, digest.Digest, error)
	// AssignUUIDs gives the listed resources a UUID where they have none.
	AssignUUIDs(ctx context.Context, ep Endpoint, keys []string) (map[string]string, error)
	// TargetResults pages through a target job's results.
	TargetResults(ctx context.Context, job Job, offset, limit int) ([]Result, error)
	// SaveResults stores a batch job's results and marks it done, in one
	// transaction (results are read back with TargetResults).
	SaveResults(ctx context.Context, job Job, results []Result) (Job, error)

	// Audit appends records to the run-tagged audit log.
	Audit(ctx context.Context, recs ...AuditRecord) error
	// AuditLog queries the audit log, newest first.
	AuditLog(ctx context.Context, q AuditQuery) ([]AuditRecord, int, error)

	// Link gives a resource a UUID (the old one becomes an alias), with a tick.
	Link(ctx context.Context, ep Endpoint, key, uuid, user string) (Resource, error)
	// Relink moves a UUID to another resource, with a tick.
	Relink(ctx context.Context, ep Endpoint, uuid, key, user string) (Resource, error)
	// Unlink removes a resource's UUID and aliases; no tick.
	Unlink(ctx context.Context, ep Endpoint, uuid string) error
	// Linked pages through the live resources that have a UUID.
	Linked(ctx context.Context, ep Endpoint, offset, limit int) ([]Resource, int, error)
	// Aliases lists a resource's alias UUIDs.
	Aliases(ctx context.Context, ep Endpoint, key string) ([]string, error)
	// KeysByUUID maps UUIDs (primary or alias) to local keys.
	KeysByUUID(ctx context.Context, ep Endpoint, uuids []string) (map[string]string, error)
	// RetireAliases deletes aliases created before cutoff.
	RetireAliases(ctx context.Context, cutoff time.Time) (int, error)

	// RegistryList returns one page of the endpoint registry matching q and
	// the total count: the caller's builtin (read-only) entries first, in
	// the order given, then the registered endpoints by key; both take part
	// in q's filter and order.
	RegistryList(ctx context.Context, builtin []RegistryEntry, q ListQuery) ([]RegistryEntry, int, error)
	// RegistryGet returns a registered endpoint by key.
	RegistryGet(ctx context.Context, key string) (RegistryEntry, error)
	// RegistryCreate registers an endpoint under a new key; ErrConflict when
	// its URL is registered already.
	RegistryCreate(ctx context.Context, w RegistryWrite) (RegistryEntry, error)
	// RegistryUpdate replaces a registered endpoint with what mutate returns
	// for its current state; an error from mutate aborts and is returned as
	// is. ErrConflict when the new URL belongs to another registered endpoint.
	RegistryUpdate(ctx context.Context, key string, mutate func(cur RegistryEntry) (RegistryWrite, error)) (RegistryEntry, error)
	// RegistryDelete removes a registered endpoint; check, when not nil, is
	// called with its current state first (If-Match) and may abort.
	RegistryDelete(ctx context.Context, key string, check func(cur RegistryEntry) error) error

	// Accounts: users, grants and API tokens.
	Accounts

	// Close releases the store.
	Close() error
}
