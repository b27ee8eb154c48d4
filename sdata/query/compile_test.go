package query

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// testProps is the contract of the test resource kind.
var testProps = map[string]Type{
	"name":         String,
	"age":          Integer,
	"balance":      Decimal,
	"creditLimit":  Decimal,
	"active":       Boolean,
	"birth":        Date,
	"created":      DateTime,
	"address.city": String,
}

var errUnknown = errors.New("unknown property")

// testResolver resolves the properties of testProps stored in a JSON props column.
func testResolver(path string) (string, Type, error) {
	t, ok := testProps[path]
	if !ok {
		return "", 0, errUnknown
	}
	return `json_extract(props, '$."` + strings.ReplaceAll(path, ".", `"."`) + `"')`, t, nil
}

func compileString(t *testing.T, where string) (string, []any, error) {
	t.Helper()
	e, err := ParseWhere(where)
	if err != nil {
		t.Fatalf("ParseWhere(%q): %v", where, err)
	}
	return CompileWhere(e, testResolver)
}

func TestCompileWhere(t *testing.T) {
	const (
		name    = `json_extract(props, '$."name"')`
		age     = `json_extract(props, '$."age"')`
		bal     = `json_extract(props, '$."balance"')`
		active  = `json_extract(props, '$."active"')`
		birth   = `json_extract(props, '$."birth"')`
		created = `json_extract(props, '$."created"')`
		city    = `json_extract(props, '$."address"."city"')`
		dt      = "strftime('%Y-%m-%dT%H:%M:%f', "
	)
	tests := []struct {
		where string
		sql   string
		args  []any
	}{
		{"name eq 'Bob'", "(" + name + " = ?)", []any{"Bob"}},
		{"name = 'O''Brien'", "(" + name + " = ?)", []any{"O'Brien"}},
		{"name eq 12", "(" + name + " = ?)", []any{"12"}},
		{"age ne 3", "(" + age + " <> ?)", []any{int64(3)}},
		{"age lt '42'", "(" + age + " < ?)", []any{int64(42)}},
		{"age le 2.5", "(" + age + " <= ?)", []any{2.5}},
		{"balance gt 10", "(" + bal + " > ?)", []any{10.0}},
		{"balance ge -0.5", "(" + bal + " >= ?)", []any{-0.5}},
		{"12 lt age", "(? < " + age + ")", []any{int64(12)}},
		{"active eq true", "(" + active + " = ?)", []any{int64(1)}},
		{"active eq 'FALSE'", "(" + active + " = ?)", []any{int64(0)}},
		{"active", "(" + active + " = 1)", nil},
		{"not active", "(NOT (" + active + " = 1))", nil},
		{"true", "(? = 1)", []any{int64(1)}},
		{"birth eq @2008-10-30@", "(" + birth + " = ?)", []any{"2008-10-30"}},
		{"birth lt '2008-10-30'", "(" + birth + " < ?)", []any{"2008-10-30"}},
		{"birth eq @2008-10-30T23:30:00-05:00@", "(" + birth + " = ?)", []any{"2008-10-30"}},
		{"created gt @2008-10-30T14:00:00+02:00@", "(" + dt + created + ") > " + dt + "?))", []any{"2008-10-30T12:00:00Z"}},
		{"created eq '2008-10-30T14:00:00.250Z'", "(" + dt + created + ") = " + dt + "?))", []any{"2008-10-30T14:00:00.25Z"}},
		{"created eq @2008-10-30@", "(substr(" + created + ", 1, 10) = ?)", []any{"2008-10-30"}},
		{"created ge birth", "(substr(" + created + ", 1, 10) >= " + birth + ")", nil},
		{"address.city like 'Par%'", "(" + city + " LIKE ?)", []any{"Par%"}},
		{"name not like '%x'", "(NOT (" + name + " LIKE ?))", []any{"%x"}},
		{"age in (1, 2, '3')", "(" + age + " IN (?, ?, ?))", []any{int64(1), int64(2), int64(3)}},
		{"name not in ('a')", "(" + name + " NOT IN (?))", []any{"a"}},
		{"birth in (@2001-01-01@, '2002-02-02T10:00:00Z')", "(" + birth + " IN (?, ?))", []any{"2001-01-01", "2002-02-02"}},
		{"age between 1 and 9", "(" + age + " BETWEEN ? AND ?)", []any{int64(1), int64(9)}},
		{"created between @2008-01-01T00:00:00Z@ and @2009-01-01T00:00:00Z@",
			"(" + dt + created + ") BETWEEN " + dt + "?) AND " + dt + "?))", []any{"2008-01-01T00:00:00Z", "2009-01-01T00:00:00Z"}},
		{"name eq null", "(" + name + " IS NULL)", nil},
		{"null ne name", "(" + name + " IS NOT NULL)", nil},
		{"name is null", "(" + name + " IS NULL)", nil},
		{"age is not null", "(" + age + " IS NOT NULL)", nil},
		{"null eq null", "(? IS NULL)", []any{nil}},
		{"creditLimit - balance ge 1000.0", "((json_extract(props, '$.\"creditLimit\"') - " + bal + ") >= ?)", []any{1000.0}},
		{"age mod 2 eq 1", "((" + age + " % ?) = ?)", []any{int64(2), int64(1)}},
		{"age div 2 gt 1", "((CAST(" + age + " AS REAL) / ?) > ?)", []any{int64(2), 1.0}},
		{"-age lt -3", "((? - " + age + ") < ?)", []any{int64(0), int64(-3)}},
		{"2 mul 5 + 3 mul 2 eq 16", "(((? * ?) + (? * ?)) = ?)", []any{int64(2), int64(5), int64(3), int64(2), int64(16)}},
		{"name eq 'a' and age eq 1 or not (active)", "(((" + name + " = ?) AND (" + age + " = ?)) OR (NOT (" + active + " = 1)))", []any{"a", int64(1)}},
		{"(age eq 1) eq true", "((" + age + " = ?) = ?)", []any{int64(1), int64(1)}},
	}
	for _, tt := range tests {
		sql, args, err := compileString(t, tt.where)
		if err != nil {
			t.Errorf("CompileWhere(%q): %v", tt.where, err)
			continue
		}
		if sql != tt.sql || !reflect.DeepEqual(args, tt.args) {
			t.Errorf("CompileWhere(%q)\n got  %s %#v\n want %s %#v", tt.where, sql, args, tt.sql, tt.args)
		}
	}
}

func TestCompileWhereErrors(t *testing.T) {
	tests := []struct{ where, msg string }{
		{"age eq 'abc'", `cannot use 'abc' as Integer value for age`},
		{"balance gt true", `cannot use true as Decimal value for balance`},
		{"active eq 1", `cannot use 1 as Boolean value for active`},
		{"birth eq 'yesterday'", `cannot use 'yesterday' as Date value for birth`},
		{"created lt 5", `cannot use 5 as DateTime value for created`},
		{"name eq true", `cannot use true as String value for name`},
		{"age in (1, 'x')", `cannot use 'x' as Integer value for age`},
		{"age between 1 and @2001-01-01@", `cannot use @2001-01-01@ as Integer value for age`},
		{"name eq age", `cannot compare name (String) with age (Integer)`},
		{"'a' eq 1", `cannot compare 'a' (String) with 1 (Integer)`},
		{"nosuch eq 1", `property "nosuch": unknown property`},
		{"age like '1%'", `'like' applies only to strings, age is Integer`},
		{"name like 5", `'like' needs a string operand, found 5`},
		{"name + 1 eq 2", `operator '+' needs numbers, name is String`},
		{"age + 'x' eq 2", `operator '+' needs numbers, found 'x'`},
		{"name", `name is String, not a condition`},
		{"not age", `'not' needs a condition, age is not one (write not (...) to negate a comparison)`},
		{"not name eq 'x'", `'not' needs a condition, name is not one (write not (...) to negate a comparison)`},
		{"not 5", `'not' needs a condition, 5 is not one (write not (...) to negate a comparison)`},
		{"age eq 1 and 5", `5 is not a condition`},
		{"age lt null", `cannot compare with null using 'lt' (use eq, ne or is null)`},
		{"age in (1, null)", `null is not allowed with 'in'`},
		{"age between null and 2", `null is not allowed with 'between'`},
	}
	for _, tt := range tests {
		_, _, err := compileString(t, tt.where)
		var qe *Error
		if !errors.As(err, &qe) {
			t.Errorf("CompileWhere(%q) error = %v, want *Error", tt.where, err)
			continue
		}
		if qe.Code != "BadWhereSyntax" || qe.Param != "where" || qe.Pos != -1 || qe.Msg != tt.msg {
			t.Errorf("CompileWhere(%q) = %+v, want msg %q", tt.where, qe, tt.msg)
		}
	}
	_, _, err := compileString(t, "nosuch eq 1")
	if !errors.Is(err, errUnknown) {
		t.Errorf("resolver error not wrapped: %v", err)
	}
	if _, _, err := CompileWhere(nil, testResolver); err == nil {
		t.Error("CompileWhere(nil) succeeded")
	}
}

func TestCompileOrderBy(t *testing.T) {
	terms, err := ParseOrderBy("name, age desc, created DESC")
	if err != nil {
		t.Fatal(err)
	}
	got, err := CompileOrderBy(terms, testResolver)
	want := `json_extract(props, '$."name"') ASC, json_extract(props, '$."age"') DESC, ` +
		`strftime('%Y-%m-%dT%H:%M:%f', json_extract(props, '$."created"')) DESC`
	if err != nil || got != want {
		t.Fatalf("CompileOrderBy = %q, %v\nwant %q", got, err, want)
	}
	_, err = CompileOrderBy([]OrderTerm{{Path: "name"}, {Path: "nosuch"}}, testResolver)
	var qe *Error
	if !errors.As(err, &qe) || qe.Code != "BadQueryParameter" || qe.Param != "orderBy" || !errors.Is(err, errUnknown) {
		t.Fatalf("unknown property: %v", err)
	}
}

// TestCompileInjection shows that user text never reaches the SQL: string
// literals travel as arguments and property names only pick Resolver output.
func TestCompileInjection(t *testing.T) {
	evil := []string{
		`x'); DROP TABLE res; --`,
		`' OR '1'='1`,
		`"; DELETE FROM res; --`,
		`%' OR 1=1 --`,
	}
	for _, s := range evil {
		lit := (&Literal{Kind: LitString, Text: s}).String()
		for _, where := range []string{"name eq " + lit, "name like " + lit, "name in (" + lit + ", 'a')"} {
			sql, args, err := compileString(t, where)
			if err != nil {
				t.Fatalf("%q: %v", where, err)
			}
			if strings.ContainsAny(strings.ReplaceAll(sql, `json_extract(props, '$."name"')`, ""), `;'"-`) {
				t.Errorf("%q compiled to %q: user text leaked", where, sql)
			}
			if args[0] != s {
				t.Errorf("%q: args %#v, want the literal as first argument", where, args)
			}
		}
	}
	// property names with quotes or semicolons cannot even be parsed...
	for _, where := range []string{`na"me eq 1`, `name; DROP TABLE res eq 1`, `name' eq 1`, `name-- eq 1`} {
		if _, err := ParseWhere(where); err == nil {
			t.Errorf("ParseWhere(%q) accepted a hostile property name", where)
		}
	}
	// ...and a hand-built tree only reaches the Resolver, which rejects them.
	e := &Binary{Op: "eq", L: &Ident{Path: `name"') OR 1=1; --`}, R: &Literal{Kind: LitNumber, Text: "1"}}
	if sql, _, err := CompileWhere(e, testResolver); err == nil {
		t.Errorf("hostile Ident compiled to %q", sql)
	}
	// a Literal whose Text is not a number is rejected rather than inlined
	e = &Binary{Op: "eq", L: &Ident{Path: "age"}, R: &Literal{Kind: LitNumber, Text: "1 OR 1=1"}}
	if sql, _, err := CompileWhere(e, testResolver); err == nil {
		t.Errorf("hostile number literal compiled to %q", sql)
	}
}

func ExampleCompileWhere() {
	e, err := ParseWhere("address.city eq 'Paris' and age ge 18")
	if err != nil {
		panic(err)
	}
	sql, args, err := CompileWhere(e, testResolver)
	fmt.Println(sql, args, err)
	// Output: ((json_extract(props, '$."address"."city"') = ?) AND (json_extract(props, '$."age"') >= ?)) [Paris 18] <nil>
}
