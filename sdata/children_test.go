package sdata_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"sdatasync/feeds"
)

// TestChildKindIsAViewOfItsParents: salesOrderLines read and write through
// their sales orders, consistently.
func TestChildKindIsAViewOfItsParents(t *testing.T) {
	p := newProvider(t, 5)
	so1 := p.create("salesOrders", soHead+`<reference>V1</reference><salesOrderLines>`+line(1, "a", "")+line(2, "b", "")+`</salesOrderLines></salesOrder>`)
	p.create("salesOrders", soHead+`<reference>V2</reference><salesOrderLines>`+line(1, "c", "")+`</salesOrderLines></salesOrder>`)
	lineURL := p.kind("salesOrderLines")
	st, _, body := do(t, http.MethodGet, lineURL+"?count=2", nil)
	mustStatus(t, 200, st, body)
	f := parseFeedBytes(t, body)
	if f.TotalResults != 3 || len(f.Entries) != 2 {
		t.Fatalf("view: total %d, %d entries", f.TotalResults, len(f.Entries))
	}
	first := f.Entries[0].Payload
	u := feeds.PayloadUUID(first)
	if parent := first.SelectElement("salesOrder"); parent == nil || feeds.PayloadKey(parent) != so1 || feeds.PayloadKey(first) != u {
		t.Fatalf("line entry: %s", body)
	}
	// A partial PUT of a line updates the line inside its order, one tick.
	ep := p.endpoint("salesOrders")
	before := p.digest("salesOrders").Tick(ep.URL)
	st, _, body = do(t, http.MethodPut, lineURL+"('"+u+"')", []byte(`<salesOrderLine xmlns="http://schemas.sage.com/crmErp/2008"><text>a changed</text></salesOrderLine>`))
	mustStatus(t, 200, st, body)
	if got := lines(t, p, so1); got[u] != "a changed" || len(got) != 2 {
		t.Fatalf("order after the line PUT: %v", got)
	}
	if got := p.digest("salesOrders").Tick(ep.URL); got != before+1 {
		t.Fatalf("a line write ticked the order %d times", got-before)
	}
	// POST a line naming its order; DELETE a line.
	st, h, body := do(t, http.MethodPost, lineURL, []byte(`<salesOrderLine xmlns="http://schemas.sage.com/crmErp/2008" xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><salesOrder sdata:key="`+so1+`"/><number>3</number><text>new</text><quantity>2</quantity></salesOrderLine>`))
	mustStatus(t, 201, st, body)
	if !strings.Contains(h.Get("Location"), "salesOrderLines('") {
		t.Fatalf("Location %q", h.Get("Location"))
	}
	st, _, body = do(t, http.MethodDelete, lineURL+"('"+u+"')", nil)
	mustStatus(t, 200, st, body)
	got := lines(t, p, so1)
	if len(got) != 2 || uuidOf(got, "new") == "" || got[u] != "" {
		t.Fatalf("order after POST and DELETE of lines: %v", got)
	}
	st, _, body = do(t, http.MethodGet, lineURL+"('"+u+"')", nil)
	mustStatus(t, 404, st, body)
	// Errors: no parent, a where on the view, sync URLs of the view.
	st, _, body = do(t, http.MethodPost, lineURL, []byte(`<salesOrderLine xmlns="http://schemas.sage.com/crmErp/2008"><number>9</number></salesOrderLine>`))
	mustStatus(t, 400, st, body)
	st, _, body = do(t, http.MethodGet, lineURL+"?where=number%20eq%201", nil)
	mustStatus(t, 400, st, body)
	st, _, body = do(t, http.MethodGet, lineURL+"/$syncDigest", nil)
	mustStatus(t, 404, st, body)
	// The view's kind says it does not synchronize on its own.
	st, _, body = do(t, http.MethodGet, lineURL+"/$schema", nil)
	mustStatus(t, 200, st, body)
	if !bytes.Contains(body, []byte(`name="salesOrderLine"`)) || bytes.Contains(body, []byte(`sme:isSyncSource="true"`)) {
		t.Fatalf("salesOrderLine schema still a sync source:\n%s", body)
	}
}
