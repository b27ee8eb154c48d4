package jobs

import (
	"context"
	"slices"
	"sync"
	"time"

	"sdatasync/sdata/store"
)

// runningJobs signals the end of the jobs running in this process.
type runningJobs struct {
	mu   sync.Mutex
	done map[int64]chan struct{} // job id -> closed when the job's goroutine ends
}

func (rj *runningJobs) add(id int64) chan struct{} {
	rj.mu.Lock()
	defer rj.mu.Unlock()
	if rj.done == nil {
		rj.done = map[int64]chan struct{}{}
	}
	ch := make(chan struct{})
	rj.done[id] = ch
	return ch
}

func (rj *runningJobs) finish(id int64, ch chan struct{}) {
	rj.mu.Lock()
	defer rj.mu.Unlock()
	if rj.done[id] == ch {
		delete(rj.done, id)
	}
	close(ch)
}

// wait blocks until job id ends, hold passes or ctx is done; it returns at
// once for a job that does not run in this process.
func (rj *runningJobs) wait(ctx context.Context, id int64, hold time.Duration) {
	rj.mu.Lock()
	ch := rj.done[id]
	rj.mu.Unlock()
	if ch == nil {
		return
	}
	t := time.NewTimer(hold)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
	}
}

// recentResults keeps the results of the last few jobs in memory, so that
// the GET that usually follows a job at once needs no query. The store
// stays the reference: a job not here is read from it.
type recentResults struct {
	mu   sync.Mutex
	jobs []jobResults // oldest first, at most MaxRecentResults
}

// jobResults are the results of one job; a job is named by its id and
// creation time (ids of deleted jobs may come back).
type jobResults struct {
	id      int64
	created time.Time
	results []store.Result
	encoded [][]byte // the result entries encoded for the feed (nil: not encoded)
}

// MaxRecentResults is how many jobs' results stay in memory.
const MaxRecentResults = 4

func (rr *recentResults) put(j store.Job, res []store.Result, encoded [][]byte) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rr.jobs = slices.DeleteFunc(rr.jobs, func(k jobResults) bool { return k.id == j.ID })
	if len(rr.jobs) == MaxRecentResults {
		rr.jobs = append(rr.jobs[:0], rr.jobs[1:]...)
	}
	if len(encoded) != len(res) {
		encoded = nil
	}
	rr.jobs = append(rr.jobs, jobResults{j.ID, j.Created, res, encoded})
}

// get returns results [offset, offset+limit) of job, if they are kept.
// The encoded entries, when kept, come along (same range).
func (rr *recentResults) get(job store.Job, offset, limit int) ([]store.Result, [][]byte, bool) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	for _, j := range rr.jobs {
		if j.id == job.ID && j.created.Equal(job.Created) {
			offset = min(max(offset, 0), len(j.results))
			end := min(len(j.results), offset+max(limit, 0))
			var enc [][]byte
			if j.encoded != nil {
				enc = j.encoded[offset:end]
			}
			return j.results[offset:end], enc, true
		}
	}
	return nil, nil, false
}

func (rr *recentResults) drop(id int64) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rr.jobs = slices.DeleteFunc(rr.jobs, func(j jobResults) bool { return j.id == id })
}
