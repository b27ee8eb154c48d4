package query

import "testing"

func BenchmarkParseCompileWhere(b *testing.B) {
	const where = "(address.city eq 'Paris' or address.city in ('London', 'Berlin')) and not (age lt 30 or balance gt 200.5) " +
		"and created ge @2020-01-01T00:00:00Z@ and name like 'A%'"
	for b.Loop() {
		e, err := ParseWhere(where)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := CompileWhere(e, testResolver); err != nil {
			b.Fatal(err)
		}
	}
}
