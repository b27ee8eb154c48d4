package query

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind int

const (
	tEOF     tokKind = iota
	tIdent           // property path; text is the path
	tKeyword         // reserved word; text is lower-cased
	tString          // quoted string; text is the unescaped value
	tNumber          // unsigned number; text as written
	tDate            // @...@; text is the content
	tSymbol          // punctuation or symbolic operator; text as written
)

type token struct {
	kind tokKind
	text string
	pos  int // byte offset of the token's first character
	end  int // byte offset just past the token
}

// keywords are the reserved words of the where language (matched case-insensitively).
var keywords = map[string]bool{
	"and": true, "or": true, "not": true,
	"eq": true, "ne": true, "lt": true, "le": true, "gt": true, "ge": true,
	"like": true, "in": true, "between": true, "is": true,
	"mul": true, "div": true, "mod": true,
	"true": true, "false": true, "null": true,
}

// symbols lists the symbolic tokens, longest first.
var symbols = []string{"<>", "!=", "<=", ">=", "(", ")", ",", "=", "<", ">", "+", "-", "*"}

// describe renders a token for error messages.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tString:
		return fmt.Sprintf("string %q", t.text)
	case tDate:
		return fmt.Sprintf("date @%s@", t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isIdentPart(r rune) bool  { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }
func isDigit(c byte) bool      { return c >= '0' && c <= '9' }

// lex splits s into tokens. Errors carry code and parameter from mk.
func lex(s string, mk func(pos int, format string, args ...any) *Error) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			i++
			continue
		}
		start := i
		switch {
		case c == '\'' || c == '"':
			var b strings.Builder
			i++
			closed := false
			for i < len(s) {
				if s[i] == c {
					if i+1 < len(s) && s[i+1] == c {
						b.WriteByte(c)
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteByte(s[i])
				i++
			}
			if !closed {
				return nil, mk(start, "unterminated string starting at %d", start)
			}
			toks = append(toks, token{tString, b.String(), start, i})
		case c == '@':
			j := strings.IndexByte(s[i+1:], '@')
			if j < 0 {
				return nil, mk(start, "unterminated date literal starting at %d", start)
			}
			text := s[i+1 : i+1+j]
			if _, _, ok := parseTime(text); !ok {
				return nil, mk(start, "bad date literal @%s@ at %d (want @YYYY-MM-DD@ or @YYYY-MM-DDThh:mm:ss[.fff][Z|±hh:mm]@)", text, start)
			}
			i += j + 2
			toks = append(toks, token{tDate, text, start, i})
		case isDigit(c):
			for i < len(s) && isDigit(s[i]) {
				i++
			}
			if i < len(s) && s[i] == '.' {
				i++
				if i >= len(s) || !isDigit(s[i]) {
					return nil, mk(start, "invalid number %q at %d", s[start:i], start)
				}
				for i < len(s) && isDigit(s[i]) {
					i++
				}
			}
			if i < len(s) {
				if r, _ := utf8.DecodeRuneInString(s[i:]); isIdentPart(r) || r == '.' {
					return nil, mk(start, "invalid number %q at %d", s[start:i+1], start)
				}
			}
			toks = append(toks, token{tNumber, s[start:i], start, i})
		default:
			r, _ := utf8.DecodeRuneInString(s[i:])
			if isIdentStart(r) {
				end, err := scanPath(s, i, mk)
				if err != nil {
					return nil, err
				}
				i = end
				word := s[start:end]
				if lw := strings.ToLower(word); keywords[lw] {
					toks = append(toks, token{tKeyword, lw, start, end})
				} else {
					toks = append(toks, token{tIdent, word, start, end})
				}
				continue
			}
			matched := false
			for _, sym := range symbols {
				if strings.HasPrefix(s[i:], sym) {
					i += len(sym)
					toks = append(toks, token{tSymbol, sym, start, i})
					matched = true
					break
				}
			}
			if !matched {
				return nil, mk(start, "unexpected character %q at %d", r, start)
			}
		}
	}
	toks = append(toks, token{tEOF, "", len(s), len(s)})
	return toks, nil
}

// scanPath scans a property path (identifier segments joined by dots)
// starting at i and returns the offset just past it.
func scanPath(s string, i int, mk func(pos int, format string, args ...any) *Error) (int, error) {
	for {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isIdentStart(r) {
			return 0, mk(i, "expected property name at %d", i)
		}
		i += n
		for i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			if !isIdentPart(r) {
				break
			}
			i += n
		}
		if i >= len(s) || s[i] != '.' {
			return i, nil
		}
		i++ // the dot; a segment must follow
	}
}
