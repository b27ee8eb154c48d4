package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// JobBatch is the type of an asynchronous $batch job (core 13.5). Its
// results live in the same result table as a target job's; each entry of
// the batch was already applied through the ordinary local write path, so
// the job itself only records the outcome.
const JobBatch = "batch"

// SaveResults stores the results of a batch job, in order (Seq is set to
// the position when zero), and marks the job done with their count, in one
// transaction: a job is either running without results or done with all of
// them. It returns ErrNotFound when the job no longer exists (freed while it
// ran) and ErrConflict when it is no longer running.
func (s *SQLite) SaveResults(ctx context.Context, job Job, results []Result) (Job, error) {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE sync_jobs SET status = ?, total = ?, request = NULL, request_file = '', updated = ? WHERE id = ? AND tracking_id = ? AND status = ?`,
			JobDone, len(results), fmtStamp(time.Now()), job.ID, job.TrackingID, JobRunning)
		if err != nil {
			return fmt.Errorf("store: finish job %s: %w", job.TrackingID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var status string
			err := tx.QueryRowContext(ctx, `SELECT status FROM sync_jobs WHERE id = ?`, job.ID).Scan(&status)
			if errors.Is(err, sql.ErrNoRows) || status == JobDeleted {
				return fmt.Errorf("store: job %s was freed before it finished: %w", job.TrackingID, ErrNotFound)
			}
			if err != nil {
				return err
			}
			return fmt.Errorf("store: job %s is %s, not running: %w", job.TrackingID, status, ErrConflict)
		}
		for i, r := range results {
			if r.Seq == 0 {
				r.Seq = i + 1
			}
			if err := insertResult(ctx, tx, job.ID, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Job{}, err
	}
	s.dropRequests(job.requestFile)
	return s.Job(ctx, job.EndpointID, job.Type, job.TrackingID)
}
