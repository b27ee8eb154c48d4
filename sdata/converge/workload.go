// The random workload: creates, updates and deletes over HTTP, including
// line edits through the salesOrderLines view and concurrent edits of the
// same resources on several nodes.

package converge

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/beevik/etree"

	"sdatasync/feeds"
)

// Stats counts what a workload did.
type Stats struct {
	Creates     map[string]int // successful creates per kind
	Updates     int
	Deletes     int
	LineChanges int
	LineDeletes int
	LineAdds    int
	SharedEdits int // resources edited on two or more nodes between passes
	Stale       int // operations refused because what they were based on changed meanwhile
}

// Ops is the number of successful writes.
func (s *Stats) Ops() int {
	n := s.Updates + s.Deletes
	for _, c := range s.Creates {
		n += c
	}
	return n
}

func (s *Stats) add(o Stats) {
	if s.Creates == nil {
		s.Creates = map[string]int{}
	}
	for k, v := range o.Creates {
		s.Creates[k] += v
	}
	s.Updates += o.Updates
	s.Deletes += o.Deletes
	s.LineChanges += o.LineChanges
	s.LineDeletes += o.LineDeletes
	s.LineAdds += o.LineAdds
	s.SharedEdits += o.SharedEdits
	s.Stale += o.Stale
}

// Workload applies random writes to nodes over HTTP. It is not safe for
// concurrent use; run one Workload per goroutine.
type Workload struct {
	Nodes  []*Node
	Rand   *rand.Rand
	Client *http.Client
	// Strict makes every refused write an error. Without it, refusals that
	// concurrent synchronization explains (404, 409, 412, and 400 for a
	// reference to a resource deleted meanwhile) are counted as Stale.
	Strict bool
	Stats  Stats
	ns     string
	tag    string // unique per workload, in names and references
	seq    int
}

// NewWorkload returns a workload over nodes; tag distinguishes the names
// and references it creates from those of other workloads.
func NewWorkload(nodes []*Node, rnd *rand.Rand, tag string) *Workload {
	return &Workload{Nodes: nodes, Rand: rnd, Client: &http.Client{Timeout: 30 * time.Second, Transport: Transport()},
		Stats: Stats{Creates: map[string]int{}}, ns: "http://schemas.sage.com/crmErp/2008", tag: tag}
}

// Step applies one random operation to a random node.
func (w *Workload) Step(ctx context.Context) error {
	n := w.Nodes[w.Rand.IntN(len(w.Nodes))]
	switch r := w.Rand.IntN(100); {
	case r < 12:
		return w.create(ctx, n, "tradingAccounts")
	case r < 20:
		return w.create(ctx, n, "commodities")
	case r < 30:
		return w.create(ctx, n, "contacts")
	case r < 40:
		return w.create(ctx, n, "salesOrders")
	case r < 60:
		return w.update(ctx, n, w.randomKind(), nil)
	case r < 65:
		return w.lineView(ctx, n)
	case r < 72:
		return w.remove(ctx, n, w.randomKind(), nil)
	default:
		return w.shared(ctx)
	}
}

func (w *Workload) randomKind() string {
	ks := []string{"tradingAccounts", "commodities", "contacts", "salesOrders", "salesOrders"}
	return ks[w.Rand.IntN(len(ks))]
}

// create posts a new resource of kind at n; contacts and orders reference
// resources that n holds (falling back to creating those first).
func (w *Workload) create(ctx context.Context, n *Node, kind string) error {
	nm := w.name()
	var d *etree.Document
	switch kind {
	case "tradingAccounts":
		var r *etree.Element
		d, r = w.doc("tradingAccount")
		text(r, "active", "true")
		text(r, "reference", "TA-"+nm)
		text(r, "name", "Account "+nm)
		text(r, "currency", []string{"EUR", "GBP", "USD"}[w.Rand.IntN(3)])
		text(r, "financeLimit", strconv.Itoa(1000*w.Rand.IntN(50)))
	case "commodities":
		var r *etree.Element
		d, r = w.doc("commodity")
		text(r, "reference", "CO-"+nm)
		text(r, "name", "Commodity "+nm)
		text(r, "type", []string{"Service", "Product Stock", "Kit"}[w.Rand.IntN(3)])
		text(r, "cost", fmt.Sprintf("%d.%02d", w.Rand.IntN(500), w.Rand.IntN(100)))
	case "contacts":
		tas, made, err := w.existing(ctx, n, "tradingAccounts")
		if err != nil || made {
			return err
		}
		var r *etree.Element
		d, r = w.doc("contact")
		text(r, "reference", "CT-"+nm)
		text(r, "fullName", "Contact "+nm)
		text(r, "familyName", "Family"+nm)
		ref(r, "tradingAccount", w.pick(tas).key)
	case "salesOrders":
		tas, made, err := w.existing(ctx, n, "tradingAccounts")
		if err != nil || made {
			return err
		}
		cos, made, err := w.existing(ctx, n, "commodities")
		if err != nil || made {
			return err
		}
		var r *etree.Element
		d, r = w.doc("salesOrder")
		text(r, "reference", "SO-"+nm)
		ref(r, "tradingAccount", w.pick(tas).key)
		text(r, "currency", "EUR")
		text(r, "date", "2026-11-02")
		lines := r.CreateElement("salesOrderLines")
		k := 1 + w.Rand.IntN(5)
		for i := 1; i <= k; i++ {
			w.line(lines, i, w.pick(cos).key, "")
		}
		text(r, "lineCount", strconv.Itoa(k))
		text(r, "text1", "order "+nm)
	}
	if _, err := w.do(ctx, http.MethodPost, n.KindURL(kind), bytesOf(d), ""); err != nil {
		return w.refused(err)
	}
	w.Stats.Creates[kind]++
	return nil
}

// line appends a complete salesOrderLine naming its commodity by key, or by
// uuid when key is "" (uuid is then the commodity UUID).
func (w *Workload) line(lines *etree.Element, num int, commodityKey, commodityUUID string) {
	l := lines.CreateElement("salesOrderLine")
	text(l, "number", strconv.Itoa(num))
	text(l, "type", "Standard Line")
	c := l.CreateElement("commodity")
	if commodityKey != "" {
		c.CreateAttr("sdata:key", commodityKey)
	} else {
		c.CreateAttr("sdata:uuid", commodityUUID)
	}
	text(l, "text", "line "+w.name())
	text(l, "quantity", strconv.Itoa(1+w.Rand.IntN(9)))
	text(l, "actualPrice", strconv.Itoa(1+w.Rand.IntN(200)))
}

// plain copies a payload element read from a node for use in a write:
// element prefixes dropped, sdata:key/url of references dropped when the
// reference carries a UUID.
func plain(el *etree.Element) *etree.Element {
	c := el.Copy()
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		e.Space = ""
		if e.SelectAttrValue("sdata:uuid", "") != "" {
			e.RemoveAttr("sdata:key")
			e.RemoveAttr("sdata:url")
		}
		for _, ch := range e.ChildElements() {
			walk(ch)
		}
	}
	walk(c)
	return c
}

// update changes a random live resource of kind at n (or it, when given),
// with If-Match on the version it read.
func (w *Workload) update(ctx context.Context, n *Node, kind string, it *item) error {
	if it == nil {
		items, err := w.list(ctx, n, kind)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return w.create(ctx, n, kind)
		}
		x := w.pick(items)
		it = &x
	}
	nm := w.name()
	var d *etree.Document
	switch kind {
	case "tradingAccounts":
		var r *etree.Element
		d, r = w.doc("tradingAccount")
		text(r, "name", "Account "+nm)
		text(r, "financeLimit", strconv.Itoa(1000*w.Rand.IntN(50)))
	case "commodities":
		var r *etree.Element
		d, r = w.doc("commodity")
		text(r, "description", "changed "+nm)
		text(r, "cost", fmt.Sprintf("%d.%02d", w.Rand.IntN(500), w.Rand.IntN(100)))
	case "contacts":
		var r *etree.Element
		d, r = w.doc("contact")
		text(r, "jobTitle", "Job "+nm)
		if w.Rand.IntN(3) == 0 {
			tas, err := w.list(ctx, n, "tradingAccounts")
			if err != nil {
				return err
			}
			if len(tas) > 0 {
				ref(r, "tradingAccount", w.pick(tas).key)
			}
		}
	case "salesOrders":
		var r *etree.Element
		d, r = w.doc("salesOrder")
		text(r, "text1", "changed "+nm)
		if err := w.lineOps(ctx, n, it.el, r); err != nil {
			return err
		}
	default:
		return fmt.Errorf("converge: no update for %s", kind)
	}
	if _, err := w.do(ctx, http.MethodPut, n.KindURL(kind)+"('"+it.key+"')", bytesOf(d), quote(it.etag)); err != nil {
		return w.refused(err)
	}
	w.Stats.Updates++
	return nil
}

// lineOps adds to the order patch r one to two line operations on the
// order cur: change a line, delete a line, add a line.
func (w *Workload) lineOps(ctx context.Context, n *Node, cur, r *etree.Element) error {
	var lines []*etree.Element
	if l := cur.SelectElement("salesOrderLines"); l != nil {
		lines = l.SelectElements("salesOrderLine")
	}
	list := r.CreateElement("salesOrderLines")
	used := map[int]bool{}
	for range 1 + w.Rand.IntN(2) {
		switch op := w.Rand.IntN(3); {
		case op == 0 && len(lines) > 0:
			i := w.Rand.IntN(len(lines))
			if used[i] {
				continue
			}
			used[i] = true
			c := plain(lines[i])
			if t := c.SelectElement("text"); t != nil {
				t.SetText("changed " + w.name())
			} else {
				text(c, "text", "changed "+w.name())
			}
			if q := c.SelectElement("quantity"); q != nil {
				q.SetText(strconv.Itoa(1 + w.Rand.IntN(9)))
			}
			list.AddChild(c)
			w.Stats.LineChanges++
		case op == 1 && len(lines) > 1:
			i := w.Rand.IntN(len(lines))
			if used[i] {
				continue
			}
			used[i] = true
			del := list.CreateElement("salesOrderLine")
			del.CreateAttr("sdata:uuid", feeds.PayloadUUID(lines[i]))
			del.CreateAttr("sdata:isDeleted", "true")
			w.Stats.LineDeletes++
		default:
			cos, err := w.list(ctx, n, "commodities")
			if err != nil {
				return err
			}
			if len(cos) == 0 {
				continue
			}
			w.line(list, len(lines)+1+w.Rand.IntN(3), w.pick(cos).key, "")
			w.Stats.LineAdds++
		}
	}
	return nil
}

// lineView changes, deletes or adds one line through the salesOrderLines
// view (a write of the parent order), with If-Match on the order's version.
func (w *Workload) lineView(ctx context.Context, n *Node) error {
	lines, err := w.list(ctx, n, "salesOrderLines")
	if err != nil {
		return err
	}
	op := w.Rand.IntN(10)
	if len(lines) == 0 || op >= 8 {
		orders, err := w.list(ctx, n, "salesOrders")
		if err != nil {
			return err
		}
		cos, err := w.list(ctx, n, "commodities")
		if err != nil {
			return err
		}
		if len(orders) == 0 || len(cos) == 0 {
			return w.create(ctx, n, "salesOrders")
		}
		d, r := w.doc("salesOrderLine")
		ref(r, "salesOrder", w.pick(orders).key)
		text(r, "number", strconv.Itoa(1+w.Rand.IntN(9)))
		text(r, "type", "Standard Line")
		ref(r, "commodity", w.pick(cos).key)
		text(r, "text", "view line "+w.name())
		text(r, "quantity", strconv.Itoa(1+w.Rand.IntN(9)))
		if _, err := w.do(ctx, http.MethodPost, n.KindURL("salesOrderLines"), bytesOf(d), ""); err != nil {
			return w.refused(err)
		}
		w.Stats.LineAdds++
		w.Stats.Updates++
		return nil
	}
	l := w.pick(lines)
	u := n.KindURL("salesOrderLines") + "('" + l.uuid + "')"
	if op < 2 {
		if _, err := w.do(ctx, http.MethodDelete, u, nil, quote(l.etag)); err != nil {
			return w.refused(err)
		}
		w.Stats.LineDeletes++
		w.Stats.Updates++
		return nil
	}
	d, r := w.doc("salesOrderLine")
	text(r, "text", "view change "+w.name())
	text(r, "quantity", strconv.Itoa(1+w.Rand.IntN(9)))
	if _, err := w.do(ctx, http.MethodPut, u, bytesOf(d), quote(l.etag)); err != nil {
		return w.refused(err)
	}
	w.Stats.LineChanges++
	w.Stats.Updates++
	return nil
}

// remove deletes a random live resource of kind at n (or it, when given).
func (w *Workload) remove(ctx context.Context, n *Node, kind string, it *item) error {
	if it == nil {
		items, err := w.list(ctx, n, kind)
		if err != nil {
			return err
		}
		if len(items) < 3 { // keep something to reference and edit
			return w.create(ctx, n, kind)
		}
		x := w.pick(items)
		it = &x
	}
	if _, err := w.do(ctx, http.MethodDelete, n.KindURL(kind)+"('"+it.key+"')", nil, quote(it.etag)); err != nil {
		return w.refused(err)
	}
	w.Stats.Deletes++
	return nil
}

// shared edits one already synchronized resource on two or three nodes
// (occasionally deleting it on one of them): concurrent changes that the
// next passes must resolve as conflicts.
func (w *Workload) shared(ctx context.Context) error {
	if len(w.Nodes) < 2 {
		return w.update(ctx, w.Nodes[0], w.randomKind(), nil)
	}
	kind := w.randomKind()
	order := w.Rand.Perm(len(w.Nodes))
	first := w.Nodes[order[0]]
	items, err := w.list(ctx, first, kind)
	if err != nil {
		return err
	}
	var synced []item
	for _, it := range items {
		if it.uuid != "" {
			synced = append(synced, it)
		}
	}
	if len(synced) == 0 {
		return w.update(ctx, first, kind, nil)
	}
	target := w.pick(synced)
	k := 2 + w.Rand.IntN(min(2, len(w.Nodes)-1))
	edited := 0
	for i, idx := range order[:k] {
		n := w.Nodes[idx]
		it := target
		if i > 0 {
			others, err := w.list(ctx, n, kind)
			if err != nil {
				return err
			}
			j := slices.IndexFunc(others, func(o item) bool { return o.uuid == target.uuid })
			if j < 0 {
				continue
			}
			it = others[j]
		}
		if i > 0 && w.Rand.IntN(6) == 0 {
			err = w.remove(ctx, n, kind, &it)
		} else {
			err = w.update(ctx, n, kind, &it)
		}
		if err != nil {
			return err
		}
		edited++
	}
	if edited > 1 {
		w.Stats.SharedEdits++
	}
	return nil
}

// refused classifies an error of a write: nil when the write may count as
// stale (and was counted), the error otherwise.
func (w *Workload) refused(err error) error {
	var he *HTTPError
	if err == nil || w.Strict || !errors.As(err, &he) {
		return err
	}
	switch he.Status {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed:
		w.Stats.Stale++
		return nil
	}
	return err
}

// existing lists the live resources of kind at n; when there is none, it
// creates one instead (made) for the caller to stop there.
func (w *Workload) existing(ctx context.Context, n *Node, kind string) (items []item, made bool, err error) {
	if items, err = w.list(ctx, n, kind); err != nil || len(items) > 0 {
		return items, false, err
	}
	return nil, true, w.create(ctx, n, kind)
}

func (w *Workload) list(ctx context.Context, n *Node, kind string) ([]item, error) {
	return listAll(ctx, w.Client, n, kind)
}

func (w *Workload) pick(items []item) item { return items[w.Rand.IntN(len(items))] }

func (w *Workload) name() string {
	w.seq++
	return fmt.Sprintf("%s-%d", w.tag, w.seq)
}

// doc builds a payload document: root element with the contract namespace
// and the sdata prefix declared.
func (w *Workload) doc(root string) (*etree.Document, *etree.Element) {
	d := etree.NewDocument()
	r := d.CreateElement(root)
	r.CreateAttr("xmlns", w.ns)
	r.CreateAttr("xmlns:sdata", feeds.SDataNS)
	return d, r
}

func text(parent *etree.Element, tag, v string) { parent.CreateElement(tag).SetText(v) }

func ref(parent *etree.Element, tag, key string) {
	parent.CreateElement(tag).CreateAttr("sdata:key", key)
}

func bytesOf(d *etree.Document) []byte {
	b, _ := d.WriteToBytes()
	return b
}
