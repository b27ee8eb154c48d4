// Snapshots: what each node's store holds, read for the checks.

package converge

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"sdatasync/digest"
	"sdatasync/sdata"
	"sdatasync/sdata/store"
)

// Kinds returns the resource kinds the harness synchronizes and compares,
// in ascending sme:syncOrder of the built-in gcrm contract. salesOrderLines
// is not among them: it is a view of the lines inside salesOrders (see
// CheckLineViews).
func Kinds() []string {
	return []string{"tradingAccounts", "contacts", "commodities", "salesOrders"}
}

// Resource is what must agree about one resource between converged nodes.
type Resource struct {
	Key      string // local (may differ between nodes)
	Payload  string
	Deleted  bool
	Endpoint string
	Tick     int64
	Stamp    time.Time
}

// KindSnapshot is one kind at one node.
type KindSnapshot struct {
	Resources map[string]Resource // by UUID ("key:" + key when it has none)
	Stored    int                 // rows stored, tombstones included
	Digest    map[string]int64    // endpoint -> tick
	DigestPri map[string]int      // endpoint -> conflict priority
}

// Conflict is one target.conflict audit record.
type Conflict struct {
	Node, Kind, UUID string
	Source, Target   digest.SyncState
	Winner           string // "source" or "target"
}

// Snapshot is the state of one node.
type Snapshot struct {
	Node      string
	Kinds     map[string]*KindSnapshot
	Conflicts []Conflict
}

// Snapshot reads the node's state from its store: from the open store of an
// in-process node, from the database file of a child node (which should be
// stopped).
func (n *Node) Snapshot(ctx context.Context) (*Snapshot, error) {
	st := n.openStore()
	if st == nil {
		var err error
		if st, err = store.OpenSQLite(ctx, n.DB); err != nil {
			return nil, err
		}
		defer st.Close()
	}
	return snapshot(ctx, n.Name, st, n)
}

func snapshot(ctx context.Context, name string, st *store.SQLite, n *Node) (*Snapshot, error) {
	s := &Snapshot{Node: name, Kinds: map[string]*KindSnapshot{}}
	for _, k := range Kinds() {
		ep, err := st.Endpoint(ctx, sdata.DefaultDatasetID, k, n.KindURL(k), n.Priority)
		if err != nil {
			return nil, err
		}
		rs, _, err := st.List(ctx, ep, store.ListQuery{IncludeDeleted: true})
		if err != nil {
			return nil, err
		}
		ks := &KindSnapshot{Resources: map[string]Resource{}, Stored: len(rs), Digest: map[string]int64{}, DigestPri: map[string]int{}}
		for _, r := range rs {
			id := r.UUID
			if id == "" {
				id = "key:" + r.Key
			}
			ks.Resources[id] = Resource{Key: r.Key, Payload: string(r.Payload), Deleted: r.Deleted, Endpoint: r.State.Endpoint,
				Tick: r.State.Tick, Stamp: r.State.Stamp.UTC()}
		}
		d, err := st.Digest(ctx, ep)
		if err != nil {
			return nil, err
		}
		for _, e := range d.Entries {
			ks.Digest[e.Endpoint] = e.Tick
			ks.DigestPri[e.Endpoint] = e.ConflictPriority
		}
		s.Kinds[k] = ks
	}
	recs, _, err := st.AuditLog(ctx, store.AuditQuery{Operation: "target.conflict"})
	if err != nil {
		return nil, err
	}
	for _, a := range recs {
		var det struct {
			UUID        string           `json:"uuid"`
			SourceState digest.SyncState `json:"sourceState"`
			TargetState digest.SyncState `json:"targetState"`
			Winner      string           `json:"winner"`
		}
		if err := json.Unmarshal([]byte(a.Detail), &det); err != nil {
			return nil, fmt.Errorf("audit record %d: %w: %s", a.ID, err, a.Detail)
		}
		s.Conflicts = append(s.Conflicts, Conflict{Node: name, Kind: a.Kind, UUID: det.UUID, Source: det.SourceState,
			Target: det.TargetState, Winner: det.Winner})
	}
	return s, nil
}
