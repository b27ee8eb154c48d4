package store

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"sdatasync/digest"
	"sdatasync/digest/digesttest"
)

// TestSelectionAgreesWithDigest checks the store's SQL selection of changes
// (RunSource) against digest's selection rule on random histories: three
// SQLite stores, each one endpoint of the same kind with its own conflict
// priority, take local creates, updates and deletes, rewinds of their digest
// ($syncDigest PUT) and sync passes between them made with the calls the
// HTTP layer makes (RunSource with the target's digest, SourceEntries page
// by page, RunTarget with the feed digest, last only on the final page;
// some passes stop early). After every step, for every ordered pair (S, T),
// what S's RunSource selects for T's digest must be exactly what
// digest.Missing and digest.Selects pick from S's stored resources, in the
// order RunSource documents: the ranges in Missing's order (the source
// digest's), ascending tick within each.
func TestSelectionAgreesWithDigest(t *testing.T) {
	seeds := []uint64{1, 2, 3, 42, 2008, 0x5da7a}
	const steps = 60
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			h := newSelHistory(t, seed)
			for step := 1; step <= steps; step++ {
				what := h.step()
				h.checkAll(step, what)
				if t.Failed() {
					t.Fatalf("seed %d: selection disagrees with digest after step %d (%s); replay: go test -run 'TestSelectionAgreesWithDigest/seed=%d$' ./sdata/store",
						seed, step, what, seed)
				}
				h.purge()
			}
			// A history that never selects or conflicts checks little.
			st := h.stats
			t.Logf("seed %d: %d checks, %d non-empty (largest %d entries); %d passes (%d stopped early, %d pages), %d conflicts, %d rewinds",
				seed, st.checks, st.nonEmpty, st.largest, st.passes, st.stopped, st.pages, st.conflicts, st.rewinds)
			if st.nonEmpty == 0 || st.passes == 0 || st.conflicts == 0 || st.stopped == 0 {
				t.Errorf("seed %d: a history too poor to check the selection: %+v", seed, st)
			}
		})
	}
}

// selNode is one store of a history with its one endpoint.
type selNode struct {
	name string
	s    *SQLite
	ep   Endpoint
}

type selHistory struct {
	t     *testing.T
	seed  uint64
	rng   *rand.Rand
	nodes []selNode
	n     int // payload counter
	stats struct{ checks, nonEmpty, largest, passes, stopped, pages, conflicts, rewinds int }
}

func newSelHistory(t *testing.T, seed uint64) *selHistory {
	t.Helper()
	ctx := context.Background()
	h := &selHistory{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	// Distinct priorities, none the default: every conflict is decided by
	// priority, never by wall-clock stamps, so a seed replays its history.
	for i, prio := range []int{2, 4, 7} {
		name := string(rune('A' + i))
		s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), name+".db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		ep, err := s.Endpoint(ctx, "-", "accounts", "http://node"+name+".example/sdata/app/c/-/accounts", prio)
		if err != nil {
			t.Fatal(err)
		}
		h.nodes = append(h.nodes, selNode{name: name, s: s, ep: ep})
	}
	return h
}

func (h *selHistory) fatalf(format string, args ...any) {
	h.t.Helper()
	h.t.Fatalf("seed %d: "+format, append([]any{h.seed}, args...)...)
}

// step makes one random step of the history and says what it was: a burst
// of local writes at one store, a rewind of its digest, or a sync pass.
func (h *selHistory) step() string {
	n := h.nodes[h.rng.IntN(len(h.nodes))]
	switch r := h.rng.IntN(10); {
	case r < 5:
		var did []string
		for range 1 + h.rng.IntN(4) {
			did = append(did, h.local(n))
		}
		return "at " + n.name + ": " + strings.Join(did, ", ")
	case r < 6:
		return h.rewind(n)
	default:
		m := h.nodes[h.rng.IntN(len(h.nodes))]
		for m.name == n.name {
			m = h.nodes[h.rng.IntN(len(h.nodes))]
		}
		return h.sync(n, m)
	}
}

// local makes one local create, update or delete at n.
func (h *selHistory) local(n selNode) string {
	ctx := context.Background()
	key, ok := h.live(n)
	switch r := h.rng.IntN(8); {
	case r < 2 || !ok:
		h.n++
		c, err := n.s.Create(ctx, n.ep, h.write())
		if err != nil {
			h.fatalf("create at %s: %v", n.name, err)
		}
		return "create " + c.Key
	case r < 7:
		h.n++
		w := h.write()
		if _, err := n.s.Update(ctx, n.ep, key, func(Resource) (Write, error) { return w, nil }); err != nil {
			h.fatalf("update %s at %s: %v", key, n.name, err)
		}
		return "update " + key
	default:
		if _, err := n.s.Delete(ctx, n.ep, key, "u"+n.name, nil); err != nil {
			h.fatalf("delete %s at %s: %v", key, n.name, err)
		}
		return "delete " + key
	}
}

func (h *selHistory) write() Write {
	return Write{Payload: fmt.Appendf(nil, `<account><name>n%d</name></account>`, h.n), Props: fmt.Appendf(nil, `{"name":"n%d"}`, h.n),
		Title: fmt.Sprint("n", h.n), User: "u"}
}

// live picks a random live resource of n.
func (h *selHistory) live(n selNode) (string, bool) {
	rs, _, err := n.s.List(context.Background(), n.ep, ListQuery{})
	if err != nil {
		h.fatalf("list at %s: %v", n.name, err)
	}
	if len(rs) == 0 {
		return "", false
	}
	return rs[h.rng.IntN(len(rs))].Key, true
}

// rewind moves one entry of n's digest back, as a $syncDigest PUT does
// (the store keeps its own entry above its stored changes).
func (h *selHistory) rewind(n selNode) string {
	ctx := context.Background()
	d, err := n.s.Digest(ctx, n.ep)
	if err != nil {
		h.fatalf("digest of %s: %v", n.name, err)
	}
	i := h.rng.IntN(len(d.Entries))
	// Mostly a short way back, so that S keeps changes at or beyond its
	// rewound tick (what selects with no upper bound, spec 2.5).
	d.Entries[i].Tick = max(0, d.Entries[i].Tick-1-h.rng.Int64N(3))
	if _, _, err := n.s.ReplaceDigest(ctx, n.ep, d); err != nil {
		h.fatalf("replace digest of %s: %v", n.name, err)
	}
	h.stats.rewinds++
	return fmt.Sprintf("rewind %s's tick of %s to %d", n.name, d.Entries[i].Endpoint, d.Entries[i].Tick)
}

// sync runs a catchUp pass from src to dst the way sdata/syncurls serves
// it and the engine drives it: the target's digest to RunSource, then the
// selection page by page (random page sizes) to RunTarget with the feed
// digest, last only on the final page (an empty selection is one empty,
// last page). Half the passes, at random, stop after their first page that
// is not the last, when they have one (an engine that fails mid-feed).
func (h *selHistory) sync(src, dst selNode) string {
	ctx := context.Background()
	td, err := dst.s.Digest(ctx, dst.ep)
	if err != nil {
		h.fatalf("digest of %s: %v", dst.name, err)
	}
	j := h.job(src, JobSource)
	if j, err = src.s.RunSource(ctx, src.ep, j, td); err != nil {
		h.fatalf("RunSource at %s: %v", src.name, err)
	}
	defer h.free(src, j)
	h.stats.passes++
	if j.Digest == nil {
		h.fatalf("source job at %s has no digest", src.name)
	}
	stopEarly := h.rng.IntN(2) == 0
	offset, pages := 0, 0
	for {
		size := 1 + h.rng.IntN(2)
		page, err := src.s.SourceEntries(ctx, j, offset, size)
		if err != nil {
			h.fatalf("SourceEntries at %s: %v", src.name, err)
		}
		if len(page) > size {
			h.fatalf("SourceEntries at %s: %d entries for a page of %d", src.name, len(page), size)
		}
		last := offset+len(page) >= j.Total
		if stopEarly && pages > 0 && !last {
			h.stats.stopped++
			return fmt.Sprintf("sync %s -> %s stopped after %d of %d entries (%d pages)", src.name, dst.name, offset, j.Total, pages)
		}
		// As prepareEntry makes them from the feed entries (props, which
		// selection never reads, left empty).
		in := make(Entries, len(page))
		for i, r := range page {
			in[i] = Incoming{UUID: r.UUID, Aliases: r.Aliases, State: r.State, Method: string(r.Change), Deleted: r.Deleted,
				Payload: r.Payload, Props: []byte(`{}`), Title: r.Title}
		}
		tj := h.job(dst, JobTarget)
		_, res, err := dst.s.RunTarget(ctx, dst.ep, tj, *j.Digest, false, last, in)
		if err != nil {
			h.fatalf("RunTarget at %s (page at %d of %d): %v", dst.name, offset, j.Total, err)
		}
		for _, r := range res {
			if r.Outcome == digest.ConflictSource.String() || r.Outcome == digest.ConflictTarget.String() {
				h.stats.conflicts++
			}
		}
		h.free(dst, tj)
		offset += len(page)
		pages++
		h.stats.pages++
		if last {
			return fmt.Sprintf("sync %s -> %s: %d entries in %d pages", src.name, dst.name, j.Total, pages)
		}
		if len(page) == 0 {
			h.fatalf("source job at %s: empty page at %d of %d", src.name, offset, j.Total)
		}
	}
}

func (h *selHistory) job(n selNode, typ string) Job {
	j, created, err := n.s.CreateJob(context.Background(), Job{EndpointID: n.ep.ID, Type: typ, TrackingID: uuid.NewString(), Expires: time.Now().Add(time.Hour)})
	if err != nil || !created {
		h.fatalf("create %s job at %s: created %v, %v", typ, n.name, created, err)
	}
	return j
}

// free frees a job, as the job runtime does (purge removes what it held).
func (h *selHistory) free(n selNode, j Job) {
	if err := n.s.DeleteJob(context.Background(), j.ID); err != nil {
		h.fatalf("free job at %s: %v", n.name, err)
	}
}

// purge removes what the freed jobs held, at every store, and checks that
// no job is left behind.
func (h *selHistory) purge() {
	ctx := context.Background()
	for _, n := range h.nodes {
		if _, err := n.s.PurgeDeletedJobs(ctx); err != nil {
			h.fatalf("purge at %s: %v", n.name, err)
		}
		var jobs, rows int
		if err := n.s.r.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM sync_jobs), (SELECT count(*) FROM sync_job_entries)`).Scan(&jobs, &rows); err != nil {
			h.fatalf("count jobs at %s: %v", n.name, err)
		}
		if jobs != 0 || rows != 0 {
			h.fatalf("%d jobs and %d selected entries left at %s after purge", jobs, rows, n.name)
		}
	}
}

// checkAll compares the selection of every ordered pair.
func (h *selHistory) checkAll(step int, what string) {
	for _, src := range h.nodes {
		for _, dst := range h.nodes {
			if src.name != dst.name {
				h.check(step, what, src, dst)
			}
		}
	}
}

// check compares what src's RunSource selects for dst's digest with the
// selection digest's rule makes from src's stored resources.
func (h *selHistory) check(step int, what string, src, dst selNode) {
	h.t.Helper()
	ctx := context.Background()
	td, err := dst.s.Digest(ctx, dst.ep)
	if err != nil {
		h.fatalf("digest of %s: %v", dst.name, err)
	}
	j := h.job(src, JobSource)
	if j, err = src.s.RunSource(ctx, src.ep, j, td); err != nil {
		h.fatalf("RunSource at %s: %v", src.name, err)
	}
	defer h.free(src, j)
	// Read as the feed pages it: random page sizes, until a short page.
	var got []Resource
	for {
		size := 1 + h.rng.IntN(4)
		page, err := src.s.SourceEntries(ctx, j, len(got), size)
		if err != nil {
			h.fatalf("SourceEntries at %s: %v", src.name, err)
		}
		if len(page) > size {
			h.t.Errorf("SourceEntries at %s: %d entries for a page of %d", src.name, len(page), size)
		}
		got = append(got, page...)
		if len(page) < size {
			break
		}
	}

	// The pure side: S's digest and every stored resource (tombstones
	// included; read after RunSource, which gives UUIDs), selected by
	// digest's rule and ordered by range, then tick. List returns them by
	// row id, and the stable sort keeps that order between equal ticks (the
	// store's tie-break; a tick of one endpoint names one change, so equal
	// ticks should not occur).
	sd, err := src.s.Digest(ctx, src.ep)
	if err != nil {
		h.fatalf("digest of %s: %v", src.name, err)
	}
	all, _, err := src.s.List(ctx, src.ep, ListQuery{IncludeDeleted: true})
	if err != nil {
		h.fatalf("list at %s: %v", src.name, err)
	}
	ranges := digest.Missing(sd, td)
	rank := func(endpoint string) int {
		return slices.IndexFunc(ranges, func(r digest.Range) bool { return r.Endpoint == endpoint })
	}
	var want []Resource
	for _, r := range all {
		if digest.Selects(ranges, r.State) {
			want = append(want, r)
		}
	}
	slices.SortStableFunc(want, func(a, b Resource) int {
		return cmp.Or(cmp.Compare(rank(a.State.Endpoint), rank(b.State.Endpoint)), cmp.Compare(a.State.Tick, b.State.Tick))
	})

	h.stats.checks++
	if len(want) > 0 {
		h.stats.nonEmpty++
	}
	h.stats.largest = max(h.stats.largest, len(want))
	gotS, wantS := renderSel(got), renderSel(want)
	ok := slices.Equal(gotS, wantS) && j.Total == len(want) && j.Digest != nil &&
		renderDigest(*j.Digest) == renderDigest(sd)
	if ok {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d, step %d (%s): %s -> %s\n", h.seed, step, what, src.name, dst.name)
	fmt.Fprintf(&b, "source digest %s\ntarget digest %s\nranges %v\n", digesttest.FormatDigest(sd, false), digesttest.FormatDigest(td, false), ranges)
	if j.Digest != nil {
		fmt.Fprintf(&b, "job digest    %s (total %d)\n", digesttest.FormatDigest(*j.Digest, false), j.Total)
	}
	fmt.Fprintf(&b, "RunSource selected %d:\n  %s\ndigest's rule selects %d:\n  %s", len(gotS), strings.Join(gotS, "\n  "), len(wantS), strings.Join(wantS, "\n  "))
	h.t.Error(b.String())
}

// renderSel renders a selection one line per resource: what a feed entry
// carries of it.
func renderSel(rs []Resource) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = fmt.Sprintf("key=%s uuid=%s %s stamp=%s user=%s %s deleted=%v etag=%s title=%s payload=%s aliases=%v updated=%s",
			r.Key, r.UUID, digesttest.FormatState(r.State, false), fmtStamp(r.State.Stamp), r.State.User, r.Change, r.Deleted,
			r.ETag, r.Title, r.Payload, r.Aliases, fmtStamp(r.Updated))
	}
	return out
}

// renderDigest renders a digest with its origin and full stamps.
func renderDigest(d digest.Digest) string {
	var b strings.Builder
	b.WriteString(d.Origin)
	for _, e := range d.Entries {
		fmt.Fprintf(&b, " (%s %d %d %s)", e.Endpoint, e.Tick, e.ConflictPriority, fmtStamp(e.Stamp))
	}
	return b.String()
}
