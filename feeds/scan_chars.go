package feeds

// Character data of the scanner: attribute values, text, entity and
// character references, newline normalization and the XML Char range.

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// attrValue scans the attribute value that begins at i, up to quote, and
// returns it decoded and the index after the closing quote. Namespace
// declarations are interned.
func (s *scanner) attrValue(i int, quote byte, intern bool) (string, int, bool) {
	data := s.data
	k := bytes.IndexByte(data[i:], quote)
	if k < 0 {
		return "", 0, false
	}
	raw := data[i : i+k]
	special, ok := checkChars(raw)
	if !ok {
		return "", 0, false
	}
	if special {
		if bytes.IndexByte(raw, '<') >= 0 {
			return "", 0, false
		}
		if raw, ok = s.decode(raw); !ok {
			return "", 0, false
		}
	}
	if intern {
		return s.intern(raw), i + k + 1, true
	}
	return string(raw), i + k + 1, true
}

// charClass classifies the bytes of character data for checkChars:
// plainChar for the ASCII characters that need no closer look, specialChar
// for '&', ']', '<' and '\r', badChar for the other control characters,
// and multiByte for the bytes of UTF-8 sequences.
var charClass = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c >= utf8.RuneSelf:
			t[c] = multiByte
		case c == '&' || c == ']' || c == '<' || c == '\r':
			t[c] = specialChar
		case c >= 0x20 || c == '\n' || c == '\t':
			t[c] = plainChar
		default:
			t[c] = badChar
		}
	}
	return t
}()

// The classes of charClass.
const (
	plainChar = iota
	specialChar
	badChar
	multiByte
)

// checkChars validates raw character data as encoding/xml does (UTF-8, XML
// Char range) and reports whether it holds bytes that need a closer look:
// '&', '\r', ']' or '<'.
func checkChars(raw []byte) (special, ok bool) {
	for i := 0; i < len(raw); {
		for i < len(raw) && charClass[raw[i]] == plainChar {
			i++
		}
		if i == len(raw) {
			break
		}
		switch charClass[raw[i]] {
		case specialChar:
			special = true
			i++
		case badChar:
			return false, false
		default:
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 || !isInCharacterRange(r) {
				return false, false
			}
			i += size
		}
	}
	return special, true
}

// isInCharacterRange reports whether r is an XML Char (as encoding/xml
// decides it).
func isInCharacterRange(r rune) bool {
	return r == 0x09 ||
		r == 0x0A ||
		r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// normalizeNewlines rewrites "\r\n" and lone "\r" to "\n" in place.
func normalizeNewlines(b []byte) []byte {
	w := 0
	for r := 0; r < len(b); r++ {
		c := b[r]
		if c == '\r' {
			c = '\n'
			if r+1 < len(b) && b[r+1] == '\n' {
				r++
			}
		}
		b[w] = c
		w++
	}
	return b[:w]
}

// decode returns raw (already checked by checkChars) with entity and
// character references replaced and line ends normalized, in s.buf.
func (s *scanner) decode(raw []byte) ([]byte, bool) {
	buf := s.buf[:0]
	for i := 0; i < len(raw); {
		j := i
		for j < len(raw) && raw[j] != '&' && raw[j] != '\r' {
			j++
		}
		buf = append(buf, raw[i:j]...)
		if j == len(raw) {
			break
		}
		if raw[j] == '\r' {
			buf = append(buf, '\n')
			j++
			if j < len(raw) && raw[j] == '\n' {
				j++
			}
			i = j
			continue
		}
		r, n := reference(raw[j:])
		if n == 0 {
			return nil, false
		}
		buf = utf8.AppendRune(buf, r)
		i = j + n
	}
	s.buf = buf
	return buf, true
}

// reference decodes the entity or character reference at the start of b
// (b[0] == '&') and returns the character and the reference's length, or
// n == 0 where encoding/xml would reject it.
func reference(b []byte) (r rune, n int) {
	if len(b) >= 2 && b[1] == '#' {
		j, base := 2, rune(10)
		if j < len(b) && b[j] == 'x' {
			j, base = 3, 16
		}
		digits := j
		for ; j < len(b); j++ {
			c := b[j]
			var d rune
			switch {
			case '0' <= c && c <= '9':
				d = rune(c - '0')
			case base == 16 && 'a' <= c && c <= 'f':
				d = rune(c-'a') + 10
			case base == 16 && 'A' <= c && c <= 'F':
				d = rune(c-'A') + 10
			default:
				d = -1
			}
			if d < 0 {
				break
			}
			if r = r*base + d; r > utf8.MaxRune {
				return 0, 0
			}
		}
		if j == digits || j >= len(b) || b[j] != ';' {
			return 0, 0
		}
		if 0xD800 <= r && r <= 0xDFFF {
			r = utf8.RuneError // as string(rune(n)) does
		}
		if !isInCharacterRange(r) {
			return 0, 0
		}
		return r, j + 1
	}
	switch {
	case bytes.HasPrefix(b[1:], []byte("lt;")):
		return '<', 4
	case bytes.HasPrefix(b[1:], []byte("gt;")):
		return '>', 4
	case bytes.HasPrefix(b[1:], []byte("amp;")):
		return '&', 5
	case bytes.HasPrefix(b[1:], []byte("apos;")):
		return '\'', 6
	case bytes.HasPrefix(b[1:], []byte("quot;")):
		return '"', 6
	}
	return 0, 0
}

// checkCharRefs refuses character references to surrogates (&#xD800; to
// &#xDFFF;): they are not XML characters, and encoding/xml would read them
// as U+FFFD, storing something the client did not send. CDATA sections,
// comments and processing instructions are skipped (their text is not
// markup). It runs in linear time over the document, and looks only at
// "&#" and "<!" / "<?": the bytes between them are searched, not visited.
func checkCharRefs(data []byte) error {
	// The positions of the next "&#", "<!" and "<?" at or after i
	// (len(data): none), each searched again only once i has passed it:
	// every byte is scanned a bounded number of times. (Searching from i at
	// every '&' or '<' made a text of many references, or many elements
	// before a reference, cost quadratic time.)
	next := func(pat string, from int) int {
		if k := bytes.Index(data[from:], []byte(pat)); k >= 0 {
			return from + k
		}
		return len(data)
	}
	amp, bang, pi := -1, -1, -1
	for i := 0; i < len(data); {
		if amp < i {
			amp = next("&#", i)
		}
		if amp == len(data) {
			return nil
		}
		if bang < i {
			bang = next("<!", i)
		}
		if pi < i {
			pi = next("<?", i)
		}
		if j := min(bang, pi); j < amp {
			// Skip what is not markup before looking at the next "&#".
			var end []byte
			switch {
			case bytes.HasPrefix(data[j:], []byte("<![CDATA[")):
				end = []byte("]]>")
			case bytes.HasPrefix(data[j:], []byte("<!--")):
				end = []byte("-->")
			case bytes.HasPrefix(data[j:], []byte("<?")):
				end = []byte("?>")
			}
			if end == nil {
				i = j + 1
				continue
			}
			e := bytes.Index(data[j:], end)
			if e < 0 {
				return nil // unterminated: the parser reports it
			}
			i = j + e + len(end)
			continue
		}
		j := amp
		if r, n := charRef(data[j:]); n > 0 && 0xD800 <= r && r <= 0xDFFF {
			return &SyntaxError{Line: 1 + bytes.Count(data[:j], []byte("\n")),
				Msg: fmt.Sprintf("character reference %s names a surrogate (U+%04X), not an XML character", data[j:j+n], r)}
		}
		i = j + 1
	}
	return nil
}

// charRef decodes a numeric character reference at the start of b (&#n; or
// &#xh;), n = 0 when there is none.
func charRef(b []byte) (r rune, n int) {
	if len(b) < 4 || b[1] != '#' {
		return 0, 0
	}
	j, base := 2, rune(10)
	if b[j] == 'x' {
		j, base = 3, 16
	}
	start := j
	for ; j < len(b) && j-start < 8; j++ {
		c := b[j]
		switch {
		case '0' <= c && c <= '9':
			r = r*base + rune(c-'0')
		case base == 16 && 'a' <= c && c <= 'f':
			r = r*base + rune(c-'a') + 10
		case base == 16 && 'A' <= c && c <= 'F':
			r = r*base + rune(c-'A') + 10
		case c == ';' && j > start:
			return r, j + 1
		default:
			return 0, 0
		}
	}
	return 0, 0
}
