package sdata

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"sdatasync/contracts"
	"sdatasync/feeds"
)

// readBody reads a request body within the configured limit, after checking
// its media type. An empty Content-Type is taken as XML.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !xmlMediaType(mt) {
			return nil, errorf(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType,
				"unsupported media type %q: send application/atom+xml or application/xml", ct)
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, errorf(http.StatusRequestEntityTooLarge, CodeRequestEntityTooLarge, "request body over the limit of %d bytes", s.cfg.MaxBody)
	}
	if err != nil {
		return nil, errorf(http.StatusBadRequest, CodeApplicationDiagnosis, "reading the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errorf(http.StatusBadRequest, CodeApplicationDiagnosis, "the request body is empty: an XML document was expected")
	}
	return body, nil
}

func xmlMediaType(mt string) bool {
	switch mt {
	case "application/atom+xml", "application/xml", "text/xml":
		return true
	}
	return strings.HasSuffix(mt, "+xml")
}

// rootName returns the namespace and local name of a document's root element.
func rootName(body []byte) (xml.Name, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.Name{}, errorf(http.StatusBadRequest, CodeApplicationDiagnosis, "malformed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name, nil
		}
	}
}

// readResource reads the request body as decodeResource does.
func (s *Server) readResource(w http.ResponseWriter, r *http.Request) (*etree.Element, *feeds.Entry, error) {
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, nil, err
	}
	return s.decodeResource(body)
}

// decodeResource reads a resource payload from a body that is either an
// atom:entry with sdata:payload or the bare resource element. It returns the
// normalized payload element and the entry (nil for a bare payload).
func (s *Server) decodeResource(body []byte) (*etree.Element, *feeds.Entry, error) {
	name, err := rootName(body)
	if err != nil {
		return nil, nil, err
	}
	if name.Space == feeds.AtomNS && name.Local == "entry" {
		e, err := feeds.ParseEntry(bytes.NewReader(body), s.limits)
		if err != nil {
			return nil, nil, err
		}
		if e.Payload == nil {
			return nil, nil, payloadError("entry/payload", "the entry has no sdata:payload holding a resource")
		}
		return e.Payload, e, nil
	}
	p, err := feeds.ParsePayload(bytes.NewReader(body), s.limits)
	return p, nil, err
}

// validate checks a payload element against the kind's type. partial allows
// missing required properties (a PUT that names only what it changes).
func validate(c *contracts.Contract, k *contracts.ResourceKind, el *etree.Element, partial bool) error {
	if el.Tag != k.Name || el.Space != "" {
		return payloadError(el.Tag, "the payload element is %q; a %s resource must be a <%s> element", el.FullTag(), k.PluralName, k.Name)
	}
	if ns := el.SelectAttrValue("xmlns", ""); ns != "" && ns != c.TargetNamespace {
		return payloadError(k.Name, "the payload namespace %q is not the contract's (%s)", ns, c.TargetNamespace)
	}
	return validateType(k.Type, el, k.Name, partial)
}

func validateType(t *contracts.ComplexType, el *etree.Element, path string, partial bool) error {
	if t == nil {
		return nil
	}
	seen := map[string]int{}
	for _, c := range el.ChildElements() {
		cpath := path + "/" + c.FullTag()
		p := t.Property(c.Tag)
		if c.Space != "" || p == nil {
			return payloadError(cpath, "%s has no property %q", t.Name, c.FullTag())
		}
		seen[c.Tag]++
		if p.MaxOccurs == 1 && seen[c.Tag] > 1 {
			return payloadError(cpath, "property %q appears more than once", c.Tag)
		}
		if err := validateProperty(p, c, cpath, partial); err != nil {
			return err
		}
	}
	if !partial {
		for _, p := range t.Properties {
			if p.MinOccurs > 0 && !p.Nillable && seen[p.Name] == 0 && p.Relationship == contracts.RelNone {
				return payloadError(path+"/"+p.Name, "required property %q is missing", p.Name)
			}
		}
	}
	return nil
}

func validateProperty(p *contracts.Property, c *etree.Element, path string, partial bool) error {
	if feeds.IsNil(c) {
		if !p.Nillable {
			return payloadError(path, "property %q is not nillable", p.Name)
		}
		return nil
	}
	if p.Kind != contracts.KindComplex {
		if len(c.ChildElements()) > 0 {
			return payloadError(path, "property %q takes a simple value, not elements", p.Name)
		}
		v := c.Text()
		if p.Kind != contracts.KindString {
			v = strings.TrimSpace(v)
		}
		if err := p.CheckValue(v); err != nil {
			return payloadError(path, "property %q: %v", p.Name, err)
		}
		return nil
	}
	if p.IsCollection && p.ItemName != "" {
		for i, item := range c.ChildElements() {
			ipath := fmt.Sprintf("%s/%s[%d]", path, item.FullTag(), i+1)
			if item.Space != "" || item.Tag != p.ItemName {
				return payloadError(ipath, "collection %q holds <%s> elements, not %q", p.Name, p.ItemName, item.FullTag())
			}
			// Items of a child collection are complete resources of their
			// own; references and associations may carry only a key.
			itemPartial := partial || p.Relationship != contracts.RelChild
			if err := validateType(p.Complex, item, ipath, itemPartial); err != nil {
				return err
			}
		}
		return nil
	}
	// A single reference, parent or nested structure: its sub-elements must be
	// properties of its type, none of them required.
	return validateType(p.Complex, c, path, p.Relationship != contracts.RelNone || partial)
}

// stripAttrs are the resource-level attributes that are not content: they are
// derived on every read.
var stripAttrs = []string{"key", "url", "uuid", "lookup", "descriptor", "isDeleted"}

// canonical prepares a validated payload for storage: the root carries the
// contract namespace, not its key/url/uuid attributes, and its properties
// in contract order. It returns the stored bytes, the JSON props used by
// queries, and the entry title.
func canonical(c *contracts.Contract, k *contracts.ResourceKind, el *etree.Element, key string) (payload, props []byte, title string, err error) {
	root := el.Copy()
	root.Space, root.Tag = "", k.Name
	dropDeletedChildren(k, root)
	for _, a := range stripAttrs {
		root.RemoveAttr("sdata:" + a)
	}
	for p := range prefixNS {
		root.RemoveAttr("xmlns:" + p) // declared again below only if still used
	}
	root.CreateAttr("xmlns", c.TargetNamespace)
	dropNestedDecls(root, c.TargetNamespace)
	declarePrefixes(root)
	kids := root.ChildElements()
	slices.SortStableFunc(kids, func(a, b *etree.Element) int { return k.Type.Index(a.Tag) - k.Type.Index(b.Tag) })
	for _, ch := range root.ChildElements() {
		root.RemoveChild(ch)
	}
	for _, ch := range kids {
		root.AddChild(ch)
	}
	doc := etree.NewDocument()
	doc.SetRoot(root)
	doc.WriteSettings.CanonicalEndTags = false
	payload, err = doc.WriteToBytes()
	if err != nil {
		return nil, nil, "", err
	}
	var fields []propValue
	for _, ch := range kids {
		p := k.Type.Property(ch.Tag)
		if p == nil || p.Kind == contracts.KindComplex || p.MaxOccurs != 1 {
			continue
		}
		fields = append(fields, propValue{p.Name, jsonValue(p, ch)})
	}
	if props, err = appendProps(nil, fields); err != nil {
		return nil, nil, "", err
	}
	return payload, props, titleOf(k, root, key), nil
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

func titleOf(k *contracts.ResourceKind, root *etree.Element, key string) string {
	for _, n := range titleProps {
		if e := root.SelectElement(n); e != nil {
			if t := strings.TrimSpace(e.Text()); t != "" {
				return t
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

// merge applies a partial payload to the current one: every property the
// patch names replaces the current property of that name (all occurrences).
func merge(cur, patch *etree.Element) *etree.Element {
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

// parseStored parses a stored payload back into its element.
func parseStored(b []byte) (*etree.Element, error) {
	// The codec's parser: several times faster than etree's own reader, and
	// the stored form is already its normal form.
	el, err := feeds.ParsePayload(bytes.NewReader(b), feeds.Limits{MaxBytes: int64(len(b)) + 1})
	if err != nil {
		return nil, fmt.Errorf("stored payload unreadable: %w", err)
	}
	return el, nil
}

// selectProps keeps only the named top-level properties (nil keeps all).
func selectProps(el *etree.Element, names []string) {
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
		for _, ch := range e.ChildElements() {
			if ch.SelectAttrValue("xmlns", "\x00") == ns {
				ch.RemoveAttr("xmlns")
			}
			for p := range prefixNS {
				ch.RemoveAttr("xmlns:" + p)
			}
			walk(ch)
		}
	}
	walk(root)
}

// prefixNS are the namespaces a stored payload may use by prefix.
var prefixNS = map[string]string{"sdata": feeds.SDataNS, "xsi": feeds.XSINS}

// declarePrefixes declares on root the sdata and xsi prefixes used anywhere
// in its tree, so that the stored payload is a self-contained document.
func declarePrefixes(root *etree.Element) {
	used := map[string]bool{}
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		for _, a := range e.Attr {
			if _, ok := prefixNS[a.Space]; ok {
				used[a.Space] = true
			}
		}
		for _, c := range e.ChildElements() {
			walk(c)
		}
	}
	walk(root)
	for _, p := range []string{"sdata", "xsi"} {
		if used[p] && root.SelectAttr("xmlns:"+p) == nil {
			root.CreateAttr("xmlns:"+p, prefixNS[p])
		}
	}
}

// rawWithAttrs returns a stored payload with attributes added to its root
// start tag, without building a tree: the stored form is written by etree,
// which escapes '>' in attribute values, so the first '>' ends the start
// tag. The sdata prefix is declared when an added attribute uses it and the
// root does not declare it yet. ok is false for a payload not in that form.
func rawWithAttrs(stored []byte, attrs ...[2]string) (out []byte, ok bool) {
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
