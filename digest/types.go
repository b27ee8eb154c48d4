// Package digest holds the vector-clock core of SData synchronization: digests,
// sync states, change selection, conflict resolution and the digest update rules.
// It is pure: no I/O, no HTTP, no SQL, no XML.
package digest

import "time"

// DefaultConflictPriority is the conflict priority given to an endpoint that
// does not declare one (1 is the highest priority, 9 the lowest).
const DefaultConflictPriority = 5

// SyncState is the per-resource synchronization state: the endpoint where the
// resource last changed, that endpoint's tick at the change, the modification
// stamp and, optionally, the user who made the change.
type SyncState struct {
	Endpoint string
	Tick     int64
	Stamp    time.Time
	User     string
}

// Entry is one digest entry: the node holds every change made at Endpoint with
// a tick lower than Tick.
type Entry struct {
	Endpoint         string
	Tick             int64
	Stamp            time.Time
	ConflictPriority int
}

// Digest is the synchronization digest of one resource kind at one node.
// Origin is the node's own endpoint. Entries are kept in the order they were
// first seen; Get and Set look them up by endpoint.
type Digest struct {
	Origin  string
	Entries []Entry
}

// Get returns the entry for endpoint and whether it exists.
func (d Digest) Get(endpoint string) (Entry, bool) {
	for _, e := range d.Entries {
		if e.Endpoint == endpoint {
			return e, true
		}
	}
	return Entry{}, false
}

// Tick returns the digest tick for endpoint; an endpoint missing from the
// digest counts as tick 0.
func (d Digest) Tick(endpoint string) int64 {
	e, _ := d.Get(endpoint)
	return e.Tick
}

// Set replaces the entry for e.Endpoint, appending it when missing.
func (d *Digest) Set(e Entry) {
	for i := range d.Entries {
		if d.Entries[i].Endpoint == e.Endpoint {
			d.Entries[i] = e
			return
		}
	}
	d.Entries = append(d.Entries, e)
}

// Clone returns a deep copy of d.
func (d Digest) Clone() Digest {
	c := Digest{Origin: d.Origin, Entries: make([]Entry, len(d.Entries))}
	copy(c.Entries, d.Entries)
	return c
}
