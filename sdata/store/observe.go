package store

import (
	"os"
	"time"
)

// ObserveWrites makes fn see the duration of every write transaction of
// the store, commit included (metrics); nil stops it. fn runs on the
// writing goroutine and must be quick.
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
