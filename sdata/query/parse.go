package query

import (
	"fmt"
	"strings"
)

// Limits of a query: hostile input can neither exhaust the stack nor ask
// SQLite for more variables than it binds (32,766).
const (
	maxDepth = 200 // nesting of parentheses and unary operators
	// MaxList is the most items of an in (...) list.
	MaxList = 1000
	// MaxValues is the most literal values of one where expression.
	MaxValues = 2000
	// MaxTerms is the most terms of an orderBy or select.
	MaxTerms = 100
)

// cmpOps maps comparison operator spellings to their canonical names.
var cmpOps = map[string]string{
	"eq": "eq", "ne": "ne", "lt": "lt", "le": "le", "gt": "gt", "ge": "ge",
	"=": "eq", "<>": "ne", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge",
}

type parser struct {
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// is reports whether the current token is the keyword or symbol text.
func (p *parser) is(text string) bool {
	t := p.peek()
	return (t.kind == tKeyword || t.kind == tSymbol) && t.text == text
}

func (p *parser) accept(text string) bool {
	if p.is(text) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expect(text string) error {
	if p.accept(text) {
		return nil
	}
	t := p.peek()
	return whereErr(t.pos, "expected '%s' at %d, found %s", text, t.pos, t.describe())
}

// ParseWhere parses an SData where expression. Keywords are case-insensitive;
// the symbolic comparison operators = <> != < <= > >= are accepted as
// synonyms of eq ne ne lt le gt ge. Besides the spec's operators it accepts
// "x is [not] null" and "x not in/like/between ...". Precedence follows the
// spec: not and unary minus, then mul div mod, then + -, then comparisons,
// then and, then or. Errors are *Error with Code BadWhereSyntax.
func ParseWhere(s string) (Expr, error) {
	toks, err := lex(s, whereErr)
	if err != nil {
		return nil, err
	}
	if toks[0].kind == tEOF {
		return nil, whereErr(0, "empty where expression")
	}
	p := &parser{toks: toks}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, whereErr(t.pos, "unexpected %s at %d", t.describe(), t.pos)
	}
	return e, nil
}

func (p *parser) parseOr() (Expr, error) {
	l, err := p.parseAnd()
	for err == nil && p.accept("or") {
		var r Expr
		if r, err = p.parseAnd(); err == nil {
			l = &Binary{Op: "or", L: l, R: r}
		}
	}
	return l, err
}

func (p *parser) parseAnd() (Expr, error) {
	l, err := p.parseCmp()
	for err == nil && p.accept("and") {
		var r Expr
		if r, err = p.parseCmp(); err == nil {
			l = &Binary{Op: "and", L: l, R: r}
		}
	}
	return l, err
}

func (p *parser) parseCmp() (Expr, error) {
	l, err := p.parseAdd()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tKeyword && t.kind != tSymbol {
			return l, nil
		}
		if op, ok := cmpOps[t.text]; ok {
			p.next()
			r, err := p.parseAdd()
			if err != nil {
				return nil, err
			}
			l = &Binary{Op: op, L: l, R: r}
			continue
		}
		negated := false
		if t.text == "not" && t.kind == tKeyword {
			nt := p.toks[p.i+1]
			if nt.kind != tKeyword || (nt.text != "in" && nt.text != "like" && nt.text != "between") {
				return nil, whereErr(nt.pos, "expected 'in', 'like' or 'between' after 'not' at %d, found %s", nt.pos, nt.describe())
			}
			p.next()
			negated = true
			t = p.peek()
		}
		switch t.text {
		case "like":
			p.next()
			r, err := p.parseAdd()
			if err != nil {
				return nil, err
			}
			l = &Binary{Op: "like", L: l, R: r}
			if negated {
				l = &Not{X: l}
			}
		case "between":
			p.next()
			lo, err := p.parseAdd()
			if err != nil {
				return nil, err
			}
			if err := p.expect("and"); err != nil {
				return nil, err
			}
			hi, err := p.parseAdd()
			if err != nil {
				return nil, err
			}
			l = &Between{X: l, Lo: lo, Hi: hi}
			if negated {
				l = &Not{X: l}
			}
		case "in":
			p.next()
			list, err := p.parseList()
			if err != nil {
				return nil, err
			}
			l = &In{X: l, List: list, Negated: negated}
		case "is":
			p.next()
			neg := p.accept("not")
			if err := p.expect("null"); err != nil {
				return nil, err
			}
			l = &IsNull{X: l, Negated: neg}
		default:
			return l, nil
		}
	}
}

func (p *parser) parseList() ([]Expr, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	var list []Expr
	for {
		e, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		list = append(list, e)
		if p.accept(")") {
			return list, nil
		}
		if len(list) == MaxList {
			t := p.peek()
			return nil, whereErr(t.pos, "an in list holds at most %d items", MaxList)
		}
		if !p.is(",") {
			t := p.peek()
			return nil, whereErr(t.pos, "expected ',' or ')' at %d, found %s", t.pos, t.describe())
		}
		p.next()
	}
}

func (p *parser) parseAdd() (Expr, error) {
	l, err := p.parseMul()
	for err == nil && (p.is("+") || p.is("-")) {
		op := p.next().text
		var r Expr
		if r, err = p.parseMul(); err == nil {
			l = &Binary{Op: op, L: l, R: r}
		}
	}
	return l, err
}

func (p *parser) parseMul() (Expr, error) {
	l, err := p.parseUnary()
	for err == nil && (p.is("mul") || p.is("div") || p.is("mod")) {
		op := p.next().text
		var r Expr
		if r, err = p.parseUnary(); err == nil {
			l = &Binary{Op: op, L: l, R: r}
		}
	}
	return l, err
}

func (p *parser) parseUnary() (Expr, error) {
	t := p.peek()
	if !p.is("not") && !p.is("-") {
		return p.parsePrimary()
	}
	if p.depth >= maxDepth {
		return nil, whereErr(t.pos, "expression nested too deeply at %d", t.pos)
	}
	p.depth++
	defer func() { p.depth-- }()
	p.next()
	if t.text == "not" {
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &Not{X: x}, nil
	}
	if n := p.peek(); n.kind == tNumber {
		p.next()
		return &Literal{Kind: LitNumber, Text: "-" + n.text}, nil
	}
	x, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	return &Binary{Op: "-", L: &Literal{Kind: LitNumber, Text: "0"}, R: x}, nil
}

func (p *parser) parsePrimary() (Expr, error) {
	t := p.next()
	switch t.kind {
	case tIdent:
		return &Ident{Path: t.text}, nil
	case tString:
		return &Literal{Kind: LitString, Text: t.text}, nil
	case tNumber:
		return &Literal{Kind: LitNumber, Text: t.text}, nil
	case tDate:
		return &Literal{Kind: LitDate, Text: t.text}, nil
	case tKeyword:
		switch t.text {
		case "true", "false":
			return &Literal{Kind: LitBool, Text: t.text}, nil
		case "null":
			return &Literal{Kind: LitNull, Text: "null"}, nil
		}
	case tSymbol:
		if t.text == "(" {
			if p.depth >= maxDepth {
				return nil, whereErr(t.pos, "expression nested too deeply at %d", t.pos)
			}
			p.depth++
			defer func() { p.depth-- }()
			e, err := p.parseOr()
			if err != nil {
				return nil, err
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			return e, nil
		}
	}
	return nil, whereErr(t.pos, "expected operand at %d, found %s", t.pos, t.describe())
}

// OrderTerm is one key of an orderBy parameter.
type OrderTerm struct {
	Path string
	Desc bool
}

func paramErr(param string) func(pos int, format string, args ...any) *Error {
	return func(pos int, format string, args ...any) *Error {
		return &Error{Code: CodeBadQueryParameter, Param: param, Pos: pos, Msg: fmt.Sprintf(format, args...)}
	}
}

// splitTerms splits s at commas into trimmed terms with their offsets;
// it reports empty terms (and empty input) as errors.
func splitTerms(s, param string) ([]string, []int, error) {
	mk := paramErr(param)
	if strings.TrimSpace(s) == "" {
		return nil, nil, mk(0, "empty %s parameter", param)
	}
	var terms []string
	var offs []int
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != ',' {
			continue
		}
		part := s[start:i]
		trimmed := strings.TrimLeft(part, " \t\r\n")
		off := start + len(part) - len(trimmed)
		trimmed = strings.TrimRight(trimmed, " \t\r\n")
		if trimmed == "" {
			return nil, nil, mk(off, "empty term at %d", off)
		}
		if len(terms) == MaxTerms {
			return nil, nil, mk(off, "%s holds at most %d terms", param, MaxTerms)
		}
		terms = append(terms, trimmed)
		offs = append(offs, off)
		start = i + 1
	}
	return terms, offs, nil
}

// ParseOrderBy parses an orderBy parameter: comma-separated property paths,
// each optionally followed by asc or desc (case-insensitive). Errors are
// *Error with Code BadQueryParameter.
func ParseOrderBy(s string) ([]OrderTerm, error) {
	mk := paramErr("orderBy")
	terms, offs, err := splitTerms(s, "orderBy")
	if err != nil {
		return nil, err
	}
	out := make([]OrderTerm, 0, len(terms))
	for k, term := range terms {
		end, err := scanPath(term, 0, func(pos int, format string, args ...any) *Error {
			return mk(offs[k]+pos, "expected property name at %d, found %q", offs[k]+pos, term[pos:])
		})
		if err != nil {
			return nil, err
		}
		ot := OrderTerm{Path: term[:end]}
		rest := strings.TrimLeft(term[end:], " \t\r\n")
		restPos := offs[k] + len(term) - len(rest)
		switch strings.ToLower(rest) {
		case "", "asc":
		case "desc":
			ot.Desc = true
		default:
			return nil, mk(restPos, "expected 'asc' or 'desc' at %d, found %q", restPos, rest)
		}
		out = append(out, ot)
	}
	return out, nil
}

// ParseSelect parses a select parameter: comma-separated property paths,
// where "*" (all properties) and "path.*" are allowed. Errors are *Error
// with Code BadQueryParameter.
func ParseSelect(s string) ([]string, error) {
	mk := paramErr("select")
	terms, offs, err := splitTerms(s, "select")
	if err != nil {
		return nil, err
	}
	for k, term := range terms {
		if term == "*" {
			continue
		}
		path := strings.TrimSuffix(term, ".*")
		end, err := scanPath(path, 0, func(pos int, format string, args ...any) *Error {
			return mk(offs[k]+pos, "expected property name at %d, found %q", offs[k]+pos, term[pos:])
		})
		if err != nil {
			return nil, err
		}
		if end != len(path) {
			return nil, mk(offs[k]+end, "unexpected %q at %d", term[end:], offs[k]+end)
		}
	}
	return terms, nil
}
