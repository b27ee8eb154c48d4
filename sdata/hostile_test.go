package sdata_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"sdatasync/feeds"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/store"
)

// The hostile-input suite (issue 13): one row per hostile request, with
// the status and code it must get, and the check that nothing stored
// changed. Rows are grouped by class; every class of the issue has rows.

// hostileRow is one hostile request.
type hostileRow struct {
	class, name       string
	method, path, raw string // path below the dataset URL; raw is the body
	hdr               []string
	status            int
	code              string // sdataCode (core 3.10) or applicationCode
}

// state is what a refused request must not change: per kind, the count of
// resources (tombstones included), their ETags and the digest; the
// registry; the jobs.
func (p *provider) state(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, k := range []string{"tradingAccounts", "contacts", "commodities", "salesOrders"} {
		rs, _, err := p.Store.List(ctx, p.endpoint(k), store.ListQuery{IncludeDeleted: true})
		if err != nil {
			t.Fatal(err)
		}
		tags := make([]string, 0, len(rs))
		for _, r := range rs {
			tags = append(tags, r.Key+"="+r.ETag+"/"+r.UUID)
		}
		slices.Sort(tags)
		fmt.Fprintf(&b, "%s: %v digest %v\n", k, tags, p.digest(k))
	}
	reg, n, err := p.Store.RegistryList(ctx, nil, store.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "registry %d %v\n", n, len(reg))
	w, _ := p.Store.DB()
	var jobs int
	if err := w.QueryRow(`SELECT count(*) FROM sync_jobs WHERE status <> 'deleted'`).Scan(&jobs); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "jobs %d\n", jobs)
	return b.String()
}

func hostileRows(key, soKey, lineUUID, ownOrigin string) []hostileRow {
	ta := func(extra string) string {
		return `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008">` + extra + `</tradingAccount>`
	}
	deep := strings.Repeat("<a>", 70) + strings.Repeat("</a>", 70)
	var attrs strings.Builder
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&attrs, ` a%d="v"`, i)
	}
	manyIn := make([]string, 32767)
	for i := range manyIn {
		manyIn[i] = "'x'"
	}
	feed := func(digest, entries string) string {
		return `<feed xmlns="http://www.w3.org/2005/Atom" xmlns:sync="http://schemas.sage.com/sdata/sync/2008/1" xmlns:sdata="http://schemas.sage.com/sdata/2008/1">` +
			digest + entries + `</feed>`
	}
	de := func(ep, tick, prio string) string {
		s := `<digestEntry><endpoint>` + ep + `</endpoint><tick>` + tick + `</tick>`
		if prio != "" {
			s += `<conflictPriority>` + prio + `</conflictPriority>`
		}
		return s + `</digestEntry>`
	}
	dg := func(origin, entries string) string {
		if origin != "" {
			origin = `<origin>` + origin + `</origin>`
		}
		return `<digest xmlns="http://schemas.sage.com/sdata/sync/2008/1">` + origin + entries + `</digest>`
	}
	var junkB strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&junkB, `<digestEntry><endpoint>http://junk%d.example/x</endpoint><tick>%d</tick></digestEntry>`, i, i)
	}
	junk := junkB.String()
	// syncFeed is a catchUp page of one creation in state (ep, tick): the
	// entry would be applied (201) if its state were not refused.
	syncFeed := func(digestEntries, ep, tick string) string {
		return feed(`<sync:syncMode>catchUp</sync:syncMode><sync:digest><sync:origin>http://a/x</sync:origin>`+strings.ReplaceAll(strings.ReplaceAll(digestEntries, "<", "<sync:"), "<sync:/", "</sync:")+`</sync:digest>`,
			`<entry><sync:syncState><sync:endpoint>`+ep+`</sync:endpoint><sync:tick>`+tick+`</sync:tick><sync:stamp>2026-01-01T00:00:00Z</sync:stamp></sync:syncState>`+
				`<http:httpMethod xmlns:http="http://schemas.sage.com/sdata/http/2008/1">POST</http:httpMethod><sdata:payload>`+
				`<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008" sdata:uuid="0190aaaa-bbbb-7ccc-8ddd-eeeeffff0001"><name>Hostile</name></tradingAccount></sdata:payload></entry>`)
	}
	return []hostileRow{
		// Malformed XML, DOCTYPE and entities.
		{"xml", "unclosed", "POST", "tradingAccounts", ta("<name>x"), nil, 400, "BadRequest"},
		{"xml", "two roots", "POST", "tradingAccounts", ta("") + ta(""), nil, 400, "BadRequest"},
		{"xml", "DOCTYPE", "POST", "tradingAccounts", `<!DOCTYPE x>` + ta(""), nil, 400, "BadRequest"},
		{"xml", "entity expansion", "POST", "tradingAccounts", `<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>` + ta("<name>&b;</name>"), nil, 400, "BadRequest"},
		{"xml", "external entity", "POST", "tradingAccounts", `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>` + ta("<name>&e;</name>"), nil, 400, "BadRequest"},
		{"xml", "undefined entity", "POST", "tradingAccounts", ta("<name>&nope;</name>"), nil, 400, "BadRequest"},
		{"xml", "bare ampersand", "POST", "tradingAccounts", ta("<name>a & b</name>"), nil, 400, "BadRequest"},
		// Depth, size, attributes, elements.
		{"limits", "too deep", "POST", "tradingAccounts", ta(deep), nil, 400, "BadRequest"},
		{"limits", "too many attributes", "POST", "tradingAccounts", `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"` + attrs.String() + `/>`, nil, 400, "BadRequest"},
		{"limits", "value over the limit", "POST", "tradingAccounts", ta("<name>" + strings.Repeat("x", 1<<20+1) + "</name>"), nil, 400, "InvalidPayload"},
		{"limits", "batch over the limit", "POST", "tradingAccounts/$batch", feed("", strings.Repeat(`<entry><http:httpMethod xmlns:http="http://schemas.sage.com/sdata/http/2008/1">GET</http:httpMethod></entry>`, 1001)), nil, 413, "RequestEntityTooLarge"},
		// Encodings: invalid UTF-8, surrogates, BOMs.
		{"encoding", "invalid UTF-8", "POST", "tradingAccounts", ta("<name>\xff\xfe</name>"), nil, 400, "BadRequest"},
		{"encoding", "surrogate reference", "POST", "tradingAccounts", ta("<name>&#xD800;</name>"), nil, 400, "BadRequest"},
		{"encoding", "surrogate in attribute", "POST", "tradingAccounts", `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008" xmlns:sdata="http://schemas.sage.com/sdata/2008/1" sdata:key="&#xDC00;"/>`, nil, 400, "BadRequest"},
		{"encoding", "UTF-16 odd length", "POST", "tradingAccounts", "\xff\xfe<\x00a", nil, 400, "BadRequest"},
		{"encoding", "latin1 declared", "POST", "tradingAccounts", `<?xml version="1.0" encoding="ISO-8859-1"?>` + ta(""), nil, 400, "BadRequest"},
		{"encoding", "NUL character", "POST", "tradingAccounts", ta("<name>a\x00b</name>"), nil, 400, "BadRequest"},
		// Namespaces.
		{"namespace", "unbound prefix", "POST", "tradingAccounts", `<x:tradingAccount/>`, nil, 400, "InvalidPayload"},
		{"namespace", "protocol namespace", "POST", "tradingAccounts", `<tradingAccount xmlns="http://schemas.sage.com/sdata/2008/1"/>`, nil, 400, "InvalidPayload"},
		{"namespace", "other namespace", "POST", "tradingAccounts", `<tradingAccount xmlns="urn:evil"/>`, nil, 400, "InvalidPayload"},
		// Content types.
		{"media type", "json", "POST", "tradingAccounts", `{}`, []string{"Content-Type", "application/json"}, 415, "UnsupportedMediaType"},
		{"media type", "form", "POST", "tradingAccounts", `a=b`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "UnsupportedMediaType"},
		{"media type", "malformed", "POST", "tradingAccounts", ta(""), []string{"Content-Type", "application/xml; charset"}, 415, "UnsupportedMediaType"},
		// URL syntax.
		{"url", "dot segments on a write", "PUT", "tradingAccounts('../../x')", ta(""), nil, 400, "BadUrlSyntax"},
		{"url", "empty segment", "GET", "tradingAccounts//x", "", nil, 400, "BadUrlSyntax"},
		{"url", "unterminated key", "GET", "tradingAccounts('1", "", nil, 400, "BadUrlSyntax"},
		{"url", "stray quote", "GET", "tradingAccounts('a'b')", "", nil, 400, "BadUrlSyntax"},
		{"url", "unknown kind", "GET", "widgets", "", nil, 404, "ResourceKindNotFound"},
		{"url", "service on a resource", "POST", "tradingAccounts('" + key + "')/$syncTarget", feed("", ""), nil, 404, "BadUrlSyntax"},
		{"url", "unknown service", "POST", "tradingAccounts/$drop", ta(""), nil, 404, "BadUrlSyntax"},
		// Query parameters and injection attempts.
		{"query", "where syntax", "GET", "tradingAccounts?where=" + url.QueryEscape("name eq"), "", nil, 400, "BadWhereSyntax"},
		{"query", "SQL in where", "GET", "tradingAccounts?where=" + url.QueryEscape("name eq 'x' or 1=1; DROP TABLE resources; --"), "", nil, 400, "BadWhereSyntax"},
		{"query", "SQL after a literal", "GET", "tradingAccounts?where=" + url.QueryEscape(`name eq 'x') or 1=1 --`), "", nil, 400, "BadWhereSyntax"},
		{"query", "SQL as a property", "GET", "tradingAccounts?where=" + url.QueryEscape(`sqlite_master.name eq 'x'`), "", nil, 400, "BadWhereSyntax"},
		{"query", "SQL in orderBy", "GET", "tradingAccounts?orderBy=" + url.QueryEscape("name; DROP TABLE resources"), "", nil, 400, "BadQueryParameter"},
		{"query", "huge in list", "GET", "tradingAccounts?where=" + url.QueryEscape("name in ("+strings.Join(manyIn, ",")+")"), "", nil, 400, "BadWhereSyntax"},
		{"query", "negative count", "GET", "tradingAccounts?count=-1", "", nil, 400, "BadQueryParameter"},
		{"query", "startIndex zero", "GET", "tradingAccounts?startIndex=0", "", nil, 400, "BadQueryParameter"},
		{"query", "count overflow", "GET", "tradingAccounts?count=99999999999999999999", "", nil, 400, "BadQueryParameter"},
		{"query", "select of SQL", "GET", "tradingAccounts?select=" + url.QueryEscape("name)--"), "", nil, 400, "BadQueryParameter"},
		// Tracking IDs.
		{"tracking", "bad characters", "POST", "tradingAccounts/$syncSource?trackingID=" + url.QueryEscape("a b;c"), `<digest xmlns="http://schemas.sage.com/sdata/sync/2008/1"/>`, nil, 400, "BadQueryParameter"},
		{"tracking", "too long", "GET", "tradingAccounts/$syncTarget('" + strings.Repeat("a", 200) + "')", "", nil, 400, "BadQueryParameter"},
		{"tracking", "unknown job", "DELETE", "tradingAccounts/$syncSource('no-such')", "", nil, 404, "JobNotFound"},
		// Digests.
		{"digest", "not a digest", "PUT", "tradingAccounts/$syncDigest", ta(""), nil, 400, "BadRequest"},
		{"digest", "negative tick", "PUT", "tradingAccounts/$syncDigest", `<digest xmlns="http://schemas.sage.com/sdata/sync/2008/1"><digestEntry><endpoint>http://a/x</endpoint><tick>-1</tick></digestEntry></digest>`, nil, 400, "BadRequest"},
		{"digest", "duplicate endpoint", "PUT", "tradingAccounts/$syncDigest", `<digest xmlns="http://schemas.sage.com/sdata/sync/2008/1"><digestEntry><endpoint>http://a/x</endpoint><tick>1</tick></digestEntry><digestEntry><endpoint>http://a/x</endpoint><tick>2</tick></digestEntry></digest>`, nil, 400, "BadRequest"},
		{"digest", "priority 10", "POST", "tradingAccounts/$syncSource", `<digest xmlns="http://schemas.sage.com/sdata/sync/2008/1"><digestEntry><endpoint>http://a/x</endpoint><tick>1</tick><conflictPriority>10</conflictPriority></digestEntry></digest>`, nil, 400, "BadRequest"},
		// Digests: the one validation (digest.Digest.Validate, ValidateOwn).
		{"digest", "endpoint not a url", "PUT", "tradingAccounts/$syncDigest", dg(ownOrigin, de("not a url", "1", "")), nil, 400, "BadRequest"},
		{"digest", "javascript endpoint", "PUT", "tradingAccounts/$syncDigest", dg(ownOrigin, de("javascript:alert(1)", "1", "")), nil, 400, "BadRequest"},
		{"digest", "priority 0", "PUT", "tradingAccounts/$syncDigest", dg(ownOrigin, de("http://a/x", "1", "0")), nil, 400, "BadRequest"},
		{"digest", "10,000 junk entries", "PUT", "tradingAccounts/$syncDigest", dg(ownOrigin, junk), nil, 400, "BadRequest"},
		{"digest", "no origin", "PUT", "tradingAccounts/$syncDigest", dg("", de("http://a/x", "1", "")), nil, 400, "BadRequest"},
		{"digest", "another origin", "PUT", "tradingAccounts/$syncDigest", dg("http://a/x", de("http://a/x", "1", "")), nil, 400, "BadRequest"},
		{"digest", "javascript origin", "POST", "tradingAccounts/$syncSource", dg("javascript:alert(1)", ""), nil, 400, "BadRequest"},
		{"digest", "junk source digest", "POST", "tradingAccounts/$syncSource", dg("", junk), nil, 400, "BadRequest"},
		// Sync feeds and states.
		{"sync", "negative tick", "POST", "tradingAccounts/$syncTarget", syncFeed(de("http://a/x", "5", ""), "http://a/x", "-1"), nil, 400, "BadRequest"},
		{"sync", "state endpoint not a url", "POST", "tradingAccounts/$syncTarget", syncFeed(de("http://a/x", "5", ""), "not a url", "1"), nil, 400, "BadRequest"},
		{"sync", "state javascript endpoint", "POST", "tradingAccounts/$syncTarget?trackingID=h-js", syncFeed(de("http://a/x", "5", ""), "javascript:alert(1)", "1"), nil, 400, "BadRequest"},
		{"sync", "tick above the feed digest", "POST", "tradingAccounts/$syncTarget", syncFeed(de("http://a/x", "5", ""), "http://a/x", "100005"), nil, 400, "BadRequest"},
		{"sync", "immediate tick above the feed digest", "POST", "tradingAccounts/$syncTarget", strings.Replace(syncFeed(de("http://a/x", "5", ""), "http://a/x", "100005"), "catchUp", "immediate", 1), nil, 400, "BadRequest"},
		{"sync", "feed digest priority 0", "POST", "tradingAccounts/$syncTarget", syncFeed(de("http://a/x", "5", "0"), "http://a/x", "1"), nil, 400, "BadRequest"},
		{"sync", "state stamp unparsable", "POST", "tradingAccounts/$syncTarget", strings.Replace(syncFeed(de("http://a/x", "5", ""), "http://a/x", "1"), "2026-01-01T00:00:00Z", "yesterday", 1), nil, 400, "BadRequest"},
		{"sync", "catchUp feed without digest", "POST", "tradingAccounts/$syncTarget", feed("", ""), nil, 400, "BadRequest"},
		{"sync", "unknown syncMode", "POST", "tradingAccounts/$syncTarget", feed(`<sync:syncMode>sideways</sync:syncMode>`, ""), nil, 400, "BadRequest"},
		{"sync", "not a feed", "POST", "tradingAccounts/$syncTarget", ta(""), nil, 400, "BadRequest"},
		{"sync", "results not a feed", "POST", "tradingAccounts/$syncResults", ta(""), nil, 400, "BadRequest"},
		{"sync", "sync URL of a child view", "GET", "salesOrderLines/$syncDigest", "", nil, 404, "BadUrlSyntax"},
		// Batches.
		{"batch", "not a feed", "POST", "tradingAccounts/$batch", ta(""), nil, 400, "BadRequest"},
		{"batch", "malformed", "POST", "tradingAccounts/$batch", `<feed xmlns="http://www.w3.org/2005/Atom"><entry>`, nil, 400, "BadRequest"},
		// Linking.
		{"linking", "not a UUID", "GET", "tradingAccounts/$linked('zz')", "", nil, 400, "BadUrlSyntax"},
		{"linking", "link without uuid", "POST", "tradingAccounts/$linked", `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008" xmlns:sdata="http://schemas.sage.com/sdata/2008/1" sdata:key="` + key + `"/>`, nil, 400, "InvalidPayload"},
		{"linking", "link of another kind", "POST", "tradingAccounts/$linked", `<contact xmlns="http://schemas.sage.com/crmErp/2008"/>`, nil, 400, "InvalidPayload"},
		{"linking", "link of nothing", "POST", "tradingAccounts/$linked", `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008" xmlns:sdata="http://schemas.sage.com/sdata/2008/1" sdata:key="nope" sdata:uuid="11111111-2222-3333-4444-555555555555"/>`, nil, 404, "ResourceNotFound"},
		// Children.
		{"children", "child keyed by a non-UUID", "GET", "salesOrderLines('1')", "", nil, 404, "ResourceNotFound"},
		{"children", "line without its order", "POST", "salesOrderLines", `<salesOrderLine xmlns="http://schemas.sage.com/crmErp/2008"><number>1</number></salesOrderLine>`, nil, 400, "InvalidPayload"},
		{"children", "line of an unknown order", "POST", "salesOrderLines", `<salesOrderLine xmlns="http://schemas.sage.com/crmErp/2008" xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><salesOrder sdata:key="999"/><number>1</number></salesOrderLine>`, nil, 400, "InvalidPayload"},
		{"children", "line with a bad uuid", "PUT", "salesOrders('" + soKey + "')", `<salesOrder xmlns="http://schemas.sage.com/crmErp/2008" xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><salesOrderLines><salesOrderLine sdata:uuid="bad"><number>1</number></salesOrderLine></salesOrderLines></salesOrder>`, nil, 400, "InvalidPayload"},
		{"children", "query on the child view", "GET", "salesOrderLines?where=" + url.QueryEscape("number eq 1"), "", nil, 400, "BadQueryParameter"},
		{"children", "delete of an unknown line", "DELETE", "salesOrderLines('" + strings.Replace(lineUUID, lineUUID[:8], "00000000", 1) + "')", "", nil, 404, "ResourceNotFound"},
	}
}

// hostilePaths is the payloadPath the diagnosis of a row must name, by
// class/name of the row: a refused digest or sync state names its field.
var hostilePaths = map[string]string{
	"digest/endpoint not a url":                 "digest/digestEntry[1]/endpoint",
	"digest/javascript endpoint":                "digest/digestEntry[1]/endpoint",
	"digest/priority 0":                         "digest/digestEntry[1]/conflictPriority",
	"digest/10,000 junk entries":                "digest",
	"digest/no origin":                          "digest/origin",
	"digest/another origin":                     "digest/origin",
	"digest/javascript origin":                  "digest/origin",
	"sync/negative tick":                        "feed/entry[1]/syncState/tick",
	"sync/state endpoint not a url":             "feed/entry[1]/syncState/endpoint",
	"sync/state javascript endpoint":            "feed/entry[1]/syncState/endpoint",
	"sync/tick above the feed digest":           "feed/entry[1]/syncState/tick",
	"sync/immediate tick above the feed digest": "feed/entry[1]/syncState/tick",
	"sync/feed digest priority 0":               "feed/digest/digestEntry[1]/conflictPriority",
	"sync/state stamp unparsable":               "feed/entry[1]/syncState/stamp",
}

// TestHostileInput sends every hostile row and checks its answer and that
// nothing stored changed.
func TestHostileInput(t *testing.T) {
	p := newProvider(t, 5)
	key := p.create("tradingAccounts", ta("Target", "T"))
	soKey := p.create("salesOrders", soHead+`<reference>H1</reference><salesOrderLines>`+line(1, "l", "")+`</salesOrderLines></salesOrder>`)
	var lineUUID string
	for u := range lines(t, p, soKey) {
		lineUUID = u
	}
	classes := map[string]int{}
	for _, row := range hostileRows(key, soKey, lineUUID, p.endpoint("tradingAccounts").URL) {
		classes[row.class]++
		t.Run(row.class+"/"+row.name, func(t *testing.T) {
			before := p.state(t)
			var body []byte
			if row.raw != "" {
				body = []byte(row.raw)
			}
			st, _, b := doWith(t, row.method, p.DatasetURL()+"/"+row.path, body, row.hdr...)
			if st != row.status {
				t.Fatalf("%s %s: %d, want %d\n%.600s", row.method, row.path, st, row.status, b)
			}
			ds, err := feeds.ParseDiagnoses(strings.NewReader(string(b)), feeds.Limits{})
			if err != nil || len(ds) == 0 {
				t.Fatalf("no diagnosis: %v\n%.600s", err, b)
			}
			if code := ds[0].SDataCode; code != row.code && !(code == diag.CodeApplicationDiagnosis && ds[0].ApplicationCode == row.code) {
				t.Errorf("codes %s/%s, want %s (message %q)", ds[0].SDataCode, ds[0].ApplicationCode, row.code, ds[0].Message)
			}
			if want, ok := hostilePaths[row.class+"/"+row.name]; ok && ds[0].PayloadPath != want {
				t.Errorf("payloadPath %q, want %q (message %q)", ds[0].PayloadPath, want, ds[0].Message)
			}
			if after := p.state(t); after != before {
				t.Errorf("the refused request changed what is stored:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	for _, c := range []string{"xml", "limits", "encoding", "namespace", "media type", "url", "query", "tracking", "digest", "sync", "batch", "linking", "children"} {
		if classes[c] == 0 {
			t.Errorf("no hostile row of class %s", c)
		}
	}
}

// TestHostileSyncRowsControl: the hostile sync pages differ from one that
// applies only in the refused value: with a tick the feed's digest claims,
// the same page creates its resource (so the rows above can fail).
func TestHostileSyncRowsControl(t *testing.T) {
	p := newProvider(t, 5)
	var page string
	for _, row := range hostileRows("1", "1", "00000000-0000-0000-0000-000000000000", p.endpoint("tradingAccounts").URL) {
		if row.class+"/"+row.name == "sync/tick above the feed digest" {
			page = strings.Replace(row.raw, "<sync:tick>100005</sync:tick>", "<sync:tick>1</sync:tick>", 1)
		}
	}
	st, _, b := doWith(t, "POST", p.kind("tradingAccounts")+"/$syncTarget", []byte(page))
	if st != 200 {
		t.Fatalf("control page: %d\n%.600s", st, b)
	}
	if f := parseFeedBytes(t, b); len(f.Entries) != 1 || f.Entries[0].HTTPStatus != 201 {
		t.Fatalf("control page not applied: %s", b)
	}
}
