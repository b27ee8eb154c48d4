package wire

import (
	"net/url"
	"strconv"
	"strings"

	"sdatasync/feeds"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/query"
	"sdatasync/sdata/store"
)

// Paging limits.
const (
	DefaultPageSize = 100  // entries of a page when count is not given
	MaxPageSize     = 1000 // the cap on count, reported in opensearch:itemsPerPage
)

// Paging is a validated startIndex/count pair; Start is 1-based.
type Paging struct{ Start, Count int }

// Offset is the 0-based offset of the page's first entry.
func (pg Paging) Offset() int { return pg.Start - 1 }

// ParsePaging reads startIndex (default 1) and count (default
// DefaultPageSize, capped at MaxPageSize).
func ParsePaging(q url.Values) (Paging, error) {
	pg := Paging{Start: 1, Count: DefaultPageSize}
	if v := QueryParam(q, "startIndex"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return pg, diag.New(diag.BadParameter, "startIndex must be an integer >= 1, got %q", v)
		}
		pg.Start = n
	}
	if v := QueryParam(q, "count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return pg, diag.New(diag.BadParameter, "count must be an integer >= 0, got %q", v)
		}
		pg.Count = min(n, MaxPageSize)
	}
	return pg, nil
}

// Links builds the self, first, last, previous and next links of the page
// of a collection of total entries at base. Other query parameters of q are
// kept.
func (pg Paging) Links(base string, q url.Values, total int) []feeds.Link {
	at := func(start int) string {
		v := url.Values{}
		for k, vs := range q {
			if strings.EqualFold(k, "startIndex") || strings.EqualFold(k, "count") {
				continue
			}
			v[k] = vs
		}
		v.Set("startIndex", strconv.Itoa(start))
		v.Set("count", strconv.Itoa(pg.Count))
		return base + "?" + v.Encode()
	}
	links := []feeds.Link{
		{Rel: "self", Type: TypeFeed, Title: "Refresh", Href: at(pg.Start)},
		{Rel: "first", Type: TypeFeed, Title: "First Page", Href: at(1)},
	}
	if pg.Count == 0 {
		return links
	}
	last := 1
	if total > 0 {
		last = (total-1)/pg.Count*pg.Count + 1
	}
	links = append(links, feeds.Link{Rel: "last", Type: TypeFeed, Title: "Last Page", Href: at(last)})
	if pg.Start > 1 {
		prev := max(1, pg.Start-pg.Count)
		if pg.Start > total {
			prev = last
		}
		links = append(links, feeds.Link{Rel: "previous", Type: TypeFeed, Title: "Previous Page", Href: at(prev)})
	}
	if pg.Start+pg.Count <= total {
		links = append(links, feeds.Link{Rel: "next", Type: TypeFeed, Title: "Next Page", Href: at(pg.Start + pg.Count)})
	}
	return links
}

// ListQuery builds the store query of a collection page from the where and
// orderBy parameters of q, compiled against resolve.
func ListQuery(q url.Values, pg Paging, resolve query.Resolver) (store.ListQuery, error) {
	lq := store.ListQuery{Offset: pg.Offset(), Limit: max(pg.Count, 1)}
	if where := QueryParam(q, "where"); where != "" {
		expr, err := query.ParseWhere(where)
		if err != nil {
			return lq, err
		}
		if lq.Where, lq.Args, err = query.CompileWhere(expr, resolve); err != nil {
			return lq, err
		}
	}
	if ob := QueryParam(q, "orderBy"); ob != "" {
		terms, err := query.ParseOrderBy(ob)
		if err != nil {
			return lq, err
		}
		if lq.OrderBy, err = query.CompileOrderBy(terms, resolve); err != nil {
			return lq, err
		}
	}
	return lq, nil
}
