package query

import (
	"database/sql"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	_ "github.com/mattn/go-sqlite3"
)

// testRows are the resources of the SQLite tests: key -> simple properties,
// stored the way the provider stores them (JSON object in column props).
var testRows = map[string]map[string]any{
	"k01": {"name": "Alice", "age": 30, "balance": 100.5, "creditLimit": 1000, "active": true, "birth": "1990-01-15", "created": "2020-01-01T10:00:00Z", "address": map[string]any{"city": "Paris"}},
	"k02": {"name": "Bob", "age": 25, "balance": 0, "creditLimit": 500, "active": false, "birth": "1995-06-30", "created": "2020-01-01T10:00:00.5Z", "address": map[string]any{"city": "London"}},
	"k03": {"name": "Carol", "age": 41, "balance": -20.25, "creditLimit": 2000, "active": true, "birth": "1982-12-01", "created": "2019-12-31T23:59:59Z", "address": map[string]any{"city": "Paris"}},
	"k04": {"name": "Dave", "age": 19, "balance": 1500, "creditLimit": 1000, "active": true, "birth": "2004-02-29", "created": "2021-06-15T08:30:00Z", "address": map[string]any{"city": "Berlin"}},
	"k05": {"name": "Eve", "age": 35, "balance": 250.75, "creditLimit": 250, "active": false, "birth": "1988-07-04", "created": "2020-01-01T09:59:59.999Z", "address": map[string]any{"city": "London"}},
	"k06": {"name": "O'Brien", "age": 52, "balance": 999.99, "creditLimit": 5000, "active": true, "birth": "1971-03-10", "created": "2018-05-05T12:00:00Z", "address": map[string]any{"city": "Dublin"}},
	"k07": {"name": "100% Pure", "age": 8, "balance": 10, "creditLimit": 100, "active": false, "birth": "2016-08-08", "created": "2022-02-22T22:22:22Z", "address": map[string]any{"city": "Paris"}},
	"k08": {"name": "alice", "age": 30, "balance": 100.5, "creditLimit": 1000, "active": true, "birth": "1990-01-15", "created": "2020-01-02T00:00:00Z", "address": map[string]any{"city": "paris"}},
	"k09": {"name": "Frank", "balance": 0, "creditLimit": 0},
	"k10": {"name": "Grace", "age": 67, "balance": 12345.678, "creditLimit": 20000, "active": true, "birth": "1957-11-11", "created": "2017-01-01T00:00:00Z", "address": map[string]any{"city": "New York"}},
	"k11": {"name": "Heidi", "age": 23, "balance": 5, "creditLimit": 50, "active": false, "birth": "2001-09-11", "created": "2020-01-01T10:00:00Z", "address": map[string]any{"city": "Berlin"}},
	"k12": {"name": "Ivan", "age": 44, "balance": 300, "creditLimit": 300, "active": true, "birth": "1980-02-29", "created": "2023-03-03T03:03:03Z", "address": map[string]any{"city": "Moscow"}},
	"k13": {"name": "Judy", "age": 30, "balance": 75, "creditLimit": 100, "active": false, "birth": "1994-05-05", "created": "2020-06-01T12:00:00Z", "address": map[string]any{"city": nil}},
	"k14": {"name": "Mallory", "age": 29, "balance": -5, "creditLimit": 0, "active": true, "birth": "1995-06-30", "created": "2020-01-01T11:00:00Z", "address": map[string]any{"city": "London"}},
	"k15": {"name": "Niaj", "age": 33, "balance": 1000, "creditLimit": 2000, "active": false, "birth": "1990-12-31", "created": "2019-07-07T07:07:07Z", "address": map[string]any{"city": "Paris"}},
	"k16": {"name": "Olivia", "age": 38, "balance": 450, "creditLimit": 500, "active": true, "birth": "1986-04-01", "created": "2021-01-01T00:00:00Z", "address": map[string]any{"city": "Rome"}},
	"k17": {"name": "Peggy", "age": 61, "balance": 60, "creditLimit": 60, "active": false, "birth": "1963-10-10", "created": "2016-02-29T12:00:00Z", "address": map[string]any{"city": "Madrid"}},
	"k18": {"name": "Rupert", "age": 27, "balance": 2700, "creditLimit": 3000, "active": true, "birth": "1997-08-15", "created": "2022-12-31T23:59:59Z", "address": map[string]any{"city": "Lisbon"}},
	"k19": {"name": "Sybil", "age": 45, "balance": 4.5, "creditLimit": 10, "active": false, "birth": "1979-06-30", "created": "2020-01-01T00:00:00Z", "address": map[string]any{"city": "Paris"}},
	"k20": {"name": "Trent", "age": 50, "balance": 500, "creditLimit": 5000, "active": true, "birth": "1974-01-01", "created": "2024-02-29T00:00:00Z", "address": map[string]any{"city": "Vienna"}},
}

func openTestDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", filepath.Join(t.TempDir(), "query.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE res (key TEXT PRIMARY KEY, props TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for k, props := range testRows {
		b, err := json.Marshal(props)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO res (key, props) VALUES (?, ?)`, k, string(b)); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// selectKeys runs where (and orderBy, if any) against the test table and
// returns the keys in result order (by key when orderBy is empty).
func selectKeys(t *testing.T, db *sql.DB, where, orderBy string) []string {
	t.Helper()
	e, err := ParseWhere(where)
	if err != nil {
		t.Fatalf("ParseWhere(%q): %v", where, err)
	}
	cond, args, err := CompileWhere(e, testResolver)
	if err != nil {
		t.Fatalf("CompileWhere(%q): %v", where, err)
	}
	order := "key"
	if orderBy != "" {
		terms, err := ParseOrderBy(orderBy)
		if err != nil {
			t.Fatalf("ParseOrderBy(%q): %v", orderBy, err)
		}
		if order, err = CompileOrderBy(terms, testResolver); err != nil {
			t.Fatalf("CompileOrderBy(%q): %v", orderBy, err)
		}
	}
	rows, err := db.Query("SELECT key FROM res WHERE "+cond+" ORDER BY "+order, args...)
	if err != nil {
		t.Fatalf("%q: query %s: %v", where, cond, err)
	}
	defer rows.Close()
	keys := []string{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestSQLiteWhere(t *testing.T) {
	db := openTestDB(t)
	all := "k01 k02 k03 k04 k05 k06 k07 k08 k09 k10 k11 k12 k13 k14 k15 k16 k17 k18 k19 k20"
	tests := []struct{ where, want string }{
		{"name eq 'Bob'", "k02"},
		{"name = 'O''Brien'", "k06"},
		{"name like '%''%'", "k06"},
		{"name like 'al%'", "k01 k08"}, // SQLite LIKE ignores ASCII case
		{"name like '100%'", "k07"},
		{"name ne 'Alice' and age eq 30", "k08 k13"},
		{"age gt 50", "k06 k10 k17"},
		{"age between 25 and 30", "k01 k02 k08 k13 k14 k18"},
		{"age in (19, 23, '8')", "k04 k07 k11"},
		{"age not in (30)", "k02 k03 k04 k05 k06 k07 k10 k11 k12 k14 k15 k16 k17 k18 k19 k20"},
		{"age is null", "k09"},
		{"age mod 2 eq 1", "k02 k03 k04 k05 k10 k11 k14 k15 k17 k18 k19"},
		{"age mul 2 ge 120", "k10 k17"},
		{"age div 4 lt 2.5", "k07"},
		{"-age gt -20", "k04 k07"},
		{"balance lt 0", "k03 k14"},
		{"balance ge 999.99", "k04 k06 k10 k15 k18"},
		{"creditLimit - balance ge 1000.0", "k03 k06 k10 k15 k20"},
		{"active eq true", "k01 k03 k04 k06 k08 k10 k12 k14 k16 k18 k20"},
		{"not active", "k02 k05 k07 k11 k13 k15 k17 k19"},
		{"active = false AND age < 30", "k02 k07 k11"},
		{"birth lt @1970-01-01@", "k10 k17"},
		{"birth eq '1995-06-30'", "k02 k14"},
		{"birth between @1990-01-01@ and @1990-12-31T23:00:00Z@", "k01 k08 k15"},
		{"created eq @2020-01-01@", "k01 k02 k05 k11 k14 k19"},
		{"created gt @2020-01-01T10:00:00Z@", "k02 k04 k07 k08 k12 k13 k14 k16 k18 k20"},
		{"created eq @2020-01-01T12:00:00+02:00@", "k01 k11"},
		{"created lt '2020-01-01T10:00:00Z' and created ge @2020-01-01@", "k05 k19"},
		{"created ge birth and birth ge @2004-01-01@", "k04 k07"},
		{"address.city eq 'Paris'", "k01 k03 k07 k15 k19"},
		{"address.city eq null", "k09 k13"},
		{"address.city in ('London', 'Berlin') or address.city is null", "k02 k04 k05 k09 k11 k13 k14"},
		{"(address.city eq 'Paris' or address.city eq 'London') and not (age lt 30 or balance gt 200)", "k01 k03 k19"},
		{"address.city not like 'p%' and address.city not between 'B' and 'M'", "k10 k12 k16 k17 k20"},
		{"1 eq 1 or 1 eq 2 and 1 eq 3", all},
		{"(1 eq 1 or 1 eq 2) and 1 eq 3", ""},
	}
	for _, tt := range tests {
		got := strings.Join(selectKeys(t, db, tt.where, ""), " ")
		if got != tt.want {
			t.Errorf("where %s\n got  %s\n want %s", tt.where, got, tt.want)
		}
	}
}

func TestSQLiteOrderBy(t *testing.T) {
	db := openTestDB(t)
	tests := []struct{ where, orderBy, want string }{
		{"active eq false", "age desc", "k17 k19 k05 k15 k13 k02 k11 k07"},
		{"address.city in ('Paris', 'London')", "address.city, balance DESC", "k05 k02 k14 k15 k01 k07 k19 k03"},
		// fractions must order as times, not as text ("10:00:00.5Z" < "10:00:00Z" as strings)
		{"created eq @2020-01-01@", "created desc, name asc", "k14 k02 k01 k11 k05 k19"},
	}
	for _, tt := range tests {
		got := strings.Join(selectKeys(t, db, tt.where, tt.orderBy), " ")
		if got != tt.want {
			t.Errorf("where %s orderBy %s\n got  %s\n want %s", tt.where, tt.orderBy, got, tt.want)
		}
	}
}

// TestSQLiteSpecPriorities evaluates the spec's priority table (core 2.12) in SQLite.
func TestSQLiteSpecPriorities(t *testing.T) {
	db := openTestDB(t)
	tests := []struct {
		expr string
		want int64
	}{
		{"2 mul 5 + 3 mul 2", 16},
		{"2 mul (5 + 3) mul 2", 32},
		{"7 mod 4 - 1", 2},
		{"10 - 2 - 3", 5},
		{"1 eq 1 or 1 eq 2 and 1 eq 3", 1},
		{"(1 eq 1 or 1 eq 2) and 1 eq 3", 0},
	}
	for _, tt := range tests {
		e, err := ParseWhere(tt.expr)
		if err != nil {
			t.Fatalf("ParseWhere(%q): %v", tt.expr, err)
		}
		c := &compiler{resolve: testResolver}
		op, err := c.compile(e)
		if err != nil {
			t.Fatalf("compile(%q): %v", tt.expr, err)
		}
		var got int64
		if err := db.QueryRow("SELECT "+op.sql, op.args...).Scan(&got); err != nil {
			t.Fatalf("%q: %v", tt.expr, err)
		}
		if got != tt.want {
			t.Errorf("%s = %d, want %d", tt.expr, got, tt.want)
		}
	}
}

// TestSQLiteInjection runs hostile literals against the real table: they
// match nothing, and the table survives.
func TestSQLiteInjection(t *testing.T) {
	db := openTestDB(t)
	for _, where := range []string{
		`name eq 'x''); DROP TABLE res; --'`,
		`name eq ''' OR ''1''=''1'`,
		`name like '%'' OR 1=1 --'`,
		`name in ('a''); DELETE FROM res; --')`,
		`name eq "Bob"" OR name ne """`,
	} {
		if got := selectKeys(t, db, where, ""); len(got) != 0 {
			t.Errorf("where %s selected %v", where, got)
		}
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM res").Scan(&n); err != nil || n != len(testRows) {
		t.Fatalf("table damaged: %d rows, %v", n, err)
	}
	if !reflect.DeepEqual(selectKeys(t, db, "name eq 'O''Brien'", ""), []string{"k06"}) {
		t.Error("quoted name not found")
	}
}
