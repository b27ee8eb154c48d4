package store

import (
	"os"
	"time"
)

// ObserveWrites makes fn see the duration of every write of the store,
// from the call to its outcome: waiting for the writer and the commit
// included (writes queued together share a transaction: writer.go);
// nil stops it. fn runs on the calling goroutine and must be quick.
func (s *SQLite) ObserveWrites(fn func(time.Duration)) {
	if fn == nil {
		s.onWrite.Store(nil)
		return
	}
	s.onWrite.Store(&fn)
}

// WALBytes is the size of the database's write-ahead log file (0 when it
// does not exist).
func (s *SQLite) WALBytes() int64 {
	fi, err := os.Stat(s.path + "-wal")
	if err != nil {
		return 0
	}
	return fi.Size()
}
