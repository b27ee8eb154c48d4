package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"sdatasync/digest"
)

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

// ResultAuditor is an IncomingPage whose results are audited: RunTarget
// writes the records AuditResults returns in the page's transaction, so a
// page is never seen applied (its job done, its results readable) without
// its audit records, and never audited without being applied.
type ResultAuditor interface {
	AuditResults(results []Result) []AuditRecord
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
	// Conflicts only (not stored with the results; the audit record of the
	// conflict keeps them): the rule that decided (digest.Rule*) and the
	// losing version, in stored form.
	Rule  string
	Loser *Version
}

// Version is one version of a resource as a conflict saw it.
type Version struct {
	Payload []byte
	Title   string
	Deleted bool
	State   digest.SyncState
}

// RunTarget applies one sync feed page at the target in one transaction:
// the entries in order with the conflict rules of spec 5.4, the stored sync
// state being the one each entry carries; the digest update of spec 5.5
// after each entry and, for the last page of a catchUp feed, the end-of-feed
// merge; the results; the audit records of a ResultAuditor; and the job
// marked done. A crash leaves the page either applied with its results and
// audit records or not applied at all. For an immediate
// feed the contiguity of spec 5.8 is checked first: a gap returns a
// *digest.GapError and applies nothing.
func (s *SQLite) RunTarget(ctx context.Context, ep Endpoint, job Job, feedDigest digest.Digest, immediate, last bool, in IncomingPage) (Job, []Result, error) {
	var results []Result
	n := in.Len()
	obs, _ := in.(ResultObserver)
	err := s.write(ctx, func(tx *sql.Tx) error {
		// The page's statements run without ctx's cancellation: with a
		// cancellable context the driver hands every statement to a
		// goroutine of its own, thousands a page. Cancellation is checked
		// between entries instead, and a cancelled page rolls back whole.
		stop := ctx
		ctx := context.WithoutCancel(ctx)
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
			if err := stop.Err(); err != nil {
				return err
			}
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
			results = append(results, r)
			if obs != nil {
				obs.Applied(i, r)
			}
		}
		if err := addLive(ctx, tx, ep, pc.live); err != nil {
			return err
		}
		if err := insertResults(ctx, tx, job.ID, results); err != nil {
			return err
		}
		if au, ok := in.(ResultAuditor); ok {
			if err := insertAudit(ctx, tx, au.AuditResults(results)); err != nil {
				return err
			}
		}
		if err := pc.releaseKeys(ctx, tx, ep); err != nil {
			return err
		}
		pc.page.End(&tgt)
		if err := writeDigest(ctx, tx, ep, tgt); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE sync_jobs SET status = ?, total = ?, request = NULL, request_file = '', updated = ? WHERE id = ? AND tracking_id = ? AND status <> ?`,
			JobDone, n, fmtStamp(time.Now()), job.ID, job.TrackingID, JobDeleted)
		return err
	})
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			// The transaction was rolled back because ctx ended (its
			// statements then fail with sql.ErrTxDone): say why.
			return Job{}, nil, fmt.Errorf("store: page not applied: %w", cerr)
		}
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
	// Change sequence numbers are reserved in blocks too: [seqNext, seqEnd).
	seqNext, seqEnd int64
	remaining       int // entries of the page not applied yet, this one included
	// live is the number of live resources the page inserted, added to
	// the endpoint's count once at its end (addLive).
	live int64

	// absent holds UUIDs of the entries ahead known to name no resource
	// (looked up together, lookAhead at a time); only meaningful while
	// aliases is false, and an entry applied leaves it.
	absent map[string]bool
}

// seq returns the next change sequence number for a write of the page,
// reserving a block of the page's remaining entries (at least one) when
// the current block is used up.
func (pc *pageCache) seq(ctx context.Context, tx *sql.Tx) (int64, error) {
	if pc.seqNext >= pc.seqEnd {
		n := int64(max(pc.remaining, 1))
		first, err := reserveSeq(ctx, tx, n)
		if err != nil {
			return 0, err
		}
		pc.seqNext, pc.seqEnd = first, first+n
	}
	pc.seqNext++
	return pc.seqNext - 1, nil
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

// insertResult records one result. Its payload is not stored again: it is
// the resource's payload at the result's ETag, which TargetResults reads
// from the resource (a resource changed since then gives a result without
// payload; the ETag still names the version applied).
func insertResult(ctx context.Context, tx *sql.Tx, jobID int64, r Result) error {
	return insertResults(ctx, tx, jobID, []Result{r})
}

// resultCols are the columns of a sync_job_results row; resultRows rows go
// in one INSERT (16 x 64 parameters, well under SQLite's limit).
const (
	resultCols = `INSERT INTO sync_job_results (job_id, seq, status, method, outcome, key, uuid, etag, payload, title, deleted,
		severity, message, payload_path, source_state, target_state) VALUES `
	resultRow  = `(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`
	resultRows = 64
)

// insertResults records the results of a page, resultRows per statement
// (one statement per result cost as much as applying the entries' rows).
func insertResults(ctx context.Context, tx *sql.Tx, jobID int64, rs []Result) error {
	args := make([]any, 0, 16*min(len(rs), resultRows))
	for len(rs) > 0 {
		chunk := rs[:min(len(rs), resultRows)]
		rs = rs[len(chunk):]
		args = args[:0]
		for _, r := range chunk {
			args = append(args, jobID, r.Seq, r.Status, r.Method, r.Outcome, r.Key, r.UUID, r.ETag, nil, r.Title, r.Deleted,
				r.Severity, r.Message, r.PayloadPath, stateJSON(&r.SourceState), stateJSON(r.TargetState))
		}
		q := resultCols + strings.Repeat(resultRow+",", len(chunk)-1) + resultRow
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("store: record results: %w", err)
		}
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
