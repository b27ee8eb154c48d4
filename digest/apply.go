package digest

import "fmt"

// The per-entry decision of a target applying a sync feed page: everything
// spec 5.4 and 5.5 (and this provider's extensions, Merge and Context) say
// about one entry, as data. A store executes it: looks the resource up,
// writes what the Decision says, records the result. DecideEntry is pure:
// the only thing it reads from outside is the held version's context, through
// a loader the caller passes, and only when the entry would be a conflict
// without it (a store reads contexts from disk; most entries never need one).

// Result statuses and severities of one applied entry, as the result feed
// reports them (http:httpStatus, sdata:diagnosis severity).
const (
	StatusOK       = 200 // applied to a known resource, or skipped
	StatusCreated  = 201 // applied: a new resource
	StatusBadEntry = 400 // the entry is invalid: nothing applied
	StatusConflict = 409 // a conflict the target's version won

	SeverityInfo    = "info"
	SeverityWarning = "warning"
	SeverityError   = "error"
)

// Page is what the target knows of the feed page an entry arrives on. Make
// it with NewPage before the page's first entry.
type Page struct {
	// Feed is the digest the feed carries.
	Feed Digest
	// Origin is the target's own endpoint and Priority its conflict
	// priority: a conflict's result is recorded as a change of Origin
	// (Merge), created with Priority when the target's digest lacks it.
	Origin   string
	Priority int
	// EndsFeed says the page is the last of a catchUp feed: the end-of-feed
	// merge (End) follows it and claims the feed's digest, so what the page
	// applies needs no context.
	EndsFeed bool
	// Context is the part of Feed's claims the target's digest lacked when
	// the page began: the context of the versions the page applies, unless
	// EndsFeed.
	Context Context
}

// NewPage describes a page of a feed whose digest is feed, arriving at a
// target whose digest is target (before the page's first entry) and whose
// own endpoint is origin, with conflict priority priority. A page ends the
// feed when it is the last page (last) of a catchUp feed: immediate feeds
// have no end-of-feed merge (spec 5.8).
func NewPage(feed, target Digest, origin string, priority int, immediate, last bool) *Page {
	return &Page{Feed: feed, Origin: origin, Priority: priority, EndsFeed: last && !immediate,
		Context: ContextOf(feed).Beyond(target)}
}

// End applies what follows the page's last entry to the target's digest: the
// end-of-feed merge of spec 5.5 (EndOfFeed) when the page ends the feed,
// nothing otherwise.
func (p *Page) End(target *Digest) {
	if p.EndsFeed {
		EndOfFeed(target, p.Feed)
	}
}

// Arrival is what DecideEntry needs to know of one incoming entry.
type Arrival struct {
	State   SyncState // the entry's sync state
	Deleted bool      // the entry deletes the resource (a tombstone)
	// Invalid, when set, says the entry cannot be applied (a bad payload);
	// its text is the result's message.
	Invalid error
}

// ContextRule says which context the version a target holds after an entry
// carries (see Context).
type ContextRule int

const (
	// KeepContext leaves the held version's context as it is.
	KeepContext ContextRule = iota
	// NoContext clears it: the target's digest claims all the version
	// includes.
	NoContext
	// FeedContext sets it to the page's Context (the same for every entry
	// of the page: a store may store it once).
	FeedContext
	// OwnContext sets it to Decision.Context (an empty one means none).
	OwnContext
)

// String returns the constant's name.
func (r ContextRule) String() string {
	switch r {
	case KeepContext:
		return "KeepContext"
	case NoContext:
		return "NoContext"
	case FeedContext:
		return "FeedContext"
	case OwnContext:
		return "OwnContext"
	}
	return fmt.Sprintf("ContextRule(%d)", int(r))
}

// Decision is what a target does with one incoming entry.
type Decision struct {
	// Outcome is Apply or ConflictSource (write the incoming version),
	// Skip or ConflictTarget (keep the held one), or Invalid (write
	// nothing; the resource is not even looked up).
	Outcome Outcome
	// State is the sync state the version held after the entry carries: the
	// entry's for Apply, a merge of both versions (Merge) for either
	// conflict outcome, the held version's for Skip. Zero for Invalid.
	State SyncState
	// Restamp says the held version is rewritten with State (its content
	// unchanged): it won a conflict and becomes the merge.
	Restamp bool
	// ContextRule says which context the version carries after the entry;
	// Context is the one to set with OwnContext.
	ContextRule ContextRule
	Context     Context
	// Status, Severity and Message are the entry's result: HTTP status,
	// diagnosis severity ("" for none) and message.
	Status   int
	Severity string
	Message  string
	// Rule names the rule that decided a conflict (RulePriority,
	// RuleStamp, RuleEndpoint); "" for any other outcome.
	Rule string
}

// Writes reports whether the incoming version is to be written (Apply or
// ConflictSource).
func (d Decision) Writes() bool { return d.Outcome.Applies() }

// Messages of the results that carry one besides Invalid's (which is the
// entry's error text).
const (
	skipMessage      = "skipped: the target already holds this change or a newer one"
	targetWinsFormat = "conflict: the target's version (%s tick %d) wins over the source's (%s tick %d)"
	sourceWinsFormat = "conflict: the source's version (%s tick %d) wins over the target's (%s tick %d)"
)

// DecideEntry decides one incoming entry of page p at a target whose digest
// is target, and updates target accordingly. held is the sync state of the
// version the target holds of the resource (nil when the resource is
// unknown, and ignored for an invalid entry, which is never looked up);
// heldContext loads that version's context (nil: none). It is called at most
// once, and only when Decide reports a conflict: a held version whose
// context includes the entry's version is no conflict (Context), and most
// entries are no conflict at all. An error from it is returned as is, with a
// zero Decision and target unchanged.
//
// The rules, in order:
//   - An entry whose endpoint is missing from the feed's digest is decided
//     as if that digest held it with tick State.Tick+1 and the default
//     priority.
//   - Invalid: status 400, severity "error", the entry's error as message.
//   - Otherwise Decide, then, on a conflict, Decide again with
//     target.Including(the held context) when there is one.
//   - Apply: the entry's state; status 201 for a new resource (200 for a
//     deletion of an unknown one, which stores a tombstone), 200 for a
//     known one.
//   - Skip: status 200, severity "info", the held version stays.
//   - ConflictSource: the entry's version is written as a merge (Merge);
//     status 200, severity "warning".
//   - ConflictTarget: the held version is restamped as a merge; status 409,
//     severity "warning".
//   - Context: Apply on a page that ends the feed: none; Apply on any other
//     page: the page's Context; a conflict on a page that does not end the
//     feed: the held context united with the page's, beyond the target's
//     digest as it was before the merge; otherwise (Skip, Invalid, a
//     conflict on the feed's last page) unchanged.
//   - Last, whatever the outcome, the per-entry digest update of spec 5.5
//     (AfterEntry), after the merge.
func DecideEntry(target *Digest, p *Page, in Arrival, held *SyncState, heldContext func() (Context, error)) (Decision, error) {
	fd := p.Feed
	if _, ok := fd.Get(in.State.Endpoint); !ok {
		fd = p.Feed.Clone()
		fd.Set(Entry{Endpoint: in.State.Endpoint, Tick: in.State.Tick + 1, Stamp: in.State.Stamp, ConflictPriority: DefaultConflictPriority})
	}
	if in.Invalid != nil {
		AfterEntry(target, fd, in.State)
		return Decision{Outcome: Invalid, Status: StatusBadEntry, Severity: SeverityError, Message: in.Invalid.Error()}, nil
	}
	td := *target
	out := Decide(fd, td, in.State, held)
	var hc Context
	if out.Conflict() && heldContext != nil {
		var err error
		if hc, err = heldContext(); err != nil {
			return Decision{}, err
		}
		if len(hc) > 0 {
			td = target.Including(hc)
			out = Decide(fd, td, in.State, held)
		}
	}
	d := Decision{Outcome: out}
	if out.Conflict() {
		d.Rule = ConflictRule(fd.Priority(in.State.Endpoint), td.Priority(held.Endpoint), in.State, *held)
	}
	switch {
	case out.Conflict() && !p.EndsFeed:
		// The merge includes both versions: what either included beyond
		// the digest stays with it.
		d.ContextRule, d.Context = OwnContext, hc.Union(p.Context).Beyond(*target)
	case out == Apply && p.EndsFeed:
		d.ContextRule = NoContext
	case out == Apply:
		d.ContextRule = FeedContext
	}
	switch out {
	case Apply:
		d.State, d.Status = in.State, StatusOK
		if held == nil && !in.Deleted {
			d.Status = StatusCreated
		}
	case Skip:
		d.State, d.Status, d.Severity, d.Message = *held, StatusOK, SeverityInfo, skipMessage
	case ConflictSource:
		d.State, d.Status, d.Severity = Merge(target, p.Origin, p.Priority, in.State), StatusOK, SeverityWarning
		d.Message = fmt.Sprintf(sourceWinsFormat, in.State.Endpoint, in.State.Tick, held.Endpoint, held.Tick)
	case ConflictTarget:
		d.State, d.Status, d.Severity = Merge(target, p.Origin, p.Priority, *held), StatusConflict, SeverityWarning
		d.Restamp = true
		d.Message = fmt.Sprintf(targetWinsFormat, held.Endpoint, held.Tick, in.State.Endpoint, in.State.Tick)
	}
	AfterEntry(target, fd, in.State)
	return d, nil
}
