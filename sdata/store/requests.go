package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"
)

// InlineRequestMax is the largest job request kept in the database. A
// bigger one (a sync feed page, a batch) is written to a file in the
// folder next to the database (see RequestDir) and removed once the job
// no longer needs it: the request is only read to resume the job after a
// restart, and keeping megabytes per page out of the database spares it
// writing them, checkpointing them and freeing them again.
const InlineRequestMax = 64 << 10

// NewUUID returns a new resource UUID. It is a version 7 UUID (RFC 9562):
// time-ordered, so the UUIDs a provider hands out in a burst (a first sync
// of a big table) land next to each other in the UUID indexes of every
// provider that stores them, instead of one random index page each.
func NewUUID() string {
	u, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return u.String()
}

// requestExt names the files of job requests.
const requestExt = ".request"

// RequestDir returns the folder of the job request files of the database at
// path.
func RequestDir(path string) string { return path + "-requests" }

// writeRequest stores a big request in a new file and returns its name.
func (s *SQLite) writeRequest(body []byte) (string, error) {
	dir := RequestDir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("store: request folder: %w", err)
	}
	name := uuid.NewString() + requestExt
	if err := os.WriteFile(filepath.Join(dir, name), body, 0o600); err != nil {
		return "", fmt.Errorf("store: write request: %w", err)
	}
	return name, nil
}

// readRequest reads a request file; a missing file gives nil (the job
// cannot be resumed).
func (s *SQLite) readRequest(name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(RequestDir(s.path), name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// dropRequests removes request files (after the transaction that stopped
// naming them committed).
func (s *SQLite) dropRequests(names ...string) {
	for _, n := range names {
		if n != "" && !strings.ContainsAny(n, `/\`) {
			os.Remove(filepath.Join(RequestDir(s.path), n))
		}
	}
}

// requestFileOf returns the request file job id names, "" if none.
func requestFileOf(ctx context.Context, tx *sql.Tx, id int64, trackingID string) (string, error) {
	var name string
	err := tx.QueryRowContext(ctx, `SELECT request_file FROM sync_jobs WHERE id = ? AND (? = '' OR tracking_id = ?)`, id, trackingID, trackingID).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return name, err
}

// sweepRequestFiles removes request files no job names: a crash between
// writing the file and committing the job leaves one behind.
func (s *SQLite) sweepRequestFiles(ctx context.Context) error {
	entries, err := os.ReadDir(RequestDir(s.path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: request folder: %w", err)
	}
	named := map[string]bool{}
	rows, err := s.r.QueryContext(ctx, `SELECT request_file FROM sync_jobs WHERE request_file <> ''`)
	if err != nil {
		return fmt.Errorf("store: request files: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return err
		}
		named[n] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, requestExt) && !named[n] {
			s.dropRequests(n)
		}
	}
	return nil
}
