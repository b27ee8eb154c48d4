package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// devJobsMigration creates the tables of asynchronous per-device sync jobs
// (package sdata/devjobs): the jobs, which are also the queue of each
// device; the rows of their two answers (part 0: a result per row the
// device sent, part 1: the server's changes); the uploads a device makes by
// URL; and the cursors (LastSyncDateTime values) the server issued, with
// the per-component versions each stands for. The column merged holds the
// job's progress (DevJob.Progress; '[]' before its first step).
const devJobsMigration = `CREATE TABLE device_uploads (
		id      INTEGER PRIMARY KEY,
		token   TEXT NOT NULL UNIQUE,
		device  TEXT NOT NULL,
		status  TEXT NOT NULL,
		data    BLOB,
		size    INTEGER NOT NULL DEFAULT 0,
		created TEXT NOT NULL,
		expires TEXT NOT NULL
	);
	CREATE TABLE device_jobs (
		id            INTEGER PRIMARY KEY,
		uuid          TEXT NOT NULL UNIQUE,
		device        TEXT NOT NULL,
		client_db     TEXT NOT NULL,
		status        TEXT NOT NULL,
		superseded_by TEXT NOT NULL DEFAULT '',
		principal     TEXT NOT NULL,
		fields        TEXT NOT NULL,
		last_sync     TEXT NOT NULL,
		has_data      INTEGER NOT NULL,
		request       BLOB,
		upload_id     INTEGER REFERENCES device_uploads(id),
		merged        TEXT NOT NULL DEFAULT '[]',
		cursor        TEXT NOT NULL DEFAULT '',
		local_rows    INTEGER NOT NULL DEFAULT 0,
		remote_rows   INTEGER NOT NULL DEFAULT 0,
		failure       TEXT NOT NULL DEFAULT '',
		created       TEXT NOT NULL,
		started       TEXT NOT NULL DEFAULT '',
		finished      TEXT NOT NULL DEFAULT '',
		expires       TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX device_jobs_queue ON device_jobs (status, device, id);
	CREATE INDEX device_jobs_expiry ON device_jobs (expires) WHERE expires <> '';
	CREATE TABLE device_job_rows (
		job_id INTEGER NOT NULL REFERENCES device_jobs(id) ON DELETE CASCADE,
		part   INTEGER NOT NULL,
		seq    INTEGER NOT NULL,
		alias  TEXT NOT NULL,
		row    BLOB NOT NULL,
		PRIMARY KEY (job_id, part, seq)
	) WITHOUT ROWID;
	CREATE TABLE device_cursors (
		device    TEXT NOT NULL,
		value     TEXT NOT NULL,
		versions  TEXT NOT NULL,
		issued    TEXT NOT NULL,
		job_uuid  TEXT NOT NULL,
		delivered INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (device, value)
	) WITHOUT ROWID;
	CREATE INDEX device_cursors_job ON device_cursors (job_uuid);`

// The statuses of a device job.
const (
	DevJobQueued  = "queued"  // waiting for its device's running job to end
	DevJobRunning = "running" // merging or preparing its answers
	DevJobDone    = "done"    // answered: its results can be read
	DevJobSkipped = "skipped" // superseded by a newer request of its device
	DevJobFailed  = "failed"  // ended with an error
)

// The parts of a device job's answer rows.
const (
	PartLocal  = 0 // LocalDataUpdatesResponse: a result per row the device sent
	PartRemote = 1 // RemoteDataUpdates: what changed on the server
)

// ErrUpload: an upload URL that this server did not issue to the device,
// or that expired or was used already.
var ErrUpload = errors.New("store: no such upload")

// DevJob is one asynchronous sync job of a device.
type DevJob struct {
	ID           int64
	UUID         string // SyncJobUUID
	Device       string // DeviceExternalID
	ClientDB     string // ClientDBUUID
	Status       string
	SupersededBy string // the UUID of the job that superseded a skipped one
	Principal    string // who posted it
	Fields       []byte // JSON object of the device fields, for the log
	LastSync     string // LastSyncDateTime as the device sent it
	HasData      bool   // the device sent LocalDataUpdates (inline or by URL)
	Request      []byte // inline LocalDataUpdates (nil when kept as an upload)
	UploadID     int64  // the upload holding LocalDataUpdates (0: none)
	Progress     []byte // the job layer's record of the steps done (JSON)
	Cursor       string // the LastSyncDateTime issued when done
	LocalRows    int
	RemoteRows   int
	Failure      string
	Created      time.Time
	Started      time.Time
	Finished     time.Time
	Expires      time.Time // zero until the job ends
}

// DevRow is one row of a device job's answer, in the component alias's
// row shape (JSON).
type DevRow struct {
	Seq   int64
	Alias string
	Row   []byte
}

// DevCursor is a LastSyncDateTime value the server issued to a device and
// the per-component versions of the data it stands for.
type DevCursor struct {
	Device    string
	Value     string
	Versions  []byte // JSON object alias -> version
	Issued    time.Time
	JobUUID   string
	Delivered bool // the job's RemoteDataUpdates were read to the end
}

const devJobCols = `id, uuid, device, client_db, status, superseded_by, principal, fields, last_sync, has_data, upload_id, merged, cursor,
	local_rows, remote_rows, failure, created, started, finished, expires`

func scanDevJob(sc scanner) (DevJob, error) {
	var j DevJob
	var upload sql.NullInt64
	var fields, progress, created, started, finished, expires string
	if err := sc.Scan(&j.ID, &j.UUID, &j.Device, &j.ClientDB, &j.Status, &j.SupersededBy, &j.Principal, &fields, &j.LastSync, &j.HasData,
		&upload, &progress, &j.Cursor, &j.LocalRows, &j.RemoteRows, &j.Failure, &created, &started, &finished, &expires); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return j, ErrNotFound
		}
		return j, err
	}
	j.Fields, j.Progress, j.UploadID = []byte(fields), []byte(progress), upload.Int64
	for _, p := range []struct {
		s string
		t *time.Time
	}{{created, &j.Created}, {started, &j.Started}, {finished, &j.Finished}, {expires, &j.Expires}} {
		if p.s != "" {
			*p.t = parseStamp(p.s)
		}
	}
	return j, nil
}

// CreateDevJob queues a device job. Its LocalDataUpdates come inline
// (j.Request), as a stored upload (big: kept once as an upload of the
// device, referenced by the job), or as the upload whose token hash is
// claim, which this claims for good (single use) in the same transaction:
// ErrUpload when the device has no such unused, unexpired, uploaded one.
func (s *SQLite) CreateDevJob(ctx context.Context, j DevJob, claim string, big []byte, now time.Time) (DevJob, error) {
	j.Status, j.Created = DevJobQueued, now
	err := s.write(ctx, func(tx *sql.Tx) error {
		var upload any
		switch {
		case claim != "":
			var id int64
			err := tx.QueryRowContext(ctx, `UPDATE device_uploads SET status = 'used' WHERE token = ? AND device = ? AND status = 'uploaded' AND expires > ?
				RETURNING id`, claim, j.Device, fmtStamp(now)).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) {
				return ErrUpload
			}
			if err != nil {
				return fmt.Errorf("store: claim upload: %w", err)
			}
			upload, j.UploadID = id, id
		case big != nil:
			res, err := tx.ExecContext(ctx, `INSERT INTO device_uploads (token, device, status, data, size, created, expires) VALUES (?,?,'used',?,?,?,?)`,
				"job:"+j.UUID, j.Device, big, len(big), fmtStamp(now), fmtStamp(now))
			if err != nil {
				return fmt.Errorf("store: keep request: %w", err)
			}
			id, _ := res.LastInsertId()
			upload, j.UploadID = id, id
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO device_jobs (uuid, device, client_db, status, principal, fields, last_sync, has_data, request, upload_id, created)
			VALUES (?,?,?,?,?,?,?,?,?,?,?)`, j.UUID, j.Device, j.ClientDB, j.Status, j.Principal, string(j.Fields), j.LastSync, j.HasData,
			j.Request, upload, fmtStamp(now))
		if err != nil {
			return fmt.Errorf("store: create device job: %w", err)
		}
		j.ID, _ = res.LastInsertId()
		return nil
	})
	return j, err
}

// DevJob returns a device job by its UUID.
func (s *SQLite) DevJob(ctx context.Context, uuid string) (DevJob, error) {
	j, err := scanDevJob(s.r.QueryRowContext(ctx, `SELECT `+devJobCols+` FROM device_jobs WHERE uuid = ?`, uuid))
	if err != nil && !errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("store: device job: %w", err)
	}
	return j, err
}

// RunningDevJobs lists the device jobs marked running (after a restart:
// the ones to resume), oldest first.
func (s *SQLite) RunningDevJobs(ctx context.Context) ([]DevJob, error) {
	return s.devJobs(ctx, s.r, `SELECT `+devJobCols+` FROM device_jobs WHERE status = 'running' ORDER BY id`)
}

func (s *SQLite) devJobs(ctx context.Context, q queryer, query string, args ...any) ([]DevJob, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: device jobs: %w", err)
	}
	defer rows.Close()
	var out []DevJob
	for rows.Next() {
		j, err := scanDevJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// ClaimDevJobs starts at most limit jobs, each of a device that has queued
// jobs and none running, longest-waiting device first: the newest queued
// job of the device runs; the older queued ones are skipped, superseded by
// it (they end now and expire after ttl). It returns the jobs started and
// the jobs skipped.
func (s *SQLite) ClaimDevJobs(ctx context.Context, limit int, now time.Time, ttl time.Duration) (started, skipped []DevJob, err error) {
	if limit <= 0 {
		return nil, nil, nil
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		started, skipped = nil, nil
		rows, err := tx.QueryContext(ctx, `SELECT device, max(id) FROM device_jobs WHERE status = 'queued'
			AND device NOT IN (SELECT device FROM device_jobs WHERE status = 'running')
			GROUP BY device ORDER BY min(id) LIMIT ?`, limit)
		if err != nil {
			return fmt.Errorf("store: claim device jobs: %w", err)
		}
		type pick struct {
			device string
			id     int64
		}
		var picks []pick
		for rows.Next() {
			var p pick
			if err := rows.Scan(&p.device, &p.id); err != nil {
				rows.Close()
				return err
			}
			picks = append(picks, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		stamp, exp := fmtStamp(now), fmtStamp(now.Add(ttl))
		for _, p := range picks {
			var uuid string
			if err := tx.QueryRowContext(ctx, `UPDATE device_jobs SET status = 'running', started = ? WHERE id = ? RETURNING uuid`, stamp, p.id).Scan(&uuid); err != nil {
				return fmt.Errorf("store: start device job: %w", err)
			}
			sk, err := s.devJobs(ctx, tx, `UPDATE device_jobs SET status = 'skipped', superseded_by = ?, finished = ?, expires = ?
				WHERE device = ? AND status = 'queued' AND id < ? RETURNING `+devJobCols, uuid, stamp, exp, p.device, p.id)
			if err != nil {
				return err
			}
			skipped = append(skipped, sk...)
			j, err := scanDevJob(tx.QueryRowContext(ctx, `SELECT `+devJobCols+` FROM device_jobs WHERE id = ?`, p.id))
			if err != nil {
				return err
			}
			started = append(started, j)
		}
		return nil
	})
	return started, skipped, err
}

// DevJobRequest returns a job's LocalDataUpdates (nil when it sent none).
func (s *SQLite) DevJobRequest(ctx context.Context, j DevJob) ([]byte, error) {
	if j.UploadID == 0 {
		var b []byte
		err := s.r.QueryRowContext(ctx, `SELECT request FROM device_jobs WHERE id = ?`, j.ID).Scan(&b)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return b, err
	}
	var b []byte
	err := s.r.QueryRowContext(ctx, `SELECT data FROM device_uploads WHERE id = ?`, j.UploadID).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return b, err
}

// SaveDevStep records one step of a running job, in one transaction: the
// results of the rows it merged (part local), the server changes it
// prepared (part remote), both of one component alias, and the job's
// progress after it (a JSON document of the job layer), so that a job
// resumed after a restart goes on from the last step recorded.
func (s *SQLite) SaveDevStep(ctx context.Context, jobID int64, alias string, results, changes [][]byte, progress []byte) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := addDevRows(ctx, tx, jobID, PartLocal, alias, results); err != nil {
			return err
		}
		if err := addDevRows(ctx, tx, jobID, PartRemote, alias, changes); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE device_jobs SET merged = ?, local_rows = local_rows + ?, remote_rows = remote_rows + ?
			WHERE id = ? AND status = 'running'`, string(progress), len(results), len(changes), jobID)
		if err != nil {
			return fmt.Errorf("store: device job progress: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("store: device job %d is not running", jobID)
		}
		return nil
	})
}

// addDevRows appends rows of one alias to a part of a job's answer.
func addDevRows(ctx context.Context, tx *sql.Tx, jobID int64, part int, alias string, rows [][]byte) error {
	if len(rows) == 0 {
		return nil
	}
	var seq int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM device_job_rows WHERE job_id = ? AND part = ?`, jobID, part).Scan(&seq); err != nil {
		return err
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO device_job_rows (job_id, part, seq, alias, row) VALUES (?,?,?,?,?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, r := range rows {
		seq++
		if _, err := st.ExecContext(ctx, jobID, part, seq, alias, r); err != nil {
			return fmt.Errorf("store: device job rows: %w", err)
		}
	}
	return nil
}

// FinishDevJob ends a running job: it issues its cursor (keeping the
// newest keepCursors of the device) and marks the job done, expiring after
// ttl, in one transaction.
func (s *SQLite) FinishDevJob(ctx context.Context, jobID int64, c DevCursor, now time.Time, ttl time.Duration, keepCursors int) (DevJob, error) {
	var j DevJob
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO device_cursors (device, value, versions, issued, job_uuid) VALUES (?,?,?,?,?)`,
			c.Device, c.Value, string(c.Versions), fmtStamp(c.Issued), c.JobUUID); err != nil {
			return fmt.Errorf("store: issue cursor: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM device_cursors WHERE device = ? AND value NOT IN
			(SELECT value FROM device_cursors WHERE device = ? ORDER BY issued DESC LIMIT ?)`, c.Device, c.Device, keepCursors); err != nil {
			return fmt.Errorf("store: prune cursors: %w", err)
		}
		var err error
		j, err = scanDevJob(tx.QueryRowContext(ctx, `UPDATE device_jobs SET status = 'done', cursor = ?, finished = ?, expires = ?
			WHERE id = ? AND status = 'running' RETURNING `+devJobCols, c.Value, fmtStamp(now), fmtStamp(now.Add(ttl)), jobID))
		return err
	})
	return j, err
}

// FailDevJob ends a job as failed with a reason; it expires after ttl.
func (s *SQLite) FailDevJob(ctx context.Context, jobID int64, reason string, now time.Time, ttl time.Duration) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE device_jobs SET status = 'failed', failure = ?, finished = ?, expires = ? WHERE id = ?`,
			reason, fmtStamp(now), fmtStamp(now.Add(ttl)), jobID)
		return err
	})
}

// DevRows returns up to limit rows of a part of a job's answer after seq.
func (s *SQLite) DevRows(ctx context.Context, jobID int64, part int, after int64, limit int) ([]DevRow, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT seq, alias, row FROM device_job_rows WHERE job_id = ? AND part = ? AND seq > ? ORDER BY seq LIMIT ?`,
		jobID, part, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: device job rows: %w", err)
	}
	defer rows.Close()
	var out []DevRow
	for rows.Next() {
		var r DevRow
		if err := rows.Scan(&r.Seq, &r.Alias, &r.Row); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func scanDevCursor(sc scanner) (DevCursor, error) {
	var c DevCursor
	var versions, issued string
	err := sc.Scan(&c.Device, &c.Value, &versions, &issued, &c.JobUUID, &c.Delivered)
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	c.Versions, c.Issued = []byte(versions), parseStamp(issued)
	return c, err
}

const devCursorCols = `device, value, versions, issued, job_uuid, delivered`

// DevCursor returns the cursor value issued to device.
func (s *SQLite) DevCursor(ctx context.Context, device, value string) (DevCursor, error) {
	return scanDevCursor(s.r.QueryRowContext(ctx, `SELECT `+devCursorCols+` FROM device_cursors WHERE device = ? AND value = ?`, device, value))
}

// DevCursorBefore returns the newest cursor of device issued at or before
// t whose answer the device read to the end (ErrNotFound: none).
func (s *SQLite) DevCursorBefore(ctx context.Context, device string, t time.Time) (DevCursor, error) {
	return scanDevCursor(s.r.QueryRowContext(ctx, `SELECT `+devCursorCols+` FROM device_cursors WHERE device = ? AND issued <= ? AND delivered
		ORDER BY issued DESC LIMIT 1`, device, fmtStamp(t)))
}

// LastDevCursor returns the newest cursor issued to device.
func (s *SQLite) LastDevCursor(ctx context.Context, device string) (DevCursor, error) {
	return scanDevCursor(s.r.QueryRowContext(ctx, `SELECT `+devCursorCols+` FROM device_cursors WHERE device = ? ORDER BY issued DESC LIMIT 1`, device))
}

// MarkDevDelivered records that the RemoteDataUpdates of a job were read
// to the end: its cursor may stand in for a LastSyncDateTime the server did
// not issue.
func (s *SQLite) MarkDevDelivered(ctx context.Context, jobUUID string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE device_cursors SET delivered = 1 WHERE job_uuid = ? AND NOT delivered`, jobUUID)
		return err
	})
}

// CreateDevUpload issues an upload slot to a device under a token hash.
func (s *SQLite) CreateDevUpload(ctx context.Context, token, device string, now, expires time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO device_uploads (token, device, status, created, expires) VALUES (?,?,'issued',?,?)`,
			token, device, fmtStamp(now), fmtStamp(expires))
		if isUnique(err) {
			return ErrConflict
		}
		return err
	})
}

// PutDevUpload stores the data of an issued, unexpired upload slot of
// device ("": any device), once: ErrUpload when there is no such slot
// (unknown, another device's, expired or filled).
func (s *SQLite) PutDevUpload(ctx context.Context, token, device string, data []byte, now time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE device_uploads SET status = 'uploaded', data = ?, size = ?
			WHERE token = ? AND (device = ? OR ? = '') AND status = 'issued' AND expires > ?`, data, len(data), token, device, device, fmtStamp(now))
		if err != nil {
			return fmt.Errorf("store: upload: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrUpload
		}
		return nil
	})
}

// DevUploadData returns the data of an uploaded, unused, unexpired upload
// of device (ErrUpload otherwise).
func (s *SQLite) DevUploadData(ctx context.Context, token, device string, now time.Time) ([]byte, error) {
	var b []byte
	err := s.r.QueryRowContext(ctx, `SELECT data FROM device_uploads WHERE token = ? AND device = ? AND status = 'uploaded' AND expires > ?`,
		token, device, fmtStamp(now)).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrUpload
	}
	return b, err
}

// PurgeDevJobs deletes the device jobs whose results expired before now
// (their rows and the uploads they hold with them) and the upload slots
// that expired unused. It returns how many jobs and uploads went.
func (s *SQLite) PurgeDevJobs(ctx context.Context, now time.Time) (jobs, uploads int, err error) {
	stamp := fmtStamp(now)
	err = s.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `DELETE FROM device_jobs WHERE expires <> '' AND expires < ? RETURNING upload_id`, stamp)
		if err != nil {
			return fmt.Errorf("store: purge device jobs: %w", err)
		}
		var ids []string
		for rows.Next() {
			jobs++
			var id sql.NullInt64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			if id.Valid {
				ids = append(ids, fmt.Sprint(id.Int64))
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) > 0 {
			res, err := tx.ExecContext(ctx, `DELETE FROM device_uploads WHERE id IN (`+strings.Join(ids, ",")+`)`)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			uploads += int(n)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM device_uploads WHERE status <> 'used' AND expires < ?`, stamp)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		uploads += int(n)
		return nil
	})
	return jobs, uploads, err
}

// DevJobStore is what the device job service needs of a store (SQLite
// implements it).
type DevJobStore interface {
	CreateDevJob(ctx context.Context, j DevJob, claim string, big []byte, now time.Time) (DevJob, error)
	DevJob(ctx context.Context, uuid string) (DevJob, error)
	RunningDevJobs(ctx context.Context) ([]DevJob, error)
	ClaimDevJobs(ctx context.Context, limit int, now time.Time, ttl time.Duration) (started, skipped []DevJob, err error)
	DevJobRequest(ctx context.Context, j DevJob) ([]byte, error)
	SaveDevStep(ctx context.Context, jobID int64, alias string, results, changes [][]byte, progress []byte) error
	FinishDevJob(ctx context.Context, jobID int64, c DevCursor, now time.Time, ttl time.Duration, keepCursors int) (DevJob, error)
	FailDevJob(ctx context.Context, jobID int64, reason string, now time.Time, ttl time.Duration) error
	DevRows(ctx context.Context, jobID int64, part int, after int64, limit int) ([]DevRow, error)
	DevCursor(ctx context.Context, device, value string) (DevCursor, error)
	DevCursorBefore(ctx context.Context, device string, t time.Time) (DevCursor, error)
	LastDevCursor(ctx context.Context, device string) (DevCursor, error)
	MarkDevDelivered(ctx context.Context, jobUUID string) error
	CreateDevUpload(ctx context.Context, token, device string, now, expires time.Time) error
	PutDevUpload(ctx context.Context, token, device string, data []byte, now time.Time) error
	DevUploadData(ctx context.Context, token, device string, now time.Time) ([]byte, error)
	PurgeDevJobs(ctx context.Context, now time.Time) (jobs, uploads int, err error)
}

var _ DevJobStore = (*SQLite)(nil)
