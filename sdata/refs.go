package sdata

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/beevik/etree"
	"sdatasync/sdata/store"

	"sdatasync/contracts"
	"sdatasync/feeds"
)

// Relationships in payloads (sync 6.1).
//
// A reference (sme:relationship="reference" or "parent") is stored as an
// empty element carrying only sdata:uuid: the global identity, the same at
// every provider. Local writes may name the referenced resource by
// sdata:key or sdata:url; it is resolved then (and given a UUID when it has
// none). Reads add sdata:key and sdata:url when the UUID names a resource
// here; a reference to a UUID this provider does not know yet is kept as it
// came and resolves by itself once that resource arrives.
//
// Children (sme:relationship="child", collections) are stored inside their
// parent's payload, each item with its own sdata:uuid. Updates merge items
// by UUID: listed items replace the item with the same UUID or are added,
// items with sdata:isDeleted="true" are removed, and a list marked
// sdata:deleteMissing="true" removes the items it does not list. Our sync
// feeds carry complete lists marked sdata:deleteMissing="true".

// extNS is the namespace of sdatasync's own extension attributes in sync
// payloads; other providers ignore it. uuidAliases lists the former UUIDs of
// a resource, so that providers of ours re-key it instead of creating a twin.
const extNS = "urn:sdatasync:sync-ext"

// walkRelations calls fn for every reference/parent element and every child
// collection element in el (of type t), depth first through child items.
func walkRelations(t *contracts.ComplexType, el *etree.Element, path string,
	ref func(p *contracts.Property, c *etree.Element, path string) error,
	list func(p *contracts.Property, c *etree.Element, path string) error) error {
	if t == nil {
		return nil
	}
	for _, c := range el.ChildElements() {
		p := t.Property(c.Tag)
		if p == nil || p.Kind != contracts.KindComplex || feeds.IsNil(c) {
			continue
		}
		cpath := path + "/" + c.Tag
		switch {
		case (p.Relationship == contracts.RelReference || p.Relationship == contracts.RelParent) && !p.IsCollection:
			if err := ref(p, c, cpath); err != nil {
				return err
			}
		case p.Relationship == contracts.RelChild && p.IsCollection && p.ItemName != "":
			if list != nil {
				if err := list(p, c, cpath); err != nil {
					return err
				}
			}
			for _, item := range c.SelectElements(p.ItemName) {
				if err := walkRelations(p.Complex, item, cpath+"/"+p.ItemName, ref, list); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// relatedScope is the scope of a reference's resource kind in dataset.
func (s *Server) relatedScope(dataset string, p *contracts.Property) (scope, bool) {
	if p.RelatedKind == nil {
		return scope{}, false
	}
	ep, ok := s.eps[epKey{dataset, p.RelatedKind.PluralName}]
	return scope{dataset: dataset, kind: p.RelatedKind, ep: ep}, ok
}

// prepareLocal readies a payload of a local write: references resolved to
// UUIDs, child items given UUIDs.
func (s *Server) prepareLocal(ctx context.Context, sc scope, el *etree.Element) error {
	return walkRelations(sc.kind.Type, el, sc.kind.Name, func(p *contracts.Property, c *etree.Element, path string) error {
		return s.resolveRef(ctx, sc.dataset, p, c, path)
	}, func(p *contracts.Property, c *etree.Element, path string) error {
		for _, item := range c.SelectElements(p.ItemName) {
			if feeds.PayloadUUID(item) == "" {
				setAttr(item, "sdata:uuid", store.NewUUID())
			} else if !validUUID(feeds.PayloadUUID(item)) {
				return payloadError(path+"/"+p.ItemName+"/@sdata:uuid", "%q is not a valid UUID", feeds.PayloadUUID(item))
			}
		}
		return nil
	})
}

func setAttr(el *etree.Element, key, value string) {
	el.CreateAttr(key, value)
}

// resolveRef turns a reference naming its resource by uuid, key or url into
// the stored form: an empty element with sdata:uuid.
func (s *Server) resolveRef(ctx context.Context, dataset string, p *contracts.Property, c *etree.Element, path string) error {
	u := feeds.PayloadUUID(c)
	if u != "" && !validUUID(u) {
		return payloadError(path+"/@sdata:uuid", "%q is not a valid UUID", u)
	}
	if u == "" {
		key := feeds.PayloadKey(c)
		if key == "" {
			if raw := c.SelectAttrValue("sdata:url", ""); raw != "" {
				k, err := keyFromURL(raw)
				if err != nil {
					return payloadError(path+"/@sdata:url", "%v", err)
				}
				key = k
			}
		}
		if key == "" {
			return payloadError(path, "reference %q must name its resource by sdata:uuid, sdata:key or sdata:url", p.Name)
		}
		rs, ok := s.relatedScope(dataset, p)
		if !ok {
			return payloadError(path, "reference %q: no resource kind to resolve it in", p.Name)
		}
		res, err := s.st.Get(ctx, rs.ep, key)
		if err != nil || res.Deleted {
			return payloadError(path+"/@sdata:key", "reference %q: no %s with key %q", p.Name, rs.kind.PluralName, key)
		}
		u = res.UUID
		if u == "" {
			ids, err := s.st.AssignUUIDs(ctx, rs.ep, []string{key})
			if err != nil {
				return err
			}
			u = ids[key]
		}
	}
	canonicalRef(c, strings.ToLower(u))
	return nil
}

// canonicalRef reduces a reference element to <name sdata:uuid="u"/>.
func canonicalRef(c *etree.Element, u string) {
	for _, ch := range c.ChildElements() {
		c.RemoveChild(ch)
	}
	c.SetText("")
	c.Attr = c.Attr[:0]
	c.CreateAttr("sdata:uuid", u)
}

// keyFromURL extracts the key of a single-resource URL `.../kind('key')`.
func keyFromURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	seg := u.Path[strings.LastIndexByte(u.Path, '/')+1:]
	i := strings.IndexByte(seg, '(')
	if i < 0 || !strings.HasSuffix(seg, ")") {
		return "", errorf(http.StatusBadRequest, CodeBadURLSyntax, "%q is not a single-resource URL", raw)
	}
	return parseKey(seg[i+1 : len(seg)-1])
}

// prepareIncoming readies a payload received through synchronization:
// references keep only their UUID (keys and URLs are the sender's); the
// extension alias list is taken off and returned.
func prepareIncoming(k *contracts.ResourceKind, el *etree.Element) []string {
	aliases := takeAliases(el)
	walkRelations(k.Type, el, k.Name, func(p *contracts.Property, c *etree.Element, path string) error {
		if u := feeds.PayloadUUID(c); u != "" {
			canonicalRef(c, strings.ToLower(u))
		} else {
			c.RemoveAttr("sdata:key")
			c.RemoveAttr("sdata:url")
		}
		return nil
	}, nil)
	return aliases
}

// takeAliases removes the uuidAliases extension attribute (and its namespace
// declaration) from el and returns the aliases.
func takeAliases(el *etree.Element) []string {
	var aliases []string
	for i := 0; i < len(el.Attr); i++ {
		a := &el.Attr[i]
		if a.Key == "uuidAliases" && a.NamespaceURI() == extNS {
			aliases = strings.Fields(a.Value)
			prefix := a.Space
			el.RemoveAttr(a.FullKey())
			el.RemoveAttr("xmlns:" + prefix)
			break
		}
	}
	var out []string
	for _, a := range aliases {
		if validUUID(a) {
			out = append(out, strings.ToLower(a))
		}
	}
	return out
}

// decorateRefs adds sdata:key and sdata:url to the references of a payload
// being read, where their UUID names a resource here.
func (s *Server) decorateRefs(ctx context.Context, sc scope, el *etree.Element) error {
	return walkRelations(sc.kind.Type, el, sc.kind.Name, func(p *contracts.Property, c *etree.Element, path string) error {
		u := feeds.PayloadUUID(c)
		rs, ok := s.relatedScope(sc.dataset, p)
		if u == "" || !ok {
			return nil
		}
		keys, err := s.st.KeysByUUID(ctx, rs.ep, []string{u})
		if err != nil {
			return err
		}
		if key, ok := keys[strings.ToLower(u)]; ok {
			c.CreateAttr("sdata:key", key)
			c.CreateAttr("sdata:url", s.resourceURL(sc.dataset, rs.kind, key))
		}
		return nil
	}, nil)
}

// markComplete marks every child list of an outgoing sync payload complete.
func markComplete(k *contracts.ResourceKind, el *etree.Element) {
	walkRelations(k.Type, el, k.Name, func(*contracts.Property, *etree.Element, string) error { return nil },
		func(p *contracts.Property, c *etree.Element, path string) error {
			c.CreateAttr("sdata:deleteMissing", "true")
			return nil
		})
}

// mergeChildren merges the child lists of patch into cur by item UUID (the
// rules in the comment at the top of this file) and returns the result. The
// other properties of patch replace cur's as in merge, or, when patch is a
// complete payload (sync), patch's properties are all there is.
func mergeChildren(k *contracts.ResourceKind, cur, patch *etree.Element, complete bool) *etree.Element {
	var out *etree.Element
	if complete {
		out = patch.Copy()
	} else {
		out = merge(cur, patch)
	}
	for _, p := range k.Type.Properties {
		if p.Relationship != contracts.RelChild || !p.IsCollection || p.ItemName == "" {
			continue
		}
		newList := patch.SelectElement(p.Name)
		oldList := cur.SelectElement(p.Name)
		if newList == nil || oldList == nil || feeds.IsNil(newList) {
			continue
		}
		merged := etree.NewElement(p.Name)
		listComplete := newList.SelectAttrValue("sdata:deleteMissing", "") == "true"
		if listComplete {
			// A complete list is the list, in its own order.
			for _, item := range newList.SelectElements(p.ItemName) {
				if !feeds.IsDeleted(item) {
					merged.AddChild(item.Copy())
				}
			}
			replaceChild(out, p.Name, merged)
			continue
		}
		listed := map[string]*etree.Element{}
		for _, item := range newList.SelectElements(p.ItemName) {
			listed[strings.ToLower(feeds.PayloadUUID(item))] = item
		}
		used := map[string]bool{}
		for _, item := range oldList.SelectElements(p.ItemName) {
			u := strings.ToLower(feeds.PayloadUUID(item))
			if n, ok := listed[u]; ok && u != "" {
				used[u] = true
				if !feeds.IsDeleted(n) {
					merged.AddChild(n.Copy())
				}
			} else {
				merged.AddChild(item.Copy())
			}
		}
		for _, item := range newList.SelectElements(p.ItemName) {
			u := strings.ToLower(feeds.PayloadUUID(item))
			if !used[u] && !feeds.IsDeleted(item) {
				merged.AddChild(item.Copy())
			}
		}
		replaceChild(out, p.Name, merged)
	}
	return out
}

// replaceChild puts with in the place of el's child element named name.
func replaceChild(el *etree.Element, name string, with *etree.Element) {
	if old := el.SelectElement(name); old != nil {
		el.InsertChildAt(old.Index(), with)
		el.RemoveChild(old)
	}
}

// dropDeletedChildren removes child items marked deleted and the
// deleteMissing markers, for storage.
func dropDeletedChildren(k *contracts.ResourceKind, el *etree.Element) {
	walkRelations(k.Type, el, k.Name, func(*contracts.Property, *etree.Element, string) error { return nil },
		func(p *contracts.Property, c *etree.Element, path string) error {
			c.RemoveAttr("sdata:deleteMissing")
			for _, item := range c.SelectElements(p.ItemName) {
				if feeds.IsDeleted(item) {
					c.RemoveChild(item)
				}
			}
			return nil
		})
}
