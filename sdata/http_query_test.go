package sdata_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"

	"sdatasync/feeds"
)

// linkStart returns startIndex and count of a feed link, or ok=false.
func linkStart(t *testing.T, f *feeds.Feed, rel string) (start, count int, ok bool) {
	t.Helper()
	l, ok := f.Link(rel)
	if !ok {
		return 0, 0, false
	}
	u, err := url.Parse(l.Href)
	if err != nil {
		t.Fatalf("%s link %q: %v", rel, l.Href, err)
	}
	start, err1 := strconv.Atoi(u.Query().Get("startIndex"))
	count, err2 := strconv.Atoi(u.Query().Get("count"))
	if err1 != nil || err2 != nil {
		t.Fatalf("%s link %q lacks startIndex/count", rel, l.Href)
	}
	return start, count, true
}

func TestPaging(t *testing.T) {
	e := newEnv(t)
	keys := e.seedAccounts(23)
	const none = -1
	cases := []struct {
		query                      string
		start, perPage             int
		entries                    int // number of entries
		firstKey                   int // index into keys of the first entry
		last, previous, next, self int // startIndex of links; none = link absent
	}{
		{"", 1, 100, 23, 0, 1, none, none, 1},
		{"?count=10", 1, 10, 10, 0, 21, none, 11, 1},
		{"?startIndex=11&count=10", 11, 10, 10, 10, 21, 1, 21, 11},
		{"?startIndex=21&count=10", 21, 10, 3, 20, 21, 11, none, 21},
		{"?startIndex=5&count=10", 5, 10, 10, 4, 21, 1, 15, 5},
		{"?startIndex=14&count=10", 14, 10, 10, 13, 21, 4, none, 14},
		{"?startIndex=23&count=1", 23, 1, 1, 22, 23, 22, none, 23},
		{"?startIndex=24&count=10", 24, 10, 0, 0, 21, 21, none, 24},
		{"?startIndex=1000&count=10", 1000, 10, 0, 0, 21, 21, none, 1000},
		{"?count=23", 1, 23, 23, 0, 1, none, none, 1},
		{"?count=22", 1, 22, 22, 0, 23, none, 23, 1},
		{"?count=5000", 1, 1000, 23, 0, 1, none, none, 1},
		{"?StartIndex=3&COUNT=2", 3, 2, 2, 2, 23, 1, 5, 3},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			f := e.feed(e.kindURL("tradingAccounts") + c.query)
			if f.TotalResults != 23 || f.StartIndex != c.start || f.ItemsPerPage != c.perPage {
				t.Errorf("opensearch total/start/perPage = %d/%d/%d, want 23/%d/%d", f.TotalResults, f.StartIndex, f.ItemsPerPage, c.start, c.perPage)
			}
			if len(f.Entries) != c.entries {
				t.Fatalf("%d entries, want %d", len(f.Entries), c.entries)
			}
			for i, en := range f.Entries {
				if k := feeds.PayloadKey(en.Payload); k != keys[c.firstKey+i] {
					t.Errorf("entry %d key %q, want %q", i, k, keys[c.firstKey+i])
				}
			}
			check := func(rel string, want int) {
				t.Helper()
				s, n, ok := linkStart(t, f, rel)
				switch {
				case want == none && ok:
					t.Errorf("%s link present (startIndex %d), want none", rel, s)
				case want != none && !ok:
					t.Errorf("%s link missing, want startIndex %d", rel, want)
				case ok && (s != want || n != c.perPage):
					t.Errorf("%s link startIndex=%d count=%d, want %d/%d", rel, s, n, want, c.perPage)
				}
			}
			check("first", 1)
			check("last", c.last)
			check("previous", c.previous)
			check("next", c.next)
			check("self", c.self)
		})
	}
}

func TestPagingCountZero(t *testing.T) {
	e := newEnv(t)
	e.seedAccounts(23)
	f := e.feed(e.kindURL("tradingAccounts") + "?count=0")
	if f.TotalResults != 23 || f.ItemsPerPage != 0 || f.StartIndex != 1 {
		t.Errorf("opensearch total/start/perPage = %d/%d/%d, want 23/1/0", f.TotalResults, f.StartIndex, f.ItemsPerPage)
	}
	if len(f.Entries) != 0 {
		t.Errorf("count=0 returned %d entries, want 0 (itemsPerPage says 0)", len(f.Entries))
	}
	for _, rel := range []string{"next", "previous", "last"} {
		if _, ok := f.Link(rel); ok {
			t.Errorf("count=0 has a %s link", rel)
		}
	}
}

func TestPagingEmptyCollection(t *testing.T) {
	e := newEnv(t)
	f := e.feed(e.kindURL("contacts") + "?count=10")
	if f.TotalResults != 0 || len(f.Entries) != 0 || f.ItemsPerPage != 10 {
		t.Errorf("empty: total %d entries %d perPage %d", f.TotalResults, len(f.Entries), f.ItemsPerPage)
	}
	if s, _, ok := linkStart(t, f, "last"); !ok || s != 1 {
		t.Errorf("empty: last link %d %v, want 1", s, ok)
	}
	if _, ok := f.Link("next"); ok {
		t.Errorf("empty: next link")
	}
	if f.ID != e.kindURL("contacts") || f.Title != "Contact" {
		t.Errorf("feed id %q title %q", f.ID, f.Title)
	}
}

func TestPagingBadParameters(t *testing.T) {
	e := newEnv(t)
	for _, q := range []string{"startIndex=0", "startIndex=-1", "startIndex=abc", "startIndex=1.5", "count=-1", "count=x", "count=1e3"} {
		wantDiag(t, e.get(e.kindURL("tradingAccounts")+"?"+q), http.StatusBadRequest, "BadQueryParameter")
	}
}

// TestFollowNext follows next links from page 1: every resource once.
func TestFollowNext(t *testing.T) {
	e := newEnv(t)
	keys := e.seedAccounts(23)
	for _, count := range []int{1, 4, 7, 10, 22, 23, 50} {
		seen := map[string]int{}
		var order []string
		u := e.kindURL("tradingAccounts") + "?orderBy=name&count=" + strconv.Itoa(count)
		pages := 0
		for u != "" {
			pages++
			if pages > 30 {
				t.Fatalf("count %d: more than 30 pages", count)
			}
			f := e.feed(u)
			for _, en := range f.Entries {
				k := feeds.PayloadKey(en.Payload)
				seen[k]++
				order = append(order, k)
			}
			u = ""
			if l, ok := f.Link("next"); ok {
				u = l.Href
				if q, _ := url.Parse(u); q.Query().Get("orderBy") != "name" {
					t.Errorf("next link %q dropped orderBy", u)
				}
			}
		}
		if want := (23 + count - 1) / count; pages != want {
			t.Errorf("count %d: %d pages, want %d", count, pages, want)
		}
		if !slices.Equal(order, keys) {
			t.Errorf("count %d: visited %v, want %v", count, order, keys)
		}
		for k, n := range seen {
			if n != 1 {
				t.Errorf("count %d: key %s seen %d times", count, k, n)
			}
		}
	}
}

// queryData creates trading accounts with varied properties for where tests.
func queryData(e *env) {
	rows := []struct {
		name, flag, date, limit, active, typ string
	}{
		{"Alpha Kitchens", "Customer", "2019-03-01", "1000", "true", "On Account"},
		{"Beta Logistics", "Supplier", "2020-06-15", "2500.50", "true", "Direct Sales/Cash"},
		{"Gamma Foods", "Both", "2021-01-31", "5000", "false", "On Account"},
		{"Delta Engineering", "Customer", "2018-12-24", "750", "true", "Subcontract"},
		{"Epsilon Kitchens", "Neither", "2022-09-09", "12000", "false", "Unknown"},
		{"Zeta O'Hara", "Customer", "2020-06-15", "2500.5", "true", "On Account"},
	}
	for i, r := range rows {
		e.createLocal("tradingAccounts", payloadXML("tradingAccount", "",
			prop{"active", r.active}, prop{"customerSupplierFlag", r.flag}, prop{"openedDate", r.date},
			prop{"reference", fmt.Sprintf("Q%d", i+1)}, prop{"name", r.name}, prop{"type", r.typ},
			prop{"currency", "GBP"}, prop{"financeLimit", r.limit}))
	}
	// One without financeLimit and without openedDate.
	e.createLocal("tradingAccounts", payloadXML("tradingAccount", "", prop{"reference", "Q7"}, prop{"name", "Eta Unknown"}))
}

func TestWhere(t *testing.T) {
	e := newEnv(t)
	queryData(e)
	cases := []struct {
		where string
		want  []string // references, in key order
	}{
		{"reference eq 'Q3'", []string{"Q3"}},
		{"name eq 'Zeta O''Hara'", []string{"Q6"}},
		{"reference ne 'Q1'", []string{"Q2", "Q3", "Q4", "Q5", "Q6", "Q7"}},
		{"financeLimit lt 1000", []string{"Q4"}},
		{"financeLimit le 1000", []string{"Q1", "Q4"}},
		{"financeLimit gt 5000", []string{"Q5"}},
		{"financeLimit ge 5000", []string{"Q3", "Q5"}},
		{"financeLimit eq 2500.5", []string{"Q2", "Q6"}},
		{"financeLimit = 2500.50", []string{"Q2", "Q6"}},
		{"financeLimit >= 2500 and financeLimit < 6000", []string{"Q2", "Q3", "Q6"}},
		{"customerSupplierFlag eq 'Customer' and active eq true", []string{"Q1", "Q4", "Q6"}},
		{"active eq false", []string{"Q3", "Q5"}},
		{"customerSupplierFlag eq 'Supplier' or customerSupplierFlag eq 'Both'", []string{"Q2", "Q3"}},
		{"not (customerSupplierFlag eq 'Customer')", []string{"Q2", "Q3", "Q5"}},
		{"(financeLimit lt 1000 or financeLimit gt 10000) and active eq true", []string{"Q4"}},
		{"financeLimit lt 1000 or (financeLimit gt 10000 and active eq true)", []string{"Q4"}},
		{"financeLimit lt 1000 or financeLimit gt 10000 and active eq false", []string{"Q4", "Q5"}},
		{"name like '%Kitchens'", []string{"Q1", "Q5"}},
		{"name like 'beta%'", []string{"Q2"}},
		{"name like '%a%' and not (name like '%e%')", []string{"Q3"}},
		{"reference in ('Q1', 'Q4', 'Q9')", []string{"Q1", "Q4"}},
		{"type in ('Subcontract', 'Unknown')", []string{"Q4", "Q5"}},
		{"openedDate eq @2020-06-15@", []string{"Q2", "Q6"}},
		{"openedDate lt @2019-06-01@", []string{"Q1", "Q4"}},
		{"openedDate ge @2021-01-31@", []string{"Q3", "Q5"}},
		{"openedDate gt @2020-06-15T10:00:00Z@", []string{"Q3", "Q5"}},
		{"financeLimit is null", []string{"Q7"}},
		{"openedDate is not null and financeLimit gt 2000", []string{"Q2", "Q3", "Q5", "Q6"}},
		{"reference eq 'nothing'", nil},
	}
	for _, c := range cases {
		t.Run(c.where, func(t *testing.T) {
			f := e.feed(e.kindURL("tradingAccounts") + "?where=" + url.QueryEscape(c.where))
			got := payloadTexts(f, "reference")
			if !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
			if f.TotalResults != len(c.want) {
				t.Errorf("totalResults %d, want %d", f.TotalResults, len(c.want))
			}
		})
	}
}

func TestWhereKeepsPagingLinks(t *testing.T) {
	e := newEnv(t)
	e.seedAccounts(23)
	w := "financeLimit gt 500"
	f := e.feed(e.kindURL("tradingAccounts") + "?count=5&where=" + url.QueryEscape(w))
	if f.TotalResults != 18 || len(f.Entries) != 5 {
		t.Fatalf("total %d entries %d, want 18/5", f.TotalResults, len(f.Entries))
	}
	l, ok := f.Link("next")
	if !ok {
		t.Fatal("no next link")
	}
	u, _ := url.Parse(l.Href)
	if u.Query().Get("where") != w {
		t.Errorf("next link %q lost the where", l.Href)
	}
	f2 := e.feed(l.Href)
	if got := payloadTexts(f2, "reference"); !slices.Equal(got, []string{"ACC011", "ACC012", "ACC013", "ACC014", "ACC015"}) {
		t.Errorf("page 2: %v", got)
	}
	if s, _, _ := linkStart(t, f, "last"); s != 16 {
		t.Errorf("last startIndex %d, want 16", s)
	}
}

func TestOrderBy(t *testing.T) {
	e := newEnv(t)
	queryData(e)
	cases := []struct {
		orderBy string
		want    []string
	}{
		{"name", []string{"Q1", "Q2", "Q4", "Q5", "Q7", "Q3", "Q6"}},
		{"name asc", []string{"Q1", "Q2", "Q4", "Q5", "Q7", "Q3", "Q6"}},
		{"name desc", []string{"Q6", "Q3", "Q7", "Q5", "Q4", "Q2", "Q1"}},
		// Numeric, not lexical: 750 < 1000 < 2500.5 < 5000 < 12000; null first ascending; ties by key.
		{"financeLimit", []string{"Q7", "Q4", "Q1", "Q2", "Q6", "Q3", "Q5"}},
		{"financeLimit desc", []string{"Q5", "Q3", "Q2", "Q6", "Q1", "Q4", "Q7"}},
		{"openedDate desc, name", []string{"Q5", "Q3", "Q2", "Q6", "Q1", "Q4", "Q7"}},
		{"active, financeLimit desc", []string{"Q7", "Q5", "Q3", "Q2", "Q6", "Q1", "Q4"}}, // null active first
	}
	for _, c := range cases {
		t.Run(c.orderBy, func(t *testing.T) {
			f := e.feed(e.kindURL("tradingAccounts") + "?orderBy=" + url.QueryEscape(c.orderBy))
			if got := payloadTexts(f, "reference"); !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	e := newEnv(t)
	queryData(e)
	f := e.feed(e.kindURL("tradingAccounts") + "?select=name,financeLimit&where=" + url.QueryEscape("reference eq 'Q2'"))
	if len(f.Entries) != 1 {
		t.Fatalf("%d entries", len(f.Entries))
	}
	p := f.Entries[0].Payload
	if got := childNames(p); !slices.Equal(got, []string{"financeLimit", "name"}) {
		t.Errorf("selected properties %v", got)
	}
	if text(p, "name") != "Beta Logistics" || text(p, "financeLimit") != "2500.50" {
		t.Errorf("selected values %q %q", text(p, "name"), text(p, "financeLimit"))
	}
	if feeds.PayloadKey(p) == "" || attr(p, "sdata:url") == "" {
		t.Errorf("select dropped sdata:key/url")
	}
	// select on a single resource.
	g := parseEntry(t, e.get(e.resURL("tradingAccounts", feeds.PayloadKey(p))+"?select=reference"))
	if got := childNames(g.Payload); !slices.Equal(got, []string{"reference"}) {
		t.Errorf("single select: %v", got)
	}
	// select=* keeps everything.
	all := e.feed(e.kindURL("tradingAccounts") + "?select=*&count=1")
	if n := len(all.Entries[0].Payload.ChildElements()); n != 8 {
		t.Errorf("select=* kept %d properties, want 8", n)
	}
}

func TestQueryErrors(t *testing.T) {
	e := newEnv(t)
	queryData(e)
	cases := []struct {
		query, code string
	}{
		{"where=" + url.QueryEscape("name eq"), "BadWhereSyntax"},
		{"where=" + url.QueryEscape("name eq 'x"), "BadWhereSyntax"},
		{"where=" + url.QueryEscape("(name eq 'x'"), "BadWhereSyntax"},
		{"where=" + url.QueryEscape("name eq 'x')"), "BadWhereSyntax"},
		{"where=" + url.QueryEscape("name foo 'x'"), "BadWhereSyntax"},
		{"where=" + url.QueryEscape("openedDate eq @2020-13-45@"), "BadWhereSyntax"},
		{"where=" + url.QueryEscape("nosuch eq 1"), "BadWhereSyntax"},
		{"where=" + url.QueryEscape("contacts eq 1"), "BadWhereSyntax"},
		{"orderBy=" + url.QueryEscape("nosuch"), "BadQueryParameter"},
		{"orderBy=" + url.QueryEscape("name sideways"), "BadQueryParameter"},
		{"orderBy=" + url.QueryEscape("name,"), "BadQueryParameter"},
	}
	for _, c := range cases {
		d := wantDiag(t, e.get(e.kindURL("tradingAccounts")+"?"+c.query), http.StatusBadRequest, c.code)
		if d.Message == "" {
			t.Errorf("%s: empty message", c.query)
		}
	}
}
