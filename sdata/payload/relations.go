package payload

import (
	"fmt"
	"strings"

	"github.com/beevik/etree"

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

// ExtNS is the namespace of sdatasync's own extension attributes in sync
// payloads; other providers ignore it. uuidAliases lists the former UUIDs of
// a resource, so that providers of ours re-key it instead of creating a twin.
const ExtNS = "urn:sdatasync:sync-ext"

// RelationFunc is called by WalkRelations for one relationship element c of
// property p, found at path.
type RelationFunc func(p *contracts.Property, c *etree.Element, path string) error

// WalkRelations calls ref for every reference/parent element (and every
// item of a collection of references) and list for every child collection
// element in el (of type t; path names el), depth first through child
// items. list may be nil.
func WalkRelations(t *contracts.ComplexType, el *etree.Element, path string, ref, list RelationFunc) error {
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
		case (p.Relationship == contracts.RelReference || p.Relationship == contracts.RelAssociation) && p.IsCollection && p.ItemName != "":
			// A collection of references (an association): each item is a
			// reference.
			for i, item := range c.SelectElements(p.ItemName) {
				if err := ref(p, item, fmt.Sprintf("%s/%s[%d]", cpath, p.ItemName, i+1)); err != nil {
					return err
				}
			}
		case p.Relationship == contracts.RelChild && p.IsCollection && p.ItemName != "":
			if list != nil {
				if err := list(p, c, cpath); err != nil {
					return err
				}
			}
			for _, item := range c.SelectElements(p.ItemName) {
				if err := WalkRelations(p.Complex, item, cpath+"/"+p.ItemName, ref, list); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func noRef(*contracts.Property, *etree.Element, string) error { return nil }

// HasChildLists reports whether payloads of k hold child collections.
func HasChildLists(k *contracts.ResourceKind) bool {
	for _, p := range k.Type.Properties {
		if p.Relationship == contracts.RelChild && p.IsCollection && p.ItemName != "" {
			return true
		}
	}
	return false
}

// CanonicalRef reduces a reference element to <name sdata:uuid="u"/>.
func CanonicalRef(c *etree.Element, u string) {
	for _, ch := range c.ChildElements() {
		c.RemoveChild(ch)
	}
	c.SetText("")
	c.Attr = c.Attr[:0]
	c.CreateAttr("sdata:uuid", u)
}

// PrepareIncoming readies a payload received through synchronization:
// references keep only their UUID (keys and URLs are the sender's); the
// extension alias list is taken off and returned.
func PrepareIncoming(k *contracts.ResourceKind, el *etree.Element) []string {
	aliases := takeAliases(el)
	WalkRelations(k.Type, el, k.Name, func(p *contracts.Property, c *etree.Element, path string) error {
		if u := feeds.PayloadUUID(c); u != "" {
			CanonicalRef(c, strings.ToLower(u))
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
		if a.Key == "uuidAliases" && a.NamespaceURI() == ExtNS {
			aliases = strings.Fields(a.Value)
			prefix := a.Space
			el.RemoveAttr(a.FullKey())
			el.RemoveAttr("xmlns:" + prefix)
			break
		}
	}
	var out []string
	for _, a := range aliases {
		if ValidUUID(a) {
			out = append(out, strings.ToLower(a))
		}
	}
	return out
}

// MarkComplete marks every child list of an outgoing sync payload complete.
func MarkComplete(k *contracts.ResourceKind, el *etree.Element) {
	WalkRelations(k.Type, el, k.Name, noRef, func(p *contracts.Property, c *etree.Element, path string) error {
		c.CreateAttr("sdata:deleteMissing", "true")
		return nil
	})
}

// MergeChildren merges the child lists of patch into cur by item UUID (the
// rules at the top of this file) and returns the result. The other
// properties of patch replace cur's as in Merge, or, when patch is a
// complete payload (sync), patch's properties are all there is.
func MergeChildren(k *contracts.ResourceKind, cur, patch *etree.Element, complete bool) *etree.Element {
	var out *etree.Element
	if complete {
		out = patch.Copy()
	} else {
		out = Merge(cur, patch)
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

// dropDeletedChildren removes child items marked deleted, the
// deleteMissing markers and what reads add to items (sdata:key, sdata:url,
// lookup, descriptor; an item keeps its sdata:uuid), for storage.
func dropDeletedChildren(k *contracts.ResourceKind, el *etree.Element) {
	WalkRelations(k.Type, el, k.Name, noRef, func(p *contracts.Property, c *etree.Element, path string) error {
		c.RemoveAttr("sdata:deleteMissing")
		for _, item := range c.SelectElements(p.ItemName) {
			if feeds.IsDeleted(item) {
				c.RemoveChild(item)
				continue
			}
			for _, a := range []string{"key", "url", "lookup", "descriptor"} {
				item.RemoveAttr("sdata:" + a)
			}
		}
		return nil
	})
}
