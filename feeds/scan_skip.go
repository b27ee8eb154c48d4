package feeds

import "bytes"

// skipFast consumes the rest of the current element on the fast path, as
// skip does, without delivering tokens: no names are interned or
// translated, no attribute or text values are built. It checks what the
// scanner checks for each token (names, attribute syntax, characters,
// references, tag nesting) and falls back (errFallback) wherever the scanner
// would, so that a document is accepted or refused exactly as with skip.
// Limits are enforced at the same points as parser.next: depth, then
// elements, then attributes, after each start tag.
func (p *parser) skipFast() error {
	s := p.sc
	data := s.data
	level := 0 // elements opened inside the skipped one
	for {
		if s.closing {
			s.closing = false
			s.pop()
			p.depth--
			if level == 0 {
				return nil
			}
			level--
			continue
		}
		i := s.pos
		if i >= len(data) {
			return errFallback // unexpected end: elements are still open
		}
		if data[i] != '<' {
			end := bytes.IndexByte(data[i:], '<')
			if end < 0 {
				end = len(data)
			} else {
				end += i
			}
			if !validChars(data[i:end], "]]>") {
				return errFallback
			}
			s.pos = end
			continue
		}
		if i+1 >= len(data) {
			return errFallback
		}
		switch data[i+1] {
		case '/':
			if _, err := s.endTag(i + 2); err != nil {
				return err
			}
			p.depth--
			if level == 0 {
				return nil
			}
			level--
		case '?':
			if !s.procInst(i + 2) {
				return errFallback
			}
		case '!':
			rest := data[i+2:]
			switch {
			case len(rest) >= 2 && rest[0] == '-' && rest[1] == '-':
				if !s.comment(i + 4) {
					return errFallback
				}
			case bytes.HasPrefix(rest, []byte("[CDATA[")):
				k := bytes.Index(data[i+9:], []byte("]]>"))
				if k < 0 {
					return errFallback
				}
				if _, ok := checkChars(data[i+9 : i+9+k]); !ok {
					return errFallback
				}
				s.pos = i + 9 + k + 3
			default:
				return errFallback // directives: encoding/xml reports them
			}
		default:
			attrs, ok := s.skipStartTag(i + 1)
			if !ok {
				return errFallback
			}
			level++
			if p.depth++; p.depth > p.lim.MaxDepth {
				return &LimitError{Limit: "MaxDepth", Max: int64(p.lim.MaxDepth)}
			}
			if p.elements++; p.elements > p.lim.MaxElements {
				return &LimitError{Limit: "MaxElements", Max: int64(p.lim.MaxElements)}
			}
			if attrs > p.lim.MaxAttributes {
				return &LimitError{Limit: "MaxAttributes", Max: int64(p.lim.MaxAttributes)}
			}
		}
	}
}

// skipStartTag scans the start tag whose name begins at i as startTag does,
// without building it, and returns its number of attributes. The element
// is opened without namespace declarations: nothing inside a skipped
// element is translated.
func (s *scanner) skipStartTag(i int) (attrs int, ok bool) {
	data := s.data
	_, _, j, ok := s.qname(i)
	if !ok {
		return 0, false
	}
	rawName := data[i:j]
	var empty bool
	for {
		it := s.tagItem(j)
		if !it.ok {
			return 0, false
		}
		if it.end {
			j, empty = it.next, it.empty
			break
		}
		end := bytes.IndexByte(data[it.next:], it.quote)
		if end < 0 || !validChars(data[it.next:it.next+end], "<") {
			return 0, false
		}
		j = it.next + end + 1
		attrs++
	}
	s.pos = j
	s.open = append(s.open, openElem{name: rawName, nsLen: len(s.ns)})
	s.closing = empty
	return attrs, true
}

// validChars reports whether the scanner accepts raw as text (forbid
// "]]>") or as an attribute value (forbid "<"): valid characters, not
// forbid, and references it can decode.
func validChars(raw []byte, forbid string) bool {
	special, ok := checkChars(raw)
	if !ok {
		return false
	}
	if !special {
		return true
	}
	return !bytes.Contains(raw, []byte(forbid)) && validRefs(raw)
}

// validRefs reports whether every '&' in raw starts a reference that
// decode accepts.
func validRefs(raw []byte) bool {
	for i := 0; ; {
		k := bytes.IndexByte(raw[i:], '&')
		if k < 0 {
			return true
		}
		_, n := reference(raw[i+k:])
		if n == 0 {
			return false
		}
		i += k + n
	}
}
