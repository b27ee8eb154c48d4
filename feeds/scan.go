package feeds

import (
	"bytes"
	"encoding/xml"
	"errors"
	"unicode/utf8"
)

// errFallback is returned by the fast path when a document uses something
// the scanner does not handle itself or is not well-formed. The document is
// then parsed again with encoding/xml, which decides what it means and, for
// malformed input, produces the error with its line number.
var errFallback = errors.New("feeds: document needs the encoding/xml parser")

// tokenKind is the kind of a token delivered to the parser.
type tokenKind uint8

const (
	startToken     tokenKind = iota + 1 // start tag, in parser.start
	endToken                            // end tag
	textToken                           // character data, in parser.chars
	directiveToken                      // <!DOCTYPE ...> and other directives
	eofToken                            // end of the document
)

// scanner is the tokenizer of the fast path. It works on a whole document in
// memory and yields the same token stream as encoding/xml's Decoder.Token in
// strict mode (namespaces translated the same way, comments and processing
// instructions dropped), but only for the subset of XML it handles itself:
// ASCII names, the predefined entities and character references. On anything
// else, and on every well-formedness error, it returns errFallback at the
// token where encoding/xml would either fail or differ, so that the tokens
// it did deliver are exactly those encoding/xml delivers.
type scanner struct {
	data    []byte
	pos     int
	open    []openElem  // elements started and not yet ended
	ns      []nsBinding // namespace declarations in scope, innermost last
	closing bool        // the last start tag was empty: its end token is due
	attr    []xml.Attr  // attributes of the last start tag (reused)
	buf     []byte      // decoded character data (reused)
	strs    []string    // cache of interned names and URIs (see intern)
}

// openElem is an element whose end tag has not been seen.
type openElem struct {
	name  []byte // qualified name as written
	nsLen int    // len(scanner.ns) before the element's declarations
}

// nsBinding is one namespace declaration: prefix ("" for xmlns=) bound to uri.
type nsBinding struct{ prefix, uri string }

// maxInterned is the length of the longest string the cache holds.
const maxInterned = 64

func newScanner(data []byte) *scanner {
	// About one cache slot per 64 bytes of document, between 32 and 1024.
	slots := 32
	for slots < 1024 && slots*64 < len(data) {
		slots *= 2
	}
	return &scanner{
		data: data,
		open: make([]openElem, 0, 8),
		ns:   make([]nsBinding, 0, 8),
		attr: make([]xml.Attr, 0, 8),
		strs: make([]string, slots),
	}
}

// intern returns string(b), reusing an earlier string with the same bytes
// when the cache has it: element and attribute names and namespace URIs
// repeat throughout a feed. The cache is two-way set associative.
func (s *scanner) intern(b []byte) string {
	if len(b) > maxInterned {
		return string(b)
	}
	h := uint32(2166136261) // FNV-1a
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	i := int(h) & (len(s.strs) - 2)
	set := s.strs[i : i+2 : i+2]
	if set[0] == string(b) {
		return set[0]
	}
	if set[1] == string(b) {
		set[0], set[1] = set[1], set[0]
		return set[0]
	}
	str, ok := knownString(b)
	if !ok {
		str = string(b)
	}
	set[0], set[1] = str, set[0]
	return str
}

// knownString returns the constant equal to b for the names and namespace
// URIs of the documents this package reads, so that they need no
// allocation.
func knownString(b []byte) (string, bool) {
	switch string(b) {
	case AtomNS:
		return AtomNS, true
	case SDataNS:
		return SDataNS, true
	case SyncNS:
		return SyncNS, true
	case HTTPNS:
		return HTTPNS, true
	case OpenSearchNS:
		return OpenSearchNS, true
	case XSINS:
		return XSINS, true
	case "xmlns":
		return "xmlns", true
	case "xml":
		return "xml", true
	case "sdata":
		return "sdata", true
	case "sync":
		return "sync", true
	case "http":
		return "http", true
	case "opensearch":
		return "opensearch", true
	case "xsi":
		return "xsi", true
	case "feed":
		return "feed", true
	case "entry":
		return "entry", true
	case "id":
		return "id", true
	case "title":
		return "title", true
	case "updated":
		return "updated", true
	case "link":
		return "link", true
	case "rel":
		return "rel", true
	case "href":
		return "href", true
	case "type":
		return "type", true
	case "content":
		return "content", true
	case "payload":
		return "payload", true
	case "uuid":
		return "uuid", true
	case "key":
		return "key", true
	case "url":
		return "url", true
	case "nil":
		return "nil", true
	case "isDeleted":
		return "isDeleted", true
	case "httpMethod":
		return "httpMethod", true
	case "httpStatus":
		return "httpStatus", true
	case "httpMessage":
		return "httpMessage", true
	case "location":
		return "location", true
	case "etag":
		return "etag", true
	case "ifMatch":
		return "ifMatch", true
	case "syncState":
		return "syncState", true
	case "syncMode":
		return "syncMode", true
	case "digest":
		return "digest", true
	case "digestEntry":
		return "digestEntry", true
	case "origin":
		return "origin", true
	case "endpoint":
		return "endpoint", true
	case "tick":
		return "tick", true
	case "stamp":
		return "stamp", true
	case "conflictPriority":
		return "conflictPriority", true
	case "totalResults":
		return "totalResults", true
	case "startIndex":
		return "startIndex", true
	case "itemsPerPage":
		return "itemsPerPage", true
	case "diagnosis":
		return "diagnosis", true
	case "diagnoses":
		return "diagnoses", true
	case "true":
		return "true", true
	case "false":
		return "false", true
	}
	return "", false
}

// next scans the next token. A start tag is stored in *start (its Attr slice
// is reused by the following call) and character data in *chars (valid until
// the following call).
func (s *scanner) next(start *xml.StartElement, chars *[]byte) (tokenKind, error) {
	if s.closing {
		s.closing = false
		s.pop()
		return endToken, nil
	}
	data := s.data
	for {
		i := s.pos
		if i >= len(data) {
			if len(s.open) > 0 {
				return 0, errFallback // unexpected EOF
			}
			return eofToken, nil
		}
		if data[i] != '<' {
			return s.text(i, chars)
		}
		if i+1 >= len(data) {
			return 0, errFallback
		}
		switch data[i+1] {
		case '/':
			return s.endTag(i + 2)
		case '?':
			if !s.procInst(i + 2) {
				return 0, errFallback
			}
		case '!':
			rest := data[i+2:]
			switch {
			case len(rest) >= 2 && rest[0] == '-' && rest[1] == '-':
				if !s.comment(i + 4) {
					return 0, errFallback
				}
			case bytes.HasPrefix(rest, []byte("[CDATA[")):
				return s.cdata(i+9, chars)
			default:
				// Directives are refused by the parser; encoding/xml
				// reports them (and anything malformed here).
				return 0, errFallback
			}
		default:
			return s.startTag(i+1, start)
		}
	}
}

// pop ends the innermost open element and its namespace declarations.
func (s *scanner) pop() {
	top := len(s.open) - 1
	s.ns = s.ns[:s.open[top].nsLen]
	s.open = s.open[:top]
}

// isNameStart reports whether c may start an ASCII XML name.
func isNameStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == ':'
}

// Bit sets of the ASCII characters that may continue an XML name (letters,
// digits, '_', ':', '.' and '-'): nameCharsLo for 0-63, nameCharsHi for
// 64-127.
const (
	nameCharsLo = 0x07ff600000000000
	nameCharsHi = 0x07fffffe87fffffe
)

// isNameChar reports whether c may continue an ASCII XML name.
func isNameChar(c byte) bool {
	if c < 64 {
		return nameCharsLo>>c&1 != 0
	}
	return c < 128 && nameCharsHi>>(c-64)&1 != 0
}

// nameClass classifies bytes for name: 1 for the ASCII characters that may
// continue a name other than ':', 2 for ':', 0 for the rest.
var nameClass = func() (t [256]uint8) {
	for c := range 128 {
		if isNameChar(byte(c)) {
			t[c] = 1
		}
	}
	t[':'] = 2
	return t
}()

// name scans an ASCII name starting at i and returns its end and the index
// of its colon (-1 if none). ok is false if there is no name at i, the name
// has non-ASCII characters or runs to the end of the document.
func (s *scanner) name(i int) (end, colon int, ok bool) {
	data := s.data
	if i >= len(data) || !isNameStart(data[i]) {
		return 0, 0, false
	}
	colon = -1
	j := i
	for {
		for j < len(data) && nameClass[data[j]] == 1 {
			j++
		}
		if j >= len(data) {
			return 0, 0, false
		}
		if nameClass[data[j]] == 0 {
			break
		}
		if colon >= 0 {
			return 0, 0, false // a second colon
		}
		colon = j
		j++
	}
	if data[j] >= utf8.RuneSelf {
		return 0, 0, false
	}
	return j, colon, true
}

// qname scans a qualified name at i: prefix "" when it has no colon. Names
// with a colon at either end, which encoding/xml reads as unprefixed local
// names, are left to encoding/xml.
func (s *scanner) qname(i int) (prefix, local []byte, end int, ok bool) {
	end, colon, ok := s.name(i)
	if !ok {
		return nil, nil, 0, false
	}
	if colon < 0 {
		return nil, s.data[i:end], end, true
	}
	if colon == i || colon == end-1 {
		return nil, nil, 0, false
	}
	return s.data[i:colon], s.data[colon+1 : end], end, true
}

// space skips XML white space from i.
func (s *scanner) space(i int) int {
	data := s.data
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// startTag scans the start tag whose name begins at i.
func (s *scanner) startTag(i int, start *xml.StartElement) (tokenKind, error) {
	data := s.data
	prefix, local, j, ok := s.qname(i)
	if !ok {
		return 0, errFallback
	}
	rawName := data[i:j]
	attrs := s.attr[:0]
	var empty bool
	for {
		it := s.tagItem(j)
		if !it.ok {
			return 0, errFallback
		}
		if it.end {
			j, empty = it.next, it.empty
			break
		}
		a := xml.Attr{Name: xml.Name{Space: s.intern(it.prefix), Local: s.intern(it.local)}}
		decl := a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns"
		a.Value, j, ok = s.attrValue(it.next, it.quote, decl)
		if !ok {
			return 0, errFallback
		}
		attrs = append(attrs, a)
	}
	s.attr = attrs
	s.pos = j

	// As in Decoder.Token: declarations first, then translation of the
	// element name and the attribute names.
	mark := len(s.ns)
	for _, a := range attrs {
		switch {
		case a.Name.Space == "xmlns":
			s.ns = append(s.ns, nsBinding{a.Name.Local, a.Value})
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			s.ns = append(s.ns, nsBinding{"", a.Value})
		}
	}
	s.open = append(s.open, openElem{name: rawName, nsLen: mark})
	start.Name = xml.Name{Space: s.intern(prefix), Local: s.intern(local)}
	s.translate(&start.Name, true)
	for k := range attrs {
		s.translate(&attrs[k].Name, false)
	}
	start.Attr = attrs
	s.closing = empty
	return startToken, nil
}

// tagItem is what follows an element name or attribute value in a start
// tag: its end, or the start of the next attribute.
type tagItem struct {
	ok    bool
	end   bool // the tag ends: '>', or '/>' (empty)
	empty bool
	// For an attribute: its name, its quote, and next the index of its
	// value's first byte. For the end: next is the index after it.
	prefix, local []byte
	quote         byte
	next          int
}

// tagItem scans, from j, the white space and then the end of the start
// tag or the name, '=' and opening quote of its next attribute.
func (s *scanner) tagItem(j int) tagItem {
	data := s.data
	j = s.space(j)
	if j >= len(data) {
		return tagItem{}
	}
	switch data[j] {
	case '>':
		return tagItem{ok: true, end: true, next: j + 1}
	case '/':
		if j+1 >= len(data) || data[j+1] != '>' {
			return tagItem{}
		}
		return tagItem{ok: true, end: true, empty: true, next: j + 2}
	}
	prefix, local, k, ok := s.qname(j)
	if !ok {
		return tagItem{}
	}
	k = s.space(k)
	if k >= len(data) || data[k] != '=' {
		return tagItem{}
	}
	k = s.space(k + 1)
	if k >= len(data) || data[k] != '"' && data[k] != '\'' {
		return tagItem{}
	}
	return tagItem{ok: true, prefix: prefix, local: local, quote: data[k], next: k + 1}
}

// translate maps the prefix in n.Space to its namespace URI exactly as
// encoding/xml's Decoder.translate does: unbound prefixes stay as they are,
// the default namespace applies to element names only.
func (s *scanner) translate(n *xml.Name, isElementName bool) {
	switch {
	case n.Space == "xmlns":
		return
	case n.Space == "" && !isElementName:
		return
	case n.Space == "xml":
		// A declared prefix cannot equal the namespace URI (it has no '/').
		n.Space = xmlNS
		return
	case n.Space == "" && n.Local == "xmlns":
		return
	}
	for k := len(s.ns) - 1; k >= 0; k-- {
		if s.ns[k].prefix == n.Space {
			n.Space = s.ns[k].uri
			return
		}
	}
}

// endTag scans the end tag whose name begins at i; it must close the
// innermost open element.
func (s *scanner) endTag(i int) (tokenKind, error) {
	data := s.data
	end, _, ok := s.name(i)
	if !ok || len(s.open) == 0 {
		return 0, errFallback
	}
	j := s.space(end)
	if j >= len(data) || data[j] != '>' || !bytes.Equal(s.open[len(s.open)-1].name, data[i:end]) {
		return 0, errFallback
	}
	s.pos = j + 1
	s.pop()
	return endToken, nil
}

// procInst skips the processing instruction whose target begins at i,
// checking an XML declaration the way encoding/xml does.
func (s *scanner) procInst(i int) bool {
	data := s.data
	end, _, ok := s.name(i)
	if !ok {
		return false
	}
	j := s.space(end)
	k := bytes.Index(data[j:], []byte("?>"))
	if k < 0 {
		return false
	}
	if string(data[i:end]) == "xml" {
		content := data[j : j+k]
		if ver := procInstParam("version=", content); len(ver) > 0 && string(ver) != "1.0" {
			return false
		}
		if enc := procInstParam("encoding=", content); len(enc) > 0 && !bytes.EqualFold(enc, []byte("utf-8")) {
			return false
		}
	}
	s.pos = j + k + 2
	return true
}

// procInstParam returns the value of param (name and "=") in the content of
// a processing instruction, with the same (lax) rules as encoding/xml's
// procInst.
func procInstParam(param string, s []byte) []byte {
	lenp := len(param)
	i := 0
	var sep byte
	for i < len(s) {
		sub := s[i:]
		k := bytes.Index(sub, []byte(param))
		if k < 0 || lenp+k >= len(sub) {
			return nil
		}
		i += lenp + k + 1
		if c := sub[lenp+k]; c == '\'' || c == '"' {
			sep = c
			break
		}
	}
	if sep == 0 {
		return nil
	}
	j := bytes.IndexByte(s[i:], sep)
	if j < 0 {
		return nil
	}
	return s[i : i+j]
}

// comment skips the comment whose content begins at i. As in XML, "--" may
// only appear as part of the terminating "-->".
func (s *scanner) comment(i int) bool {
	data := s.data
	k := bytes.Index(data[i:], []byte("--"))
	if k < 0 || i+k+2 >= len(data) || data[i+k+2] != '>' {
		return false
	}
	s.pos = i + k + 3
	return true
}

// cdata scans the CDATA section whose content begins at i.
func (s *scanner) cdata(i int, chars *[]byte) (tokenKind, error) {
	data := s.data
	k := bytes.Index(data[i:], []byte("]]>"))
	if k < 0 {
		return 0, errFallback
	}
	raw := data[i : i+k]
	special, ok := checkChars(raw)
	if !ok {
		return 0, errFallback
	}
	if special {
		// Only line ends are rewritten in CDATA; '&' is literal.
		s.buf = append(s.buf[:0], raw...)
		s.buf = normalizeNewlines(s.buf)
		raw = s.buf
	}
	*chars = raw
	s.pos = i + k + 3
	return textToken, nil
}

// text scans character data from i up to the next '<' or the end.
func (s *scanner) text(i int, chars *[]byte) (tokenKind, error) {
	data := s.data
	end := bytes.IndexByte(data[i:], '<')
	if end < 0 {
		end = len(data)
	} else {
		end += i
	}
	raw := data[i:end]
	special, ok := checkChars(raw)
	if !ok {
		return 0, errFallback
	}
	if special {
		if bytes.Contains(raw, []byte("]]>")) {
			return 0, errFallback
		}
		if raw, ok = s.decode(raw); !ok {
			return 0, errFallback
		}
	}
	*chars = raw
	s.pos = end
	return textToken, nil
}
