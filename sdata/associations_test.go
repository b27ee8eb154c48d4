package sdata_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"sdatasync/feeds"
	"sdatasync/sdata/store"
)

// TestAssociationReferences: the items of a collection of references (an
// account's contacts) are references like any other: written by key,
// stored by UUID, read with the local key and URL, listed at the property
// URL, and re-keyed by a provider they sync to.
func TestAssociationReferences(t *testing.T) {
	a, b := newProvider(t, 5), newProvider(t, 5)
	b.create("contacts", `<contact xmlns="http://schemas.sage.com/crmErp/2008"><fullName>Occupies key 1 at B</fullName></contact>`)
	c1 := a.create("contacts", `<contact xmlns="http://schemas.sage.com/crmErp/2008"><fullName>Ann</fullName></contact>`)
	c2 := a.create("contacts", `<contact xmlns="http://schemas.sage.com/crmErp/2008"><fullName>Bob</fullName></contact>`)
	acc := a.create("tradingAccounts", `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008" xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><name>Assoc Ltd</name>`+
		`<contacts><contact sdata:key="`+c1+`"/><contact sdata:url="`+a.kind("contacts")+`('`+c2+`')"/></contacts></tradingAccount>`)
	res, err := a.Store.Get(context.Background(), a.endpoint("tradingAccounts"), acc)
	if err != nil || bytes.Contains(res.Payload, []byte("sdata:key")) || bytes.Count(res.Payload, []byte("sdata:uuid=")) != 2 {
		t.Fatalf("stored: %s %v", res.Payload, err)
	}
	st, _, body := do(t, http.MethodGet, a.kind("tradingAccounts")+"('"+acc+"')/contacts", nil)
	mustStatus(t, http.StatusOK, st, body)
	if f := parseFeedBytes(t, body); f.TotalResults != 2 {
		t.Fatalf("listed contacts: %d\n%s", f.TotalResults, body)
	}
	for _, kind := range []string{"contacts", "tradingAccounts"} {
		catchUp(t, a, b, kind, 100, "assoc")
	}
	rs, _, err := b.Store.List(context.Background(), b.endpoint("tradingAccounts"), store.ListQuery{})
	if err != nil || len(rs) != 1 {
		t.Fatalf("B's accounts: %d %v", len(rs), err)
	}
	bk := rs[0].Key
	st, _, body = do(t, http.MethodGet, b.kind("tradingAccounts")+"('"+bk+"')", nil)
	mustStatus(t, http.StatusOK, st, body)
	e, err := feeds.ParseEntry(bytes.NewReader(body), feeds.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, item := range e.Payload.FindElements("contacts/contact") {
		st, _, cb := do(t, http.MethodGet, item.SelectAttrValue("sdata:url", ""), nil)
		mustStatus(t, http.StatusOK, st, cb)
		ce, _ := feeds.ParseEntry(bytes.NewReader(cb), feeds.Limits{})
		names[child(ce.Payload, "fullName")] = true
	}
	if !names["Ann"] || !names["Bob"] || len(names) != 2 {
		t.Fatalf("B's account refers to %v", names)
	}
}
