package payload

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/beevik/etree"

	"sdatasync/contracts"
	"sdatasync/feeds"
)

// stripAttrs are the resource-level attributes that are not content: they are
// derived on every read.
var stripAttrs = []string{"key", "url", "uuid", "lookup", "descriptor", "isDeleted"}

// StripDerived removes the resource-level sdata attributes reads derive
// (key, url, uuid, lookup, descriptor, isDeleted) from el.
func StripDerived(el *etree.Element) {
	for _, a := range stripAttrs {
		el.RemoveAttr("sdata:" + a)
	}
}

// Canonical prepares a validated payload for storage: the root carries the
// contract namespace, not its key/url/uuid attributes, and its properties
// in contract order. It returns the stored bytes, the JSON props used by
// queries, and the entry title (key names a resource without a better title).
// el is left as it was (Canonical works on a copy); CanonicalInPlace
// spares the copy when the caller has no further use for el.
func Canonical(c *contracts.Contract, k *contracts.ResourceKind, el *etree.Element, key string) (stored, props []byte, title string, err error) {
	return CanonicalInPlace(c, k, el.Copy(), key)
}

// CanonicalInPlace is Canonical rearranging el itself into the stored form
// (its namespace, attributes and order of children change): for callers
// that drop el afterwards, such as a sync target with a parsed entry.
func CanonicalInPlace(c *contracts.Contract, k *contracts.ResourceKind, root *etree.Element, key string) (stored, props []byte, title string, err error) {
	root.Space, root.Tag = "", k.Name
	dropDeletedChildren(k, root)
	StripDerived(root)
	removeAttr(root, "xmlns", "sdata") // declared again below only if still used
	removeAttr(root, "xmlns", "xsi")
	root.CreateAttr("xmlns", c.TargetNamespace)
	dropNestedDecls(root, c.TargetNamespace)
	dropUnknownAttrs(root)
	DeclarePrefixes(root)
	kids, pos := inContractOrder(k, root.ChildElements())
	if !elementsInOrder(root, kids) {
		for _, ch := range root.ChildElements() {
			root.RemoveChild(ch)
		}
		for _, ch := range kids {
			root.AddChild(ch)
		}
	}
	stored = Render(root)
	fields := make([]propValue, 0, len(kids))
	for i, ch := range kids {
		if pos[i] < 0 {
			continue
		}
		p := k.Type.Properties[pos[i]]
		if p.Kind == contracts.KindComplex || p.MaxOccurs != 1 {
			continue
		}
		fields = append(fields, propValue{p.Name, jsonValue(p, ch)})
	}
	if props, err = appendProps(make([]byte, 0, len(stored)), fields); err != nil {
		return nil, nil, "", err
	}
	return stored, props, Title(k, root, key), nil
}

// inContractOrder sorts kids stably by their property's position in the
// kind's type (-1, first, for a name the type does not have) and returns
// the positions, in the new order. Each name is looked up once, and kids
// already in order (as senders usually write them) are not sorted.
func inContractOrder(k *contracts.ResourceKind, kids []*etree.Element) ([]*etree.Element, []int) {
	pos := make([]int, len(kids))
	sorted := true
	for i, ch := range kids {
		pos[i] = k.Type.Index(ch.Tag)
		if i > 0 && pos[i] < pos[i-1] {
			sorted = false
		}
	}
	if sorted {
		return kids, pos
	}
	order := make([]int, len(kids))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return pos[a] - pos[b] })
	sortedKids := make([]*etree.Element, len(kids))
	sortedPos := make([]int, len(kids))
	for i, o := range order {
		sortedKids[i], sortedPos[i] = kids[o], pos[o]
	}
	return sortedKids, sortedPos
}

// elementsInOrder reports whether re-adding kids to root (which appends
// them after any character data, in their new order) would change
// nothing: root has no children, or only elements, already in that order.
func elementsInOrder(root *etree.Element, kids []*etree.Element) bool {
	if len(kids) == 0 {
		return true
	}
	if len(root.Child) != len(kids) {
		return false
	}
	for i, tok := range root.Child {
		if el, ok := tok.(*etree.Element); !ok || el != kids[i] {
			return false
		}
	}
	return true
}

// removeAttr removes the first attribute space:key of el, as
// el.RemoveAttr(space + ":" + key) does, without building the name.
func removeAttr(el *etree.Element, space, key string) {
	for i, a := range el.Attr {
		if a.Space == space && a.Key == key {
			el.Attr = append(el.Attr[:i], el.Attr[i+1:]...)
			return
		}
	}
}

// propValue is one simple property in the JSON props of a resource.
type propValue struct {
	name  string
	value any // nil, string, int64, float64 or bool (see jsonValue)
}

// appendProps appends the JSON object of fields to b: the bytes
// json.Marshal gives for the same map (keys sorted, the last of equal names
// wins), without building the map.
func appendProps(b []byte, fields []propValue) ([]byte, error) {
	slices.SortStableFunc(fields, func(x, y propValue) int { return strings.Compare(x.name, y.name) })
	b = append(b, '{')
	for i, f := range fields {
		if i+1 < len(fields) && fields[i+1].name == f.name {
			continue // a map keeps the last value of a repeated name
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f.name)
		b = append(b, ':')
		switch v := f.value.(type) {
		case nil:
			b = append(b, "null"...)
		case string:
			b = appendJSONString(b, v)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case bool:
			b = strconv.AppendBool(b, v)
		default:
			j, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			b = append(b, j...)
		}
	}
	return append(b, '}'), nil
}

// appendJSONString appends s as encoding/json writes it: plain strings are
// copied, anything it would escape goes through json.Marshal.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			j, _ := json.Marshal(s) // a string always marshals
			return append(b, j...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// jsonValue converts a validated simple property to its JSON query value.
func jsonValue(p *contracts.Property, el *etree.Element) any {
	if feeds.IsNil(el) {
		return nil
	}
	v := el.Text()
	if p.Kind == contracts.KindString {
		return v
	}
	v = strings.TrimSpace(v)
	switch p.Kind {
	case contracts.KindInteger, contracts.KindDecimal:
		// XSD lexical forms (007, .5, +5.) are not JSON numbers: normalise.
		if n, err := strconv.ParseInt(strings.TrimPrefix(v, "+"), 10, 64); err == nil {
			return n
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
	case contracts.KindBoolean:
		return v == "true" || v == "1"
	case contracts.KindDateTime:
		if t, err := feeds.ParseTime(v); err == nil {
			return t.UTC().Format(time.RFC3339Nano)
		}
	case contracts.KindDate:
		if len(v) >= 10 {
			return v[:10]
		}
	}
	return v
}

var titleProps = []string{"name", "fullName", "description", "text", "reference", "number"}

// MaxTitle is the most bytes of an entry title (and of the content summary
// that repeats it): a property of megabytes is not repeated in every read.
const MaxTitle = 256

// Title is the entry title of a resource element: its first non-blank
// name-like property, else the kind's label with key.
func Title(k *contracts.ResourceKind, root *etree.Element, key string) string {
	for _, n := range titleProps {
		if e := root.SelectElement(n); e != nil {
			if t := strings.TrimSpace(e.Text()); t != "" {
				return shorten(t, MaxTitle)
			}
		}
	}
	label := k.Label
	if label == "" {
		label = k.Name
	}
	if key == "" {
		return label
	}
	return label + " " + key
}

// shorten cuts s to at most max bytes on a character boundary, ending it
// with an ellipsis when it cuts.
func shorten(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// knownAttr reports whether a payload attribute is one SData defines (or a
// namespace declaration): everything else is dropped, never stored.
func knownAttr(a etree.Attr) bool {
	switch a.Space {
	case "xmlns", "sdata", "xsi":
		return a.Space != "xsi" || a.Key == "nil"
	case "":
		return a.Key == "xmlns"
	}
	return false
}

// dropUnknownAttrs removes from the payload tree the attributes SData does
// not define (an attribute of ours in a foreign namespace, anything a
// client made up).
func dropUnknownAttrs(el *etree.Element) {
	kept := el.Attr[:0]
	for _, a := range el.Attr {
		if knownAttr(a) {
			kept = append(kept, a)
		}
	}
	el.Attr = kept
	for _, tok := range el.Child {
		if ch, ok := tok.(*etree.Element); ok {
			dropUnknownAttrs(ch)
		}
	}
}

// Merge applies a partial payload to the current one: every property the
// patch names replaces the current property of that name (all occurrences).
func Merge(cur, patch *etree.Element) *etree.Element {
	out := cur.Copy()
	for _, a := range patch.Attr {
		if a.Space == "sdata" || a.Space == "xsi" {
			continue
		}
		out.CreateAttr(a.FullKey(), a.Value)
	}
	replaced := map[string]bool{}
	for _, ch := range patch.ChildElements() {
		if !replaced[ch.FullTag()] {
			for _, old := range out.SelectElements(ch.FullTag()) {
				out.RemoveChild(old)
			}
			replaced[ch.FullTag()] = true
		}
		out.AddChild(ch.Copy())
	}
	return out
}

// ParseStored parses a stored payload back into its element.
func ParseStored(b []byte) (*etree.Element, error) {
	// The codec's parser: several times faster than etree's own reader, and
	// the stored form is already its normal form.
	el, err := feeds.ParsePayload(bytes.NewReader(b), feeds.Limits{MaxBytes: int64(len(b)) + 1})
	if err != nil {
		// Not wrapped: a stored payload that does not parse is the
		// provider's fault, never the request's (a 500, not a 400).
		return nil, fmt.Errorf("stored payload unreadable: %v", err)
	}
	return el, nil
}

// Render writes a payload element as a self-contained document, the way
// stored payloads are written: what etree writes for a document holding
// only root, without the document and its buffered writer.
func Render(root *etree.Element) []byte {
	var b bytes.Buffer
	b.Grow(1024)
	root.WriteTo(&b, &etree.WriteSettings{})
	return b.Bytes()
}

// SelectProps keeps only the named top-level properties (nil keeps all).
func SelectProps(el *etree.Element, names []string) {
	if len(names) == 0 || slices.Contains(names, "*") {
		return
	}
	for _, ch := range el.ChildElements() {
		if !slices.Contains(names, ch.Tag) {
			el.RemoveChild(ch)
		}
	}
}

// dropNestedDecls removes, below the root, the namespace declarations the
// root makes anyway (the contract namespace, sdata, xsi), so that one
// payload has one stored form whatever the client declared where.
func dropNestedDecls(root *etree.Element, ns string) {
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		for _, tok := range e.Child {
			ch, ok := tok.(*etree.Element)
			if !ok {
				continue
			}
			// As etree's SelectAttrValue("xmlns"): the first attribute
			// named xmlns in any space.
			for _, a := range ch.Attr {
				if a.Key == "xmlns" {
					if a.Value == ns {
						removeAttr(ch, "", "xmlns")
					}
					break
				}
			}
			removeAttr(ch, "xmlns", "sdata")
			removeAttr(ch, "xmlns", "xsi")
			walk(ch)
		}
	}
	walk(root)
}

// DeclarePrefixes declares on root the sdata and xsi prefixes used anywhere
// in its tree, so that the stored payload is a self-contained document.
func DeclarePrefixes(root *etree.Element) {
	var sdata, xsi bool
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		for _, a := range e.Attr {
			switch a.Space {
			case "sdata":
				sdata = true
			case "xsi":
				xsi = true
			}
		}
		for _, tok := range e.Child {
			if c, ok := tok.(*etree.Element); ok {
				walk(c)
			}
		}
	}
	walk(root)
	if sdata && root.SelectAttr("xmlns:sdata") == nil {
		root.CreateAttr("xmlns:sdata", feeds.SDataNS)
	}
	if xsi && root.SelectAttr("xmlns:xsi") == nil {
		root.CreateAttr("xmlns:xsi", feeds.XSINS)
	}
}

// WithAttrs returns a stored payload with attributes added to its root
// start tag, without building a tree: the stored form is written by etree,
// which escapes '>' in attribute values, so the first '>' ends the start
// tag. The sdata prefix is declared when an added attribute uses it and the
// root does not declare it yet. ok is false for a payload not in that form.
func WithAttrs(stored []byte, attrs ...[2]string) (out []byte, ok bool) {
	end := bytes.IndexByte(stored, '>')
	if len(stored) == 0 || stored[0] != '<' || end < 0 {
		return nil, false
	}
	if stored[end-1] == '/' {
		end--
	}
	head := stored[:end]
	var b bytes.Buffer
	b.Grow(len(stored) + 160)
	b.Write(head)
	needSData := !bytes.Contains(head, []byte(`xmlns:sdata=`))
	for _, a := range attrs {
		if needSData && strings.HasPrefix(a[0], "sdata:") {
			b.WriteString(` xmlns:sdata="` + feeds.SDataNS + `"`)
			needSData = false
		}
		b.WriteByte(' ')
		b.WriteString(a[0])
		b.WriteString(`="`)
		xml.EscapeText(&b, []byte(a[1]))
		b.WriteByte('"')
	}
	b.Write(stored[end:])
	return b.Bytes(), true
}

// WithReadAttrs parses a stored payload and adds the attributes a read
// shows: sdata:key and sdata:url (when key is set), sdata:uuid (when set)
// and sdata:isDeleted.
func WithReadAttrs(stored []byte, key, u, uuid string, deleted bool) (*etree.Element, error) {
	el, err := ParseStored(stored)
	if err != nil {
		return nil, err
	}
	if key != "" {
		el.CreateAttr("sdata:key", key)
		el.CreateAttr("sdata:url", u)
	}
	if uuid != "" {
		el.CreateAttr("sdata:uuid", uuid)
	}
	if deleted {
		el.CreateAttr("sdata:isDeleted", "true")
	}
	return el, nil
}
