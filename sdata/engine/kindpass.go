package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"sdatasync/feeds"
	"sdatasync/sdata/client"
)

// cleanupTimeout bounds the DELETE of a job context once the pass is over
// (it runs even when the pass's context was cancelled).
const cleanupTimeout = 10 * time.Second

// maxBody bounds the documents the engine reads and parses.
const maxBody = 256 << 20

// limits bounds the documents the engine parses.
func limits() feeds.Limits { return feeds.Limits{MaxBytes: maxBody, MaxEntries: 100000} }

// kindRun is the state of one kind's pass.
type kindRun struct {
	e        *Engine
	p        kindPlan      // its src and tgt clients carry each side's credentials
	run      client.Params // runName, runStamp
	page     client.Params // run plus count, for the first GET of a job
	sum      *KindSummary
	start    time.Time
	total    int
	tracking string // the source job's tracking ID

	resultsDone chan struct{} // closed when the last page's results reached the source
}

// passKind runs one kind's catch-up pass and summarizes it.
func (e *Engine) passKind(ctx context.Context, p kindPlan, runName, runStamp string) KindSummary {
	ks := KindSummary{Kind: p.kind, Source: p.source, Target: p.target}
	r := &kindRun{e: e, p: p, sum: &ks, start: time.Now(), total: -1,
		run: client.Params{{"runName", runName}, {"runStamp", runStamp}}}
	r.page = r.run
	if e.PageSize > 0 {
		r.page = append(r.page[:len(r.page):len(r.page)], [2]string{"count", strconv.Itoa(e.PageSize)})
	}
	err := r.pass(ctx)
	ks.Duration = time.Since(r.start)
	ks.Seconds = ks.Duration.Seconds()
	if ks.Seconds > 0 {
		ks.EntriesPerSecond = float64(ks.Selected) / ks.Seconds
	}
	if err != nil {
		ks.Err = err.Error()
		e.logger().Error("kind pass failed", "kind", p.kind, "source", p.source, "target", p.target, "err", err) // the URLs carry no credentials (refused as options)
	}
	r.progress("done", 0)
	return ks
}

func (r *kindRun) progress(phase string, remaining time.Duration) {
	if r.e.Progress == nil {
		return
	}
	pr := Progress{Source: r.p.source, Target: r.p.target, Kind: r.p.kind, Phase: phase, Page: r.sum.Pages,
		Entries: r.sum.Selected, Total: r.total, Elapsed: time.Since(r.start), Remaining: remaining}
	if remaining == 0 && r.total > pr.Entries && pr.Rate() > 0 {
		pr.Remaining = time.Duration(float64(r.total-pr.Entries) / pr.Rate() * float64(time.Second))
	}
	r.e.Progress(pr)
}

// withTracking returns the run's parameters preceded by a trackingID.
func (r *kindRun) withTracking(id string) client.Params {
	return append(client.Params{{"trackingID", id}}, r.run...)
}

func (r *kindRun) pass(ctx context.Context) error {
	e, src, tgt := r.e, r.p.src, r.p.tgt
	// 1. The target's digest, as received.
	res, err := tgt.Do(ctx, http.MethodGet, r.p.target+"/$syncDigest"+client.Query(r.run), nil, "")
	if err != nil {
		return fmt.Errorf("reading the target digest: %w", err)
	}
	dg, err := feeds.ParseEntry(bytes.NewReader(res.Body), limits())
	if err != nil {
		return fmt.Errorf("reading the target digest: %w", err)
	}
	if dg.Digest == nil {
		return fmt.Errorf("the target's $syncDigest entry holds no sync:digest")
	}
	var body bytes.Buffer
	if err := feeds.WriteDigestEntry(&body, dg); err != nil {
		return err
	}

	// 2. Ask the source for what the target lacks.
	r.tracking = uuid.NewString()
	res, err = src.Do(ctx, http.MethodPost, r.p.source+"/$syncSource"+client.Query(r.withTracking(r.tracking)),
		body.Bytes(), client.TypeEntry)
	if err != nil {
		return fmt.Errorf("starting the source job: %w", err)
	}
	r.progress("selecting", 0)
	res, srcLoc, err := src.Await(ctx, res, r.page, func(t *feeds.Tracking) {
		r.progress("selecting", time.Duration(t.RemainingSeconds)*time.Second)
	})
	if srcLoc != "" {
		defer r.cleanup(ctx, src, srcLoc)
	}
	if err != nil {
		return fmt.Errorf("waiting for the source job: %w", err)
	}

	// 3. Every page to the target, in order. While the target applies page
	// k, page k+1 is already being read from the source, and the results of
	// page k go back to the source while page k+1 is applied: the three
	// parties work at the same time, and the target still sees the pages
	// strictly in feed order.
	defer r.waitResults()
	cur := res.URL.String()
	f, err := feeds.ScanFeed(bytes.NewReader(res.Body), limits())
	for {
		if err != nil {
			return fmt.Errorf("reading sync feed page %d from %s: %w", r.sum.Pages+1, client.Redact(cur), err)
		}
		if r.total < 0 && f.TotalResults >= 0 {
			r.total = f.TotalResults
		}
		var prefetch chan fetched
		nu := ""
		if next, ok := f.Link("next"); ok {
			if nu, err = res.Resolve(next.Href); err != nil {
				return err
			}
			if nu == cur {
				return fmt.Errorf("the sync feed page %s links to itself as next", client.Redact(cur))
			}
			if nu, err = client.WithParams(nu, r.run); err != nil {
				return err
			}
			prefetch = make(chan fetched, 1)
			go func(u string) {
				res, err := src.Do(ctx, http.MethodGet, u, nil, "")
				if err == nil {
					res, _, err = src.Await(ctx, res, r.run, nil)
				}
				if err != nil {
					prefetch <- fetched{res: res, err: err}
					return
				}
				// Read here too, while the target applies the current page.
				f, perr := feeds.ScanFeed(bytes.NewReader(res.Body), limits())
				prefetch <- fetched{res: res, feed: f, parseErr: perr}
			}(nu)
		}
		if err := r.applyPage(ctx, f, res.Body); err != nil {
			if prefetch != nil {
				<-prefetch
			}
			return fmt.Errorf("sync feed page %d: %w", r.sum.Pages+1, err)
		}
		r.sum.Pages++
		r.sum.Selected += len(f.Entries)
		e.logger().Debug("sync page applied", "kind", r.p.kind, "page", r.sum.Pages, "entries", len(f.Entries), "target", r.p.target)
		r.progress("page", 0)
		if prefetch == nil {
			return nil
		}
		got := <-prefetch
		if got.err != nil {
			return fmt.Errorf("reading the next sync feed page: %w", got.err)
		}
		res, cur, f, err = got.res, nu, got.feed, got.parseErr
	}
}

// fetched is the outcome of a prefetched request: the response and, when
// it came, the feed read from it.
type fetched struct {
	res      *client.Response
	err      error
	feed     *feeds.Feed
	parseErr error
}

// waitResults waits for the results of the last page to reach the source.
func (r *kindRun) waitResults() {
	if r.resultsDone != nil {
		<-r.resultsDone
		r.resultsDone = nil
	}
}

// applyPage posts one page of the sync feed to the target, reads every page
// of the result feed, posts the results to the source and frees the
// target's job.
// The page goes to the target as the source produced it (raw), links
// included: no tree is rebuilt and nothing is lost in translation.
func (r *kindRun) applyPage(ctx context.Context, f *feeds.Feed, raw []byte) error {
	e, src, tgt := r.e, r.p.src, r.p.tgt
	tracking := uuid.NewString()
	res, err := tgt.Do(ctx, http.MethodPost, r.p.target+"/$syncTarget"+client.Query(r.withTracking(tracking)), raw, client.TypeFeed)
	if err != nil {
		return fmt.Errorf("posting to the target: %w", err)
	}
	res, tgtLoc, err := tgt.Await(ctx, res, r.page, nil)
	handedOff := false // the background work below frees the target's job
	if tgtLoc != "" {
		defer func() {
			if !handedOff {
				r.cleanup(ctx, tgt, tgtLoc)
			}
		}()
	}
	if err != nil {
		return fmt.Errorf("waiting for the target job: %w", err)
	}
	var results []*feeds.Entry
	var pages [][]byte // result pages as the target produced them, for the source
	var unread []byte  // the one result page, when its head says it holds every result
	cur := res.URL.String()
	for {
		if len(pages) == 0 && holdsAll(res.Body, len(f.Entries)) {
			// The next page can go to the target at once; this one is read
			// (and counted) in the background.
			unread = res.Body
			pages = append(pages, res.Body)
			break
		}
		rf, err := feeds.ScanFeed(bytes.NewReader(res.Body), limits())
		if err != nil {
			return fmt.Errorf("reading the result feed %s: %w", client.Redact(cur), err)
		}
		results = append(results, rf.Entries...)
		pages = append(pages, res.Body)
		next, ok := rf.Link("next")
		if !ok || len(rf.Entries) == 0 || len(results) >= len(f.Entries) {
			break
		}
		nu, err := res.Resolve(next.Href)
		if err != nil {
			return err
		}
		if nu == cur {
			break
		}
		if nu, err = client.WithParams(nu, r.run); err != nil {
			return err
		}
		if res, err = tgt.Do(ctx, http.MethodGet, nu, nil, ""); err != nil {
			return fmt.Errorf("reading the result feed: %w", err)
		}
		if res, _, err = tgt.Await(ctx, res, r.run, nil); err != nil {
			return fmt.Errorf("reading the result feed: %w", err)
		}
		cur = nu
	}
	if unread == nil {
		r.count(f.Entries, results)
	}

	// The result pages go back to the source as the target produced them,
	// then the target's job is freed, in the background, one sync page at a
	// time: the page is applied whatever happens to its results (the source
	// only misses them in its log).
	r.waitResults()
	done := make(chan struct{})
	r.resultsDone = done
	handedOff = true
	go func() {
		defer close(done)
		// The target's job is freed while the results go to the source:
		// its result pages are all read, and the two are different
		// providers.
		var freed sync.WaitGroup
		if tgtLoc != "" {
			freed.Go(func() { r.cleanup(ctx, tgt, tgtLoc) })
		}
		defer freed.Wait()
		if unread != nil {
			rf, err := feeds.ScanFeed(bytes.NewReader(unread), limits())
			if err != nil {
				r.countFailure(fmt.Sprintf("reading the result feed %s: %v", client.Redact(cur), err))
			} else {
				r.count(f.Entries, rf.Entries)
			}
		}
		u := r.p.source + "/$syncResults" + client.Query(r.withTracking(r.tracking))
		for _, page := range pages {
			if _, err := src.Do(ctx, http.MethodPost, u, page, client.TypeFeed); err != nil && ctx.Err() == nil {
				e.logger().Warn("posting the results to the source failed", "url", u, "err", err)
			}
		}
	}()
	return nil
}

// holdsAll reports whether a result page says, in its head, that it holds
// the results of all n entries sent (the usual single result page).
func holdsAll(body []byte, n int) bool {
	h, err := feeds.ScanFeedHead(body, limits())
	return err == nil && h.TotalResults == n && h.StartIndex <= 1 && h.ItemsPerPage >= n
}

// countFailure counts an error that is not about one entry.
func (r *kindRun) countFailure(msg string) {
	r.sum.Errors++
	if len(r.sum.Failures) < MaxFailures {
		r.sum.Failures = append(r.sum.Failures, msg)
	}
}

// count classifies the result entries of one page. It runs in the
// background for the previous page while the current one is applied: it
// writes only the outcome counters, which nothing else writes or reads
// before waitResults.
func (r *kindRun) count(sent, results []*feeds.Entry) {
	ks := r.sum
	fail := r.countFailure
	for i, res := range results {
		if i >= len(sent) {
			break
		}
		sev, msg := "", ""
		for _, d := range res.Diagnoses {
			if rank(d.Severity) > rank(sev) {
				sev, msg = d.Severity, d.Message
			}
		}
		st := res.HTTPStatus
		switch {
		case st == http.StatusConflict:
			ks.ConflictsTarget++
		case st >= 200 && st < 300 && sev == "":
			ks.Applied++
		case st >= 200 && st < 300 && sev == "info":
			ks.Skipped++
		case st >= 200 && st < 300 && sev == "warning":
			ks.ConflictsSource++
		default:
			if msg == "" {
				msg = http.StatusText(st)
			}
			fail(fmt.Sprintf("%s: %d %s", entryName(sent[i], res), st, msg))
		}
	}
	if len(results) < len(sent) {
		for _, s := range sent[len(results):] {
			fail(entryName(s, nil) + ": no result from the target")
		}
	}
}

func rank(sev string) int {
	switch sev {
	case "":
		return 0
	case "info":
		return 1
	case "warning":
		return 2
	}
	return 3 // transient, error, fatal and anything unknown
}

func entryName(sent, res *feeds.Entry) string {
	if u := sent.UUID; u != "" {
		return "uuid " + u
	}
	if res != nil && res.ID != "" {
		return res.ID
	}
	return sent.ID
}

// cleanup DELETEs a job context with the client of its side; a job
// already gone (404) is fine.
func (r *kindRun) cleanup(ctx context.Context, c *client.Client, loc string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	u, err := client.WithParams(loc, r.run)
	if err == nil {
		_, err = c.Do(ctx, http.MethodDelete, u, nil, "")
	}
	var he *client.HTTPError
	if err != nil && !(errors.As(err, &he) && (he.Status == http.StatusNotFound || he.Status == http.StatusGone)) {
		r.e.logger().Warn("freeing a job context failed", "url", client.Redact(loc), "err", err)
	}
}
