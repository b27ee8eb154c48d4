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
	var where []string
	var args []any
	add := func(col, v string) {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	if q.ID != 0 {
		where = append(where, "id = ?")
		args = append(args, q.ID)
	}
	add("dataset", q.Dataset)
	add("kind", q.Kind)
	add("operation", q.Operation)
	add("tracking_id", q.TrackingID)
	add("run_name", q.RunName)
	add("run_stamp", q.RunStamp)
	add("principal", q.Principal)
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
	rows, err := tx.QueryContext(ctx, `SELECT id, time, dataset, kind, operation, tracking_id, run_name, run_stamp, run_time, client, principal, status, count, duration_ms, detail
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
		if err := rows.Scan(&a.ID, &t, &a.Dataset, &a.Kind, &a.Operation, &a.TrackingID, &a.RunName, &a.RunStamp, &rt, &a.Client, &a.Principal,
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
