package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"os"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// The write-ahead log stays bounded. SQLite's automatic checkpoints copy
// the log into the database but can only start the log over when no
// reader still reads from it; under sustained writes with concurrent
// reads that moment never comes and the log grows without bound (189 MB
// for a 6.6 MB database after a minute of 200 writers). So:
//   - every connection sets journal_size_limit: whenever the log starts
//     over, its file is cut back to WALLimit;
//   - a goroutine of the store looks at the log's size every
//     CheckpointEvery and, above WALLimit, runs a TRUNCATE checkpoint: it
//     copies the log, waits (busy timeout) for the readers of older
//     snapshots to finish, and truncates the file to zero. It runs on the
//     writer connection, so writes wait behind it instead of failing.
const (
	// WALLimit is the journal_size_limit of every connection and the log
	// size above which the store runs a TRUNCATE checkpoint.
	WALLimit = 16 << 20
	// CheckpointEvery is how often the store looks at the log's size.
	CheckpointEvery = time.Second
)

// pragmaConnector opens connections of the sqlite3 driver with the
// pragmas that have no DSN parameter, without registering a driver
// (no global state).
type pragmaConnector struct {
	drv *sqlite3.SQLiteDriver
	dsn string
}

func newPragmaConnector(dsn string, pragmas ...string) pragmaConnector {
	return pragmaConnector{dsn: dsn, drv: &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		for _, p := range pragmas {
			if _, err := c.Exec(p, nil); err != nil {
				return fmt.Errorf("store: %s: %w", p, err)
			}
		}
		return nil
	}}}
}

// Connect opens one connection.
func (c pragmaConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }

// Driver returns the sqlite3 driver.
func (c pragmaConnector) Driver() driver.Driver { return c.drv }

// walPragma is run on every connection.
const walPragma = "PRAGMA journal_size_limit = " + walLimitText

// walLimitText is WALLimit in decimal, for the pragma.
const walLimitText = "16777216"

// WALSize is the size in bytes of the database's write-ahead log file (0
// when there is none).
func (s *SQLite) WALSize() int64 {
	fi, err := os.Stat(s.path + "-wal")
	if err != nil {
		return 0
	}
	return fi.Size()
}

// Checkpoint is the outcome of a TRUNCATE checkpoint.
type Checkpoint struct {
	Busy       bool  // readers or a writer kept it from completing
	LogFrames  int   // frames in the log before it
	Copied     int   // frames copied into the database
	SizeBefore int64 // log size before, in bytes
	SizeAfter  int64 // log size after, in bytes
}

// readerGate is how long Checkpoint waits to hold every reader
// connection before it checkpoints without them.
const readerGate = 2 * time.Second

// Checkpoint copies the write-ahead log into the database and truncates
// it to zero (PRAGMA wal_checkpoint(TRUNCATE)). It takes the writer
// connection, as any write does, then every connection of the reader
// pool, so that the reads running finish and new ones wait in the pool
// for the few milliseconds the checkpoint takes: readers that overlap
// without a pause would otherwise hold SQLite's read marks on older
// snapshots and starve it. If the readers cannot all be had within
// readerGate, it checkpoints anyway (SQLite then waits for old readers up
// to the busy timeout and may report Busy).
func (s *SQLite) Checkpoint(ctx context.Context) (Checkpoint, error) {
	c := Checkpoint{SizeBefore: s.WALSize()}
	wc, err := s.w.Conn(ctx)
	if err != nil {
		return c, fmt.Errorf("store: checkpoint: %w", err)
	}
	defer wc.Close()
	readers := s.holdReaders(ctx)
	defer func() {
		for _, r := range readers {
			r.Close()
		}
	}()
	var busy int
	if err := wc.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &c.LogFrames, &c.Copied); err != nil {
		return c, fmt.Errorf("store: checkpoint: %w", err)
	}
	c.Busy, c.SizeAfter = busy != 0, s.WALSize()
	return c, nil
}

// holdReaders takes every connection of the bounded reader pool (none
// when the pool is unbounded, or when they cannot all be had within
// readerGate: then the ones taken are given back).
func (s *SQLite) holdReaders(ctx context.Context) []*sql.Conn {
	n := s.r.Stats().MaxOpenConnections
	if n <= 0 {
		return nil
	}
	gctx, cancel := context.WithTimeout(ctx, readerGate)
	defer cancel()
	held := make([]*sql.Conn, 0, n)
	for range n {
		c, err := s.r.Conn(gctx)
		if err != nil {
			for _, h := range held {
				h.Close()
			}
			return nil
		}
		held = append(held, c)
	}
	return held
}

// checkpointer runs a TRUNCATE checkpoint whenever the log is above
// WALLimit, looking every interval, until ctx ends; it closes done when
// it returns.
func (s *SQLite) checkpointer(ctx context.Context, interval time.Duration, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s.WALSize() <= WALLimit {
			continue
		}
		c, err := s.Checkpoint(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			slog.Warn("store: checkpoint failed", "db", s.path, "err", err)
		case err == nil && c.Busy:
			slog.Warn("store: checkpoint could not complete (readers held old snapshots past the busy timeout)",
				"db", s.path, "walBytes", c.SizeAfter)
		}
	}
}

// startCheckpointer starts the checkpointer goroutine (interval 0: none);
// Close stops it.
func (s *SQLite) startCheckpointer(interval time.Duration) {
	if interval <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.stopCheckpointer = func() { cancel(); <-done }
	go s.checkpointer(ctx, interval, done)
}
