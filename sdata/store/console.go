package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// The console's reads. Each reads a page of a summary table or of the
// audit log through an index (console_schema.go), never the whole log or
// the resources: a view costs the same on a store of a million resources
// and a hundred thousand audit records as on an empty one.

// RunSummary is what a run (runName + runStamp) did at this provider, in
// total or for one dataset and kind.
type RunSummary struct {
	RunName, RunStamp string
	Dataset, Kind     string // empty in a run's total
	Kinds             int    // how many (dataset, kind) took part (totals)
	First, Last       time.Time
	RunTime           time.Time // RunStamp parsed when it is ISO 8601
	Records           int       // audit records
	Pages             int       // sync feed pages applied as a target
	Entries           int       // entries of those pages, by outcome below
	Applied, Skipped  int
	Conflicts         int
	Invalid           int
	Selected          int           // entries selected as a source
	Sent              int           // entries served as a source
	Errors            int           // records with a status of 400 or above (conflicts' 409 aside)
	Work              time.Duration // time spent selecting and applying
}

// RunQuery filters runs; empty fields do not filter. Status is "ok" (no
// error), "failed" (some error) or "conflicts" (some conflict). Since and
// Until bound the run's last record.
type RunQuery struct {
	RunName, RunStamp, Dataset, Kind, Status string
	Since, Until                             time.Time
	Offset, Limit                            int
}

const runSums = `min(first_time), max(last_time), max(run_time), sum(records), sum(pages), sum(entries), sum(applied), sum(skipped),
	sum(conflicts), sum(invalid), sum(selected), sum(sent), sum(errors), sum(duration_ms)`

func scanRun(sc scanner, r *RunSummary, extra ...any) error {
	var first, last, rt string
	var ms float64
	dest := append(extra, &first, &last, &rt, &r.Records, &r.Pages, &r.Entries, &r.Applied, &r.Skipped, &r.Conflicts,
		&r.Invalid, &r.Selected, &r.Sent, &r.Errors, &ms)
	if err := sc.Scan(dest...); err != nil {
		return err
	}
	r.First, r.Last, r.Work = parseStamp(first), parseStamp(last), time.Duration(ms*float64(time.Millisecond))
	if rt != "" {
		r.RunTime = parseStamp(rt)
	}
	return nil
}

// Runs returns one page of runs matching q, the latest first, and how many
// match.
func (s *SQLite) Runs(ctx context.Context, q RunQuery) ([]RunSummary, int, error) {
	var c conds
	var having []string
	c.eq("run_name", q.RunName)
	c.eq("run_stamp", q.RunStamp)
	c.eq("dataset", q.Dataset)
	c.eq("kind", q.Kind)
	c.between("last_time", q.Since, q.Until)
	args := c.args
	switch q.Status {
	case "":
	case "ok":
		having = append(having, "sum(errors) = 0")
	case "failed":
		having = append(having, "sum(errors) > 0")
	case "conflicts":
		having = append(having, "sum(conflicts) > 0")
	default:
		return nil, 0, fmt.Errorf("store: runs: unknown status %q", q.Status)
	}
	w, h := c.where(), ""
	if len(having) > 0 {
		h = " HAVING " + strings.Join(having, " AND ")
	}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	group := ` FROM audit_runs` + w + ` GROUP BY run_name, run_stamp` + h
	var total int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1`+group+`)`, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: runs: %w", err)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = -1
	}
	rows, err := tx.QueryContext(ctx, `SELECT run_name, run_stamp, count(*), `+runSums+group+` ORDER BY max(last_time) DESC, run_name, run_stamp LIMIT ? OFFSET ?`,
		append(args, limit, q.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: runs: %w", err)
	}
	defer rows.Close()
	var out []RunSummary
	for rows.Next() {
		var r RunSummary
		if err := scanRun(rows, &r, &r.RunName, &r.RunStamp, &r.Kinds); err != nil {
			return nil, 0, err
		}
		out = append(out, r)
	}
	return out, total, rows.Err()
}

// RunKinds returns what a run did per dataset and kind.
func (s *SQLite) RunKinds(ctx context.Context, runName, runStamp string) ([]RunSummary, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT run_name, run_stamp, dataset, kind, `+runSums+` FROM audit_runs
		WHERE run_name = ? AND run_stamp = ? GROUP BY dataset, kind ORDER BY dataset, kind`, runName, runStamp)
	if err != nil {
		return nil, fmt.Errorf("store: run kinds: %w", err)
	}
	defer rows.Close()
	var out []RunSummary
	for rows.Next() {
		r := RunSummary{Kinds: 1}
		if err := scanRun(rows, &r, &r.RunName, &r.RunStamp, &r.Dataset, &r.Kind); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RunErrors returns the latest records of a run with a status of 400 or
// above (conflicts' 409 aside), at most limit.
func (s *SQLite) RunErrors(ctx context.Context, runName, runStamp string, limit int) ([]AuditRecord, error) {
	return s.auditWhere(ctx, `run_name = ? AND run_stamp = ? AND status >= 400 AND status <> 409`, []any{runName, runStamp}, limit)
}

// AuditRecordByID returns one record of the audit log.
func (s *SQLite) AuditRecordByID(ctx context.Context, id int64) (AuditRecord, error) {
	recs, err := s.auditWhere(ctx, `id = ?`, []any{id}, 1)
	if err != nil {
		return AuditRecord{}, err
	}
	if len(recs) == 0 {
		return AuditRecord{}, ErrNotFound
	}
	return recs[0], nil
}

// auditWhere reads the latest records matching a condition, at most limit.
func (s *SQLite) auditWhere(ctx context.Context, cond string, args []any, limit int) ([]AuditRecord, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+auditCols+` FROM audit_log WHERE `+cond+` ORDER BY id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("store: audit log: %w", err)
	}
	return scanAudits(rows)
}

// DailyCount is how many audit records of an operation a day saw for a
// dataset and kind.
type DailyCount struct {
	Day           string // YYYY-MM-DD, UTC
	Dataset, Kind string
	Count         int
}

// DailyCounts returns the daily counts of operation from the day of since
// on, oldest first.
func (s *SQLite) DailyCounts(ctx context.Context, operation string, since time.Time) ([]DailyCount, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT day, dataset, kind, records FROM audit_daily WHERE day >= ? AND operation = ?
		ORDER BY day, dataset, kind`, since.UTC().Format(time.DateOnly), operation)
	if err != nil {
		return nil, fmt.Errorf("store: daily counts: %w", err)
	}
	defer rows.Close()
	var out []DailyCount
	for rows.Next() {
		var d DailyCount
		if err := rows.Scan(&d.Day, &d.Dataset, &d.Kind, &d.Count); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// JobInfo is a job as the console lists it (without its request).
type JobInfo struct {
	ID                int64
	Dataset, Kind     string
	Type, TrackingID  string
	Status            string
	RunName, RunStamp string
	Total             int
	Created, Updated  time.Time
}

// Jobs lists the jobs that are running, then the latest others not yet
// freed, at most limit.
func (s *SQLite) Jobs(ctx context.Context, limit int) ([]JobInfo, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT j.id, e.dataset, e.kind, j.type, j.tracking_id, j.status, j.run_name, j.run_stamp, j.total, j.created, j.updated
		FROM sync_jobs j JOIN endpoints e ON e.id = j.endpoint_id WHERE j.status <> ?
		ORDER BY j.status = ? DESC, j.id DESC LIMIT ?`, JobDeleted, JobRunning, limit)
	if err != nil {
		return nil, fmt.Errorf("store: jobs: %w", err)
	}
	defer rows.Close()
	var out []JobInfo
	for rows.Next() {
		var j JobInfo
		var c, u string
		if err := rows.Scan(&j.ID, &j.Dataset, &j.Kind, &j.Type, &j.TrackingID, &j.Status, &j.RunName, &j.RunStamp, &j.Total, &c, &u); err != nil {
			return nil, err
		}
		j.Created, j.Updated = parseStamp(c), parseStamp(u)
		out = append(out, j)
	}
	return out, rows.Err()
}

// EndpointDigest is a local endpoint with its digest.
type EndpointDigest struct {
	Endpoint Endpoint
	Entries  []DigestTick
}

// DigestTick is one entry of a digest.
type DigestTick struct {
	Node     string // endpoint URL
	Tick     int64
	Stamp    time.Time
	Priority int
}

// EndpointDigests lists every local endpoint with its digest, by dataset
// and kind.
func (s *SQLite) EndpointDigests(ctx context.Context) ([]EndpointDigest, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT e.id, e.dataset, e.kind, en.url, e.priority, e.created, n.url, d.tick, d.stamp, d.priority
		FROM endpoints e JOIN nodes en ON en.id = e.node_id
		LEFT JOIN digest_entries d ON d.endpoint_id = e.id LEFT JOIN nodes n ON n.id = d.node_id
		ORDER BY e.dataset, e.kind, d.pos`)
	if err != nil {
		return nil, fmt.Errorf("store: endpoint digests: %w", err)
	}
	defer rows.Close()
	var out []EndpointDigest
	for rows.Next() {
		var ep Endpoint
		var created string
		var node, stamp sql.NullString
		var tick, prio sql.NullInt64
		if err := rows.Scan(&ep.ID, &ep.Dataset, &ep.Kind, &ep.URL, &ep.Priority, &created, &node, &tick, &stamp, &prio); err != nil {
			return nil, err
		}
		ep.Created = parseStamp(created)
		if len(out) == 0 || out[len(out)-1].Endpoint.ID != ep.ID {
			out = append(out, EndpointDigest{Endpoint: ep})
		}
		if node.Valid {
			last := &out[len(out)-1]
			last.Entries = append(last.Entries, DigestTick{Node: node.String, Tick: tick.Int64, Stamp: parseStamp(stamp.String), Priority: int(prio.Int64)})
		}
	}
	return out, rows.Err()
}
