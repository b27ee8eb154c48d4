package feeds

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
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

// parser is a depth- and size-bounded token stream over one XML document,
// with the element path kept for error messages.
type parser struct {
	dec   *xml.Decoder
	src   *limitReader
	lim   Limits
	depth int
	path  []string
}

func newParser(r io.Reader, lim Limits) *parser {
	lim = lim.withDefaults()
	src := &limitReader{r: r, remaining: lim.MaxBytes}
	dec := xml.NewDecoder(src)
	dec.Strict = true
	return &parser{dec: dec, src: src, lim: lim, path: make([]string, 0, 8)}
}

// wrap turns a decoder error into a *SyntaxError, *LimitError or I/O error.
func (p *parser) wrap(err error) error {
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
	line, _ := p.dec.InputPos()
	return &SyntaxError{Line: line, Msg: msg}
}

// next returns the next StartElement, EndElement or CharData token, skipping
// comments and processing instructions and enforcing MaxDepth. CharData is
// only valid until the following call.
func (p *parser) next() (xml.Token, error) {
	for {
		tok, err := p.dec.Token()
		if err != nil {
			return nil, p.wrap(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			p.depth++
			if p.depth > p.lim.MaxDepth {
				return nil, &LimitError{Limit: "MaxDepth", Max: int64(p.lim.MaxDepth)}
			}
			return t, nil
		case xml.EndElement:
			p.depth--
			return t, nil
		case xml.CharData:
			return t, nil
		case xml.Directive:
			return nil, p.syntax("DOCTYPE and other <! directives are not allowed")
		}
	}
}

// root returns the document element.
func (p *parser) root() (xml.StartElement, error) {
	for {
		tok, err := p.dec.Token()
		if err == io.EOF {
			return xml.StartElement{}, p.syntax("document has no root element")
		}
		if err != nil {
			return xml.StartElement{}, p.wrap(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			p.depth = 1
			return t, nil
		case xml.CharData:
			if !isXMLSpace(t) {
				return xml.StartElement{}, p.syntax("text before the root element")
			}
		case xml.Directive:
			return xml.StartElement{}, p.syntax("DOCTYPE and other <! directives are not allowed")
		}
	}
}

// finish checks that nothing but comments, processing instructions and
// whitespace follows the root element.
func (p *parser) finish() error {
	for {
		tok, err := p.dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return p.wrap(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return p.syntax("more than one root element")
		case xml.CharData:
			if !isXMLSpace(t) {
				return p.syntax("text after the root element")
			}
		case xml.Directive:
			return p.syntax("DOCTYPE and other <! directives are not allowed")
		}
	}
}

// skip consumes the rest of the current element.
func (p *parser) skip() error {
	depth := 0
	for {
		tok, err := p.next()
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
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
		tok, err := p.next()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			if depth == 0 {
				if sb != nil {
					return sb.String(), nil
				}
				return s, nil
			}
			depth--
		case xml.CharData:
			if depth > 0 {
				continue
			}
			switch {
			case sb != nil:
				sb.Write(t)
			case s == "":
				s = string(t)
			default:
				sb = &strings.Builder{}
				sb.WriteString(s)
				sb.Write(t)
			}
		}
	}
}

func (p *parser) push(name string) { p.path = append(p.path, name) }
func (p *parser) pop()             { p.path = p.path[:len(p.path)-1] }

// formatErr builds a *FormatError at the current path.
func (p *parser) formatErr(format string, args ...any) error {
	return &FormatError{Path: strings.Join(p.path, "/"), Msg: fmt.Sprintf(format, args...)}
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
