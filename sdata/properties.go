package sdata

import (
	"context"
	"net/http"
	"strings"

	"github.com/beevik/etree"

	"sdatasync/contracts"
	"sdatasync/feeds"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/payload"
	"sdatasync/sdata/resources"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
	"sdatasync/sdata/wire"
)

// Property URLs (core URL grammar): {kind}('key')/{property} names what a
// relationship property of a resource points to. A single reference (or
// parent) answers the referenced entry; a child collection answers a paged
// feed of the items; a collection of references (an association) answers
// a paged feed of the resources it lists, or, when the resource holds no
// list, of the resources of the related kind that refer back to it.

// property serves GET {kind}('key')/{property}.
func (s *Server) property(w http.ResponseWriter, r *http.Request, t site.Target) error {
	name := muxVar(r, "op")
	if strings.HasPrefix(name, "$") {
		return diag.New(diag.NoSuchURL, "%q is not available on a single resource", name)
	}
	p := t.Kind.Type.Property(name)
	if p == nil {
		return diag.New(diag.NoSuchURL, "%s has no property %q", t.Kind.Name, name)
	}
	if p.Relationship == contracts.RelNone || p.RelatedKind == nil {
		return diag.New(diag.NoSuchURL,
			"property %q of %s is not a relationship: only relationship properties have URLs", name, t.Kind.Name)
	}
	el, holder, err := s.propertyHolder(r.Context(), t.Scope)
	if err != nil {
		return err
	}
	rs, _ := s.site.Related(t.Dataset, p)
	switch {
	case !p.IsCollection && p.Relationship == contracts.RelParent && holder.Parent.Key != "":
		// A child item's parent is the resource that holds it.
		return s.writeRead(w, r, rs, holder.Parent)
	case !p.IsCollection:
		ref := el.SelectElement(p.Name)
		u := feeds.PayloadUUID(ref)
		if ref == nil || feeds.IsNil(ref) || u == "" {
			return diag.New(diag.NoResource, "%s('%s') has no %s", t.Kind.PluralName, t.Key, p.Name)
		}
		res, err := s.st.GetByUUID(r.Context(), rs.Endpoint, strings.ToLower(u))
		if err != nil || res.Deleted {
			return diag.New(diag.NoResource, "the %s of %s('%s') (UUID %s) is not here", p.Name, t.Kind.PluralName, t.Key, u)
		}
		return s.writeRead(w, r, rs, res)
	case p.Relationship == contracts.RelChild:
		return s.childList(w, r, t, p, el)
	}
	return s.referenceList(w, r, t, p, el)
}

// propertyHolder returns the payload of the resource a property URL names,
// and, for an item of a child kind, where it lives.
func (s *Server) propertyHolder(ctx context.Context, sc site.Scope) (*etree.Element, resources.ChildItem, error) {
	if cl, ok := s.site.Child(sc.Kind.PluralName); ok {
		_, item, err := s.childItem(ctx, sc, cl)
		return item.Item, item, err
	}
	res, err := s.resources.Get(ctx, sc)
	if err != nil {
		return nil, resources.ChildItem{}, err
	}
	el, err := payload.ParseStored(res.Payload)
	return el, resources.ChildItem{}, err
}

// writeRead answers one resource of sc as a read does (304 with a
// matching If-None-Match).
func (s *Server) writeRead(w http.ResponseWriter, r *http.Request, sc site.Scope, res store.Resource) error {
	if wire.NotModified(w, r, res.ETag) {
		return nil
	}
	sel, err := selectParam(r)
	if err != nil {
		return err
	}
	e, err := s.resources.Entry(r.Context(), sc, res, sel)
	if err != nil {
		return err
	}
	return wire.WriteEntry(w, http.StatusOK, e, "")
}

// childList answers the items of a child collection of one resource, paged.
func (s *Server) childList(w http.ResponseWriter, r *http.Request, t site.Target, p *contracts.Property, el *etree.Element) error {
	cs, _ := s.site.Related(t.Dataset, p)
	cl, ok := s.site.Child(cs.Kind.PluralName)
	if !ok || cl.Parent != t.Kind {
		return diag.New(diag.NoSuchURL, "the %s of %s are not served as resources", p.Name, t.Kind.PluralName)
	}
	parent, err := s.resources.Get(r.Context(), t.Scope)
	if err != nil {
		return err
	}
	var items []resources.ChildItem
	if list := el.SelectElement(p.Name); list != nil {
		for _, it := range list.SelectElements(p.ItemName) {
			items = append(items, resources.ChildItem{Parent: parent, Item: it})
		}
	}
	return s.writePropertyFeed(w, r, t, p, len(items), func(i int) (*feeds.Entry, error) {
		return s.resources.ChildEntry(r.Context(), cs, cl, items[i], nil)
	})
}

// referenceList answers the resources a collection of references lists or,
// when the resource lists none, those of the related kind that refer back
// to it, paged.
func (s *Server) referenceList(w http.ResponseWriter, r *http.Request, t site.Target, p *contracts.Property, el *etree.Element) error {
	rs, _ := s.site.Related(t.Dataset, p)
	var list []store.Resource
	if c := el.SelectElement(p.Name); c != nil && !feeds.IsNil(c) && len(c.ChildElements()) > 0 {
		for _, it := range c.ChildElements() {
			u := feeds.PayloadUUID(it)
			if u == "" {
				continue
			}
			if res, err := s.st.GetByUUID(r.Context(), rs.Endpoint, strings.ToLower(u)); err == nil && !res.Deleted {
				list = append(list, res)
			}
		}
	} else {
		var err error
		if list, err = s.referringTo(r.Context(), t.Scope, rs); err != nil {
			return err
		}
	}
	return s.writePropertyFeed(w, r, t, p, len(list), func(i int) (*feeds.Entry, error) {
		return s.resources.Entry(r.Context(), rs, list[i], nil)
	})
}

// referringTo lists the live resources of rs whose single reference to
// sc's kind names sc's resource.
func (s *Server) referringTo(ctx context.Context, sc, rs site.Scope) ([]store.Resource, error) {
	res, err := s.resources.Get(ctx, sc)
	if err != nil || res.UUID == "" {
		return nil, err
	}
	var back *contracts.Property
	for _, q := range rs.Kind.Type.Properties {
		if q.RelatedKind == sc.Kind && !q.IsCollection && (q.Relationship == contracts.RelReference || q.Relationship == contracts.RelParent) {
			back = q
			break
		}
	}
	if back == nil {
		return nil, nil
	}
	// The stored form of a reference is exactly <name sdata:uuid="u"/>.
	needle := "<" + back.Name + ` sdata:uuid="` + res.UUID + `"/>`
	out, _, err := s.st.List(ctx, rs.Endpoint, store.ListQuery{Where: `instr(r.payload, ?) > 0`, Args: []any{needle}})
	return out, err
}

// writePropertyFeed writes the page of a property URL's feed of n entries.
func (s *Server) writePropertyFeed(w http.ResponseWriter, r *http.Request, t site.Target, p *contracts.Property, n int, entry func(i int) (*feeds.Entry, error)) error {
	q := r.URL.Query()
	pg, err := wire.ParsePaging(q)
	if err != nil {
		return err
	}
	self := s.site.ResourceURL(t.Dataset, t.Kind, t.Key) + "/" + p.Name
	from, to := min(pg.Offset(), n), min(pg.Offset()+pg.Count, n)
	fw, err := wire.StreamFeed(w, &feeds.Feed{ID: self, Title: p.Name, Updated: wire.NowUTC(), TotalResults: n,
		StartIndex: pg.Start, ItemsPerPage: pg.Count, Links: pg.Links(self, q, n)})
	if err != nil {
		return err
	}
	for i := from; i < to; i++ {
		e, err := entry(i)
		if err != nil {
			return err
		}
		if err := fw.WriteEntry(e); err != nil {
			return err
		}
	}
	return fw.Close()
}
