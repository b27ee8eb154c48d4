package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

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
	Principal  string // the authenticated principal (auth.Name), never a name the client asserts
	Status     int
	Count      int
	Duration   time.Duration
	Detail     string // JSON: counts, conflict states and winners, posted results
}

// Audit appends records to the audit log.
func (s *SQLite) Audit(ctx context.Context, recs ...AuditRecord) error {
	return s.write(ctx, func(tx *sql.Tx) error { return insertAudit(ctx, tx, recs) })
}

// insertAudit appends records to the audit log inside tx.
func insertAudit(ctx context.Context, tx *sql.Tx, recs []AuditRecord) error {
	for _, a := range recs {
		rt := ""
		if !a.RunTime.IsZero() {
			rt = fmtStamp(a.RunTime)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (time, dataset, kind, operation, tracking_id, run_name, run_stamp, run_time, client, principal, status, count, duration_ms, detail)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, fmtStamp(a.Time), a.Dataset, a.Kind, a.Operation, a.TrackingID, a.RunName, a.RunStamp, rt,
			a.Client, a.Principal, a.Status, a.Count, float64(a.Duration)/float64(time.Millisecond), a.Detail); err != nil {
			return fmt.Errorf("store: audit: %w", err)
		}
	}
	return nil
}

// AuditQuery filters the audit log; empty fields do not filter.
type AuditQuery struct {
	ID                                                      int64 // one record
	Dataset, Kind, Operation, TrackingID, RunName, RunStamp string
	Principal                                               string
	Since, Until                                            time.Time
	Offset, Limit                                           int
}

// AuditLog returns one page of matching records, newest first, and the total.
func (s *SQLite) AuditLog(ctx context.Context, q AuditQuery) ([]AuditRecord, int, error) {
	var c conds
	if q.ID != 0 {
		c.add("id = ?", q.ID)
	}
	c.eq("dataset", q.Dataset)
	c.eq("kind", q.Kind)
	c.eq("operation", q.Operation)
	c.eq("tracking_id", q.TrackingID)
	c.eq("run_name", q.RunName)
	c.eq("run_stamp", q.RunStamp)
	c.eq("principal", q.Principal)
	c.between("time", q.Since, q.Until)
	w, args := c.where(), c.args
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
	rows, err := tx.QueryContext(ctx, `SELECT `+auditCols+` FROM audit_log`+w+` ORDER BY id DESC LIMIT ? OFFSET ?`, append(args, limit, q.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: audit log: %w", err)
	}
	out, err := scanAudits(rows)
	return out, total, err
}

// auditCols are the columns scanAudits reads.
const auditCols = `id, time, dataset, kind, operation, tracking_id, run_name, run_stamp, run_time, client, principal, status, count, duration_ms, detail`

// scanAudits reads the rows of a query of auditCols and closes them.
func scanAudits(rows *sql.Rows) ([]AuditRecord, error) {
	defer rows.Close()
	var out []AuditRecord
	for rows.Next() {
		var a AuditRecord
		var t, rt string
		var ms float64
		if err := rows.Scan(&a.ID, &t, &a.Dataset, &a.Kind, &a.Operation, &a.TrackingID, &a.RunName, &a.RunStamp, &rt, &a.Client, &a.Principal,
			&a.Status, &a.Count, &ms, &a.Detail); err != nil {
			return nil, err
		}
		a.Time, a.Duration = parseStamp(t), time.Duration(ms*float64(time.Millisecond))
		if rt != "" {
			a.RunTime = parseStamp(rt)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// conds builds the WHERE clause of a filtered query.
type conds struct {
	list []string
	args []any
}

// add adds a condition with its arguments.
func (c *conds) add(cond string, args ...any) {
	c.list = append(c.list, cond)
	c.args = append(c.args, args...)
}

// eq adds col = v unless v is empty.
func (c *conds) eq(col, v string) {
	if v != "" {
		c.add(col+" = ?", v)
	}
}

// between adds since <= col < until for the bounds that are set.
func (c *conds) between(col string, since, until time.Time) {
	if !since.IsZero() {
		c.add(col+" >= ?", fmtStamp(since))
	}
	if !until.IsZero() {
		c.add(col+" < ?", fmtStamp(until))
	}
}

// where is " WHERE a AND b", or "" without conditions.
func (c *conds) where() string {
	if len(c.list) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(c.list, " AND ")
}
