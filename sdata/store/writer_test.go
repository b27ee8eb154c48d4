package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// TestGroupCommitKeepsEachOutcome: writes queued behind a long one are
// committed together, and each keeps its own outcome: a failed write
// leaves nothing (not even the part it wrote before failing), the others
// are all stored, and a write whose client went away is not run.
func TestGroupCommitKeepsEachOutcome(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	if err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE gc (k INTEGER PRIMARY KEY, v TEXT)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// Hold the writer until the others are queued.
	release, held := make(chan struct{}), make(chan struct{})
	blocker := make(chan error, 1)
	go func() {
		blocker <- s.write(ctx, func(tx *sql.Tx) error {
			close(held)
			<-release
			_, err := tx.ExecContext(ctx, `INSERT INTO gc VALUES (0, 'first')`)
			return err
		})
	}()
	<-held
	const n = 24
	errs := make([]error, n)
	var wg sync.WaitGroup
	gone, cancel := context.WithCancel(ctx)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wctx := ctx
			if i == 7 {
				wctx = gone
			}
			errs[i] = s.write(wctx, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO gc VALUES (?, ?)`, 100+i, fmt.Sprint("w", i)); err != nil {
					return err
				}
				if i%5 == 3 {
					return fmt.Errorf("write %d refused", i) // after writing: rolled back
				}
				if i == 11 {
					_, err := tx.ExecContext(ctx, `INSERT INTO gc VALUES (0, 'duplicate')`) // constraint
					return err
				}
				return nil
			})
		}()
	}
	// Wait until every write is queued behind the held one.
	for len(s.writes) < n {
		runtime.Gosched()
	}
	cancel()
	close(release)
	wg.Wait()
	if err := <-blocker; err != nil {
		t.Fatal(err)
	}
	want := map[int]bool{0: true}
	for i, err := range errs {
		switch {
		case i == 7:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("write %d of a client gone: %v, want context.Canceled", i, err)
			}
		case i%5 == 3 || i == 11:
			if err == nil {
				t.Errorf("write %d succeeded, want its error", i)
			}
		default:
			if err != nil {
				t.Errorf("write %d: %v", i, err)
			}
			want[100+i] = true
		}
	}
	rows, err := s.r.QueryContext(ctx, `SELECT k, v FROM gc`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[int]bool{}
	for rows.Next() {
		var k int
		var v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		got[k] = true
		if k == 0 && v != "first" {
			t.Errorf("row 0 is %q", v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("stored %d rows, want %d", len(got), len(want))
	}
	for k := range want {
		if !got[k] {
			t.Errorf("row %d missing", k)
		}
	}
	if s.groups.Load() == 0 {
		t.Error("the queued writes were not committed together")
	}
}
