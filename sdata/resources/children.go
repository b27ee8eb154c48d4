package resources

import (
	"context"
	"net/http"
	"strings"

	"github.com/beevik/etree"

	"sdatasync/contracts"
	"sdatasync/feeds"
	"sdatasync/sdata/payload"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
	"sdatasync/sdata/wire"
)

// Child kinds (see site.ChildKinds) are views of their parents: their
// resources are the items of a child collection inside the parent's
// payload, keyed by their UUID, and every write of one is an update of its
// parent through Update.

// ChildItem is one item of a child kind found in its parent.
type ChildItem struct {
	Parent store.Resource
	Item   *etree.Element
}

// parentScope is the scope of a child kind's parent kind.
func (s *Service) parentScope(sc site.Scope, cl site.ChildLink) site.Scope {
	ps, _ := s.Site.Scope(sc.Dataset, cl.Parent.PluralName)
	return ps
}

// ChildItems lists the items of a child kind, in parent order; with id set,
// only the item with that UUID.
func (s *Service) ChildItems(ctx context.Context, sc site.Scope, cl site.ChildLink, id string) ([]ChildItem, error) {
	q := store.ListQuery{}
	if id != "" {
		q.Where, q.Args = `instr(r.payload, ?) > 0`, []any{`sdata:uuid="` + id + `"`}
	}
	parents, _, err := s.Store.List(ctx, s.parentScope(sc, cl).Endpoint, q)
	if err != nil {
		return nil, err
	}
	var out []ChildItem
	for _, p := range parents {
		el, err := payload.ParseStored(p.Payload)
		if err != nil {
			return nil, err
		}
		list := el.SelectElement(cl.Prop.Name)
		if list == nil {
			continue
		}
		for _, it := range list.SelectElements(cl.Prop.ItemName) {
			if id == "" || strings.EqualFold(feeds.PayloadUUID(it), id) {
				out = append(out, ChildItem{Parent: p, Item: it})
			}
		}
	}
	return out, nil
}

// ChildEntry renders an item as an entry of its own kind, with a reference
// to its parent.
func (s *Service) ChildEntry(ctx context.Context, sc site.Scope, cl site.ChildLink, ci ChildItem, sel []string) (*feeds.Entry, error) {
	el := ci.Item.Copy()
	el.CreateAttr("xmlns", s.Site.Contract.TargetNamespace)
	el.CreateAttr("xmlns:sdata", feeds.SDataNS)
	u := feeds.PayloadUUID(el)
	self := s.Site.ResourceURL(sc.Dataset, sc.Kind, u)
	ps := s.parentScope(sc, cl)
	for _, p := range sc.Kind.Type.Properties {
		if p.Relationship == contracts.RelParent && p.RelatedKind == cl.Parent {
			for _, old := range el.SelectElements(p.Name) {
				el.RemoveChild(old)
			}
			ref := etree.NewElement(p.Name)
			if ci.Parent.UUID != "" {
				ref.CreateAttr("sdata:uuid", ci.Parent.UUID)
			}
			ref.CreateAttr("sdata:key", ci.Parent.Key)
			ref.CreateAttr("sdata:url", s.Site.ResourceURL(sc.Dataset, ps.Kind, ci.Parent.Key))
			el.InsertChildAt(0, ref)
		}
	}
	payload.SelectProps(el, sel)
	el.CreateAttr("sdata:key", u)
	el.CreateAttr("sdata:url", self)
	if err := s.Decorate(ctx, sc, el); err != nil {
		return nil, err
	}
	title := payload.Title(sc.Kind, el, u)
	return &feeds.Entry{ID: self, Title: title, Content: title, Updated: ci.Parent.Updated, ETag: ci.Parent.ETag, Payload: el,
		Links: []feeds.Link{{Rel: "self", Type: wire.TypeEntry, Href: self}, {Rel: "edit", Type: wire.TypeEntry, Href: self},
			{Rel: "related", Type: wire.TypeEntry, Title: ps.Kind.PluralName, Href: s.Site.ResourceURL(sc.Dataset, ps.Kind, ci.Parent.Key)}}}, nil
}

// WriteChild turns a POST, PUT or DELETE of a child (method; el the
// request's payload, nil for DELETE; cur the item a PUT or DELETE names)
// into an update of its parent: the item is created, merged or marked
// deleted in the parent's child collection, through Update. It returns the
// item as it now stands (nil after a DELETE).
func (s *Service) WriteChild(ctx context.Context, sc site.Scope, cl site.ChildLink, cur ChildItem, method string, el *etree.Element, ifMatch []string, user string) (*feeds.Entry, error) {
	ps := s.parentScope(sc, cl)
	var item *etree.Element
	var parentKey string
	if method == http.MethodDelete {
		item = etree.NewElement(cl.Prop.ItemName)
		item.CreateAttr("sdata:uuid", sc.Key)
		item.CreateAttr("sdata:isDeleted", "true")
		parentKey = cur.Parent.Key
	} else {
		if err := payload.Validate(s.Site.Contract, sc.Kind, el, method == http.MethodPut); err != nil {
			return nil, err
		}
		// The parent reference says where a new item goes; it is not stored
		// inside the item.
		for _, p := range sc.Kind.Type.Properties {
			if p.Relationship != contracts.RelParent || p.RelatedKind != cl.Parent {
				continue
			}
			if ref := el.SelectElement(p.Name); ref != nil {
				if method == http.MethodPost {
					var err error
					if parentKey, err = s.RefKey(ctx, ps, ref); err != nil {
						return nil, payload.Errorf(sc.Kind.Name+"/"+p.Name, "%v", err)
					}
				}
				el.RemoveChild(ref)
			}
		}
		payload.StripDerived(el)
		if method == http.MethodPost {
			if parentKey == "" {
				return nil, payload.Errorf(sc.Kind.Name, "a new %s names its %s (a parent reference by sdata:key, sdata:uuid or sdata:url)", sc.Kind.Name, cl.Parent.Name)
			}
			if parent, err := s.Store.Get(ctx, ps.Endpoint, parentKey); err != nil || parent.Deleted {
				return nil, payload.Errorf(sc.Kind.Name+"/"+cl.Parent.Name, "no %s with key %q to hold the new %s", cl.Parent.PluralName, parentKey, sc.Kind.Name)
			}
			item = el
		} else {
			item = payload.Merge(cur.Item, el) // a partial item updates the named properties
			parentKey = cur.Parent.Key
			item.CreateAttr("sdata:uuid", sc.Key)
		}
		item.Tag, item.Space = cl.Prop.ItemName, ""
		item.RemoveAttr("xmlns")
	}
	patch := etree.NewElement(cl.Parent.Name)
	patch.CreateAttr("xmlns", s.Site.Contract.TargetNamespace)
	patch.CreateAttr("xmlns:sdata", feeds.SDataNS)
	patch.CreateElement(cl.Prop.Name).AddChild(item)
	ps.Key, ps.Single = parentKey, true
	res, err := s.Update(ctx, ps, patch, ifMatch, user)
	if err != nil || method == http.MethodDelete {
		return nil, err
	}
	id := feeds.PayloadUUID(item) // set by prepareLocal for a new item
	items, err := s.ChildItems(ctx, sc, cl, strings.ToLower(id))
	if err != nil || len(items) == 0 {
		return nil, NotFound(sc, err)
	}
	items[0].Parent = res
	return s.ChildEntry(ctx, sc, cl, items[0], nil)
}
