// Package query implements the SData query language (core spec 2.12): the
// where, orderBy and select query parameters. Where expressions are parsed
// into a small AST (Expr) that renders back to canonical SData syntax, and
// compiled to SQLite SQL with `?` placeholders over caller-supplied property
// expressions (see Resolver). The package is pure: it opens no connection.
package query

import "strings"

// Type is the value type of a property as the caller knows it from the contract.
type Type int

// Property value types.
const (
	String Type = iota
	Integer
	Decimal
	Boolean
	Date
	DateTime
)

// String returns the type name, e.g. "Integer".
func (t Type) String() string {
	switch t {
	case String:
		return "String"
	case Integer:
		return "Integer"
	case Decimal:
		return "Decimal"
	case Boolean:
		return "Boolean"
	case Date:
		return "Date"
	case DateTime:
		return "DateTime"
	}
	return "Type(?)"
}

// LitKind is the kind of a Literal.
type LitKind int

// Literal kinds.
const (
	LitString LitKind = iota // Text is the unescaped string value
	LitNumber                // Text is the number as written, e.g. "-12.50"
	LitBool                  // Text is "true" or "false"
	LitNull                  // Text is "null"
	LitDate                  // Text is the raw text between @...@, e.g. "2008-10-30"
)

// Expr is a node of a parsed where expression. The concrete node types are
// Binary, Not, Ident, Literal, In, Between and IsNull. String renders the
// node in canonical SData syntax, with only the parentheses precedence
// requires; the rendering parses back to an equal tree.
type Expr interface {
	String() string
	expr()
}

// Binary is a binary operation. Op is one of "and", "or", "eq", "ne", "lt",
// "le", "gt", "ge", "like", "+", "-", "mul", "div", "mod". Unary minus on a
// non-literal operand x is represented as 0 - x.
type Binary struct {
	Op   string
	L, R Expr
}

// Not is the logical negation "not X".
type Not struct{ X Expr }

// Ident is a property path such as "name" or "address.city".
type Ident struct{ Path string }

// Literal is a constant value.
type Literal struct {
	Kind LitKind
	Text string
}

// In is "X in (List...)", or "X not in (List...)" when Negated.
type In struct {
	X       Expr
	List    []Expr
	Negated bool
}

// Between is "X between Lo and Hi" (inclusive).
type Between struct{ X, Lo, Hi Expr }

// IsNull is "X is null", or "X is not null" when Negated.
type IsNull struct {
	X       Expr
	Negated bool
}

func (*Binary) expr()  {}
func (*Not) expr()     {}
func (*Ident) expr()   {}
func (*Literal) expr() {}
func (*In) expr()      {}
func (*Between) expr() {}
func (*IsNull) expr()  {}

// Binding strength of the operator classes (higher binds tighter), following
// the priority values of the spec (or 7 ... member access 1).
const (
	precOr = 1 + iota
	precAnd
	precCmp
	precAdd
	precMul
	precUnary
	precPrimary
)

func binaryPrec(op string) int {
	switch op {
	case "or":
		return precOr
	case "and":
		return precAnd
	case "+", "-":
		return precAdd
	case "mul", "div", "mod":
		return precMul
	}
	return precCmp
}

func prec(e Expr) int {
	switch n := e.(type) {
	case *Binary:
		return binaryPrec(n.Op)
	case *In, *Between, *IsNull:
		return precCmp
	case *Not:
		return precUnary
	}
	return precPrimary
}

// render writes e, parenthesised when it binds looser than min.
func render(b *strings.Builder, e Expr, min int) {
	if e == nil {
		b.WriteString("<nil>")
		return
	}
	if prec(e) < min {
		b.WriteByte('(')
		render(b, e, 0)
		b.WriteByte(')')
		return
	}
	switch n := e.(type) {
	case *Binary:
		p := binaryPrec(n.Op)
		render(b, n.L, p)
		b.WriteString(" " + n.Op + " ")
		render(b, n.R, p+1) // left-associative: an equal-precedence right operand needs parentheses
	case *Not:
		b.WriteString("not ")
		render(b, n.X, precUnary)
	case *Ident:
		b.WriteString(n.Path)
	case *Literal:
		b.WriteString(n.String())
	case *In:
		render(b, n.X, precCmp)
		if n.Negated {
			b.WriteString(" not")
		}
		b.WriteString(" in (")
		for i, x := range n.List {
			if i > 0 {
				b.WriteString(", ")
			}
			render(b, x, 0)
		}
		b.WriteByte(')')
	case *Between:
		render(b, n.X, precCmp)
		b.WriteString(" between ")
		render(b, n.Lo, precAdd)
		b.WriteString(" and ")
		render(b, n.Hi, precAdd)
	case *IsNull:
		render(b, n.X, precCmp)
		if n.Negated {
			b.WriteString(" is not null")
		} else {
			b.WriteString(" is null")
		}
	}
}

func str(e Expr) string {
	var b strings.Builder
	render(&b, e, 0)
	return b.String()
}

// String renders the operation in canonical SData syntax.
func (n *Binary) String() string { return str(n) }

// String renders the negation in canonical SData syntax.
func (n *Not) String() string { return str(n) }

// String returns the property path.
func (n *Ident) String() string { return n.Path }

// String renders the membership test in canonical SData syntax.
func (n *In) String() string { return str(n) }

// String renders the range test in canonical SData syntax.
func (n *Between) String() string { return str(n) }

// String renders the null test in canonical SData syntax.
func (n *IsNull) String() string { return str(n) }

// String renders the literal in canonical SData syntax: strings in single
// quotes with embedded quotes doubled, dates between @ signs.
func (n *Literal) String() string {
	switch n.Kind {
	case LitString:
		return "'" + strings.ReplaceAll(n.Text, "'", "''") + "'"
	case LitDate:
		return "@" + n.Text + "@"
	case LitNull:
		return "null"
	}
	return n.Text
}
