// The checks of a settled run.

package converge

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/beevik/etree"

	"sdatasync/contracts"
	"sdatasync/digest"
	"sdatasync/feeds"
)

// Problems collects assertion failures, bounded.
type Problems struct {
	List  []string
	Total int
}

// Addf records a problem.
func (p *Problems) Addf(format string, args ...any) {
	p.Total++
	if len(p.List) < 25 {
		p.List = append(p.List, fmt.Sprintf(format, args...))
	}
}

// Err returns nil without problems, else an error listing them.
func (p *Problems) Err() error {
	if p.Total == 0 {
		return nil
	}
	return fmt.Errorf("%d problems:\n  %s", p.Total, strings.Join(p.List, "\n  "))
}

// CheckAll takes snapshots of nodes and runs every check; created is the
// number of resources created per kind over all nodes.
//
// With views set, CheckLineViews runs first (the nodes must be serving).
func CheckAll(ctx context.Context, nodes []*Node, created map[string]int, views bool) (Report, error) {
	var rep Report
	var p Problems
	if views {
		if err := CheckLineViews(ctx, nodes, &p); err != nil {
			return rep, err
		}
	}
	c, err := contracts.Builtin("gcrm")
	if err != nil {
		return rep, err
	}
	snaps := make([]*Snapshot, len(nodes))
	for i, n := range nodes {
		if snaps[i], err = n.Snapshot(ctx); err != nil {
			return rep, fmt.Errorf("snapshot of %s: %w", n.Name, err)
		}
	}
	CheckConverged(snaps, &p)
	CheckCounts(snaps, created, &p)
	CheckIntegrity(snaps, c, &p)
	rep.Conflicts, rep.ByStamp = CheckConflicts(snaps, nodes, &p)
	for _, k := range Kinds() {
		ks := snaps[0].Kinds[k]
		rep.Resources += ks.Stored
		for _, r := range ks.Resources {
			if r.Deleted {
				rep.Tombstones++
			}
		}
	}
	return rep, p.Err()
}

// Report sums up a checked run.
type Report struct {
	Resources  int // per node, tombstones included
	Tombstones int
	Conflicts  int // recorded over all nodes
	ByStamp    int // of which decided between equal priorities
}

// CheckConverged asserts that every snapshot equals the first: the same
// resources by UUID (payload bytes of the stored form, tombstone flag, sync
// state endpoint, tick and stamp) and the same digests.
func CheckConverged(snaps []*Snapshot, p *Problems) {
	if len(snaps) == 0 {
		return
	}
	ref := snaps[0]
	for _, s := range snaps[1:] {
		for _, k := range Kinds() {
			a, b := ref.Kinds[k], s.Kinds[k]
			for _, id := range sortedKeys(a.Resources) {
				ra := a.Resources[id]
				rb, ok := b.Resources[id]
				if !ok {
					p.Addf("%s %s: at %s, missing at %s", k, id, ref.Node, s.Node)
					continue
				}
				if ra.Payload != rb.Payload || ra.Deleted != rb.Deleted || ra.Endpoint != rb.Endpoint || ra.Tick != rb.Tick || !ra.Stamp.Equal(rb.Stamp) {
					p.Addf("%s %s differs:\n    %s: deleted=%v %s@%d %s %s\n    %s: deleted=%v %s@%d %s %s", k, id,
						ref.Node, ra.Deleted, ra.Endpoint, ra.Tick, ra.Stamp.Format(time.RFC3339Nano), ra.Payload,
						s.Node, rb.Deleted, rb.Endpoint, rb.Tick, rb.Stamp.Format(time.RFC3339Nano), rb.Payload)
				}
			}
			for _, id := range sortedKeys(b.Resources) {
				if _, ok := a.Resources[id]; !ok {
					p.Addf("%s %s: at %s, missing at %s", k, id, s.Node, ref.Node)
				}
			}
			if !mapsEqual(a.Digest, b.Digest) {
				p.Addf("%s digest differs:\n    %s: %v\n    %s: %v", k, ref.Node, a.Digest, s.Node, b.Digest)
			}
		}
	}
}

// CheckCounts asserts that every node stores exactly want[kind] resources of
// each kind (tombstones included), each under a distinct UUID: nothing lost,
// nothing duplicated.
func CheckCounts(snaps []*Snapshot, want map[string]int, p *Problems) {
	for _, s := range snaps {
		for _, k := range Kinds() {
			ks := s.Kinds[k]
			if ks.Stored != want[k] || len(ks.Resources) != ks.Stored {
				p.Addf("%s at %s: %d stored, %d distinct UUIDs; %d created", k, s.Node, ks.Stored, len(ks.Resources), want[k])
			}
			for id := range ks.Resources {
				if strings.HasPrefix(id, "key:") {
					p.Addf("%s at %s: resource %s never got a UUID", k, s.Node, id)
				}
			}
		}
	}
}

// CheckIntegrity asserts, per node, that every reference (and parent
// reference) in every stored payload, tombstones included, names by
// sdata:uuid a resource the node holds, and that every child item has a
// UUID that no other child item of the kind uses (no duplicated line). A
// resource of a child kind stored on its own must name a parent the node
// holds (no orphan).
func CheckIntegrity(snaps []*Snapshot, c *contracts.Contract, p *Problems) {
	for _, s := range snaps {
		childOwner := map[string]string{} // child uuid -> owner uuid
		for _, kname := range Kinds() {
			k := c.Kind(kname)
			ks := s.Kinds[kname]
			for _, id := range sortedKeys(ks.Resources) {
				r := ks.Resources[id]
				d := etree.NewDocument()
				if err := d.ReadFromString(r.Payload); err != nil || d.Root() == nil {
					p.Addf("%s %s at %s: payload does not parse: %v", kname, id, s.Node, err)
					continue
				}
				where := fmt.Sprintf("%s %s at %s", kname, id, s.Node)
				checkRefs(s, k.Type, d.Root(), where, id, childOwner, p)
			}
		}
	}
}

func checkRefs(s *Snapshot, t *contracts.ComplexType, el *etree.Element, where, owner string, childOwner map[string]string, p *Problems) {
	if t == nil {
		return
	}
	for _, c := range el.ChildElements() {
		prop := t.Property(c.Tag)
		if prop == nil || prop.Kind != contracts.KindComplex || feeds.IsNil(c) {
			continue
		}
		switch {
		case (prop.Relationship == contracts.RelReference || prop.Relationship == contracts.RelParent) && !prop.IsCollection:
			u := strings.ToLower(c.SelectAttrValue("sdata:uuid", ""))
			if u == "" {
				p.Addf("%s: reference %s without sdata:uuid", where, c.Tag)
				continue
			}
			if prop.RelatedKind == nil {
				continue
			}
			rk := s.Kinds[prop.RelatedKind.PluralName]
			if rk == nil {
				continue
			}
			if _, ok := rk.Resources[u]; !ok {
				p.Addf("%s: reference %s names %s %s, unknown here", where, c.Tag, prop.RelatedKind.PluralName, u)
			}
		case prop.Relationship == contracts.RelChild && prop.IsCollection && prop.ItemName != "":
			for _, it := range c.SelectElements(prop.ItemName) {
				u := strings.ToLower(it.SelectAttrValue("sdata:uuid", ""))
				if u == "" {
					p.Addf("%s: child %s without sdata:uuid", where, prop.ItemName)
				} else if prev, dup := childOwner[u]; dup {
					p.Addf("%s: child %s %s also in %s", where, prop.ItemName, u, prev)
				} else {
					childOwner[u] = owner
				}
				checkRefs(s, prop.Complex, it, where+" line "+u, owner, childOwner, p)
			}
		}
	}
}

// Decided recomputes the winner of a conflict from the recorded states:
// the lower conflict priority wins; equal priorities: the later stamp;
// equal stamps: the lexically smaller endpoint URL.
func Decided(c Conflict, priority func(endpoint string) int) string {
	sp, tp := priority(c.Source.Endpoint), priority(c.Target.Endpoint)
	switch {
	case sp != tp:
		if sp < tp {
			return "source"
		}
		return "target"
	case !c.Source.Stamp.Equal(c.Target.Stamp):
		if c.Source.Stamp.After(c.Target.Stamp) {
			return "source"
		}
		return "target"
	case c.Source.Endpoint < c.Target.Endpoint:
		return "source"
	}
	return "target"
}

// CheckConflicts asserts that every recorded conflict was decided by the
// rules, with the priorities the nodes were configured with; it returns the
// number of conflicts checked and how many were decided by stamp.
func CheckConflicts(snaps []*Snapshot, nodes []*Node, p *Problems) (total, byStamp int) {
	prio := map[string]int{}
	for _, n := range nodes {
		for _, k := range Kinds() {
			prio[n.KindURL(k)] = n.Priority
		}
	}
	priority := func(ep string) int {
		if v, ok := prio[ep]; ok {
			return v
		}
		p.Addf("conflict names endpoint %s, which no node has", ep)
		return digest.DefaultConflictPriority
	}
	for _, s := range snaps {
		for _, c := range s.Conflicts {
			total++
			if c.Source.Endpoint == c.Target.Endpoint {
				p.Addf("conflict at %s on %s %s between two states of one endpoint: %+v / %+v", c.Node, c.Kind, c.UUID, c.Source, c.Target)
				continue
			}
			if priority(c.Source.Endpoint) == priority(c.Target.Endpoint) {
				byStamp++
			}
			if want := Decided(c, priority); want != c.Winner {
				p.Addf("conflict at %s on %s %s: winner %s, the rules say %s (source %s@%d %s, target %s@%d %s)", c.Node, c.Kind, c.UUID,
					c.Winner, want, c.Source.Endpoint, c.Source.Tick, c.Source.Stamp.Format(time.RFC3339Nano),
					c.Target.Endpoint, c.Target.Tick, c.Target.Stamp.Format(time.RFC3339Nano))
			}
		}
	}
	return total, byStamp
}

// CheckLineViews reads, over HTTP, the live sales orders and the
// salesOrderLines view of every node and asserts that the view lists exactly
// the lines inside the live orders, each once, each naming the order that
// holds it as its parent: no line orphaned, none duplicated.
func CheckLineViews(ctx context.Context, nodes []*Node, p *Problems) error {
	c := &http.Client{Timeout: time.Minute, Transport: Transport()}
	for _, n := range nodes {
		orders, err := listAll(ctx, c, n, "salesOrders")
		if err != nil {
			return err
		}
		inOrders := map[string]string{} // line uuid -> order uuid
		for _, o := range orders {
			l := o.el.SelectElement("salesOrderLines")
			if l == nil {
				continue
			}
			for _, it := range l.SelectElements("salesOrderLine") {
				u := strings.ToLower(feeds.PayloadUUID(it))
				if prev, dup := inOrders[u]; dup {
					p.Addf("line %s at %s in orders %s and %s", u, n.Name, prev, o.uuid)
				}
				inOrders[u] = strings.ToLower(o.uuid)
			}
		}
		lines, err := listAll(ctx, c, n, "salesOrderLines")
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, l := range lines {
			u := strings.ToLower(l.uuid)
			if seen[u] {
				p.Addf("line %s listed twice by the salesOrderLines view at %s", u, n.Name)
			}
			seen[u] = true
			parent := ""
			if so := l.el.SelectElement("salesOrder"); so != nil {
				parent = strings.ToLower(feeds.PayloadUUID(so))
			}
			if want, ok := inOrders[u]; !ok {
				p.Addf("line %s at %s: in the view, in no live order (orphan)", u, n.Name)
			} else if parent != want {
				p.Addf("line %s at %s: the view names parent %q, it is inside order %s", u, n.Name, parent, want)
			}
		}
		for u := range inOrders {
			if !seen[u] {
				p.Addf("line %s at %s: inside order %s, missing from the view", u, n.Name, inOrders[u])
			}
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
