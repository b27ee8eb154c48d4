package feeds

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// errTooLarge is returned by limitReader once the document exceeds MaxBytes.
var errTooLarge = errors.New("feeds: document too large")

// limitReader passes through at most max bytes of r and fails with
// errTooLarge when r holds more. It remembers the last error of r so that I/O
// failures can be told apart from XML syntax errors.
type limitReader struct {
	r         io.Reader
	remaining int64
	err       error
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.remaining <= 0 {
		var one [1]byte
		for {
			n, err := l.r.Read(one[:])
			if n > 0 {
				return 0, errTooLarge
			}
			if err != nil {
				l.err = err
				return 0, err
			}
		}
	}
	if int64(len(p)) > l.remaining {
		p = p[:l.remaining]
	}
	n, err := l.r.Read(p)
	l.remaining -= int64(n)
	if err != nil {
		l.err = err
	}
	return n, err
}

// maxEmptyReads is how many successive empty reads readDocument accepts
// before it gives up, as bufio.Reader does.
const maxEmptyReads = 100

// errNoProgress stands for a reader that keeps returning no data and no
// error; the replay reproduces that so that encoding/xml reports it as it
// always did.
var errNoProgress = errors.New("feeds: reader makes no progress")

// readDocument reads all of src. err is nil at the end of the input, else
// the error that stopped reading (errTooLarge, errNoProgress or a read
// error); data holds what was read before it.
func readDocument(src *limitReader, sizeHint int) (data []byte, err error) {
	size := 4096
	if sizeHint > 0 && int64(sizeHint) < src.remaining {
		size = sizeHint + 1 // room to see the end
	} else if sizeHint > 0 {
		size = int(src.remaining) + 1
	}
	data = make([]byte, 0, size)
	empty := 0
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, err := src.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		switch {
		case err == io.EOF:
			return data, nil
		case err != nil:
			return data, err
		case n == 0:
			if empty++; empty >= maxEmptyReads {
				return data, errNoProgress
			}
		default:
			empty = 0
		}
	}
}

// replayReader reads data and then fails with err (io.EOF for a complete
// document); errNoProgress is replayed as empty reads.
type replayReader struct {
	data []byte
	err  error
}

func (r *replayReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		if r.err == errNoProgress {
			return 0, nil
		}
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// parser is a depth- and size-bounded token stream over one XML document,
// with the element path kept for error messages. It reads tokens either from
// the scanner (the fast path, sc != nil) or from encoding/xml (dec != nil).
// On the fast path every syntax error is errFallback: the document is then
// parsed again on the encoding/xml path, which reports the error.
type parser struct {
	dec      *xml.Decoder
	sc       *scanner
	src      *limitReader
	lim      Limits
	depth    int
	elements int // start tags read so far
	path     []pathSeg
	start    xml.StartElement // the last start tag; Attr is valid until the next token
	chars    []byte           // the last character data; valid until the next token

	kids    []pendingChild // children of the payload elements being built
	textBuf []byte         // text of the payload element being built
	norm    normalizer     // prefixes of the payload being built
	arenas  payloadArenas  // storage of payload trees

	skimPayloads bool // skip payload trees, keeping only their sdata:uuid (ScanFeed)
}

func newParser(r io.Reader, lim Limits) *parser {
	lim = lim.withDefaults()
	src := &limitReader{r: r, remaining: lim.MaxBytes}
	dec := xml.NewDecoder(src)
	dec.Strict = true
	return &parser{dec: dec, src: src, lim: lim, path: make([]pathSeg, 0, 8)}
}

// newFastParser returns a parser over the complete document data.
func newFastParser(data []byte, lim Limits) *parser {
	return &parser{sc: newScanner(data), lim: lim.withDefaults(), path: make([]pathSeg, 0, 8)}
}

// wrap turns a decoder error into a *SyntaxError, *LimitError or I/O error.
func (p *parser) wrap(err error) error {
	if p.dec == nil {
		return errFallback
	}
	line, _ := p.dec.InputPos()
	var se *xml.SyntaxError
	switch {
	case errors.Is(err, errTooLarge):
		return &LimitError{Limit: "MaxBytes", Max: p.lim.MaxBytes}
	case errors.As(err, &se):
		return &SyntaxError{Line: se.Line, Msg: se.Msg}
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return &SyntaxError{Line: line, Msg: "unexpected end of document"}
	case p.src.err != nil && err == p.src.err:
		return fmt.Errorf("feeds: reading document: %w", err)
	}
	return &SyntaxError{Line: line, Msg: strings.TrimPrefix(err.Error(), "xml: ")}
}

func (p *parser) syntax(msg string) error {
	if p.dec == nil {
		return errFallback
	}
	line, _ := p.dec.InputPos()
	return &SyntaxError{Line: line, Msg: msg}
}

// raw returns the next start tag, end tag, character data, directive or the
// end of the document, skipping comments and processing instructions.
func (p *parser) raw() (tokenKind, error) {
	if p.sc != nil {
		return p.sc.next(&p.start, &p.chars)
	}
	for {
		tok, err := p.dec.Token()
		if err == io.EOF {
			return eofToken, nil
		}
		if err != nil {
			return 0, p.wrap(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			p.start = t
			return startToken, nil
		case xml.EndElement:
			return endToken, nil
		case xml.CharData:
			p.chars = t
			return textToken, nil
		case xml.Directive:
			return directiveToken, nil
		}
	}
}

// next returns the next start tag (in p.start), end tag or character data
// (in p.chars, valid until the following call), enforcing MaxDepth.
func (p *parser) next() (tokenKind, error) {
	k, err := p.raw()
	if err != nil {
		return 0, err
	}
	switch k {
	case startToken:
		p.depth++
		if p.depth > p.lim.MaxDepth {
			return 0, &LimitError{Limit: "MaxDepth", Max: int64(p.lim.MaxDepth)}
		}
		if err := p.counted(); err != nil {
			return 0, err
		}
	case endToken:
		p.depth--
	case directiveToken:
		return 0, p.syntax("DOCTYPE and other <! directives are not allowed")
	case eofToken:
		return 0, p.wrap(io.EOF)
	}
	return k, nil
}

// counted counts the start tag just read against MaxElements and its
// attributes against MaxAttributes.
func (p *parser) counted() error {
	if p.elements++; p.elements > p.lim.MaxElements {
		return &LimitError{Limit: "MaxElements", Max: int64(p.lim.MaxElements)}
	}
	if len(p.start.Attr) > p.lim.MaxAttributes {
		return &LimitError{Limit: "MaxAttributes", Max: int64(p.lim.MaxAttributes)}
	}
	return nil
}

// root returns the document element.
func (p *parser) root() (xml.StartElement, error) {
	for {
		k, err := p.raw()
		if err != nil {
			return xml.StartElement{}, err
		}
		switch k {
		case eofToken:
			return xml.StartElement{}, p.syntax("document has no root element")
		case startToken:
			p.depth = 1
			return p.start, p.counted()
		case textToken:
			if !isXMLSpace(p.chars) {
				return xml.StartElement{}, p.syntax("text before the root element")
			}
		case directiveToken:
			return xml.StartElement{}, p.syntax("DOCTYPE and other <! directives are not allowed")
		case endToken:
			// encoding/xml fails on an end tag before any start tag.
		}
	}
}

// finish checks that nothing but comments, processing instructions and
// whitespace follows the root element.
func (p *parser) finish() error {
	for {
		k, err := p.raw()
		if err != nil {
			return err
		}
		switch k {
		case eofToken:
			return nil
		case startToken:
			return p.syntax("more than one root element")
		case textToken:
			if !isXMLSpace(p.chars) {
				return p.syntax("text after the root element")
			}
		case directiveToken:
			return p.syntax("DOCTYPE and other <! directives are not allowed")
		}
	}
}

// skip consumes the rest of the current element.
func (p *parser) skip() error {
	if p.sc != nil {
		return p.skipFast()
	}
	depth := 0
	for {
		k, err := p.next()
		if err != nil {
			return err
		}
		switch k {
		case startToken:
			depth++
		case endToken:
			if depth == 0 {
				return nil
			}
			depth--
		}
	}
}

// text consumes the rest of the current element and returns its own
// character data (text inside child elements is ignored).
func (p *parser) text() (string, error) {
	var s string
	var sb *strings.Builder
	depth := 0
	for {
		k, err := p.next()
		if err != nil {
			return "", err
		}
		switch k {
		case startToken:
			depth++
		case endToken:
			if depth == 0 {
				if sb != nil {
					return sb.String(), nil
				}
				return s, nil
			}
			depth--
		case textToken:
			if depth > 0 {
				continue
			}
			switch {
			case sb != nil:
				sb.Write(p.chars)
			case s == "":
				s = p.str(p.chars)
			default:
				sb = &strings.Builder{}
				sb.WriteString(s)
				sb.Write(p.chars)
			}
		}
	}
}

// pathSeg is one segment of the element path: name, or name[index] when
// index > 0.
type pathSeg struct {
	name  string
	index int
}

// maxSharedText is the length of the longest character data that str shares
// between equal values (flags, codes and the like repeat throughout a feed).
const maxSharedText = 8

// str returns string(b), shared with an equal earlier string when b is
// short and the fast path is in use.
func (p *parser) str(b []byte) string {
	if p.sc != nil && len(b) <= maxSharedText {
		return p.sc.intern(b)
	}
	return string(b)
}

func (p *parser) push(name string) { p.path = append(p.path, pathSeg{name: name}) }
func (p *parser) pop()             { p.path = p.path[:len(p.path)-1] }

// pushIndexed pushes the segment name[index] (plain name if index is 0).
func (p *parser) pushIndexed(name string, index int) {
	p.path = append(p.path, pathSeg{name: name, index: index})
}

// formatErr builds a *FormatError at the current path.
func (p *parser) formatErr(format string, args ...any) error {
	return &FormatError{Path: p.pathString(), Msg: fmt.Sprintf(format, args...)}
}

// pathString is the current element path ("feed/entry[3]/syncState").
func (p *parser) pathString() string {
	var b strings.Builder
	for i, seg := range p.path {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(seg.name)
		if seg.index > 0 {
			b.WriteString("[" + strconv.Itoa(seg.index) + "]")
		}
	}
	return b.String()
}

func isXMLSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

func isXMLSpaceString(s string) bool {
	return trimXMLSpace(s) == ""
}

func trimXMLSpace(s string) string {
	return strings.Trim(s, " \t\r\n")
}

// qname renders a name for error messages.
func qname(n xml.Name) string {
	switch n.Space {
	case "":
		return n.Local
	case AtomNS:
		return "atom:" + n.Local
	case SDataNS:
		return "sdata:" + n.Local
	case SyncNS:
		return "sync:" + n.Local
	case HTTPNS:
		return "http:" + n.Local
	case OpenSearchNS:
		return "opensearch:" + n.Local
	}
	return "{" + n.Space + "}" + n.Local
}
