package syncurls

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"

	"sdatasync/feeds"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
)

// prepareChunk is how many entries a preparing goroutine takes at a time.
const prepareChunk = 32

// preparedPage is the entries of a sync feed page being prepared
// (validated, made canonical) by a few goroutines of the jobs runtime,
// chunk by chunk in feed order, while the store already applies the first
// ones: it is the store.IncomingPage of a target job.
type preparedPage struct {
	entries []store.Incoming
	ready   []chan struct{} // per chunk: closed once its entries are prepared

	// Result entries are encoded for the result feed while the following
	// entries are applied (store.ResultObserver): the GET that follows the
	// job writes them as they are.
	applied chan appliedResult
	encoded [][]byte
	done    chan struct{}

	// audit returns the audit records of the page's results, written in
	// its transaction (store.ResultAuditor); nil audits nothing.
	audit func([]store.Result) []store.AuditRecord
}

// AuditResults returns the page's audit records (store.ResultAuditor).
func (p *preparedPage) AuditResults(results []store.Result) []store.AuditRecord {
	if p.audit == nil {
		return nil
	}
	return p.audit(results)
}

type appliedResult struct {
	i int
	r store.Result
}

// Applied hands a result to the encoder (store.ResultObserver).
func (p *preparedPage) Applied(i int, r store.Result) {
	if p.applied != nil {
		p.applied <- appliedResult{i, r}
	}
}

// encodeResults starts encoding the results the store reports, on a
// goroutine of the jobs runtime (none once it is closed: the results are
// then encoded when read).
func (p *preparedPage) encodeResults(s *Service, sc site.Scope) {
	applied := make(chan appliedResult, len(p.entries))
	encoded := make([][]byte, len(p.entries))
	done := make(chan struct{})
	if !s.jobs.Go(func(context.Context) {
		defer close(done)
		for a := range applied {
			e, err := s.resultEntry(sc, a.r)
			if err != nil {
				continue // left to resultPage, which reports it
			}
			if b, err := feeds.EncodeEntry(e); err == nil {
				encoded[a.i] = b
			}
		}
	}) {
		return
	}
	p.applied, p.encoded, p.done = applied, encoded, done
}

// encodedResults ends the encoding and returns the entries encoded, nil
// when the page failed (its results do not count) or nothing was encoded.
func (p *preparedPage) encodedResults(ok bool) [][]byte {
	if p.applied == nil {
		return nil
	}
	close(p.applied)
	<-p.done
	p.applied = nil
	if !ok {
		return nil
	}
	return p.encoded
}

// preparePage starts preparing the entries of a parsed page, on as many
// goroutines of the jobs runtime as the process may run at once. Once the
// runtime is closed (shutdown), chunks not prepared yet are marked invalid
// at once, so that nothing waits for them.
func (s *Service) preparePage(sc site.Scope, feed []*feeds.Entry) *preparedPage {
	n := len(feed)
	p := &preparedPage{entries: make([]store.Incoming, n), ready: make([]chan struct{}, (n+prepareChunk-1)/prepareChunk)}
	for c := range p.ready {
		p.ready[c] = make(chan struct{})
	}
	var next atomic.Int64
	work := func(ctx context.Context) {
		for {
			c := int(next.Add(1) - 1)
			if c >= len(p.ready) {
				return
			}
			for i := c * prepareChunk; i < min(n, (c+1)*prepareChunk); i++ {
				if ctx.Err() != nil {
					p.entries[i] = cancelled(i, feed[i], ctx.Err())
					continue
				}
				p.entries[i] = s.prepareOne(sc, i, feed[i])
			}
			close(p.ready[c])
		}
	}
	started := 0
	for range min(runtime.GOMAXPROCS(0), len(p.ready)) {
		if s.jobs.Go(work) {
			started++
		}
	}
	if started == 0 {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		work(ctx)
	}
	return p
}

// cancelled is an entry left unprepared by a shutdown.
func cancelled(i int, e *feeds.Entry, err error) store.Incoming {
	in := store.Incoming{Invalid: fmt.Errorf("not prepared: %w", err), PayloadPath: fmt.Sprintf("feed/entry[%d]", i+1)}
	if e.SyncState != nil {
		in.State = *e.SyncState
	}
	return in
}

// prepareOne prepares one entry; a panic (a bug) makes the entry invalid
// instead of taking the process down.
func (s *Service) prepareOne(sc site.Scope, i int, e *feeds.Entry) (in store.Incoming) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("preparing a sync entry panicked", "kind", sc.Kind.PluralName, "entry", i+1, "panic", v)
			in = store.Incoming{Invalid: fmt.Errorf("internal error preparing the entry: %v", v), PayloadPath: fmt.Sprintf("feed/entry[%d]", i+1)}
			if e.SyncState != nil {
				in.State = *e.SyncState
			}
		}
	}()
	return s.prepareEntry(sc, i, e)
}

// Len returns the number of entries of the page.
func (p *preparedPage) Len() int { return len(p.entries) }

// At returns entry i once it is prepared.
func (p *preparedPage) At(i int) store.Incoming {
	<-p.ready[i/prepareChunk]
	return p.entries[i]
}
