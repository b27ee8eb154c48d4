package digest

import (
	"maps"
	"slices"
)

// Context is the causal context of one held copy of a resource, beyond what
// its node's digest claims: for each endpoint, the tick below which the copy
// includes every change that endpoint made to the resource.
//
// Rule 3 of Decide asks whether the target's version includes the source's,
// and answers with the target's digest. That is exact after a complete
// catchUp pass, whose end-of-feed merge claims everything the source's
// version included. A version that arrived by an immediate feed (no
// end-of-feed merge) or on a page of a pass interrupted before its last page
// includes changes the target's digest does not claim yet, and a later copy
// of one of them would be taken for a conflict, which the older copy could
// win. A provider therefore keeps, with such a copy, the digest of the feed
// it came with (ContextOf) and decides with Including.
type Context map[string]int64

// ContextOf returns the context of a version that arrived in a feed whose
// digest is d: the source held it while claiming d, so it includes what d
// claims.
func ContextOf(d Digest) Context {
	c := make(Context, len(d.Entries))
	for _, e := range d.Entries {
		c[e.Endpoint] = max(c[e.Endpoint], e.Tick)
	}
	return c
}

// Union returns a new context with the higher tick of c and o per endpoint.
func (c Context) Union(o Context) Context {
	u := maps.Clone(c)
	if u == nil {
		u = make(Context, len(o))
	}
	for ep, t := range o {
		u[ep] = max(u[ep], t)
	}
	return u
}

// Beyond returns the part of c that d does not claim (nil when d claims all
// of it): what is left to keep with a copy held at a node whose digest is d.
func (c Context) Beyond(d Digest) Context {
	var out Context
	for ep, t := range c {
		if t > d.Tick(ep) {
			if out == nil {
				out = Context{}
			}
			out[ep] = t
		}
	}
	return out
}

// Endpoints returns the endpoints of c in lexical order.
func (c Context) Endpoints() []string { return slices.Sorted(maps.Keys(c)) }

// Including returns a copy of d whose tick for every endpoint of c is at
// least c's: the target digest to decide with (Decide) for a resource whose
// held copy has context c. Endpoints missing from d are added with the
// default priority; Decide reads only their ticks.
func (d Digest) Including(c Context) Digest {
	out := d.Clone()
	for _, ep := range c.Endpoints() {
		e, ok := out.Get(ep)
		if !ok {
			e = Entry{Endpoint: ep, ConflictPriority: DefaultConflictPriority}
		}
		if c[ep] > e.Tick {
			e.Tick = c[ep]
			out.Set(e)
		}
	}
	return out
}
