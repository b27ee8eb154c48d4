package feeds

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/beevik/etree"

	"sdatasync/digest"
)

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// rootNamespaces declares every prefix the writer uses; it goes on the root
// element of feeds and entries.
const rootNamespaces = ` xmlns="` + AtomNS + `"` +
	` xmlns:sdata="` + SDataNS + `"` +
	` xmlns:sync="` + SyncNS + `"` +
	` xmlns:http="` + HTTPNS + `"` +
	` xmlns:opensearch="` + OpenSearchNS + `"` +
	` xmlns:xsi="` + XSINS + `"`

// errClosed is returned when writing to a closed FeedWriter.
var errClosed = errors.New("feeds: FeedWriter is closed")

// FeedWriter streams a feed: NewFeedWriter writes the head, WriteEntry each
// entry as it comes, Close the end tag. Nothing is buffered beyond a
// bufio.Writer; Close flushes it.
type FeedWriter struct {
	x      xmlWriter
	closed bool
}

// NewFeedWriter writes the XML declaration and the head of the feed (id,
// title, updated, links, opensearch elements, syncMode, digest) to w.
// head.Entries is ignored.
func NewFeedWriter(w io.Writer, head *Feed) (*FeedWriter, error) {
	fw := &FeedWriter{x: xmlWriter{w: bufio.NewWriter(w)}}
	x := &fw.x
	x.raw(xmlHeader)
	x.raw("<feed" + rootNamespaces + ">")
	x.textElem(1, "id", head.ID)
	x.textElem(1, "title", head.Title)
	x.timeElem(1, "updated", head.Updated)
	x.links(1, head.Links)
	if head.TotalResults >= 0 {
		x.intElem(1, "opensearch:totalResults", int64(head.TotalResults))
	}
	if head.StartIndex > 0 {
		x.intElem(1, "opensearch:startIndex", int64(head.StartIndex))
	}
	if head.ItemsPerPage > 0 {
		x.intElem(1, "opensearch:itemsPerPage", int64(head.ItemsPerPage))
	}
	if head.SyncMode != "" {
		x.textElem(1, "sync:syncMode", head.SyncMode)
	}
	if head.Digest != nil {
		x.digest(1, head.Digest)
	}
	if x.err != nil {
		return nil, x.err
	}
	return fw, nil
}

// WriteEntry writes one entry of the feed.
func (fw *FeedWriter) WriteEntry(e *Entry) error {
	if fw.closed {
		return errClosed
	}
	fw.x.entry(1, e, "")
	return fw.x.err
}

// EncodeEntry returns the bytes WriteEntry writes for e inside a feed, so
// that entries can be encoded ahead of time (on other goroutines) and
// written later with WriteEncoded.
func EncodeEntry(e *Entry) ([]byte, error) {
	var buf bytes.Buffer
	x := xmlWriter{w: bufio.NewWriterSize(&buf, 4096)}
	x.entry(1, e, "")
	x.flush()
	if x.err != nil {
		return nil, x.err
	}
	return buf.Bytes(), nil
}

// WriteEncoded writes an entry EncodeEntry encoded.
func (fw *FeedWriter) WriteEncoded(b []byte) error {
	if fw.closed {
		return errClosed
	}
	fw.x.rawBytes(b)
	return fw.x.err
}

// Close writes the end of the feed and flushes. Closing twice is a no-op.
func (fw *FeedWriter) Close() error {
	if fw.closed {
		return fw.x.err
	}
	fw.closed = true
	fw.x.raw("\n</feed>\n")
	fw.x.flush()
	return fw.x.err
}

// WriteFeed writes the whole feed f, head and entries.
func WriteFeed(w io.Writer, f *Feed) error {
	fw, err := NewFeedWriter(w, f)
	if err != nil {
		return err
	}
	for _, e := range f.Entries {
		if err := fw.WriteEntry(e); err != nil {
			return err
		}
	}
	return fw.Close()
}

// WriteEntry writes e as a standalone atom:entry document. When e.Digest is
// set it is written as the payload (sync:digest) instead of e.Payload.
func WriteEntry(w io.Writer, e *Entry) error {
	x := &xmlWriter{w: bufio.NewWriter(w)}
	x.raw(xmlHeader)
	x.entry(0, e, rootNamespaces)
	x.raw("\n")
	x.flush()
	return x.err
}

// WriteDigestEntry writes e as a standalone atom:entry document whose
// sdata:payload holds e.Digest as sync:digest (the $syncDigest resource). It
// fails if e.Digest is nil.
func WriteDigestEntry(w io.Writer, e *Entry) error {
	if e.Digest == nil {
		return errors.New("feeds: WriteDigestEntry: entry has no digest")
	}
	return WriteEntry(w, e)
}

// WriteDiagnoses writes an sdata:diagnoses document.
func WriteDiagnoses(w io.Writer, ds []Diagnosis) error {
	x := &xmlWriter{w: bufio.NewWriter(w)}
	x.raw(xmlHeader)
	x.raw(`<sdata:diagnoses xmlns:sdata="` + SDataNS + `">`)
	for i := range ds {
		x.diagnosis(1, &ds[i])
	}
	x.raw("\n</sdata:diagnoses>\n")
	x.flush()
	return x.err
}

// WriteTracking writes an sdata:tracking document.
func WriteTracking(w io.Writer, t Tracking) error {
	x := &xmlWriter{w: bufio.NewWriter(w)}
	x.raw(xmlHeader)
	x.raw(`<sdata:tracking xmlns:sdata="` + SDataNS + `">`)
	x.textElem(1, "sdata:phase", t.Phase)
	x.textElem(1, "sdata:phaseDetail", t.PhaseDetail)
	x.textElem(1, "sdata:progress", formatDecimal(t.Progress))
	x.intElem(1, "sdata:elapsedSeconds", int64(t.ElapsedSeconds))
	x.intElem(1, "sdata:remainingSeconds", int64(t.RemainingSeconds))
	x.intElem(1, "sdata:pollingMillis", int64(t.PollingMillis))
	x.raw("\n</sdata:tracking>\n")
	x.flush()
	return x.err
}

// formatDecimal writes an xs:decimal (no exponent) with at least one
// fraction digit, e.g. 0.0 or 42.5.
func formatDecimal(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s
		}
	}
	return s + ".0"
}

// xmlWriter writes indented XML to a bufio.Writer and keeps the first error.
type xmlWriter struct {
	w       *bufio.Writer
	err     error
	scratch [64]byte
}

// bytes writes b unescaped (b holds no markup characters).
func (x *xmlWriter) bytes(b []byte) {
	if x.err == nil {
		_, x.err = x.w.Write(b)
	}
}

// open and close write a start or end tag.
func (x *xmlWriter) open(name string)  { x.raw("<"); x.raw(name); x.raw(">") }
func (x *xmlWriter) close(name string) { x.raw("</"); x.raw(name); x.raw(">") }

// timeElem writes <name>FormatTime(t)</name> on a new line.
func (x *xmlWriter) timeElem(depth int, name string, t time.Time) {
	x.indent(depth)
	x.open(name)
	x.bytes(appendTime(x.scratch[:0], t))
	x.close(name)
}

// intElem writes <name>v</name> on a new line.
func (x *xmlWriter) intElem(depth int, name string, v int64) {
	x.indent(depth)
	x.open(name)
	x.bytes(strconv.AppendInt(x.scratch[:0], v, 10))
	x.close(name)
}

func (x *xmlWriter) raw(s string) {
	if x.err == nil {
		_, x.err = x.w.WriteString(s)
	}
}

func (x *xmlWriter) rawBytes(b []byte) {
	if x.err == nil {
		_, x.err = x.w.Write(b)
	}
}

// qname writes space:local, or local when space is empty.
func (x *xmlWriter) qname(space, local string) {
	if space != "" {
		x.raw(space)
		x.raw(":")
	}
	x.raw(local)
}

func (x *xmlWriter) flush() {
	if x.err == nil {
		x.err = x.w.Flush()
	}
}

const spaces = "                                                                "

// indent starts a new line indented by depth levels of two spaces.
func (x *xmlWriter) indent(depth int) {
	x.raw("\n")
	for n := 2 * depth; n > 0; n -= len(spaces) {
		x.raw(spaces[:min(n, len(spaces))])
	}
}

// textElem writes <name>escaped value</name> on a new line.
func (x *xmlWriter) textElem(depth int, name, value string) {
	x.indent(depth)
	x.open(name)
	x.escape(value, false)
	x.close(name)
}

func (x *xmlWriter) attr(name, value string) {
	x.raw(" ")
	x.raw(name)
	x.raw(`="`)
	x.escape(value, true)
	x.raw(`"`)
}

func (x *xmlWriter) links(depth int, links []Link) {
	for _, l := range links {
		x.indent(depth)
		x.raw("<link")
		if l.Rel != "" {
			x.attr("rel", l.Rel)
		}
		if l.Type != "" {
			x.attr("type", l.Type)
		}
		if l.Title != "" {
			x.attr("title", l.Title)
		}
		x.attr("href", l.Href)
		if l.HrefLang != "" {
			x.attr("hreflang", l.HrefLang)
		}
		if l.Length != 0 {
			x.attr("length", strconv.FormatUint(uint64(l.Length), 10))
		}
		x.raw("/>")
	}
}

// entry writes an atom:entry; ns holds the root namespace declarations of a
// standalone entry document.
func (x *xmlWriter) entry(depth int, e *Entry, ns string) {
	if depth > 0 {
		x.indent(depth)
	}
	x.raw("<entry" + ns + ">")
	d := depth + 1
	x.textElem(d, "id", e.ID)
	x.textElem(d, "title", e.Title)
	x.timeElem(d, "updated", e.Updated)
	x.links(d, e.Links)
	if e.Content != "" {
		x.textElem(d, "content", e.Content)
	}
	if e.HTTPMethod != "" {
		x.textElem(d, "http:httpMethod", e.HTTPMethod)
	}
	if e.HTTPStatus != 0 {
		x.intElem(d, "http:httpStatus", int64(e.HTTPStatus))
	}
	if e.HTTPMessage != "" {
		x.textElem(d, "http:httpMessage", e.HTTPMessage)
	}
	if e.Location != "" {
		x.textElem(d, "http:location", e.Location)
	}
	if e.ETag != "" {
		x.textElem(d, "http:etag", e.ETag)
	}
	if e.IfMatch != "" {
		x.textElem(d, "http:ifMatch", e.IfMatch)
	}
	if s := e.SyncState; s != nil {
		x.indent(d)
		x.raw("<sync:syncState>")
		x.textElem(d+1, "sync:endpoint", s.Endpoint)
		x.intElem(d+1, "sync:tick", s.Tick)
		if !s.Stamp.IsZero() {
			x.timeElem(d+1, "sync:stamp", s.Stamp)
		}
		if s.User != "" {
			x.textElem(d+1, "sync:user", s.User)
		}
		x.indent(d)
		x.raw("</sync:syncState>")
	}
	for i := range e.Diagnoses {
		x.diagnosis(d, &e.Diagnoses[i])
	}
	switch {
	case e.Digest != nil:
		x.indent(d)
		x.raw("<sdata:payload>")
		x.digest(d+1, e.Digest)
		x.indent(d)
		x.raw("</sdata:payload>")
	case e.RawPayload != nil:
		x.indent(d)
		x.raw("<sdata:payload>")
		x.indent(d + 1)
		x.rawBytes(e.RawPayload)
		x.indent(d)
		x.raw("</sdata:payload>")
	case e.Payload != nil:
		x.indent(d)
		x.raw("<sdata:payload>")
		x.indent(d + 1)
		x.element(d+1, e.Payload, true)
		x.indent(d)
		x.raw("</sdata:payload>")
	}
	x.indent(depth)
	x.raw("</entry>")
}

func (x *xmlWriter) digest(depth int, dg *digest.Digest) {
	x.indent(depth)
	x.raw("<sync:digest>")
	if dg.Origin != "" {
		x.textElem(depth+1, "sync:origin", dg.Origin)
	}
	for _, de := range dg.Entries {
		x.indent(depth + 1)
		x.raw("<sync:digestEntry>")
		x.textElem(depth+2, "sync:endpoint", de.Endpoint)
		x.intElem(depth+2, "sync:tick", de.Tick)
		if !de.Stamp.IsZero() {
			x.timeElem(depth+2, "sync:stamp", de.Stamp)
		}
		if de.ConflictPriority != 0 { // 0 is unset: a reader takes the default
			x.intElem(depth+2, "sync:conflictPriority", int64(de.ConflictPriority))
		}
		x.indent(depth + 1)
		x.raw("</sync:digestEntry>")
	}
	x.indent(depth)
	x.raw("</sync:digest>")
}

func (x *xmlWriter) diagnosis(depth int, d *Diagnosis) {
	x.indent(depth)
	x.raw("<sdata:diagnosis>")
	// diagnosis--type of sdata.xsd is an xs:all of six elements, each
	// required: all are written, empty when unset (a stack trace never
	// leaves the server).
	x.textElem(depth+1, "sdata:severity", d.Severity)
	x.textElem(depth+1, "sdata:sdataCode", d.SDataCode)
	x.textElem(depth+1, "sdata:applicationCode", d.ApplicationCode)
	x.textElem(depth+1, "sdata:message", d.Message)
	x.textElem(depth+1, "sdata:stackTrace", "")
	x.textElem(depth+1, "sdata:payloadPath", d.PayloadPath)
	x.indent(depth)
	x.raw("</sdata:diagnosis>")
}

// element writes a payload element as is. Children are indented only when
// the element holds no text besides whitespace, which a parser drops again;
// comments and processing instructions are not written. An unprefixed root
// without its own xmlns declaration gets xmlns="" so that it does not fall
// into the Atom default namespace.
func (x *xmlWriter) element(depth int, el *etree.Element, root bool) {
	x.raw("<")
	x.qname(el.Space, el.Tag)
	if root && el.Space == "" && el.SelectAttr("xmlns") == nil {
		x.raw(` xmlns=""`)
	}
	for i := range el.Attr {
		a := &el.Attr[i]
		x.raw(" ")
		x.qname(a.Space, a.Key)
		x.raw(`="`)
		x.escape(a.Value, true)
		x.raw(`"`)
	}
	hasElem, hasText := false, false
	for _, c := range el.Child {
		switch c := c.(type) {
		case *etree.Element:
			hasElem = true
		case *etree.CharData:
			if c.Data != "" {
				hasText = true
			}
		}
	}
	if !hasElem && !hasText {
		x.raw("/>")
		return
	}
	x.raw(">")
	pretty := hasElem
	if hasElem && hasText {
		for _, c := range el.Child {
			if cd, ok := c.(*etree.CharData); ok && !isXMLSpaceString(cd.Data) {
				pretty = false
				break
			}
		}
	}
	for _, c := range el.Child {
		switch c := c.(type) {
		case *etree.Element:
			if pretty {
				x.indent(depth + 1)
			}
			x.element(depth+1, c, false)
		case *etree.CharData:
			if hasElem && isXMLSpaceString(c.Data) {
				continue
			}
			x.escape(c.Data, false)
		}
	}
	if pretty {
		x.indent(depth)
	}
	x.raw("</")
	x.qname(el.Space, el.Tag)
	x.raw(">")
}

// escape writes s as character data (attr false) or as a double-quoted
// attribute value. Characters that XML cannot carry (invalid UTF-8, control
// characters) become U+FFFD; \r, and in attributes \t and \n, are written as
// character references so that they survive end-of-line and attribute
// normalization.
func (x *xmlWriter) escape(s string, attr bool) {
	last := 0
	for i := 0; i < len(s); {
		for i < len(s) && plainXML[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		c := s[i]
		var esc string
		width := 1
		switch {
		case c == '&':
			esc = "&amp;"
		case c == '<':
			esc = "&lt;"
		case c == '>':
			esc = "&gt;"
		case c == '"' && attr:
			esc = "&quot;"
		case c == '\r':
			esc = "&#xD;"
		case c == '\n' && attr:
			esc = "&#xA;"
		case c == '\t' && attr:
			esc = "&#x9;"
		case c < 0x20 && c != '\n' && c != '\t':
			esc = "\uFFFD"
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(s[i:])
			width = n
			if (r == utf8.RuneError && n == 1) || !isXMLChar(r) {
				esc = "\uFFFD"
			}
		}
		if esc != "" {
			x.raw(s[last:i])
			x.raw(esc)
			last = i + width
		}
		i += width
	}
	x.raw(s[last:])
}

// plainXML marks the bytes escape copies as they are in text and in
// attributes alike: printable ASCII but '&', '<', '>' and '"'.
var plainXML = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '&' && c != '<' && c != '>' && c != '"'
	}
	return t
}()

// isXMLChar reports whether a non-ASCII rune is allowed in XML 1.0.
func isXMLChar(r rune) bool {
	return (r >= 0x80 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}
