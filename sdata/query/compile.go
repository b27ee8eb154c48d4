package query

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Resolver maps a property path to the SQL expression that yields its stored
// value and the property's type. It returns an error (e.g. unknown property)
// which the Compile functions wrap as an *Error with Code BadWhereSyntax
// (CompileWhere) or BadQueryParameter (CompileOrderBy). The returned SQL is
// trusted and inserted verbatim; user text never reaches it otherwise.
type Resolver func(path string) (sqlExpr string, t Type, err error)

// dateTimeSQL normalises an RFC 3339 value so that values compare correctly
// as strings whatever fraction they carry (milliseconds precision).
const dateTimeSQL = "strftime('%Y-%m-%dT%H:%M:%f', "

// numberRE is the syntax of a number, as a literal or inside a quoted string.
var numberRE = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

var sqlCmp = map[string]string{"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
var sqlArith = map[string]string{"+": "+", "-": "-", "mul": "*", "div": "/", "mod": "%"}

// parseTime parses a date or date-time literal: YYYY-MM-DD, or
// YYYY-MM-DDThh:mm:ss with optional fraction and optional zone (Z or ±hh:mm;
// none means UTC). hasTime reports whether a time part was present.
func parseTime(s string) (t time.Time, hasTime, ok bool) {
	if len(s) == len("2006-01-02") {
		t, err := time.Parse("2006-01-02", s)
		return t, false, err == nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true, true
		}
	}
	return time.Time{}, false, false
}

// formatDateTime renders t the way date-times are stored: UTC RFC 3339, with
// a fraction only when it is non-zero.
func formatDateTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.999999999Z07:00")
}

// operand is a compiled sub-expression. A bare literal is kept unconverted
// (lit != nil) until the comparison it takes part in fixes its type.
type operand struct {
	sql  string
	args []any
	typ  Type
	name string   // for messages: the property path or expression text
	lit  *Literal // non-nil for an unconverted literal
	pred bool     // a condition (comparison, logical operator ...)
}

type compiler struct {
	resolve Resolver
}

func compileErr(format string, args ...any) *Error {
	return whereErr(-1, format, args...)
}

// CompileWhere turns e into an SQLite boolean expression with `?`
// placeholders and its arguments.
//
// Literals are converted to the type of the property they are compared with:
// Integer -> int64 (float64 for a literal with a fraction), Decimal ->
// float64, Boolean -> int64 1/0, Date -> "YYYY-MM-DD", DateTime -> UTC RFC
// 3339 with a fraction only if non-zero, String -> string. Quoted ISO
// strings are accepted as dates, quoted numbers as numbers, quoted
// 'true'/'false' as booleans, and a number compared with a String property
// as its text. Comparing two literals uses their own types. A literal that
// cannot be converted is an *Error BadWhereSyntax naming the property.
// Comparing a Date with a DateTime (property or literal) compares on the date
// part (as written, for a literal); DateTime values are compared through
// strftime so that differing fractions order correctly. "like" applies only
// to strings (SQLite LIKE: case-insensitive for ASCII). "eq null" and "ne
// null" become IS NULL / IS NOT NULL; other comparisons follow SQL NULL
// semantics (a NULL property never matches). A Boolean property used as a
// condition means "is true". The output is fully parenthesised; SQL text
// comes only from the Resolver and this package, every value is an argument.
func CompileWhere(e Expr, resolve Resolver) (sql string, args []any, err error) {
	if e == nil {
		return "", nil, compileErr("empty where expression")
	}
	if resolve == nil {
		return "", nil, errors.New("query: CompileWhere called with a nil Resolver")
	}
	c := &compiler{resolve: resolve}
	op, err := c.compile(e)
	if err != nil {
		return "", nil, err
	}
	op, err = c.cond(op)
	if err != nil {
		return "", nil, err
	}
	if len(op.args) > MaxValues {
		return "", nil, compileErr("a where expression holds at most %d values; this one holds %d", MaxValues, len(op.args))
	}
	return op.sql, op.args, nil
}

// CompileOrderBy returns the ORDER BY list for terms, e.g.
// "expr1 ASC, expr2 DESC". An unknown property is an *Error with Code
// BadQueryParameter. DateTime properties are normalised as in CompileWhere.
func CompileOrderBy(terms []OrderTerm, resolve Resolver) (string, error) {
	if resolve == nil {
		return "", errors.New("query: CompileOrderBy called with a nil Resolver")
	}
	parts := make([]string, 0, len(terms))
	for _, t := range terms {
		expr, typ, err := resolve(t.Path)
		if err != nil {
			return "", &Error{Code: CodeBadQueryParameter, Param: "orderBy", Pos: -1,
				Msg: fmt.Sprintf("property %q: %v", t.Path, err), err: err}
		}
		if typ == DateTime {
			expr = dateTimeSQL + expr + ")"
		}
		if t.Desc {
			parts = append(parts, expr+" DESC")
		} else {
			parts = append(parts, expr+" ASC")
		}
	}
	return strings.Join(parts, ", "), nil
}

func (c *compiler) compile(e Expr) (operand, error) {
	switch n := e.(type) {
	case *Ident:
		expr, typ, err := c.resolve(n.Path)
		if err != nil {
			return operand{}, &Error{Code: CodeBadWhereSyntax, Param: "where", Pos: -1,
				Msg: fmt.Sprintf("property %q: %v", n.Path, err), err: err}
		}
		return operand{sql: expr, typ: typ, name: n.Path}, nil
	case *Literal:
		if _, err := naturalType(n); err != nil {
			return operand{}, err
		}
		return operand{lit: n, name: n.String()}, nil
	case *Not:
		x, err := c.compile(n.X)
		if err != nil {
			return operand{}, err
		}
		isCond := x.pred || (x.lit != nil && x.lit.Kind == LitBool) || (x.lit == nil && x.typ == Boolean)
		if !isCond {
			// not binds tighter than comparisons (spec priority 2): "not a eq 1" is "(not a) eq 1"
			return operand{}, compileErr("'not' needs a condition, %s is not one (write not (...) to negate a comparison)", x.name)
		}
		if x, err = c.cond(x); err != nil {
			return operand{}, err
		}
		return predicate("(NOT "+x.sql+")", x.args), nil
	case *Binary:
		return c.binary(n)
	case *IsNull:
		x, err := c.compile(n.X)
		if err != nil {
			return operand{}, err
		}
		if x, err = valueOf(x); err != nil {
			return operand{}, err
		}
		if n.Negated {
			return predicate("("+x.sql+" IS NOT NULL)", x.args), nil
		}
		return predicate("("+x.sql+" IS NULL)", x.args), nil
	case *Between:
		ops, err := c.compileAll(n.X, n.Lo, n.Hi)
		if err != nil {
			return operand{}, err
		}
		if err := unify(ops, "between"); err != nil {
			return operand{}, err
		}
		return predicate("("+ops[0].sql+" BETWEEN "+ops[1].sql+" AND "+ops[2].sql+")",
			concatArgs(ops...)), nil
	case *In:
		if len(n.List) == 0 {
			return operand{}, compileErr("empty list after 'in'")
		}
		ops, err := c.compileAll(append([]Expr{n.X}, n.List...)...)
		if err != nil {
			return operand{}, err
		}
		if err := unify(ops, "in"); err != nil {
			return operand{}, err
		}
		items := make([]string, len(ops)-1)
		for i, o := range ops[1:] {
			items[i] = o.sql
		}
		kw := " IN ("
		if n.Negated {
			kw = " NOT IN ("
		}
		return predicate("("+ops[0].sql+kw+strings.Join(items, ", ")+"))", concatArgs(ops...)), nil
	case nil:
		return operand{}, compileErr("missing operand")
	}
	return operand{}, compileErr("unsupported expression node %T", e)
}

func (c *compiler) compileAll(es ...Expr) ([]operand, error) {
	ops := make([]operand, len(es))
	for i, e := range es {
		o, err := c.compile(e)
		if err != nil {
			return nil, err
		}
		ops[i] = o
	}
	return ops, nil
}

func predicate(sql string, args []any) operand {
	return operand{sql: sql, args: args, typ: Boolean, pred: true, name: "condition"}
}

func concatArgs(ops ...operand) []any {
	var args []any
	for _, o := range ops {
		args = append(args, o.args...)
	}
	return args
}

func (c *compiler) binary(n *Binary) (operand, error) {
	l, err := c.compile(n.L)
	if err != nil {
		return operand{}, err
	}
	r, err := c.compile(n.R)
	if err != nil {
		return operand{}, err
	}
	switch n.Op {
	case "and", "or":
		if l, err = c.cond(l); err != nil {
			return operand{}, err
		}
		if r, err = c.cond(r); err != nil {
			return operand{}, err
		}
		return predicate("("+l.sql+" "+strings.ToUpper(n.Op)+" "+r.sql+")", concatArgs(l, r)), nil
	case "eq", "ne", "lt", "le", "gt", "ge":
		if isNull(l) || isNull(r) {
			return nullCompare(n.Op, l, r)
		}
		ops := []operand{l, r}
		if err := unify(ops, n.Op); err != nil {
			return operand{}, err
		}
		return predicate("("+ops[0].sql+" "+sqlCmp[n.Op]+" "+ops[1].sql+")", concatArgs(ops...)), nil
	case "like":
		for _, o := range []*operand{&l, &r} {
			if o.lit != nil {
				if o.lit.Kind != LitString {
					return operand{}, compileErr("'like' needs a string operand, found %s", o.name)
				}
				*o = operand{sql: "?", args: []any{o.lit.Text}, typ: String, name: o.name}
			} else if o.typ != String || o.pred {
				return operand{}, compileErr("'like' applies only to strings, %s is %s", o.name, o.typ)
			}
		}
		return predicate("("+l.sql+" LIKE "+r.sql+")", concatArgs(l, r)), nil
	case "+", "-", "mul", "div", "mod":
		return arith(n, l, r)
	}
	return operand{}, compileErr("unknown operator %q", n.Op)
}

func isNull(o operand) bool { return o.lit != nil && o.lit.Kind == LitNull }

// nullCompare compiles eq/ne against the null literal.
func nullCompare(op string, l, r operand) (operand, error) {
	if op != "eq" && op != "ne" {
		return operand{}, compileErr("cannot compare with null using '%s' (use eq, ne or is null)", op)
	}
	x := l
	if isNull(l) {
		x = r
	}
	x, err := valueOf(x)
	if err != nil {
		return operand{}, err
	}
	if op == "ne" {
		return predicate("("+x.sql+" IS NOT NULL)", x.args), nil
	}
	return predicate("("+x.sql+" IS NULL)", x.args), nil
}

// arith compiles an arithmetic operation; both operands must be numeric.
func arith(n *Binary, l, r operand) (operand, error) {
	res := Integer
	for _, o := range []*operand{&l, &r} {
		if o.lit != nil {
			t, err := naturalType(o.lit)
			if err != nil {
				return operand{}, err
			}
			if t != Integer && t != Decimal {
				return operand{}, compileErr("operator '%s' needs numbers, found %s", n.Op, o.name)
			}
			v, err := convert(o.lit, t, o.name)
			if err != nil {
				return operand{}, err
			}
			*o = operand{sql: "?", args: []any{v}, typ: t, name: o.name}
		} else if o.pred || (o.typ != Integer && o.typ != Decimal) {
			return operand{}, compileErr("operator '%s' needs numbers, %s is %s", n.Op, o.name, o.typ)
		}
		if o.typ == Decimal {
			res = Decimal
		}
	}
	lsql := l.sql
	if n.Op == "div" {
		res = Decimal
		lsql = "CAST(" + lsql + " AS REAL)"
	}
	return operand{sql: "(" + lsql + " " + sqlArith[n.Op] + " " + r.sql + ")", args: concatArgs(l, r),
		typ: res, name: n.String()}, nil
}

// cond turns o into a condition: predicates stay, Boolean values mean "is true".
func (c *compiler) cond(o operand) (operand, error) {
	if o.pred {
		return o, nil
	}
	if o.lit != nil {
		if o.lit.Kind != LitBool {
			return operand{}, compileErr("%s is not a condition", o.name)
		}
		v, _ := convert(o.lit, Boolean, o.name)
		return predicate("(? = 1)", []any{v}), nil
	}
	if o.typ != Boolean {
		return operand{}, compileErr("%s is %s, not a condition", o.name, o.typ)
	}
	return predicate("("+o.sql+" = 1)", o.args), nil
}

// valueOf converts a bare literal to its natural type.
func valueOf(o operand) (operand, error) {
	if o.lit == nil {
		return o, nil
	}
	if o.lit.Kind == LitNull {
		return operand{sql: "?", args: []any{nil}, name: "null"}, nil
	}
	t, err := naturalType(o.lit)
	if err != nil {
		return operand{}, err
	}
	v, err := convert(o.lit, t, o.name)
	if err != nil {
		return operand{}, err
	}
	return operand{sql: "?", args: []any{v}, typ: t, name: o.name}, nil
}

// naturalType is the type a literal has on its own.
func naturalType(l *Literal) (Type, error) {
	switch l.Kind {
	case LitString:
		return String, nil
	case LitNumber:
		if !numberRE.MatchString(l.Text) {
			return 0, compileErr("invalid number %q", l.Text)
		}
		if strings.Contains(l.Text, ".") {
			return Decimal, nil
		}
		return Integer, nil
	case LitBool:
		if l.Text != "true" && l.Text != "false" {
			return 0, compileErr("invalid boolean %q", l.Text)
		}
		return Boolean, nil
	case LitDate:
		_, hasTime, ok := parseTime(l.Text)
		if !ok {
			return 0, compileErr("bad date literal @%s@", l.Text)
		}
		if hasTime {
			return DateTime, nil
		}
		return Date, nil
	case LitNull:
		return 0, nil
	}
	return 0, compileErr("unknown literal kind %d", l.Kind)
}

// family groups the types that can be compared with each other.
func family(t Type) int {
	switch t {
	case Integer, Decimal:
		return 1
	case Date, DateTime:
		return 2
	}
	return int(t) + 10
}

// unify fixes the comparison type of ops (from the typed operands, else from
// the literals), then converts literals to it and adapts typed operands
// (date part of a DateTime when Dates are involved, normalised DateTimes).
func unify(ops []operand, opName string) error {
	var typed []operand
	for i := range ops {
		if isNull(ops[i]) {
			return compileErr("null is not allowed with '%s'", opName)
		}
		if ops[i].lit == nil {
			typed = append(typed, ops[i])
		}
	}
	ref := typed
	if len(ref) == 0 {
		ref = ops
	}
	mode, name := Type(-1), ""
	for _, o := range ref {
		t := o.typ
		if o.lit != nil {
			var err error
			if t, err = naturalType(o.lit); err != nil {
				return err
			}
		}
		switch {
		case mode < 0:
			mode, name = t, o.name
		case family(t) != family(mode):
			return compileErr("cannot compare %s (%s) with %s (%s)", name, mode, o.name, t)
		case t != mode && family(t) == 1:
			mode = Decimal
		case t != mode:
			mode = Date // Date with DateTime: compare on the date part
		}
	}
	if mode == DateTime {
		// a date-only literal (written @...@ or quoted) turns the comparison to dates
		for _, o := range ops {
			if o.lit != nil && (o.lit.Kind == LitDate || o.lit.Kind == LitString) {
				if _, hasTime, ok := parseTime(o.lit.Text); ok && !hasTime {
					mode = Date
				}
			}
		}
	}
	for i := range ops {
		o := &ops[i]
		if o.lit != nil {
			v, err := convert(o.lit, mode, name)
			if err != nil {
				return err
			}
			o.sql, o.args, o.typ = "?", []any{v}, mode
		} else if mode == Date && o.typ == DateTime {
			o.sql = "substr(" + o.sql + ", 1, 10)"
		}
		if mode == DateTime {
			o.sql = dateTimeSQL + o.sql + ")"
		}
	}
	return nil
}

// convert converts a literal to a value of type t for comparison with prop.
func convert(l *Literal, t Type, prop string) (any, error) {
	bad := func() error {
		return compileErr("cannot use %s as %s value for %s", l.String(), t, prop)
	}
	num := l.Kind == LitNumber || (l.Kind == LitString && numberRE.MatchString(strings.TrimSpace(l.Text)))
	text := strings.TrimSpace(l.Text)
	switch t {
	case String:
		if l.Kind == LitString || l.Kind == LitNumber {
			return l.Text, nil
		}
	case Integer, Decimal:
		if !num || !numberRE.MatchString(text) {
			return nil, bad()
		}
		if t == Integer {
			if v, err := strconv.ParseInt(text, 10, 64); err == nil {
				return v, nil
			}
		}
		if v, err := strconv.ParseFloat(text, 64); err == nil {
			return v, nil
		}
	case Boolean:
		if l.Kind == LitBool || l.Kind == LitString {
			switch strings.ToLower(text) {
			case "true":
				return int64(1), nil
			case "false":
				return int64(0), nil
			}
		}
	case Date, DateTime:
		if l.Kind != LitDate && l.Kind != LitString {
			return nil, bad()
		}
		tm, hasTime, ok := parseTime(text)
		if !ok {
			return nil, bad()
		}
		if t == Date {
			return text[:10], nil // the date as written
		}
		if hasTime {
			return formatDateTime(tm), nil
		}
	}
	return nil, bad()
}
