package feeds

import (
	"encoding/xml"
	"strconv"

	"github.com/beevik/etree"
)

// normalizer assigns the canonical prefixes of one payload tree.
type normalizer struct {
	rootNS    string
	sdata     bool              // prefix sdata used
	xsi       bool              // prefix xsi used
	generated map[string]string // namespace -> generated prefix
	order     []string          // namespaces in generated prefix order
}

// prefix returns the prefix of a qualified (non-default) namespace.
func (n *normalizer) prefix(ns string) string {
	switch ns {
	case SDataNS:
		n.sdata = true
		return "sdata"
	case XSINS:
		n.xsi = true
		return "xsi"
	case xmlNS:
		return "xml"
	}
	if pfx, ok := n.generated[ns]; ok {
		return pfx
	}
	if n.generated == nil {
		n.generated = make(map[string]string)
	}
	pfx := "ns" + strconv.Itoa(len(n.order)+1)
	n.generated[ns] = pfx
	n.order = append(n.order, ns)
	return pfx
}

// payloadElement builds the normalized element tree of start and its
// content. uuid, when not empty, becomes the root's sdata:uuid unless the
// root has one (the sdata:payload element may carry it).
func (p *parser) payloadElement(start xml.StartElement, uuid string) (*etree.Element, error) {
	n := &p.norm
	clear(n.generated)
	*n = normalizer{rootNS: start.Name.Space, generated: n.generated, order: n.order[:0]}
	root, err := p.buildElement(n, start, n.rootNS, true)
	if err != nil {
		return nil, err
	}
	if uuid != "" && PayloadUUID(root) == "" {
		root.CreateAttr("sdata:uuid", uuid)
		n.sdata = true
	}
	// Namespace declarations go first on the root.
	attrs := root.Attr
	root.Attr = make([]etree.Attr, 0, len(attrs)+len(n.order)+3)
	if n.rootNS != "" {
		root.CreateAttr("xmlns", n.rootNS)
	}
	if n.sdata {
		root.CreateAttr("xmlns:sdata", SDataNS)
	}
	if n.xsi {
		root.CreateAttr("xmlns:xsi", XSINS)
	}
	for _, ns := range n.order {
		root.CreateAttr("xmlns:"+n.generated[ns], ns)
	}
	root.Attr = append(root.Attr, attrs...)
	return root, nil
}

// pendingChild is a child of an element under construction: an element, or
// text when el is nil.
type pendingChild struct {
	el   *etree.Element
	text string
}

// arena hands out values of T from shared chunks, so that the many small
// objects of payload trees cost few allocations. Every slice it returns has
// its capacity capped, so appending to one never touches its neighbours.
type arena[T any] struct {
	chunk []T
	size  int // size of the next chunk
}

// alloc returns a non-nil slice of n zero values with capacity n.
func (a *arena[T]) alloc(n int) []T {
	if n > len(a.chunk) || a.chunk == nil {
		switch {
		case a.size == 0:
			a.size = 32
		case a.size < 256:
			a.size *= 2
		}
		if n > a.size {
			return make([]T, n)
		}
		a.chunk = make([]T, a.size)
	}
	s := a.chunk[:n:n]
	a.chunk = a.chunk[n:]
	return s
}

// payloadArenas holds the arenas of the payload tree builder.
type payloadArenas struct {
	elems  arena[etree.Element]
	chars  arena[etree.CharData]
	tokens arena[etree.Token]
	attrs  arena[etree.Attr]
	names  []qualifiedName // cache of prefixed attribute keys
}

// qualifiedName caches prefix + ":" + local.
type qualifiedName struct{ prefix, local, key string }

// attrKey returns prefix + ":" + local, from the cache when possible.
func (pa *payloadArenas) attrKey(prefix, local string) string {
	switch {
	case prefix == "sdata" && local == "uuid":
		return "sdata:uuid"
	case prefix == "sdata" && local == "key":
		return "sdata:key"
	case prefix == "sdata" && local == "url":
		return "sdata:url"
	case prefix == "sdata" && local == "isDeleted":
		return "sdata:isDeleted"
	case prefix == "xsi" && local == "nil":
		return "xsi:nil"
	}
	for _, q := range pa.names {
		if q.prefix == prefix && q.local == local {
			return q.key
		}
	}
	key := prefix + ":" + local
	if len(pa.names) < 32 {
		pa.names = append(pa.names, qualifiedName{prefix, local, key})
	}
	return key
}

// buildElement reads the content of start into a new element. def is the
// default namespace in force in the output at the element's parent (the
// root is called with its own namespace: payloadElement declares it). The
// result is the same tree that etree.NewElement, CreateAttr, CreateText and
// AddChild build, with its parts taken from arenas.
func (p *parser) buildElement(n *normalizer, start xml.StartElement, def string, root bool) (*etree.Element, error) {
	var el *etree.Element
	if root {
		el = etree.NewElement("")
	} else {
		// A zero Element is what NewElement makes except for index -1,
		// which AddChild overwrites.
		el = &p.arenas.elems.alloc(1)[0]
	}
	el.Tag = start.Name.Local
	ns := start.Name.Space
	nattr := 0
	for _, a := range start.Attr {
		if a.Name.Space != "xmlns" && (a.Name.Space != "" || a.Name.Local != "xmlns") {
			nattr++
		}
	}
	if ns == n.rootNS || ns == "" {
		if ns != def {
			nattr++
		}
	}
	el.Attr = p.arenas.attrs.alloc(nattr)[:0] // never nil, like NewElement's
	if ns == n.rootNS || ns == "" {
		if ns != def {
			el.CreateAttr("xmlns", ns)
		}
		def = ns
	} else {
		el.Space = n.prefix(ns)
	}
	for _, a := range start.Attr {
		switch {
		case a.Name.Space == "xmlns", a.Name.Space == "" && a.Name.Local == "xmlns":
			continue // declarations are regenerated
		case a.Name.Space == "":
			el.CreateAttr(a.Name.Local, a.Value)
		default:
			el.CreateAttr(p.arenas.attrKey(n.prefix(a.Name.Space), a.Name.Local), a.Value)
		}
	}
	// Children are collected on p.kids and added once their number is
	// known. Text is accumulated in p.textBuf: an element's pending text is
	// flushed before a child starts, so only one element uses it at a time.
	// Whitespace-only text is dropped once the element has a child element.
	mark := len(p.kids)
	p.textBuf = p.textBuf[:0]
	hasChild := false
	for {
		k, err := p.next()
		if err != nil {
			return nil, err
		}
		switch k {
		case endToken:
			p.flushText(hasChild)
			kids := p.kids[mark:]
			el.Child = p.arenas.tokens.alloc(len(kids))[:0] // never nil
			if len(kids) > 0 {
				for i, c := range kids {
					if c.el != nil {
						el.AddChild(c.el)
					} else {
						cd := &p.arenas.chars.alloc(1)[0]
						cd.Data = c.text
						el.AddChild(cd) // as CreateText does
					}
					kids[i] = pendingChild{}
				}
				p.kids = p.kids[:mark]
			}
			return el, nil
		case startToken:
			hasChild = true
			p.flushText(hasChild)
			child, err := p.buildElement(n, p.start, def, false)
			if err != nil {
				return nil, err
			}
			p.kids = append(p.kids, pendingChild{el: child})
		case textToken:
			p.textBuf = append(p.textBuf, p.chars...)
		}
	}
}

// flushText turns the pending text of the element under construction into
// a child, unless it is empty or (once the element has a child element)
// whitespace only.
func (p *parser) flushText(hasChild bool) {
	if len(p.textBuf) > 0 && (!hasChild || !isXMLSpace(p.textBuf)) {
		p.kids = append(p.kids, pendingChild{text: p.str(p.textBuf)})
	}
	p.textBuf = p.textBuf[:0]
}
