package sdata

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"sdatasync/feeds"
)

// paging is a validated startIndex/count pair; start is 1-based.
type paging struct{ start, count int }

// parsePaging reads startIndex (default 1) and count (default
// DefaultPageSize, capped at MaxPageSize).
func parsePaging(q url.Values) (paging, error) {
	pg := paging{start: 1, count: DefaultPageSize}
	if v := queryParam(q, "startIndex"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return pg, errorf(http.StatusBadRequest, CodeBadQueryParameter, "startIndex must be an integer >= 1, got %q", v)
		}
		pg.start = n
	}
	if v := queryParam(q, "count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return pg, errorf(http.StatusBadRequest, CodeBadQueryParameter, "count must be an integer >= 0, got %q", v)
		}
		pg.count = min(n, MaxPageSize)
	}
	return pg, nil
}

// pageLinks builds the self, first, last, previous and next links of a page
// of a collection of total entries. Other query parameters are kept.
func pageLinks(base string, q url.Values, pg paging, total int) []feeds.Link {
	at := func(start int) string {
		v := url.Values{}
		for k, vs := range q {
			if strings.EqualFold(k, "startIndex") || strings.EqualFold(k, "count") {
				continue
			}
			v[k] = vs
		}
		v.Set("startIndex", strconv.Itoa(start))
		v.Set("count", strconv.Itoa(pg.count))
		return base + "?" + v.Encode()
	}
	links := []feeds.Link{
		{Rel: "self", Type: typeFeed, Title: "Refresh", Href: at(pg.start)},
		{Rel: "first", Type: typeFeed, Title: "First Page", Href: at(1)},
	}
	if pg.count == 0 {
		return links
	}
	last := 1
	if total > 0 {
		last = (total-1)/pg.count*pg.count + 1
	}
	links = append(links, feeds.Link{Rel: "last", Type: typeFeed, Title: "Last Page", Href: at(last)})
	if pg.start > 1 {
		prev := max(1, pg.start-pg.count)
		if pg.start > total {
			prev = last
		}
		links = append(links, feeds.Link{Rel: "previous", Type: typeFeed, Title: "Previous Page", Href: at(prev)})
	}
	if pg.start+pg.count <= total {
		links = append(links, feeds.Link{Rel: "next", Type: typeFeed, Title: "Next Page", Href: at(pg.start + pg.count)})
	}
	return links
}

func nowUTC() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }
