package query

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseWhereCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		// the spec's examples (core 2.12)
		{"billingAddress.countryCode eq 'UK' and date ge @2008-01-01@", "billingAddress.countryCode eq 'UK' and date ge @2008-01-01@"},
		{"name like '%BANK%'", "name like '%BANK%'"},
		{"creditLimit - balance ge 1000.0", "creditLimit - balance ge 1000.0"},
		{"price mul 1.07", "price mul 1.07"},
		{"not disabled", "not disabled"},
		{"price between 100.0 and 500.0", "price between 100.0 and 500.0"},
		{"countryCode in ('GB', 'US')", "countryCode in ('GB', 'US')"},
		// the spec's parenthesis table
		{"2 mul 5 + 3 mul 2", "2 mul 5 + 3 mul 2"},
		{"2 mul (5 + 3) mul 2", "2 mul (5 + 3) mul 2"},
		{"1 eq 1 or 1 eq 2 and 1 eq 3", "1 eq 1 or 1 eq 2 and 1 eq 3"},
		{"(1 eq 1 or 1 eq 2) and 1 eq 3", "(1 eq 1 or 1 eq 2) and 1 eq 3"},
		// redundant parentheses disappear, needed ones stay
		{"((a eq 1))", "a eq 1"},
		{"(a eq 1) and (b eq 2)", "a eq 1 and b eq 2"},
		{"a eq 1 and (b eq 2 or c eq 3)", "a eq 1 and (b eq 2 or c eq 3)"},
		{"(a eq 1 and b eq 2) or c eq 3", "a eq 1 and b eq 2 or c eq 3"},
		{"a - (b - c)", "a - (b - c)"},
		{"(a - b) - c", "a - b - c"},
		{"a div (b mul c)", "a div (b mul c)"},
		// symbolic operators and case-insensitive keywords
		{"a = 1", "a eq 1"},
		{"a <> 1 AND b != 2", "a ne 1 and b ne 2"},
		{"a<1 Or a<=2 oR a>3 or a>=4", "a lt 1 or a le 2 or a gt 3 or a ge 4"},
		{"A EQ 1 AND B Ne 2", "A eq 1 and B ne 2"},
		{"x MOD 2 EQ 0", "x mod 2 eq 0"},
		{"a + b Div 2 gt c", "a + b div 2 gt c"},
		// not binds tighter than comparisons (spec priority 2)
		{"not a eq true", "not a eq true"},
		{"not (a eq 1)", "not (a eq 1)"},
		{"NOT not a", "not not a"},
		{"not (a eq 1 or b eq 2) and c", "not (a eq 1 or b eq 2) and c"},
		// postfix forms
		{"a not in (1, 2)", "a not in (1, 2)"},
		{"a NOT LIKE 'x%'", "not (a like 'x%')"},
		{"a not between 1 and 2", "not (a between 1 and 2)"},
		{"a is null", "a is null"},
		{"a IS NOT NULL", "a is not null"},
		{"a eq null", "a eq null"},
		{"a in (1)", "a in (1)"},
		{"a in ((1 + 2), b mul 2)", "a in (1 + 2, b mul 2)"},
		{"a between b + 1 and c - 1", "a between b + 1 and c - 1"},
		{"a between 1 and 2 and b", "a between 1 and 2 and b"},
		// literals
		{`name eq "O""Brien"`, `name eq 'O"Brien'`},
		{"name eq 'O''Brien'", "name eq 'O''Brien'"},
		{"name eq ''", "name eq ''"},
		{"name eq 'a and b'", "name eq 'a and b'"},
		{"n eq -12", "n eq -12"},
		{"n eq - 12.50", "n eq -12.50"},
		{"n - -1 gt 0", "n - -1 gt 0"},
		{"-n lt 0", "0 - n lt 0"},
		{"-n mul 2 lt 0", "(0 - n) mul 2 lt 0"},
		{"b eq TRUE or b eq False", "b eq true or b eq false"},
		{"d eq @2008-10-30@", "d eq @2008-10-30@"},
		{"d eq @2008-10-30T14:00:00Z@", "d eq @2008-10-30T14:00:00Z@"},
		{"d eq @2008-10-30T14:00:00.123+02:00@", "d eq @2008-10-30T14:00:00.123+02:00@"},
		{"d eq '2008-10-30'", "d eq '2008-10-30'"},
		{"address.city eq 'Paris'", "address.city eq 'Paris'"},
		{"a.and eq 1", "a.and eq 1"},
		{"_x1 eq 1", "_x1 eq 1"},
		{"ville_é eq 'Zürich'", "ville_é eq 'Zürich'"},
		{"active", "active"},
		{"\ta\n=\r1 ", "a eq 1"},
	}
	for _, tt := range tests {
		e, err := ParseWhere(tt.in)
		if err != nil {
			t.Errorf("ParseWhere(%q): %v", tt.in, err)
			continue
		}
		if got := e.String(); got != tt.want {
			t.Errorf("ParseWhere(%q).String() = %q, want %q", tt.in, got, tt.want)
			continue
		}
		e2, err := ParseWhere(tt.want)
		if err != nil || !reflect.DeepEqual(e, e2) {
			t.Errorf("canonical %q does not re-parse to the same tree: %v", tt.want, err)
		}
	}
}

func TestParseWhereTree(t *testing.T) {
	tests := []struct {
		in   string
		want Expr
	}{
		{"a eq 1 or b eq 'x' and not c", &Binary{Op: "or",
			L: &Binary{Op: "eq", L: &Ident{"a"}, R: &Literal{LitNumber, "1"}},
			R: &Binary{Op: "and",
				L: &Binary{Op: "eq", L: &Ident{"b"}, R: &Literal{LitString, "x"}},
				R: &Not{X: &Ident{"c"}}}}},
		{"x not in (null, true, @2001-02-03@)", &In{X: &Ident{"x"}, Negated: true, List: []Expr{
			&Literal{LitNull, "null"}, &Literal{LitBool, "true"}, &Literal{LitDate, "2001-02-03"}}}},
		{"x between 1 and 2", &Between{X: &Ident{"x"}, Lo: &Literal{LitNumber, "1"}, Hi: &Literal{LitNumber, "2"}}},
		{"x is not null", &IsNull{X: &Ident{"x"}, Negated: true}},
		{"a mod 2 + 1", &Binary{Op: "+", L: &Binary{Op: "mod", L: &Ident{"a"}, R: &Literal{LitNumber, "2"}}, R: &Literal{LitNumber, "1"}}},
		{"not a eq b", &Binary{Op: "eq", L: &Not{X: &Ident{"a"}}, R: &Ident{"b"}}},
	}
	for _, tt := range tests {
		got, err := ParseWhere(tt.in)
		if err != nil {
			t.Errorf("ParseWhere(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseWhere(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestParseWhereErrors(t *testing.T) {
	tests := []struct {
		in  string
		pos int
		msg string
	}{
		{"", 0, "empty where expression"},
		{"   ", 0, "empty where expression"},
		{"(a eq 1", 7, "expected ')' at 7, found end of input"},
		{"(a eq 1 b", 8, `expected ')' at 8, found "b"`},
		{"a eq 1)", 6, `unexpected ")" at 6`},
		{"a eq", 4, "expected operand at 4, found end of input"},
		{"a eq 1 and", 10, "expected operand at 10, found end of input"},
		{"and a", 0, `expected operand at 0, found "and"`},
		{"a eq eq 1", 5, `expected operand at 5, found "eq"`},
		{"name eq 'abc", 8, "unterminated string starting at 8"},
		{`name eq "abc'`, 8, "unterminated string starting at 8"},
		{"d eq @2008-13-01@", 5, "bad date literal @2008-13-01@ at 5 (want @YYYY-MM-DD@ or @YYYY-MM-DDThh:mm:ss[.fff][Z|±hh:mm]@)"},
		{"d eq @2008-10-30", 5, "unterminated date literal starting at 5"},
		{"d eq @yesterday@", 5, ""},
		{"a eq 1 b", 7, `unexpected "b" at 7`},
		{"a eq 1 'x'", 7, `unexpected string "x" at 7`},
		{"a eq 1.", 5, `invalid number "1." at 5`},
		{"a eq 12x", 5, `invalid number "12x" at 5`},
		{"a. eq 1", 2, "expected property name at 2"},
		{"a eq 1 ; drop table x", 7, `unexpected character ';' at 7`},
		{"a between 1 or 2", 12, `expected 'and' at 12, found "or"`},
		{"a in 1", 5, `expected '(' at 5, found "1"`},
		{"a in ()", 6, `expected operand at 6, found ")"`},
		{"a in (1 2)", 8, `expected ',' or ')' at 8, found "2"`},
		{"a in (1,)", 8, `expected operand at 8, found ")"`},
		{"a not eq 1", 6, `expected 'in', 'like' or 'between' after 'not' at 6, found "eq"`},
		{"a is 1", 5, `expected 'null' at 5, found "1"`},
		{"a * 2", 2, `unexpected "*" at 2`},
		{"not", 3, "expected operand at 3, found end of input"},
	}
	for _, tt := range tests {
		_, err := ParseWhere(tt.in)
		var qe *Error
		if !errors.As(err, &qe) {
			t.Errorf("ParseWhere(%q) error = %v, want *Error", tt.in, err)
			continue
		}
		if qe.Code != "BadWhereSyntax" || qe.Param != "where" || qe.Pos != tt.pos || (tt.msg != "" && qe.Msg != tt.msg) {
			t.Errorf("ParseWhere(%q) = %+v, want pos %d msg %q", tt.in, qe, tt.pos, tt.msg)
		}
	}
}

func TestParseWhereDepthLimit(t *testing.T) {
	deep := ""
	for range maxDepth + 1 {
		deep += "("
	}
	_, err := ParseWhere(deep + "a")
	var qe *Error
	if !errors.As(err, &qe) || qe.Pos != maxDepth {
		t.Fatalf("deep nesting: %v", err)
	}
	ok := ""
	for range maxDepth - 1 {
		ok = "not " + ok
	}
	if _, err := ParseWhere(ok + "a"); err != nil {
		t.Fatalf("nesting within the limit rejected: %v", err)
	}
}

func TestErrorString(t *testing.T) {
	_, err := ParseWhere("(a eq 1 and")
	want := "BadWhereSyntax (where): expected operand at 11, found end of input"
	if err == nil || err.Error() != want {
		t.Fatalf("Error() = %v, want %q", err, want)
	}
}

func TestParseOrderBy(t *testing.T) {
	tests := []struct {
		in   string
		want []OrderTerm
	}{
		{"name", []OrderTerm{{"name", false}}},
		{"name asc, age DESC", []OrderTerm{{"name", false}, {"age", true}}},
		{" address.city  Desc ,name", []OrderTerm{{"address.city", true}, {"name", false}}},
	}
	for _, tt := range tests {
		got, err := ParseOrderBy(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseOrderBy(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	errs := []struct {
		in  string
		pos int
	}{
		{"", 0}, {"name,", 5}, {",name", 0}, {"name up", 5}, {"name asc desc", 5},
		{"1name", 0}, {"na-me", 2}, {"name, 'x'", 6}, {"a.", 2}, {"name;drop", 4},
	}
	for _, tt := range errs {
		_, err := ParseOrderBy(tt.in)
		var qe *Error
		if !errors.As(err, &qe) || qe.Code != "BadQueryParameter" || qe.Param != "orderBy" || qe.Pos != tt.pos {
			t.Errorf("ParseOrderBy(%q) error = %+v, want BadQueryParameter at %d", tt.in, err, tt.pos)
		}
	}
}

func TestParseSelect(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"*", []string{"*"}},
		{"name, address.city ,age", []string{"name", "address.city", "age"}},
		{"address.*,name", []string{"address.*", "name"}},
	}
	for _, tt := range tests {
		got, err := ParseSelect(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseSelect(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	errs := []struct {
		in  string
		pos int
	}{{"", 0}, {"name,,age", 5}, {"name desc", 4}, {"na'me", 2}, {"**", 0}, {"a.", 2}}
	for _, tt := range errs {
		_, err := ParseSelect(tt.in)
		var qe *Error
		if !errors.As(err, &qe) || qe.Code != "BadQueryParameter" || qe.Param != "select" || qe.Pos != tt.pos {
			t.Errorf("ParseSelect(%q) error = %+v, want BadQueryParameter at %d", tt.in, err, tt.pos)
		}
	}
}

// TestLimits: lists, values and terms beyond their bounds are refused with
// the query's own codes, never reach SQLite (whose variable limit a
// 32,766-item list once exceeded: a 500).
func TestLimits(t *testing.T) {
	list := func(n int) string {
		items := make([]string, n)
		for i := range items {
			items[i] = strconv.Itoa(i)
		}
		return "x in (" + strings.Join(items, ",") + ")"
	}
	resolve := func(string) (string, Type, error) { return "x", Integer, nil }
	if _, err := ParseWhere(list(MaxList)); err != nil {
		t.Fatalf("a list of %d: %v", MaxList, err)
	}
	for _, where := range []string{list(MaxList + 1), list(40000)} {
		_, err := ParseWhere(where)
		var qe *Error
		if !errors.As(err, &qe) || qe.Code != CodeBadWhereSyntax {
			t.Errorf("a list of %d items: %v", strings.Count(where, ",")+1, err)
		}
	}
	// Many short lists still bind too many values.
	var parts []string
	for i := 0; i < MaxValues/500+1; i++ {
		parts = append(parts, list(500))
	}
	e, err := ParseWhere(strings.Join(parts, " or "))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := CompileWhere(e, resolve); err == nil {
		t.Error("more than MaxValues values compiled")
	}
	terms := strings.Repeat("name,", MaxTerms) + "name"
	for _, f := range []func(string) error{
		func(s string) error { _, err := ParseOrderBy(s); return err },
		func(s string) error { _, err := ParseSelect(s); return err },
	} {
		var qe *Error
		if err := f(terms); !errors.As(err, &qe) || qe.Code != CodeBadQueryParameter {
			t.Errorf("%d terms: %v", MaxTerms+1, err)
		}
	}
}
