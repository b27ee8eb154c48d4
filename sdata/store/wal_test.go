package store

import (
	"context"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

func TestWALLimitText(t *testing.T) {
	if walLimitText != strconv.Itoa(WALLimit) {
		t.Fatalf("walLimitText %s, WALLimit %d", walLimitText, WALLimit)
	}
}

// TestWALBounded writes sustainedly while readers keep reading, so that
// the automatic checkpoints never get to start the log over: the log grows
// past WALLimit (what happened before the checkpointer). A TRUNCATE
// checkpoint (what the checkpointer runs) brings it back under the bound
// while the readers go on; the pragma is set on every connection.
func TestWALBounded(t *testing.T) {
	ctx := context.Background()
	s, err := openSQLite(ctx, filepath.Join(t.TempDir(), "wal.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var limit int64
	if err := s.r.QueryRowContext(ctx, `PRAGMA journal_size_limit`).Scan(&limit); err != nil || limit != WALLimit {
		t.Fatalf("journal_size_limit of a reader = %d, %v; want %d", limit, err, WALLimit)
	}
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE scratch (id INTEGER PRIMARY KEY, b BLOB)`); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				tx, err := s.r.BeginTx(ctx, nil)
				if err != nil {
					t.Error(err)
					return
				}
				var n int
				_ = tx.QueryRowContext(ctx, `SELECT count(*) FROM scratch`).Scan(&n)
				tx.Rollback()
			}
		}()
	}
	blob := make([]byte, 8<<10)
	for i := 0; s.WALSize() <= 2*WALLimit; i++ {
		if _, err := s.w.ExecContext(ctx, `INSERT INTO scratch (b) VALUES (?)`, blob); err != nil {
			t.Fatal(err)
		}
		if i > 200_000 {
			t.Fatalf("the log stayed at %d bytes after %d writes under reads", s.WALSize(), i)
		}
		if i%64 == 0 {
			// Rewrite old rows too, as updates do.
			if _, err := s.w.ExecContext(ctx, `UPDATE scratch SET b = ? WHERE id % 97 = ?`, blob, i%97); err != nil {
				t.Fatal(err)
			}
		}
	}
	grown := s.WALSize()
	// The readers keep reading during the checkpoint: without the reader
	// gate of Checkpoint they held SQLite's read marks on older snapshots
	// and starved it (Busy, the log left as it was).
	c, err := s.Checkpoint(ctx)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("log %d bytes under sustained writes; checkpoint: %+v", grown, c)
	if c.Busy || c.SizeAfter > WALLimit || s.WALSize() > WALLimit {
		t.Fatalf("after a checkpoint the log is %d bytes (busy %v), want at most %d", s.WALSize(), c.Busy, WALLimit)
	}
	var ok string
	if err := s.r.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("integrity_check: %s %v", ok, err)
	}
}

// TestCheckpointerStops: the store's checkpointer goroutine ends on Close.
func TestCheckpointerStops(t *testing.T) {
	s, err := openSQLite(context.Background(), filepath.Join(t.TempDir(), "c.db"), CheckpointEvery)
	if err != nil {
		t.Fatal(err)
	}
	if s.stopCheckpointer == nil {
		t.Fatal("no checkpointer started")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.stopCheckpointer() // returns at once: the goroutine has ended
}
