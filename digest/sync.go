package digest

import (
	"fmt"
	"time"
)

// FirstTick is the first tick an endpoint assigns (see Advance). A digest tick
// of FirstTick or less therefore means "no change of that endpoint held yet".
const FirstTick = 1

// Priority returns the effective conflict priority of endpoint in d: the
// entry's ConflictPriority, or DefaultConflictPriority when the endpoint is
// missing or its priority is unset (0).
func (d Digest) Priority(endpoint string) int {
	e, ok := d.Get(endpoint)
	if !ok || e.ConflictPriority == 0 {
		return DefaultConflictPriority
	}
	return e.ConflictPriority
}

// Advance applies the local-write rule for a resource changed (created,
// updated or deleted) at endpoint: it returns the tick to record in the
// resource's SyncState — the digest's current tick for endpoint, or FirstTick
// when the endpoint is absent or below FirstTick — and advances the digest
// entry to tick+1 with the given stamp. A missing entry is created with
// DefaultConflictPriority; callers with a configured priority Set the entry
// first.
func (d *Digest) Advance(endpoint string, stamp time.Time) int64 {
	e, ok := d.Get(endpoint)
	if !ok {
		e = Entry{Endpoint: endpoint, ConflictPriority: DefaultConflictPriority}
	}
	tick := max(e.Tick, FirstTick)
	e.Tick = tick + 1
	e.Stamp = stamp
	d.Set(e)
	return tick
}

// Range says: the target lacks every change made at Endpoint with tick >= From
// (and < To, the source's digest tick).
type Range struct {
	Endpoint string
	From, To int64
}

// String renders r in the spec's interval notation, e.g. "N1 [5, 6[".
func (r Range) String() string {
	return fmt.Sprintf("%s [%d, %d[", r.Endpoint, r.From, r.To)
}

// Missing returns, in source digest order, the ranges a target whose digest is
// target lacks relative to source (spec 2.5): one Range per endpoint E with
// source.Tick(E) > target.Tick(E), an endpoint missing from target counting as
// tick 0, with From = target.Tick(E) and To = source.Tick(E). A duplicated
// endpoint in source is considered once (its first entry, as Get does).
func Missing(source, target Digest) []Range {
	var out []Range
	for i, e := range source.Entries {
		if duplicateBefore(source.Entries, i) {
			continue
		}
		if from := target.Tick(e.Endpoint); e.Tick > from {
			out = append(out, Range{Endpoint: e.Endpoint, From: from, To: e.Tick})
		}
	}
	return out
}

func duplicateBefore(entries []Entry, i int) bool {
	for _, e := range entries[:i] {
		if e.Endpoint == entries[i].Endpoint {
			return true
		}
	}
	return false
}

// Selects reports whether a resource with sync state s must be sent to a
// target missing ranges: s.Endpoint has a range and s.Tick >= its From. The
// upper bound To is deliberately not tested (spec 2.5 note): a resource changed
// after the selection simply travels again in the next pass.
func Selects(ranges []Range, s SyncState) bool {
	for _, r := range ranges {
		if r.Endpoint == s.Endpoint {
			return s.Tick >= r.From
		}
	}
	return false
}

// Outcome is the result of processing one incoming entry at the target
// (spec 5.4).
type Outcome int

const (
	// Apply means no conflict: apply the source change.
	Apply Outcome = iota
	// Skip means no conflict: the target already has this version or a newer
	// one, ignore the entry.
	Skip
	// ConflictSource means a conflict the source side wins: apply.
	ConflictSource
	// ConflictTarget means a conflict the target side wins: ignore the entry
	// (and report 409 Conflict for it).
	ConflictTarget
	// Invalid means the entry cannot be applied at all (a bad payload):
	// nothing is written, only the digest advances past it. Decide never
	// returns it; DecideEntry does, for an Arrival marked Invalid.
	Invalid
)

// Applies reports whether the source change must be applied (Apply or
// ConflictSource).
func (o Outcome) Applies() bool { return o == Apply || o == ConflictSource }

// Conflict reports whether the outcome is a conflict (ConflictSource or
// ConflictTarget).
func (o Outcome) Conflict() bool { return o == ConflictSource || o == ConflictTarget }

// String returns the constant's name, e.g. "ConflictTarget", except for
// Invalid: "invalid", the name results have always recorded (it is stored
// with every result, and engines and audits read it).
func (o Outcome) String() string {
	switch o {
	case Apply:
		return "Apply"
	case Skip:
		return "Skip"
	case ConflictSource:
		return "ConflictSource"
	case ConflictTarget:
		return "ConflictTarget"
	case Invalid:
		return "invalid"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Decide implements the target-side rules of spec 5.4 for one incoming entry
// with sync state source, given the feed's digest sourceDigest, the target's
// current digest targetDigest and the target's sync state of the same
// resource (nil when the resource is unknown at the target: Apply).
//
//  1. Same endpoint: Apply iff source.Tick > target.Tick, else Skip.
//  2. sourceDigest.Tick(target.Endpoint) > target.Tick: the source has seen
//     the target's version: Apply.
//  3. targetDigest.Tick(source.Endpoint) > source.Tick: the target has seen
//     the source's version: Skip.
//  4. Otherwise a conflict. The side whose endpoint has the lower conflict
//     priority wins (source side: sourceDigest's priority of source.Endpoint;
//     target side: targetDigest's priority of target.Endpoint; missing or 0
//     means DefaultConflictPriority). Equal priorities: the later stamp wins.
//     Equal stamps: the fixed tie-break "lexically smaller endpoint URL wins".
//
// All comparisons are strict. The tick sourceDigest holds for
// source.Endpoint is never consulted, so an entry whose endpoint is absent
// from sourceDigest is decided as if that tick were source.Tick+1.
//
// Caveat of the spec's rules: resolution by the priority of the endpoint of
// last change is not transitive. With three or more endpoints of different
// priorities, nodes can end with equal digests but different versions of a
// resource that no further pass exchanges (A beats B, B beats C, C's version
// descends from A's). With equal priorities (last writer wins) passes
// converge. See TestPriorityCycleLeavesNodesDivergent. Recording every
// conflict's result as a merge (see Merge) restores convergence. A target
// that keeps a Context with a version decides a conflict again with
// targetDigest.Including(context).
func Decide(sourceDigest, targetDigest Digest, source SyncState, target *SyncState) Outcome {
	switch {
	case target == nil:
		return Apply
	case source.Endpoint == target.Endpoint:
		if source.Tick > target.Tick {
			return Apply
		}
		return Skip
	case sourceDigest.Tick(target.Endpoint) > target.Tick:
		return Apply
	case targetDigest.Tick(source.Endpoint) > source.Tick:
		return Skip
	}
	if sourceWins(sourceDigest.Priority(source.Endpoint), targetDigest.Priority(target.Endpoint), source, *target) {
		return ConflictSource
	}
	return ConflictTarget
}

// sourceWins resolves a conflict between distinct endpoints.
func sourceWins(sourcePriority, targetPriority int, source, target SyncState) bool {
	switch {
	case sourcePriority != targetPriority:
		return sourcePriority < targetPriority
	case !source.Stamp.Equal(target.Stamp):
		return source.Stamp.After(target.Stamp)
	}
	return source.Endpoint < target.Endpoint
}

// Merge records the result of a conflict at the target as a change of the
// target's own endpoint origin, whichever side won: it takes a fresh tick of
// origin from target (as Advance does, creating the entry with priority when
// missing and keeping the later stamp) and returns the sync state the
// resource must now carry: (origin, that tick, the winner's stamp and user).
// The resource keeps the winner's content.
//
// This extends spec 5.4, whose rules alone do not converge (see Decide). A
// node's digest claims every version of a resource it has seen, and passes
// select by digest only, so convergence needs every node to hold a version
// that causally includes every version its digest claims. A conflict breaks
// that: neither version includes the other. The merge version includes both
// (the target's digest now claims both), so it replaces either wherever it
// arrives, by rule 2 of Decide, without a further conflict. Equal digests then
// imply equal versions. It costs one entry travelling back per conflict. The
// merge competes in later conflicts under origin's priority, with the
// winner's stamp.
func Merge(target *Digest, origin string, priority int, winner SyncState) SyncState {
	e, ok := target.Get(origin)
	if !ok {
		e = Entry{Endpoint: origin, ConflictPriority: priority}
	}
	tick := max(e.Tick, FirstTick)
	e.Tick = tick + 1
	e.Stamp = laterStamp(e.Stamp, winner.Stamp)
	target.Set(e)
	return SyncState{Endpoint: origin, Tick: tick, Stamp: winner.Stamp, User: winner.User}
}

// AfterEntry applies the per-entry target digest update of spec 5.5, whatever
// the entry's outcome (applied, ignored or lost): the tick of E =
// s.Endpoint becomes max(current, s.Tick+1) and its stamp max(current,
// s.Stamp). A missing entry is added with sourceDigest's priority for E
// (DefaultConflictPriority when unknown or unset).
func AfterEntry(target *Digest, sourceDigest Digest, s SyncState) {
	e, ok := target.Get(s.Endpoint)
	if !ok {
		e = Entry{Endpoint: s.Endpoint, ConflictPriority: sourceDigest.Priority(s.Endpoint)}
	}
	e.Tick = max(e.Tick, s.Tick+1)
	e.Stamp = laterStamp(e.Stamp, s.Stamp)
	target.Set(e)
}

// EndOfFeed applies the catchUp end-of-feed merge of spec 5.5 (after the last
// page only, never for immediate feeds): for every endpoint of source, the
// target tick becomes max(source, target) and the stamp the later of both;
// missing endpoints are added with the source's tick, stamp and priority.
// When the source's tick is the higher, its (set) priority replaces the
// target's, so dynamically changed priorities propagate (spec 2.3).
func EndOfFeed(target *Digest, source Digest) {
	for i, se := range source.Entries {
		if duplicateBefore(source.Entries, i) {
			continue
		}
		te, ok := target.Get(se.Endpoint)
		if !ok {
			if se.ConflictPriority == 0 {
				se.ConflictPriority = DefaultConflictPriority
			}
			target.Set(se)
			continue
		}
		if se.Tick > te.Tick {
			te.Tick = se.Tick
			if se.ConflictPriority != 0 {
				te.ConflictPriority = se.ConflictPriority
			}
		}
		te.Stamp = laterStamp(te.Stamp, se.Stamp)
		target.Set(te)
	}
}

func laterStamp(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// GapError reports an immediate-mode contiguity violation (spec 5.8): entry
// Index of the feed carries Tick for Endpoint while the target, having
// processed the entries before it, only holds that endpoint's changes below
// Expected. The whole request must be refused with 400 Bad Request.
type GapError struct {
	Index    int
	Endpoint string
	Tick     int64
	Expected int64
}

// Error describes the gap.
func (e *GapError) Error() string {
	return fmt.Sprintf("digest: immediate feed entry %d for endpoint %s has tick %d, but the target holds that endpoint's changes only up to tick %d: ticks %d..%d are missing",
		e.Index, e.Endpoint, e.Tick, e.Expected, e.Expected, e.Tick-1)
}

// CheckImmediate verifies the contiguity rule of spec 5.8 for the entries of
// an immediate feed, in feed order, against the target digest without
// modifying it. It simulates AfterEntry entry by entry; an entry whose tick is
// greater than the simulated target tick of its endpoint is a gap and yields
// a *GapError (nothing of the feed may then be applied). A lower tick is old
// news, not a gap. Since ticks start at FirstTick (Advance), an endpoint that
// is absent from target, or whose tick is below FirstTick, counts as
// FirstTick: its first change can arrive without a gap. sourceDigest is
// accepted for symmetry with AfterEntry; contiguity does not depend on it.
func CheckImmediate(target Digest, sourceDigest Digest, states []SyncState) error {
	_ = sourceDigest
	sim := map[string]int64{}
	for i, s := range states {
		cur, ok := sim[s.Endpoint]
		if !ok {
			cur = max(target.Tick(s.Endpoint), FirstTick)
		}
		if s.Tick > cur {
			return &GapError{Index: i, Endpoint: s.Endpoint, Tick: s.Tick, Expected: cur}
		}
		sim[s.Endpoint] = max(cur, s.Tick+1)
	}
	return nil
}
