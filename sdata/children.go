package sdata

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/beevik/etree"

	"sdatasync/contracts"
	"sdatasync/feeds"
	"sdatasync/sdata/store"
)

// Child kinds. A resource kind whose resources are the items of another
// kind's child collection (salesOrderLines inside salesOrders) is served as a
// view of its parents: its resources live in their parent's payload, are
// keyed by their UUID, and every write to them is a write of the parent
// (same tick, same sync state). Such a kind does not synchronize on its own
// (its items travel inside their parents), so the server's contract marks it
// neither sync source nor sync target.

// childLink says where the items of a child kind live.
type childLink struct {
	parent *contracts.ResourceKind
	prop   *contracts.Property // the parent's child collection property
}

// findChildKinds maps child kinds (plural name) to their parent collection
// and clears their sync flags.
func findChildKinds(c *contracts.Contract) map[string]childLink {
	out := map[string]childLink{}
	for _, p := range c.Kinds {
		for _, prop := range p.Type.Properties {
			if prop.Relationship != contracts.RelChild || !prop.IsCollection || prop.RelatedKind == nil || prop.ItemName == "" {
				continue
			}
			k := prop.RelatedKind
			if _, seen := out[k.PluralName]; seen || k == p {
				continue
			}
			out[k.PluralName] = childLink{parent: p, prop: prop}
			k.IsSyncSource, k.IsSyncTarget = false, false
		}
	}
	return out
}

// childItem is one item of a child kind found in its parent.
type childItem struct {
	parent store.Resource
	item   *etree.Element
}

// parentScope is the scope of a child kind's parent kind.
func (s *Server) parentScope(sc scope, cl childLink) scope {
	return scope{dataset: sc.dataset, kind: cl.parent, ep: s.eps[epKey{sc.dataset, cl.parent.PluralName}]}
}

// childItems lists the items of a child kind, in parent order; with id set,
// only the item with that UUID.
func (s *Server) childItems(ctx context.Context, sc scope, cl childLink, id string) ([]childItem, error) {
	q := store.ListQuery{}
	if id != "" {
		q.Where, q.Args = `instr(r.payload, ?) > 0`, []any{`sdata:uuid="` + id + `"`}
	}
	parents, _, err := s.st.List(ctx, s.parentScope(sc, cl).ep, q)
	if err != nil {
		return nil, err
	}
	var out []childItem
	for _, p := range parents {
		el, err := parseStored(p.Payload)
		if err != nil {
			return nil, err
		}
		list := el.SelectElement(cl.prop.Name)
		if list == nil {
			continue
		}
		for _, it := range list.SelectElements(cl.prop.ItemName) {
			if id == "" || strings.EqualFold(feeds.PayloadUUID(it), id) {
				out = append(out, childItem{parent: p, item: it})
			}
		}
	}
	return out, nil
}

// childEntry renders an item as an entry of its own kind, with a reference
// to its parent.
func (s *Server) childEntry(ctx context.Context, sc scope, cl childLink, ci childItem, sel []string) (*feeds.Entry, error) {
	el := ci.item.Copy()
	el.CreateAttr("xmlns", s.cfg.Contract.TargetNamespace)
	el.CreateAttr("xmlns:sdata", feeds.SDataNS)
	u := feeds.PayloadUUID(el)
	self := s.resourceURL(sc.dataset, sc.kind, u)
	ps := s.parentScope(sc, cl)
	for _, p := range sc.kind.Type.Properties {
		if p.Relationship == contracts.RelParent && p.RelatedKind == cl.parent {
			for _, old := range el.SelectElements(p.Name) {
				el.RemoveChild(old)
			}
			ref := etree.NewElement(p.Name)
			if ci.parent.UUID != "" {
				ref.CreateAttr("sdata:uuid", ci.parent.UUID)
			}
			ref.CreateAttr("sdata:key", ci.parent.Key)
			ref.CreateAttr("sdata:url", s.resourceURL(sc.dataset, ps.kind, ci.parent.Key))
			el.InsertChildAt(0, ref)
		}
	}
	selectProps(el, sel)
	el.CreateAttr("sdata:key", u)
	el.CreateAttr("sdata:url", self)
	if err := s.decorateRefs(ctx, sc, el); err != nil {
		return nil, err
	}
	title := titleOf(sc.kind, el, u)
	return &feeds.Entry{ID: self, Title: title, Content: title, Updated: ci.parent.Updated, ETag: ci.parent.ETag, Payload: el,
		Links: []feeds.Link{{Rel: "self", Type: typeEntry, Href: self}, {Rel: "edit", Type: typeEntry, Href: self},
			{Rel: "related", Type: typeEntry, Title: ps.kind.PluralName, Href: s.resourceURL(sc.dataset, ps.kind, ci.parent.Key)}}}, nil
}

// serveChild serves the collection and single resources of a child kind.
func (s *Server) serveChild(w http.ResponseWriter, r *http.Request, sc scope, cl childLink) error {
	if sc.single {
		if err := allow(r, kindMethods(sc.kind, false)...); err != nil {
			return err
		}
		if !validUUID(sc.key) {
			return errorf(http.StatusNotFound, CodeResourceNotFound, "%s are keyed by their UUID; %q is none", sc.kind.PluralName, sc.key)
		}
		sc.key = strings.ToLower(sc.key)
		items, err := s.childItems(r.Context(), sc, cl, sc.key)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return errorf(http.StatusNotFound, CodeResourceNotFound, "%s('%s') not found", sc.kind.PluralName, sc.key)
		}
		switch r.Method {
		case http.MethodPut, http.MethodDelete:
			return s.writeChild(w, r, sc, cl, items[0])
		}
		sel, err := selectParam(r)
		if err != nil {
			return err
		}
		e, err := s.childEntry(r.Context(), sc, cl, items[0], sel)
		if err != nil {
			return err
		}
		return s.writeEntry(w, http.StatusOK, e, "")
	}
	if err := allow(r, kindMethods(sc.kind, true)...); err != nil {
		return err
	}
	if r.Method == http.MethodPost {
		return s.writeChild(w, r, sc, cl, childItem{})
	}
	q := r.URL.Query()
	if queryParam(q, "where") != "" || queryParam(q, "orderBy") != "" {
		return errorf(http.StatusBadRequest, CodeBadQueryParameter, "%s live inside %s: query %s instead (where and orderBy are not available on the child view)",
			sc.kind.PluralName, cl.parent.PluralName, cl.parent.PluralName)
	}
	pg, err := parsePaging(q)
	if err != nil {
		return err
	}
	sel, err := selectParam(r)
	if err != nil {
		return err
	}
	items, err := s.childItems(r.Context(), sc, cl, "")
	if err != nil {
		return err
	}
	total := len(items)
	from, to := min(pg.start-1, total), min(pg.start-1+pg.count, total)
	self := s.kindURL(sc.dataset, sc.kind)
	w.Header().Set("Content-Type", typeFeed)
	fw, err := feeds.NewFeedWriter(w, &feeds.Feed{ID: self, Title: labelOf(sc.kind), Updated: nowUTC(), TotalResults: total,
		StartIndex: pg.start, ItemsPerPage: pg.count, Links: pageLinks(self, q, pg, total)})
	if err != nil {
		return err
	}
	for _, ci := range items[from:to] {
		e, err := s.childEntry(r.Context(), sc, cl, ci, sel)
		if err != nil {
			return err
		}
		if err := fw.WriteEntry(e); err != nil {
			return err
		}
	}
	return fw.Close()
}

// writeChild turns a POST, PUT or DELETE of a child into an update of its
// parent: the item is created, merged or marked deleted in the parent's
// child collection, through the parent's normal write path.
func (s *Server) writeChild(w http.ResponseWriter, r *http.Request, sc scope, cl childLink, cur childItem) error {
	ps := s.parentScope(sc, cl)
	var item *etree.Element
	var parentKey string
	status := http.StatusOK
	if r.Method == http.MethodDelete {
		item = etree.NewElement(cl.prop.ItemName)
		item.CreateAttr("sdata:uuid", sc.key)
		item.CreateAttr("sdata:isDeleted", "true")
		parentKey = cur.parent.Key
	} else {
		el, _, err := s.readResource(w, r)
		if err != nil {
			return err
		}
		if err := validate(s.cfg.Contract, sc.kind, el, r.Method == http.MethodPut); err != nil {
			return err
		}
		// The parent reference says where a new item goes; it is not stored
		// inside the item.
		for _, p := range sc.kind.Type.Properties {
			if p.Relationship != contracts.RelParent || p.RelatedKind != cl.parent {
				continue
			}
			if ref := el.SelectElement(p.Name); ref != nil {
				if r.Method == http.MethodPost {
					if parentKey, err = s.refKey(r.Context(), ps, ref); err != nil {
						return payloadError(sc.kind.Name+"/"+p.Name, "%v", err)
					}
				}
				el.RemoveChild(ref)
			}
		}
		for _, a := range stripAttrs {
			el.RemoveAttr("sdata:" + a)
		}
		if r.Method == http.MethodPost {
			if parentKey == "" {
				return payloadError(sc.kind.Name, "a new %s names its %s (a parent reference by sdata:key, sdata:uuid or sdata:url)", sc.kind.Name, cl.parent.Name)
			}
			item = el
			status = http.StatusCreated
		} else {
			item = merge(cur.item, el) // a partial item updates the named properties
			parentKey = cur.parent.Key
			item.CreateAttr("sdata:uuid", sc.key)
		}
		item.Tag, item.Space = cl.prop.ItemName, ""
		item.RemoveAttr("xmlns")
	}
	patch := etree.NewElement(cl.parent.Name)
	patch.CreateAttr("xmlns", s.cfg.Contract.TargetNamespace)
	patch.CreateAttr("xmlns:sdata", feeds.SDataNS)
	patch.CreateElement(cl.prop.Name).AddChild(item)
	var tags []string
	if h := r.Header.Get("If-Match"); h != "" {
		tags = append(tags, h)
	}
	ps.key, ps.single = parentKey, true
	res, err := s.updateCore(r.Context(), ps, patch, tags, user(r))
	if err != nil {
		return err
	}
	if r.Method == http.MethodDelete {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	id := feeds.PayloadUUID(item) // set by prepareLocal for a new item
	items, err := s.childItems(r.Context(), sc, cl, strings.ToLower(id))
	if err != nil || len(items) == 0 {
		return s.notFound(sc, err)
	}
	items[0].parent = res
	e, err := s.childEntry(r.Context(), sc, cl, items[0], nil)
	if err != nil {
		return err
	}
	loc := ""
	if status == http.StatusCreated {
		loc = e.ID
	}
	return s.writeEntry(w, status, e, loc)
}

// refKey returns the local key of the resource a reference element names.
func (s *Server) refKey(ctx context.Context, target scope, ref *etree.Element) (string, error) {
	if k := feeds.PayloadKey(ref); k != "" {
		return k, nil
	}
	if raw := ref.SelectAttrValue("sdata:url", ""); raw != "" {
		if _, err := url.Parse(raw); err == nil {
			return keyFromURL(raw)
		}
	}
	if u := feeds.PayloadUUID(ref); u != "" {
		keys, err := s.st.KeysByUUID(ctx, target.ep, []string{u})
		if err != nil {
			return "", err
		}
		if k, ok := keys[strings.ToLower(u)]; ok {
			return k, nil
		}
		return "", errorf(http.StatusNotFound, CodeResourceNotFound, "no %s with UUID %s", target.kind.Name, u)
	}
	return "", errorf(http.StatusBadRequest, CodeApplicationDiagnosis, "the reference names no resource")
}
