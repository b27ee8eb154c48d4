package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
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
	Owner       string         // the principal that created the job (auth.Name); "" before authentication existed
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
		res, err := tx.ExecContext(ctx, `INSERT INTO sync_jobs (endpoint_id, type, tracking_id, status, run_name, run_stamp, request, request_file, created, updated, expires, owner)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (endpoint_id, type, tracking_id) DO NOTHING`,
			j.EndpointID, j.Type, j.TrackingID, JobRunning, j.RunName, j.RunStamp, inline, file, fmtStamp(now), fmtStamp(now), fmtStamp(j.Expires), j.Owner)
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
	jobCols            = `id, endpoint_id, type, tracking_id, status, run_name, run_stamp, NULL, request_file, digest, total, failure, created, updated, expires, owner`
	jobColsWithRequest = `id, endpoint_id, type, tracking_id, status, run_name, run_stamp, request, request_file, digest, total, failure, created, updated, expires, owner`
)

func scanJob(sc scanner) (Job, error) {
	var j Job
	var dg, created, updated, expires string
	if err := sc.Scan(&j.ID, &j.EndpointID, &j.Type, &j.TrackingID, &j.Status, &j.RunName, &j.RunStamp, &j.Request, &j.requestFile, &dg,
		&j.Total, &j.Failure, &created, &updated, &expires, &j.Owner); err != nil {
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
func (s *SQLite) FailJob(ctx context.Context, j Job, reason string) error {
	var file string
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if file, err = requestFileOf(ctx, tx, j.ID, j.TrackingID); err != nil {
			return err
		}
		// The tracking ID guards against a row ID reused after the job was
		// freed and purged: a late failure never lands on another job.
		_, err = tx.ExecContext(ctx, `UPDATE sync_jobs SET status = ?, failure = ?, request = NULL, request_file = '', updated = ? WHERE id = ? AND tracking_id = ? AND status <> ?`,
			JobFailed, reason, fmtStamp(time.Now()), j.ID, j.TrackingID, JobDeleted)
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
		if file, err = requestFileOf(ctx, tx, id, ""); err != nil {
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
