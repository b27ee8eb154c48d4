package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"sdatasync/digest"
)

// Job types and states.
const (
	JobSource = "source"
	JobTarget = "target"

	JobRunning = "running"
	JobDone    = "done"
	JobFailed  = "failed"
	// JobDeleted marks a freed job whose rows PurgeDeletedJobs has yet to
	// remove; it is found by no lookup.
	JobDeleted = "deleted"
)

// Job is an asynchronous sync operation, persisted so that a restart does
// not lose it.
type Job struct {
	ID         int64
	EndpointID int64
	Type       string // JobSource or JobTarget
	TrackingID string
	Status     string // JobRunning, JobDone or JobFailed
	RunName    string
	RunStamp   string
	Request    []byte // the request body, kept until the job is done; read by RunningJobs only
	// requestFile names the file holding a big request (InlineRequestMax).
	requestFile string
	Digest      *digest.Digest // source jobs: the source digest when the selection was made
	Total       int            // entries selected (source) or processed (target)
	Failure     string         // why a failed job failed
	Created     time.Time
	Updated     time.Time
	Expires     time.Time
}

// CreateJob persists a new running job, or returns the existing job with
// the same endpoint, type and tracking ID (reliable posting: the same
// trackingID never starts a second job). created says which.
func (s *SQLite) CreateJob(ctx context.Context, j Job) (Job, bool, error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	created := false
	inline, file := j.Request, ""
	if len(j.Request) > InlineRequestMax {
		var err error
		if file, err = s.writeRequest(j.Request); err != nil {
			return Job{}, false, err
		}
		inline = nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO sync_jobs (endpoint_id, type, tracking_id, status, run_name, run_stamp, request, request_file, created, updated, expires)
			VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (endpoint_id, type, tracking_id) DO NOTHING`,
			j.EndpointID, j.Type, j.TrackingID, JobRunning, j.RunName, j.RunStamp, inline, file, fmtStamp(now), fmtStamp(now), fmtStamp(j.Expires))
		if err != nil {
			return fmt.Errorf("store: create job: %w", err)
		}
		n, _ := res.RowsAffected()
		created = n == 1
		return nil
	})
	if err != nil || !created {
		s.dropRequests(file) // the job already exists, or was not made
	}
	if err != nil {
		return Job{}, false, err
	}
	got, err := s.Job(ctx, j.EndpointID, j.Type, j.TrackingID)
	return got, created, err
}

// jobCols are the columns scanJob reads. Jobs are read on every poll, and
// a target job's request is a whole feed page: only RunningJobs (resuming
// after a restart) reads it, jobCols reads NULL in its place.
const (
	jobCols            = `id, endpoint_id, type, tracking_id, status, run_name, run_stamp, NULL, request_file, digest, total, failure, created, updated, expires`
	jobColsWithRequest = `id, endpoint_id, type, tracking_id, status, run_name, run_stamp, request, request_file, digest, total, failure, created, updated, expires`
)

func scanJob(sc scanner) (Job, error) {
	var j Job
	var dg, created, updated, expires string
	if err := sc.Scan(&j.ID, &j.EndpointID, &j.Type, &j.TrackingID, &j.Status, &j.RunName, &j.RunStamp, &j.Request, &j.requestFile, &dg,
		&j.Total, &j.Failure, &created, &updated, &expires); err != nil {
		return Job{}, err
	}
	if dg != "" {
		var d digest.Digest
		if err := json.Unmarshal([]byte(dg), &d); err != nil {
			return Job{}, fmt.Errorf("store: job %s digest: %w", j.TrackingID, err)
		}
		j.Digest = &d
	}
	j.Created, j.Updated, j.Expires = parseStamp(created), parseStamp(updated), parseStamp(expires)
	return j, nil
}

// Job returns a job by endpoint, type and tracking ID.
func (s *SQLite) Job(ctx context.Context, endpointID int64, typ, trackingID string) (Job, error) {
	j, err := scanJob(s.r.QueryRowContext(ctx, `SELECT `+jobCols+` FROM sync_jobs WHERE endpoint_id = ? AND type = ? AND tracking_id = ?`,
		endpointID, typ, trackingID))
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, ErrNotFound
	}
	if err != nil {
		return Job{}, fmt.Errorf("store: job %s: %w", trackingID, err)
	}
	return j, nil
}

// RunningJobs lists the jobs still running, oldest first (to resume them
// after a restart).
func (s *SQLite) RunningJobs(ctx context.Context) ([]Job, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+jobColsWithRequest+` FROM sync_jobs WHERE status = ? ORDER BY id`, JobRunning)
	if err != nil {
		return nil, fmt.Errorf("store: running jobs: %w", err)
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i, j := range out {
		if j.requestFile != "" {
			if out[i].Request, err = s.readRequest(j.requestFile); err != nil {
				return nil, fmt.Errorf("store: job %s request: %w", j.TrackingID, err)
			}
		}
	}
	return out, nil
}

// FailJob marks a job failed with a reason.
func (s *SQLite) FailJob(ctx context.Context, id int64, reason string) error {
	var file string
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if file, err = requestFileOf(ctx, tx, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE sync_jobs SET status = ?, failure = ?, request = NULL, request_file = '', updated = ? WHERE id = ? AND status <> ?`,
			JobFailed, reason, fmtStamp(time.Now()), id, JobDeleted)
		return err
	})
	if err == nil {
		s.dropRequests(file)
	}
	return err
}

// DeleteJob frees a job: it is gone at once for every lookup and its
// tracking ID is free again; the rows it holds (a source snapshot may hold
// a whole table) are removed later by PurgeDeletedJobs, in small
// transactions, so that freeing a big job never holds the writer long.
func (s *SQLite) DeleteJob(ctx context.Context, id int64) error {
	var file string
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if file, err = requestFileOf(ctx, tx, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE sync_jobs SET status = ?, tracking_id = 'deleted:' || id, request = NULL, request_file = '', updated = ?
			WHERE id = ?`, JobDeleted, fmtStamp(time.Now()), id)
		return err
	})
	if err == nil {
		s.dropRequests(file)
	}
	return err
}

// purgeChunk is how many rows of a deleted job one purge transaction removes.
const purgeChunk = 2000

// PurgeDeletedJobs removes the deleted jobs and what they held, purgeChunk
// rows per transaction, and returns how many jobs it removed.
func (s *SQLite) PurgeDeletedJobs(ctx context.Context) (int, error) {
	jobs := 0
	for {
		var id int64
		err := s.r.QueryRowContext(ctx, `SELECT id FROM sync_jobs WHERE status = ? ORDER BY id LIMIT 1`, JobDeleted).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return jobs, nil
		}
		if err != nil {
			return jobs, fmt.Errorf("store: purge jobs: %w", err)
		}
		done := false
		err = s.write(ctx, func(tx *sql.Tx) error {
			for _, table := range []string{"sync_job_entries", "sync_job_results"} {
				res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE job_id = ? AND seq IN
					(SELECT seq FROM `+table+` WHERE job_id = ? ORDER BY seq LIMIT ?)`, id, id, purgeChunk)
				if err != nil {
					return err
				}
				if n, _ := res.RowsAffected(); n > 0 {
					return nil // more next time
				}
			}
			_, err := tx.ExecContext(ctx, `DELETE FROM sync_jobs WHERE id = ? AND status = ?`, id, JobDeleted)
			done = true
			return err
		})
		if err != nil {
			return jobs, fmt.Errorf("store: purge job: %w", err)
		}
		if done {
			jobs++
		}
	}
}

// ExpireJobs deletes the jobs whose expiry is before now and returns how many.
func (s *SQLite) ExpireJobs(ctx context.Context, now time.Time) (int, error) {
	var files []string
	n := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		files, n = nil, 0
		rows, err := tx.QueryContext(ctx, `DELETE FROM sync_jobs WHERE expires < ? RETURNING request_file`, fmtStamp(now))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var f string
			if err := rows.Scan(&f); err != nil {
				return err
			}
			files = append(files, f)
			n++
		}
		return rows.Err()
	})
	if err == nil {
		s.dropRequests(files...)
	}
	return n, err
}

// RunSource makes the selection of a source job: in one transaction it reads
// the endpoint's digest S, selects every resource the target (whose digest
// is target) lacks by digest.Selects's rule (a change of an endpoint from
// the target's tick of it on; no upper bound, spec 2.5), ordered by
// ascending tick per endpoint, gives a UUID to
// every selected resource that has none, copies the selection into the job
// (so the feed stays stable while it is paged and later writes go to the
// next pass) and marks the job done with S.
func (s *SQLite) RunSource(ctx context.Context, ep Endpoint, job Job, target digest.Digest) (Job, error) {
	err := s.write(ctx, func(tx *sql.Tx) error {
		src, err := readDigest(ctx, tx, ep)
		if err != nil {
			return err
		}
		// Resources without a UUID get one now: they are about to travel.
		rows, err := tx.QueryContext(ctx, `SELECT id FROM resources WHERE endpoint_id = ? AND uuid IS NULL`, ep.ID)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		// New UUIDs go in 500 at a time: {"row id": "uuid", ...}.
		for len(ids) > 0 {
			chunk := ids[:min(len(ids), 500)]
			ids = ids[len(chunk):]
			m := make(map[string]string, len(chunk))
			for _, id := range chunk {
				m[strconv.FormatInt(id, 10)] = NewUUID()
			}
			b, err := json.Marshal(m)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE resources SET uuid = j.value FROM json_each(?) AS j
				WHERE resources.id = CAST(j.key AS INTEGER)`, string(b)); err != nil {
				return fmt.Errorf("store: assign uuids: %w", err)
			}
		}
		seq := 0
		for _, rg := range digest.Missing(src, target) {
			var nid int64
			err := tx.QueryRowContext(ctx, `SELECT id FROM nodes WHERE url = ?`, rg.Endpoint).Scan(&nid)
			if errors.Is(err, sql.ErrNoRows) {
				continue // no resource carries a change of that endpoint
			}
			if err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO sync_job_entries (job_id, seq, key, uuid, etag, payload, title, deleted, change, endpoint, tick, stamp, user, updated, aliases)
				SELECT ?, ? + row_number() OVER (ORDER BY r.sync_tick, r.id), r.key, r.uuid, r.etag, r.payload, r.title, r.deleted, r.change, ?, r.sync_tick, r.sync_stamp, r.sync_user, r.updated,
				coalesce((SELECT group_concat(a.alias, ' ') FROM uuid_aliases a WHERE a.resource_id = r.id), '')
				FROM resources r WHERE r.endpoint_id = ? AND r.sync_node = ? AND r.sync_tick >= ?`,
				job.ID, seq, rg.Endpoint, ep.ID, nid, rg.From)
			if err != nil {
				return fmt.Errorf("store: select changes: %w", err)
			}
			n, _ := res.RowsAffected()
			seq += int(n)
		}
		dj, err := json.Marshal(src)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE sync_jobs SET status = ?, digest = ?, total = ?, request = NULL, request_file = '', updated = ? WHERE id = ? AND status <> ?`,
			JobDone, string(dj), seq, fmtStamp(time.Now()), job.ID, JobDeleted)
		return err
	})
	if err != nil {
		return Job{}, err
	}
	s.dropRequests(job.requestFile)
	return s.Job(ctx, ep.ID, JobSource, job.TrackingID)
}

// SourceEntries returns entries [offset, offset+limit) of a source job's
// selection as resources with their sync states.
func (s *SQLite) SourceEntries(ctx context.Context, job Job, offset, limit int) ([]Resource, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT key, uuid, etag, payload, title, deleted, change, endpoint, tick, stamp, user, updated, aliases
		FROM sync_job_entries WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?`, job.ID, offset, limit)
	if err != nil {
		return nil, fmt.Errorf("store: source page: %w", err)
	}
	defer rows.Close()
	var out []Resource
	for rows.Next() {
		var r Resource
		var deleted int
		var change, stamp, updated, aliases string
		if err := rows.Scan(&r.Key, &r.UUID, &r.ETag, &r.Payload, &r.Title, &deleted, &change, &r.State.Endpoint, &r.State.Tick,
			&stamp, &r.State.User, &updated, &aliases); err != nil {
			return nil, err
		}
		r.Aliases = strings.Fields(aliases)
		r.Deleted, r.Change = deleted != 0, Change(change)
		r.State.Stamp, r.Updated = parseStamp(stamp), parseStamp(updated)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Incoming is one entry of a sync feed page to apply at the target.
type Incoming struct {
	UUID    string
	Aliases []string // former UUIDs of the resource, as the source knows them
	State   digest.SyncState
	Method  string // the entry's http:httpMethod
	Deleted bool
	Payload []byte // canonical payload (for a deletion: possibly empty)
	Props   []byte
	Title   string
	// Invalid, when set, says the entry cannot be applied (bad payload); it
	// is reported with status 400 and the digest still advances past it.
	Invalid     error
	PayloadPath string
	// KeepPayload says the entry carried no content (a bare tombstone): a
	// known resource keeps its payload, Payload is for an unknown one.
	KeepPayload bool
	// Merge, when set, combines the payload with the target's current one
	// (child lists merged by UUID); it is called for an entry that applies
	// to a live resource, inside the transaction.
	Merge func(current []byte) (payload, props []byte, title string, err error)
}

// IncomingPage is a page of incoming entries. Len is known at once; At(i)
// returns entry i, waiting while it is still being prepared.
type IncomingPage interface {
	Len() int
	At(i int) Incoming
}

// ResultObserver is an IncomingPage that wants each result as soon as its
// entry is applied: RunTarget calls Applied in entry order, inside its
// transaction (a page that fails after all applies nothing, whatever
// Applied was told).
type ResultObserver interface {
	Applied(i int, r Result)
}

// Entries is an IncomingPage whose entries are all prepared.
type Entries []Incoming

// Len returns the number of entries.
func (e Entries) Len() int { return len(e) }

// At returns entry i.
func (e Entries) At(i int) Incoming { return e[i] }

// Result is the outcome of one applied entry, as stored for the result feed.
type Result struct {
	Seq         int
	Status      int
	Method      string
	Outcome     string // the name of the digest.Outcome (Invalid: "invalid")
	Key         string
	UUID        string
	ETag        string
	Payload     []byte
	Title       string
	Deleted     bool
	Severity    string // of the diagnosis; "" when none
	Message     string
	PayloadPath string
	SourceState digest.SyncState
	TargetState *digest.SyncState // the target's state before the entry, nil when unknown
}

// RunTarget applies one sync feed page at the target in one transaction:
// the entries in order with the conflict rules of spec 5.4, the stored sync
// state being the one each entry carries; the digest update of spec 5.5
// after each entry and, for the last page of a catchUp feed, the end-of-feed
// merge; the results; and the job marked done. A crash leaves the page
// either applied with its results or not applied at all. For an immediate
// feed the contiguity of spec 5.8 is checked first: a gap returns a
// *digest.GapError and applies nothing.
func (s *SQLite) RunTarget(ctx context.Context, ep Endpoint, job Job, feedDigest digest.Digest, immediate, last bool, in IncomingPage) (Job, []Result, error) {
	var results []Result
	n := in.Len()
	obs, _ := in.(ResultObserver)
	err := s.write(ctx, func(tx *sql.Tx) error {
		results = make([]Result, 0, n)
		pc := &pageCache{nodes: map[string]int64{}}
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM uuid_aliases WHERE endpoint_id = ?)`, ep.ID).Scan(&pc.aliases); err != nil {
			return err
		}
		tgt, err := readDigest(ctx, tx, ep)
		if err != nil {
			return err
		}
		pc.page = digest.NewPage(feedDigest, tgt, ep.URL, ep.Priority, immediate, last)
		if immediate {
			states := make([]digest.SyncState, n)
			for i := range n {
				states[i] = in.At(i).State
			}
			if err := digest.CheckImmediate(tgt, feedDigest, states); err != nil {
				return err
			}
		}
		for i := range n {
			e := in.At(i)
			pc.remaining = n - i
			if i%lookAhead == 0 && !pc.aliases {
				if err := pc.lookup(ctx, tx, ep, in, i, min(n, i+lookAhead)); err != nil {
					return err
				}
			}
			r, err := applyEntry(ctx, tx, ep, &tgt, e, pc)
			if err != nil {
				return err
			}
			r.Seq = i + 1
			if err := insertResult(ctx, tx, job.ID, r); err != nil {
				return err
			}
			results = append(results, r)
			if obs != nil {
				obs.Applied(i, r)
			}
		}
		if err := pc.releaseKeys(ctx, tx, ep); err != nil {
			return err
		}
		pc.page.End(&tgt)
		if err := writeDigest(ctx, tx, ep, tgt); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE sync_jobs SET status = ?, total = ?, request = NULL, request_file = '', updated = ? WHERE id = ? AND status <> ?`,
			JobDone, n, fmtStamp(time.Now()), job.ID, JobDeleted)
		return err
	})
	if err != nil {
		return Job{}, nil, err
	}
	s.dropRequests(job.requestFile)
	j, err := s.Job(ctx, ep.ID, JobTarget, job.TrackingID)
	return j, results, err
}

// applyEntry decides and applies one incoming entry inside tx.
// pageCache is what applying one page learns once: interned node ids, and
// whether the endpoint has any UUID alias (most have none, which spares a
// lookup per entry).
type pageCache struct {
	nodes   map[string]int64
	aliases bool

	// page is what the decisions of the page's entries share (the feed's
	// digest, whether it ends the feed, its context); feedCtx is the row of
	// that context once stored.
	page    *digest.Page
	feedCtx *syncCtx

	// Keys for new resources are reserved in one block per page:
	// [keyNext, keyEnd), minus the ones clients chose already (keyTaken).
	keyNext, keyEnd int64
	keyTaken        map[int64]bool
	remaining       int // entries of the page not applied yet, this one included

	// absent holds UUIDs of the entries ahead known to name no resource
	// (looked up together, lookAhead at a time); only meaningful while
	// aliases is false, and an entry applied leaves it.
	absent map[string]bool
}

// nodeID returns the id of the node with URL u, interned once per page.
func (pc *pageCache) nodeID(ctx context.Context, tx *sql.Tx, u string) (int64, error) {
	if id, ok := pc.nodes[u]; ok {
		return id, nil
	}
	id, err := nodeID(ctx, tx, u)
	if err == nil {
		pc.nodes[u] = id
	}
	return id, err
}

// lookAhead is how many entries' UUIDs are looked up in one query.
const lookAhead = 64

// lookup finds which UUIDs of entries [from, to) name no resource yet
// (keysByUUID): a page of new resources then costs one query per lookAhead
// entries instead of one per entry.
func (pc *pageCache) lookup(ctx context.Context, tx *sql.Tx, ep Endpoint, in IncomingPage, from, to int) error {
	pc.absent = make(map[string]bool, to-from)
	us := make([]string, 0, to-from)
	for j := from; j < to; j++ {
		if e := in.At(j); e.Invalid == nil && e.UUID != "" {
			u := strings.ToLower(e.UUID)
			pc.absent[u] = true
			us = append(us, u)
		}
	}
	found, err := keysByUUID(ctx, tx, ep, us)
	if err != nil {
		return err
	}
	for u := range found {
		delete(pc.absent, u)
	}
	return nil
}

// newKey hands out the next free numeric key of the endpoint, reserving a
// block of want keys when the reserved ones are used up (one statement for
// the block, one to find the keys in it that clients chose explicitly).
func (pc *pageCache) newKey(ctx context.Context, tx *sql.Tx, ep Endpoint, want int) (string, error) {
	for {
		if pc.keyNext >= pc.keyEnd {
			want = max(want, 1)
			var start int64
			if err := tx.QueryRowContext(ctx, `UPDATE endpoints SET next_key = next_key + ? WHERE id = ? RETURNING next_key - ?`,
				want, ep.ID, want).Scan(&start); err != nil {
				return "", fmt.Errorf("store: allocate keys: %w", err)
			}
			pc.keyNext, pc.keyEnd = start, start+int64(want)
			keys := make([]string, want)
			for i := range keys {
				keys[i] = strconv.FormatInt(start+int64(i), 10)
			}
			list, _ := json.Marshal(keys)
			rows, err := tx.QueryContext(ctx, `SELECT CAST(j.value AS INTEGER) FROM json_each(?) j
				WHERE EXISTS (SELECT 1 FROM resources WHERE endpoint_id = ? AND key = j.value)`, string(list), ep.ID)
			if err != nil {
				return "", fmt.Errorf("store: allocate keys: %w", err)
			}
			pc.keyTaken = map[int64]bool{}
			for rows.Next() {
				var k int64
				if err := rows.Scan(&k); err != nil {
					rows.Close()
					return "", err
				}
				pc.keyTaken[k] = true
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return "", err
			}
		}
		k := pc.keyNext
		pc.keyNext++
		if !pc.keyTaken[k] {
			return strconv.FormatInt(k, 10), nil
		}
	}
}

// releaseKeys gives the reserved keys the page did not use back to the
// endpoint, so that keys stay dense.
func (pc *pageCache) releaseKeys(ctx context.Context, tx *sql.Tx, ep Endpoint) error {
	if pc.keyNext >= pc.keyEnd {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE endpoints SET next_key = ? WHERE id = ? AND next_key = ?`, pc.keyNext, ep.ID, pc.keyEnd)
	pc.keyEnd = pc.keyNext
	return err
}

// applyEntry executes, inside tx, what digest.DecideEntry decides for one
// incoming entry: it looks the resource up (by its UUID or an alias), lets
// the decision be made, then writes the incoming version, restamps the held
// one or writes nothing, and stores the contexts the decision names.
func applyEntry(ctx context.Context, tx *sql.Tx, ep Endpoint, tgt *digest.Digest, e Incoming, pc *pageCache) (Result, error) {
	res := Result{Method: e.Method, UUID: strings.ToLower(e.UUID), SourceState: e.State, PayloadPath: e.PayloadPath}
	in := digest.Arrival{State: e.State, Deleted: e.Deleted, Invalid: e.Invalid}
	var cur Resource
	var curID int64
	known := false
	if e.Invalid == nil {
		// The resource answers to the entry's UUID or to one of its aliases.
		var err error
		for _, u := range append([]string{res.UUID}, e.Aliases...) {
			if !pc.aliases && pc.absent[u] {
				err = ErrNotFound // looked up with the entries around it
				continue
			}
			if cur, curID, err = resourceByUUID(ctx, tx, ep, u, pc.aliases); err == nil || !errors.Is(err, ErrNotFound) {
				break
			}
		}
		delete(pc.absent, res.UUID) // applied or not, it is looked up again next time
		if len(e.Aliases) > 0 || err == nil && cur.UUID != res.UUID {
			pc.aliases = true // this entry may add aliases
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return res, err
		}
		known = err == nil
	}
	var ts *digest.SyncState
	if known {
		st := cur.State
		ts = &st
		res.TargetState = ts
	}
	d, err := digest.DecideEntry(tgt, pc.page, in, ts, func() (digest.Context, error) { return resourceContext(ctx, tx, curID) })
	if err != nil {
		return res, err
	}
	res.Outcome, res.Status, res.Severity, res.Message = d.Outcome.String(), d.Status, d.Severity, d.Message
	if d.Outcome == digest.Invalid {
		return res, nil
	}
	sc, err := pc.storedContext(ctx, tx, d)
	if err != nil {
		return res, err
	}
	if !d.Writes() {
		if d.Restamp {
			// The winning version becomes a merge of both (digest.Merge):
			// a change of this endpoint that every other node takes in.
			if err := restamp(ctx, tx, ep, &cur, d.State, sc, pc); err != nil {
				return res, err
			}
		}
		res.Key, res.ETag, res.Payload, res.Title, res.Deleted = cur.Key, cur.ETag, cur.Payload, cur.Title, cur.Deleted
		return res, nil
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	r := Resource{UUID: res.UUID, Payload: e.Payload, Props: props(e.Props), Title: e.Title, Deleted: e.Deleted,
		State: d.State, Updated: now}
	nid, err := pc.nodeID(ctx, tx, r.State.Endpoint)
	if err != nil {
		return res, err
	}
	if r.Payload == nil {
		r.Payload = []byte{}
	}
	switch {
	case e.Deleted:
		r.Change = Deleted
	case known && !cur.Deleted:
		r.Change = Updated
	default:
		r.Change = Created
	}
	if e.Deleted && known && (e.KeepPayload || len(e.Payload) == 0) {
		r.Payload, r.Props, r.Title = cur.Payload, cur.Props, cur.Title
	}
	if e.Merge != nil && known && !cur.Deleted && !e.Deleted {
		if r.Payload, r.Props, r.Title, err = e.Merge(cur.Payload); err != nil {
			return res, err
		}
	}
	r.ETag = etag(r.Payload, r.Deleted, r.State)
	if known {
		r.Key, r.Created = cur.Key, cur.Created
		// The applied version's UUID becomes primary; a former one stays an alias.
		if err := setPrimaryUUID(ctx, tx, ep, curID, cur.UUID, res.UUID, now); err != nil {
			return res, err
		}
		if err := updateResource(ctx, tx, ep, nid, &r, sc); err != nil {
			return res, err
		}
	} else {
		key, err := pc.newKey(ctx, tx, ep, pc.remaining)
		if err != nil {
			return res, err
		}
		r.Key, r.Created = key, now
		if err := insertResource(ctx, tx, ep, nid, &r, sc); err != nil {
			return res, err
		}
	}
	// The source's former UUIDs name the resource here too, unless they name
	// another resource already.
	for _, a := range e.Aliases {
		if a = strings.ToLower(a); a == res.UUID {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO uuid_aliases (endpoint_id, alias, resource_id, created)
			SELECT ?, ?, id, ? FROM resources WHERE endpoint_id = ? AND key = ?
			AND NOT EXISTS (SELECT 1 FROM resources WHERE endpoint_id = ? AND uuid = ?)
			ON CONFLICT (endpoint_id, alias) DO NOTHING`,
			ep.ID, a, fmtStamp(now), ep.ID, r.Key, ep.ID, a); err != nil {
			return res, err
		}
	}
	res.Key, res.ETag, res.Payload, res.Title, res.Deleted = r.Key, r.ETag, r.Payload, r.Title, r.Deleted
	return res, nil
}

func stateJSON(st *digest.SyncState) string {
	if st == nil {
		return ""
	}
	b, _ := json.Marshal(st)
	return string(b)
}

// insertResult records one result. Its payload is not stored again: it is
// the resource's payload at the result's ETag, which TargetResults reads
// from the resource (a resource changed since then gives a result without
// payload; the ETag still names the version applied).
func insertResult(ctx context.Context, tx *sql.Tx, jobID int64, r Result) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO sync_job_results (job_id, seq, status, method, outcome, key, uuid, etag, payload, title, deleted,
		severity, message, payload_path, source_state, target_state) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		jobID, r.Seq, r.Status, r.Method, r.Outcome, r.Key, r.UUID, r.ETag, nil, r.Title, r.Deleted,
		r.Severity, r.Message, r.PayloadPath, stateJSON(&r.SourceState), stateJSON(r.TargetState))
	if err != nil {
		return fmt.Errorf("store: record result: %w", err)
	}
	return nil
}

// TargetResults returns results [offset, offset+limit) of a target job.
func (s *SQLite) TargetResults(ctx context.Context, job Job, offset, limit int) ([]Result, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT seq, status, method, outcome, key, uuid, etag,
		COALESCE(payload, (SELECT payload FROM resources r WHERE r.endpoint_id = ? AND r.key = sync_job_results.key AND r.etag = sync_job_results.etag)),
		title, deleted, severity, message, payload_path, source_state, target_state
		FROM sync_job_results WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?`, job.EndpointID, job.ID, offset, limit)
	if err != nil {
		return nil, fmt.Errorf("store: results: %w", err)
	}
	defer rows.Close()
	var out []Result
	for rows.Next() {
		var r Result
		var deleted int
		var ss, ts string
		if err := rows.Scan(&r.Seq, &r.Status, &r.Method, &r.Outcome, &r.Key, &r.UUID, &r.ETag, &r.Payload, &r.Title, &deleted,
			&r.Severity, &r.Message, &r.PayloadPath, &ss, &ts); err != nil {
			return nil, err
		}
		r.Deleted = deleted != 0
		if ss != "" {
			json.Unmarshal([]byte(ss), &r.SourceState)
		}
		if ts != "" {
			var st digest.SyncState
			if json.Unmarshal([]byte(ts), &st) == nil {
				r.TargetState = &st
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// writeDigest replaces the endpoint's digest entries with d's, keeping the
// order of d.
func writeDigest(ctx context.Context, tx *sql.Tx, ep Endpoint, d digest.Digest) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM digest_entries WHERE endpoint_id = ?`, ep.ID); err != nil {
		return err
	}
	for i, e := range d.Entries {
		nid, err := nodeID(ctx, tx, e.Endpoint)
		if err != nil {
			return err
		}
		prio := e.ConflictPriority
		if prio == 0 {
			prio = digest.DefaultConflictPriority
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO digest_entries (endpoint_id, node_id, pos, tick, stamp, priority) VALUES (?,?,?,?,?,?)`,
			ep.ID, nid, i, e.Tick, fmtStamp(e.Stamp), prio); err != nil {
			return fmt.Errorf("store: write digest: %w", err)
		}
	}
	return nil
}

// ReplaceDigest replaces the endpoint's digest (a $syncDigest PUT, used to
// re-seed an endpoint). The endpoint's own entry never moves backwards
// below the ticks its stored resources carry, and is kept when d lacks it.
func (s *SQLite) ReplaceDigest(ctx context.Context, ep Endpoint, d digest.Digest) error {
	if err := d.Validate(); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		cur, err := readDigest(ctx, tx, ep)
		if err != nil {
			return err
		}
		own, _ := cur.Get(ep.URL)
		var maxOwn int64
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(r.sync_tick), 0) FROM resources r JOIN endpoints e ON e.id = r.endpoint_id
			WHERE r.endpoint_id = ? AND r.sync_node = e.node_id`, ep.ID).Scan(&maxOwn); err != nil {
			return err
		}
		nd := d.Clone()
		nd.Origin = ep.URL
		if e, ok := nd.Get(ep.URL); ok {
			e.Tick = max(e.Tick, maxOwn+1, digest.FirstTick)
			nd.Set(e)
		} else {
			own.Tick = max(own.Tick, maxOwn+1)
			nd.Set(own)
		}
		return writeDigest(ctx, tx, ep, nd)
	})
}

// AuditRecord is one line of the run-tagged audit log.
type AuditRecord struct {
	ID         int64
	Time       time.Time
	Dataset    string
	Kind       string
	Operation  string
	TrackingID string
	RunName    string
	RunStamp   string    // verbatim, as the engine sent it
	RunTime    time.Time // RunStamp parsed when it is ISO 8601, else zero
	Client     string
	Status     int
	Count      int
	Duration   time.Duration
	Detail     string // JSON: counts, conflict states and winners, posted results
}

// Audit appends records to the audit log.
func (s *SQLite) Audit(ctx context.Context, recs ...AuditRecord) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		for _, a := range recs {
			rt := ""
			if !a.RunTime.IsZero() {
				rt = fmtStamp(a.RunTime)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (time, dataset, kind, operation, tracking_id, run_name, run_stamp, run_time, client, status, count, duration_ms, detail)
				VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`, fmtStamp(a.Time), a.Dataset, a.Kind, a.Operation, a.TrackingID, a.RunName, a.RunStamp, rt,
				a.Client, a.Status, a.Count, float64(a.Duration)/float64(time.Millisecond), a.Detail); err != nil {
				return fmt.Errorf("store: audit: %w", err)
			}
		}
		return nil
	})
}

// AuditQuery filters the audit log; empty fields do not filter.
type AuditQuery struct {
	Dataset, Kind, Operation, TrackingID, RunName, RunStamp string
	Since, Until                                            time.Time
	Offset, Limit                                           int
}

// AuditLog returns one page of matching records, newest first, and the total.
func (s *SQLite) AuditLog(ctx context.Context, q AuditQuery) ([]AuditRecord, int, error) {
	var where []string
	var args []any
	add := func(col, v string) {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	add("dataset", q.Dataset)
	add("kind", q.Kind)
	add("operation", q.Operation)
	add("tracking_id", q.TrackingID)
	add("run_name", q.RunName)
	add("run_stamp", q.RunStamp)
	if !q.Since.IsZero() {
		where = append(where, "time >= ?")
		args = append(args, fmtStamp(q.Since))
	}
	if !q.Until.IsZero() {
		where = append(where, "time < ?")
		args = append(args, fmtStamp(q.Until))
	}
	w := ""
	if len(where) > 0 {
		w = " WHERE " + strings.Join(where, " AND ")
	}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	var total int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM audit_log`+w, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: audit log: %w", err)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = -1
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, time, dataset, kind, operation, tracking_id, run_name, run_stamp, run_time, client, status, count, duration_ms, detail
		FROM audit_log`+w+` ORDER BY id DESC LIMIT ? OFFSET ?`, append(args, limit, q.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditRecord
	for rows.Next() {
		var a AuditRecord
		var t, rt string
		var ms float64
		if err := rows.Scan(&a.ID, &t, &a.Dataset, &a.Kind, &a.Operation, &a.TrackingID, &a.RunName, &a.RunStamp, &rt, &a.Client,
			&a.Status, &a.Count, &ms, &a.Detail); err != nil {
			return nil, 0, err
		}
		a.Time = parseStamp(t)
		if rt != "" {
			a.RunTime = parseStamp(rt)
		}
		a.Duration = time.Duration(ms * float64(time.Millisecond))
		out = append(out, a)
	}
	return out, total, rows.Err()
}

// OwnChanges returns up to limit resources whose last change was made at
// this endpoint with tick >= from, in tick order, with the endpoint's digest
// read in the same transaction (for immediate-mode pushes). Selected
// resources without a UUID get one, as they are about to travel.
func (s *SQLite) OwnChanges(ctx context.Context, ep Endpoint, from int64, limit int) ([]Resource, digest.Digest, error) {
	var out []Resource
	var d digest.Digest
	err := s.write(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		var err error
		if d, err = readDigest(ctx, tx, ep); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT r.id, `+resourceCols+resourceFrom+`JOIN endpoints e ON e.id = r.endpoint_id
			WHERE r.endpoint_id = ? AND r.sync_node = e.node_id AND r.sync_tick >= ? ORDER BY r.sync_tick LIMIT ?`, ep.ID, from, limit)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			rr, err := scanResourceWithID(rows, &id)
			if err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
			out = append(out, rr)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range out {
			if out[i].UUID == "" {
				out[i].UUID = NewUUID()
				if _, err := tx.ExecContext(ctx, `UPDATE resources SET uuid = ? WHERE id = ?`, out[i].UUID, ids[i]); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return out, d, err
}

// AssignUUIDs gives every listed resource that has no UUID a new one and
// returns the UUID of each (key -> uuid).
func (s *SQLite) AssignUUIDs(ctx context.Context, ep Endpoint, keys []string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	err := s.write(ctx, func(tx *sql.Tx) error {
		for _, k := range keys {
			var u sql.NullString
			err := tx.QueryRowContext(ctx, `SELECT uuid FROM resources WHERE endpoint_id = ? AND key = ?`, ep.ID, k).Scan(&u)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			if !u.Valid {
				u.String = NewUUID()
				if _, err := tx.ExecContext(ctx, `UPDATE resources SET uuid = ? WHERE endpoint_id = ? AND key = ?`, u.String, ep.ID, k); err != nil {
					return err
				}
			}
			out[k] = u.String
		}
		return nil
	})
	return out, err
}

// restamp rewrites the held version, which won a conflict, with the merge
// state the decision gave it (digest.Merge): its content and stamp stay.
func restamp(ctx context.Context, tx *sql.Tx, ep Endpoint, cur *Resource, state digest.SyncState, sc syncCtx, pc *pageCache) error {
	nid, err := pc.nodeID(ctx, tx, state.Endpoint)
	if err != nil {
		return err
	}
	cur.State = state
	cur.ETag = etag(cur.Payload, cur.Deleted, cur.State)
	return updateResource(ctx, tx, ep, nid, cur, sc)
}

// storedContext stores the context a decision names and returns its row
// (the page's context is stored once per page).
func (pc *pageCache) storedContext(ctx context.Context, tx *sql.Tx, d digest.Decision) (syncCtx, error) {
	switch d.ContextRule {
	case digest.NoContext:
		return noCtx, nil
	case digest.FeedContext:
		if pc.feedCtx == nil {
			c, err := contextID(ctx, tx, pc.page.Context)
			if err != nil {
				return keepCtx, err
			}
			pc.feedCtx = &c
		}
		return *pc.feedCtx, nil
	case digest.OwnContext:
		return contextID(ctx, tx, d.Context)
	}
	return keepCtx, nil
}

// resourceByUUID reads the resource answering to u (its primary UUID or an
// alias) and its row id. (Two simple statements measure faster here than
// one UNION over the joined tables.)
func resourceByUUID(ctx context.Context, tx *sql.Tx, ep Endpoint, u string, aliases bool) (Resource, int64, error) {
	id, _, err := resolveUUIDIn(ctx, tx, ep, u, aliases)
	if err != nil {
		return Resource{}, 0, err
	}
	r, err := getResource(ctx, tx, ep, "id", strconv.FormatInt(id, 10))
	return r, id, err
}
