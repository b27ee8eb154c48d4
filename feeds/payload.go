package feeds

import (
	"encoding/xml"
	"strconv"
	"strings"

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
	n := &normalizer{rootNS: start.Name.Space}
	root, err := p.buildElement(n, start, n.rootNS)
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

// buildElement reads the content of start into a new element. def is the
// default namespace in force in the output at the element's parent (the
// root is called with its own namespace: payloadElement declares it).
func (p *parser) buildElement(n *normalizer, start xml.StartElement, def string) (*etree.Element, error) {
	el := etree.NewElement("")
	el.Tag = start.Name.Local
	ns := start.Name.Space
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
			el.CreateAttr(n.prefix(a.Name.Space)+":"+a.Name.Local, a.Value)
		}
	}
	var text string
	var sb *strings.Builder
	hasChild := false
	flush := func() {
		if sb != nil {
			text = sb.String()
			sb = nil
		}
		if text != "" && (!hasChild || !isXMLSpaceString(text)) {
			el.CreateText(text)
		}
		text = ""
	}
	for {
		tok, err := p.next()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			flush()
			return el, nil
		case xml.StartElement:
			hasChild = true
			flush()
			child, err := p.buildElement(n, t, def)
			if err != nil {
				return nil, err
			}
			el.AddChild(child)
		case xml.CharData:
			switch {
			case sb != nil:
				sb.Write(t)
			case text == "":
				text = string(t)
			default:
				sb = &strings.Builder{}
				sb.WriteString(text)
				sb.Write(t)
			}
		}
	}
}
