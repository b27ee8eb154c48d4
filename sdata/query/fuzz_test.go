package query

import (
	"regexp"
	"strings"
	"testing"
)

// fuzzResolver types a property by its first letter and resolves every
// property to the same fixed SQL text, so that the fuzz target can check that
// nothing but Resolver output and this package's own SQL reaches the query.
func fuzzResolver(path string) (string, Type, error) {
	types := map[byte]Type{'s': String, 'i': Integer, 'd': Decimal, 'b': Boolean, 't': Date, 'z': DateTime}
	if t, ok := types[path[0]]; ok {
		return "PROP", t, nil
	}
	return "", 0, errUnknown
}

// compiledSQL is what compiled SQL may consist of once the Resolver output and
// the fixed function prefixes are removed: keywords, operators and placeholders.
var compiledSQL = regexp.MustCompile(`^[A-Z0-9 ()?,=<>+\-*/%]*$`)

func FuzzParseWhere(f *testing.F) {
	for _, s := range []string{
		"billingAddress.countryCode eq 'UK' and date ge @2008-01-01@",
		"name like '%BANK%'", "creditLimit - balance ge 1000.0",
		"2 mul (5 + 3) mul 2", "1 eq 1 or 1 eq 2 and 1 eq 3",
		"not (a eq 1) and b in (1, 2) or c between -1 and 2",
		`s eq "O""Brien" or s not like 'x''y'`, "i is not null", "b", "not b",
		"z gt @2008-10-30T14:00:00.5+02:00@ and t eq '2001-02-03'",
		"d div 2 mod 3 - -i ge 0", "i not in (1, '2') and s ne null",
		"((a", "a eq", "'abc", "@2008-13-01@", "a not between 1 and 2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseWhere(s)
		if err != nil {
			qe, ok := err.(*Error)
			if !ok || qe.Code != CodeBadWhereSyntax || qe.Pos < 0 || qe.Pos > len(s) {
				t.Fatalf("ParseWhere(%q) error %#v", s, err)
			}
			return
		}
		canon := e.String()
		e2, err := ParseWhere(canon)
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", canon, s, err)
		}
		if again := e2.String(); again != canon {
			t.Fatalf("canonical form unstable: %q -> %q -> %q", s, canon, again)
		}
		sql, args, err := CompileWhere(e, fuzzResolver)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("CompileWhere(%q) error %#v", s, err)
			}
			return
		}
		rest := strings.NewReplacer("PROP", "", dateTimeSQL, "(", "substr(", "(", "CAST(", "(", " AS REAL)", ")").Replace(sql)
		if !compiledSQL.MatchString(rest) {
			t.Fatalf("CompileWhere(%q) = %q: unexpected SQL text %q", s, sql, rest)
		}
		if n := strings.Count(sql, "?"); n != len(args) {
			t.Fatalf("CompileWhere(%q) = %q with %d args", s, sql, len(args))
		}
	})
}
