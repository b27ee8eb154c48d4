package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Group commit. Every write of the store goes through one goroutine, the
// writer, which owns the one writer connection. When writes queue (many
// clients writing at once), the writer runs the ones waiting together in
// one transaction, each inside its own savepoint: a write that fails is
// rolled back to its savepoint and reports its own error, the others
// commit together. A transaction's fixed cost (BEGIN IMMEDIATE, the WAL
// frames of the pages every write touches: counters, the change sequence,
// inner index pages) is then paid once per batch instead of once per write.
// A write alone in the queue runs in its own transaction, as before.

// maxGroup is the most writes committed together.
const maxGroup = 32

// errClosed is the answer to a write after Close.
var errClosed = errors.New("store: closed")

// writeReq is one write waiting for the writer.
type writeReq struct {
	ctx  context.Context
	fn   func(tx *sql.Tx) error
	done chan error // receives the write's outcome once it is durable or refused
}

// startWriter starts the writer goroutine; Close stops it.
func (s *SQLite) startWriter() {
	s.writes = make(chan *writeReq, maxGroup)
	s.closed = make(chan struct{})
	s.writerDone = make(chan struct{})
	go func() {
		defer close(s.writerDone)
		for {
			var first *writeReq
			select {
			case first = <-s.writes:
			case <-s.closed:
				for {
					select {
					case r := <-s.writes:
						r.done <- errClosed
					default:
						return
					}
				}
			}
			group := []*writeReq{first}
		more:
			for len(group) < maxGroup {
				select {
				case r := <-s.writes:
					group = append(group, r)
				default:
					break more
				}
			}
			if len(group) == 1 {
				first.done <- s.writeOne(first.ctx, first.fn)
				continue
			}
			s.writeGroup(group)
			s.groups.Add(1)
		}
	}()
}

// stopWriter stops the writer goroutine after the group it is running.
func (s *SQLite) stopWriter() {
	if s.closed == nil {
		return
	}
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	<-s.writerDone
}

// write runs fn in a write transaction and returns once it is committed
// (nil) or rolled back (fn's error, or the transaction's). fn runs on the
// writer goroutine, possibly in a transaction shared with other writes
// (group commit): it must not keep tx, and what it writes is committed
// only when write returns nil.
func (s *SQLite) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if obs := s.onWrite.Load(); obs != nil {
		defer func(start time.Time) { (*obs)(time.Since(start)) }(time.Now())
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.writes <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		return errClosed
	}
	// Once handed over the write runs or is refused: its outcome is awaited
	// even if ctx ends (its statements are then interrupted).
	select {
	case err := <-req.done:
		return err
	case <-s.writerDone:
		select {
		case err := <-req.done:
			return err
		default:
			return errClosed // queued as the writer stopped
		}
	}
}

// writeOne runs one write in its own transaction.
func (s *SQLite) writeOne(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// writeGroup runs writes in one transaction, each in a savepoint. The
// transaction belongs to the writer (a client that goes away interrupts
// only its own write). If the transaction itself fails (a savepoint that
// cannot be rolled back, the commit), every write of the group that was
// to commit reports that failure: nothing of them is stored.
func (s *SQLite) writeGroup(group []*writeReq) {
	tx, err := s.w.BeginTx(context.Background(), nil)
	if err != nil {
		for _, r := range group {
			r.done <- fmt.Errorf("store: begin: %w", err)
		}
		return
	}
	var ok []*writeReq
	fail := func(rest []*writeReq, err error) {
		tx.Rollback()
		for _, r := range append(ok, rest...) {
			r.done <- err
		}
	}
	for i, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.done <- err
			continue
		}
		if _, err := tx.Exec(`SAVEPOINT w`); err != nil {
			fail(group[i:], fmt.Errorf("store: savepoint: %w", err))
			return
		}
		if err := r.fn(tx); err != nil {
			if _, rerr := tx.Exec(`ROLLBACK TO w`); rerr != nil {
				r.done <- err
				fail(group[i+1:], fmt.Errorf("store: write group aborted: %w", rerr))
				return
			}
			r.done <- err
		} else {
			ok = append(ok, r)
		}
		if _, err := tx.Exec(`RELEASE w`); err != nil {
			fail(group[i+1:], fmt.Errorf("store: release savepoint: %w", err))
			return
		}
	}
	if err := tx.Commit(); err != nil {
		err = fmt.Errorf("store: commit: %w", err)
		for _, r := range ok {
			r.done <- err
		}
		return
	}
	for _, r := range ok {
		r.done <- nil
	}
}
