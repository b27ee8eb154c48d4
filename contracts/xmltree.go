package contracts

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// node is one element of a parsed XML document, with the namespace
// declarations in scope (needed to resolve QName attribute values) and the
// line it starts on.
type node struct {
	name     xml.Name
	attrs    []xml.Attr
	children []*node
	line     int
	ns       map[string]string // prefix -> URI in scope; "" is the default namespace
}

// attr returns the value of the attribute in namespace space with local name local.
func (n *node) attr(space, local string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Space == space && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// resolveQName splits a QName value such as "sc:postalAddress--list" into
// namespace URI and local name using the declarations in scope at n.
// An unprefixed name takes the default namespace, or def when none is declared.
func (n *node) resolveQName(v, def string) (space, local string, err error) {
	v = strings.TrimSpace(v)
	prefix, local, found := strings.Cut(v, ":")
	if !found {
		if uri, ok := n.ns[""]; ok && uri != "" {
			return uri, v, nil
		}
		return def, v, nil
	}
	uri, ok := n.ns[prefix]
	if !ok {
		return "", "", fmt.Errorf("undeclared namespace prefix %q in %q", prefix, v)
	}
	return uri, local, nil
}

// parseTree parses an XML document into a node tree. Errors carry the line.
func parseTree(file string, data []byte) (*node, error) {
	lines := lineStarts(data)
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var stack []*node
	var root *node
	for {
		off := d.InputOffset()
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, fmt.Errorf("%s:%d: malformed XML: %s", file, se.Line, se.Msg)
			}
			return nil, fmt.Errorf("%s:%d: malformed XML: %v", file, lineOf(lines, d.InputOffset()), err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{name: t.Name, line: lineOf(lines, off)}
			parentNS := map[string]string{}
			if len(stack) > 0 {
				parentNS = stack[len(stack)-1].ns
			}
			n.ns = parentNS
			copied := false
			for _, a := range t.Attr {
				var prefix string
				switch {
				case a.Name.Space == "xmlns":
					prefix = a.Name.Local
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					prefix = ""
				default:
					n.attrs = append(n.attrs, a)
					continue
				}
				if !copied {
					n.ns = make(map[string]string, len(parentNS)+1)
					for k, v := range parentNS {
						n.ns[k] = v
					}
					copied = true
				}
				n.ns[prefix] = a.Value
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			} else if root == nil {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
	if root == nil {
		return nil, fmt.Errorf("%s:1: malformed XML: no root element", file)
	}
	return root, nil
}

// lineStarts returns the offsets at which each line of data starts.
func lineStarts(data []byte) []int64 {
	starts := []int64{0}
	for i, b := range data {
		if b == '\n' {
			starts = append(starts, int64(i+1))
		}
	}
	return starts
}

// lineOf returns the 1-based line holding offset off.
func lineOf(starts []int64, off int64) int {
	return sort.Search(len(starts), func(i int) bool { return starts[i] > off })
}
