package sdata_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"sdatasync/feeds"
	"sdatasync/sdata"
	"sdatasync/sdata/demo"
	"sdatasync/sdata/payload"
	"sdatasync/sdata/store"
)

func linkBody(elem, attrs string) []byte {
	return []byte(`<` + elem + ` xmlns="http://schemas.sage.com/crmErp/2008" xmlns:sdata="http://schemas.sage.com/sdata/2008/1" ` + attrs + `/>`)
}

// TestLinkingComplianceFlow runs the linking part of the compliance flow for
// every linkable kind of the built-in contract.
func TestLinkingComplianceFlow(t *testing.T) {
	p := newProvider(t, 5)
	if _, err := demo.SeedDataset(context.Background(), p.Server, "-", demoSmall()); err != nil {
		t.Fatal(err)
	}
	for _, k := range p.Config.Contract.Kinds {
		// Child kinds (salesOrderLines) are identified by their UUID inside
		// their parent: they are not linked or unlinked on their own.
		if _, child := p.Server.Child(k.PluralName); !k.HasUUID || child {
			continue
		}
		t.Run(k.PluralName, func(t *testing.T) {
			base := p.kind(k.PluralName)
			rs, _, err := p.Store.List(context.Background(), p.endpoint(k.PluralName), storeAll())
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) == 0 {
				t.Fatal("the demo data has no resources of this kind")
			}
			// Link the first resource to a fresh UUID.
			u := uuid.NewString()
			st, h, b := do(t, http.MethodPost, base+"/$linked", linkBody(k.Name, `sdata:uuid="`+u+`" sdata:key="`+rs[0].Key+`"`))
			mustStatus(t, http.StatusCreated, st, b)
			if !strings.HasSuffix(h.Get("Location"), "$linked('"+u+"')") {
				t.Fatalf("Location %q", h.Get("Location"))
			}
			st, _, b = do(t, http.MethodGet, base+"/$linked", nil)
			mustStatus(t, 200, st, b)
			f := parseFeedBytes(t, b)
			if len(f.Entries) == 0 || f.Entries[0].Payload == nil || !payload.ValidUUID(feeds.PayloadUUID(f.Entries[0].Payload)) {
				t.Fatalf("$linked feed: %s", b)
			}
			first := feeds.PayloadUUID(f.Entries[0].Payload)
			if feeds.PayloadKey(f.Entries[0].Payload) == "" || f.Entries[0].Payload.SelectAttrValue("sdata:url", "") == "" {
				t.Fatal("link payload without sdata:key / sdata:url")
			}
			st, _, b = do(t, http.MethodGet, base+"/$linked('"+first+"')", nil)
			mustStatus(t, 200, st, b)
			e, err := feeds.ParseEntry(bytes.NewReader(b), feeds.Limits{})
			if err != nil || feeds.PayloadUUID(e.Payload) != first {
				t.Fatalf("$linked('%s') = %v %s", first, err, b)
			}
			key := feeds.PayloadKey(e.Payload)
			st, _, b = do(t, http.MethodDelete, base+"/$linked('"+first+"')", nil)
			mustStatus(t, 200, st, b)
			st, _, b = do(t, http.MethodGet, base+"/$linked('"+first+"')", nil)
			mustStatus(t, 404, st, b)
			st, _, b = do(t, http.MethodGet, base+"('"+key+"')", nil)
			mustStatus(t, 200, st, b)
			if e, _ := feeds.ParseEntry(bytes.NewReader(b), feeds.Limits{}); feeds.PayloadUUID(e.Payload) != "" {
				t.Fatalf("unlinked resource still has a UUID: %s", b)
			}
		})
	}
}

func storeAll() store.ListQuery { return store.ListQuery{} }

// TestLinkErrors: bad UUIDs, unknown resources and taken UUIDs are refused
// and change nothing.
func TestLinkErrors(t *testing.T) {
	p := newProvider(t, 5)
	const kind = "tradingAccounts"
	k1 := p.create(kind, ta("One", "1"))
	k2 := p.create(kind, ta("Two", "2"))
	u := uuid.NewString()
	st, _, b := do(t, http.MethodPost, p.kind(kind)+"/$linked", linkBody("tradingAccount", `sdata:uuid="`+u+`" sdata:key="`+k1+`"`))
	mustStatus(t, 201, st, b)
	before := p.digest(kind).Tick(p.endpoint(kind).URL)
	cases := []struct {
		name, method, url string
		body              []byte
		status            int
	}{
		{"bad uuid", "POST", "/$linked", linkBody("tradingAccount", `sdata:uuid="not-a-uuid" sdata:key="`+k2+`"`), 400},
		{"no resource named", "POST", "/$linked", linkBody("tradingAccount", `sdata:uuid="`+uuid.NewString()+`"`), 400},
		{"unknown key", "POST", "/$linked", linkBody("tradingAccount", `sdata:uuid="`+uuid.NewString()+`" sdata:key="999"`), 404},
		{"uuid taken", "POST", "/$linked", linkBody("tradingAccount", `sdata:uuid="`+u+`" sdata:key="`+k2+`"`), 409},
		{"wrong element", "POST", "/$linked", linkBody("contact", `sdata:uuid="`+uuid.NewString()+`" sdata:key="`+k2+`"`), 400},
		{"bad uuid in URL", "GET", "/$linked('xyz')", nil, 400},
		{"unknown link", "GET", "/$linked('" + uuid.NewString() + "')", nil, 404},
		{"unlink unknown", "DELETE", "/$linked('" + uuid.NewString() + "')", nil, 404},
		{"relink unknown", "PUT", "/$linked('" + uuid.NewString() + "')", linkBody("tradingAccount", `sdata:key="`+k2+`"`), 404},
	}
	for _, c := range cases {
		st, _, b := do(t, c.method, p.kind(kind)+c.url, c.body)
		if st != c.status {
			t.Errorf("%s: status %d, want %d\n%s", c.name, st, c.status, b)
			continue
		}
		if ds := diagnosesOf(t, b); len(ds) == 0 {
			t.Errorf("%s: no diagnosis", c.name)
		}
	}
	if got := p.digest(kind).Tick(p.endpoint(kind).URL); got != before {
		t.Fatalf("refused link requests ticked: %d -> %d", before, got)
	}
	// PUT reassigns the link to the other resource.
	st, _, b = do(t, http.MethodPut, p.kind(kind)+"/$linked('"+u+"')", linkBody("tradingAccount", `sdata:url="`+p.kind(kind)+`('`+k2+`')"`))
	mustStatus(t, 200, st, b)
	if r, err := p.Store.GetByUUID(context.Background(), p.endpoint(kind), u); err != nil || r.Key != k2 {
		t.Fatalf("after reassign %s names %+v %v", u, r.Key, err)
	}
	if r, _ := p.Store.Get(context.Background(), p.endpoint(kind), k1); r.UUID != "" {
		t.Fatalf("the former holder kept the UUID %s", r.UUID)
	}
}

// TestUUIDAliasesAcrossThreeProviders: a resource relinked at one provider
// keeps answering to its old UUID; the new UUID and the alias travel, and an
// alias sent by one provider is understood by the others.
func TestUUIDAliasesAcrossThreeProviders(t *testing.T) {
	a, b, c := newProvider(t, 3), newProvider(t, 5), newProvider(t, 7)
	const kind = "tradingAccounts"
	a.create(kind, ta("Shared Ltd", "S1"))
	catchUp(t, a, b, kind, 10, "r1")
	catchUp(t, a, c, kind, 10, "r1")
	var u1 string
	for id := range a.resources(kind) {
		u1 = id
	}
	// B relinks its copy to U2: U2 primary, U1 alias, a local change.
	u2 := uuid.NewString()
	bKey := keyByName(t, b, kind, "Shared Ltd")
	st, _, body := do(t, http.MethodPost, b.kind(kind)+"/$linked", linkBody("tradingAccount", `sdata:uuid="`+u2+`" sdata:key="`+bKey+`"`))
	mustStatus(t, 201, st, body)
	if r, err := b.Store.GetByUUID(context.Background(), b.endpoint(kind), u1); err != nil || r.Key != bKey || r.UUID != u2 {
		t.Fatalf("the alias does not resolve at B: %+v %v", r, err)
	}
	// Meanwhile C, which still knows U1 only, updates the resource.
	cKey := keyByName(t, c, kind, "Shared Ltd")
	c.update(kind, cKey, `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><website>https://shared.example</website></tradingAccount>`)
	// C's change (sent as U1) reaches B: B resolves the alias, no twin. The
	// relink and C's update are concurrent changes: B's priority (5) beats
	// C's (7), so B keeps its version (409 for C's entry).
	res := catchUp(t, c, b, kind, 10, "r2")
	if n := len(b.resources(kind)); n != 1 || len(res) != 1 || res[0].HTTPStatus != http.StatusConflict {
		t.Fatalf("B holds %d resources after C's update by alias; results %+v", n, res)
	}
	// B's relink (U2 with alias U1) reaches A and C: they re-key, no twin.
	catchUp(t, b, a, kind, 10, "r3")
	catchUp(t, b, c, kind, 10, "r3")
	catchUp(t, a, b, kind, 10, "r4")
	catchUp(t, a, c, kind, 10, "r4")
	catchUp(t, c, a, kind, 10, "r4")
	catchUp(t, c, b, kind, 10, "r4")
	for _, p := range []*provider{a, b, c} {
		rs := p.resources(kind)
		if len(rs) != 1 {
			t.Fatalf("%d resources", len(rs))
		}
		for id, s := range rs {
			if id != u2 || strings.Contains(s.payload, "shared.example") {
				t.Fatalf("resource %s %s", id, s.payload)
			}
		}
		if r, err := p.Store.GetByUUID(context.Background(), p.endpoint(kind), u1); err != nil || r.UUID != u2 {
			t.Fatalf("U1 does not resolve to U2's resource: %+v %v", r, err)
		}
	}
	assertConverged(t, a, b, kind)
	assertConverged(t, a, c, kind)
}

// TestReferencesResolveDeferAndResolveLater: references travel by UUID; a
// reference to a resource the target does not have yet is kept and resolves
// when that resource arrives.
func TestReferencesResolveDeferAndResolveLater(t *testing.T) {
	a, b := newProvider(t, 5), newProvider(t, 5)
	// B already holds other accounts, so keys differ between the providers.
	b.create("tradingAccounts", ta("B local 1", "BL1"))
	b.create("tradingAccounts", ta("B local 2", "BL2"))
	acc := a.create("tradingAccounts", ta("Referenced Ltd", "REF"))
	a.create("contacts", `<contact xmlns="http://schemas.sage.com/crmErp/2008" xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><fullName>Ann Ref</fullName><tradingAccount sdata:key="`+acc+`"/></contact>`)
	// The reference reads with key and url at A, and is stored by UUID.
	ref := readRef(t, a, "contacts", "Ann Ref", "tradingAccount")
	if ref.key != acc || ref.uuid == "" || !strings.HasSuffix(ref.url, "tradingAccounts('"+acc+"')") {
		t.Fatalf("reference at A: %+v", ref)
	}
	// Unknown referenced key: 400 with the path, nothing written.
	st, _, body := do(t, http.MethodPost, a.kind("contacts"), []byte(`<contact xmlns="http://schemas.sage.com/crmErp/2008" xmlns:sdata="http://schemas.sage.com/sdata/2008/1"><fullName>Bad</fullName><tradingAccount sdata:key="404"/></contact>`))
	mustStatus(t, 400, st, body)
	if ds := diagnosesOf(t, body); !strings.Contains(ds[0].PayloadPath, "tradingAccount") {
		t.Fatalf("diagnosis %+v", ds)
	}
	// Contacts first: B does not know the account yet; the reference is kept.
	catchUp(t, a, b, "contacts", 10, "refs")
	ref = readRef(t, b, "contacts", "Ann Ref", "tradingAccount")
	if ref.uuid == "" || ref.key != "" {
		t.Fatalf("deferred reference at B: %+v", ref)
	}
	// The account arrives: the reference resolves to B's own key.
	catchUp(t, a, b, "tradingAccounts", 10, "refs")
	bKey := keyByName(t, b, "tradingAccounts", "Referenced Ltd")
	ref = readRef(t, b, "contacts", "Ann Ref", "tradingAccount")
	if ref.key != bKey || bKey == acc {
		t.Fatalf("resolved reference at B: %+v (B's key %s, A's key %s)", ref, bKey, acc)
	}
	catchUp(t, b, a, "contacts", 10, "refs")
	assertConverged(t, a, b, "contacts")
}

type refAttrs struct{ uuid, key, url string }

func readRef(t *testing.T, p *provider, kind, title, prop string) refAttrs {
	t.Helper()
	key := keyByName(t, p, kind, title)
	st, _, body := do(t, http.MethodGet, p.kind(kind)+"('"+key+"')", nil)
	mustStatus(t, 200, st, body)
	e, err := feeds.ParseEntry(bytes.NewReader(body), feeds.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	r := e.Payload.SelectElement(prop)
	if r == nil {
		t.Fatalf("no %s in %s", prop, body)
	}
	return refAttrs{uuid: feeds.PayloadUUID(r), key: feeds.PayloadKey(r), url: r.SelectAttrValue("sdata:url", "")}
}

const soHead = `<salesOrder xmlns="http://schemas.sage.com/crmErp/2008" xmlns:sdata="http://schemas.sage.com/sdata/2008/1">`

func line(n int, text, attrs string) string {
	return `<salesOrderLine ` + attrs + `><number>` + itoa(n) + `</number><type>Standard Line</type><text>` + text + `</text><quantity>1</quantity></salesOrderLine>`
}

func lines(t *testing.T, p *provider, key string) map[string]string {
	t.Helper()
	st, _, body := do(t, http.MethodGet, p.kind("salesOrders")+"('"+key+"')", nil)
	mustStatus(t, 200, st, body)
	e, err := feeds.ParseEntry(bytes.NewReader(body), feeds.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	if l := e.Payload.SelectElement("salesOrderLines"); l != nil {
		for _, it := range l.SelectElements("salesOrderLine") {
			u := feeds.PayloadUUID(it)
			if u == "" {
				t.Fatalf("child without uuid: %s", body)
			}
			if _, dup := out[u]; dup {
				t.Fatalf("child %s twice", u)
			}
			out[u] = child(it, "text")
		}
	}
	return out
}

func uuidOf(m map[string]string, text string) string {
	for u, v := range m {
		if v == text {
			return u
		}
	}
	return ""
}

// TestChildrenMergeByUUIDAndSync: child lines get UUIDs, merge by UUID on
// update (update, add, isDeleted, deleteMissing), travel inside the parent
// and converge without orphans or duplicates; deleting the parent deletes
// them.
func TestChildrenMergeByUUIDAndSync(t *testing.T) {
	a, b := newProvider(t, 5), newProvider(t, 5)
	acc := a.create("tradingAccounts", ta("Buyer Ltd", "BUY"))
	so := a.create("salesOrders", soHead+`<reference>SO1</reference><tradingAccount sdata:key="`+acc+`"/><currency>GBP</currency><date>2026-11-01</date><salesOrderLines>`+
		line(1, "first", "")+line(2, "second", "")+line(3, "third", "")+`</salesOrderLines><lineCount>3</lineCount><netTotal>3</netTotal><discountTotal>0</discountTotal><taxTotal>0</taxTotal><grossTotal>3</grossTotal></salesOrder>`)
	l := lines(t, a, so)
	if len(l) != 3 {
		t.Fatalf("lines %v", l)
	}
	u1, u2, u3 := uuidOf(l, "first"), uuidOf(l, "second"), uuidOf(l, "third")
	// Update line 1, delete line 2, add a fourth; line 3 is not named and stays.
	a.update("salesOrders", so, soHead+`<salesOrderLines>`+line(1, "first changed", `sdata:uuid="`+u1+`"`)+
		`<salesOrderLine sdata:uuid="`+u2+`" sdata:isDeleted="true"/>`+line(4, "fourth", "")+`</salesOrderLines></salesOrder>`)
	l = lines(t, a, so)
	if len(l) != 3 || l[u1] != "first changed" || l[u3] != "third" || uuidOf(l, "fourth") == "" {
		t.Fatalf("after merge: %v", l)
	}
	catchUp(t, a, b, "tradingAccounts", 10, "c1")
	catchUp(t, a, b, "salesOrders", 10, "c1")
	bSO := keyByName(t, b, "salesOrders", "SO1")
	if got := lines(t, b, bSO); len(got) != 3 || got[u1] != "first changed" {
		t.Fatalf("lines at B: %v", got)
	}
	// deleteMissing: only the listed line remains; synced, B drops the others.
	a.update("salesOrders", so, soHead+`<salesOrderLines sdata:deleteMissing="true">`+line(3, "third only", `sdata:uuid="`+u3+`"`)+`</salesOrderLines></salesOrder>`)
	if got := lines(t, a, so); len(got) != 1 || got[u3] != "third only" {
		t.Fatalf("after deleteMissing: %v", got)
	}
	catchUp(t, a, b, "salesOrders", 10, "c2")
	if got := lines(t, b, bSO); len(got) != 1 || got[u3] != "third only" {
		t.Fatalf("lines at B after deleteMissing: %v", got)
	}
	catchUp(t, b, a, "salesOrders", 10, "c2")
	assertConverged(t, a, b, "salesOrders")
	// The line's commodity-free reference to the order's account resolves at B.
	if ref := readRef(t, b, "salesOrders", "SO1", "tradingAccount"); ref.key != keyByName(t, b, "tradingAccounts", "Buyer Ltd") {
		t.Fatalf("order reference at B %+v", ref)
	}
	// Deleting the parent deletes its children with it.
	a.remove("salesOrders", so)
	catchUp(t, a, b, "salesOrders", 10, "c3")
	st, _, body := do(t, http.MethodGet, b.kind("salesOrders")+"('"+bSO+"')", nil)
	mustStatus(t, 404, st, body)
}

// TestAliasesRetire: the sweeper retires aliases older than the retention,
// after which the old UUID no longer resolves.
func TestAliasesRetire(t *testing.T) {
	p := newProvider(t, 5)
	const kind = "tradingAccounts"
	k := p.create(kind, ta("Old", "O"))
	u1, u2 := uuid.NewString(), uuid.NewString()
	for _, u := range []string{u1, u2} {
		st, _, b := do(t, http.MethodPost, p.kind(kind)+"/$linked", linkBody("tradingAccount", `sdata:uuid="`+u+`" sdata:key="`+k+`"`))
		mustStatus(t, 201, st, b)
	}
	ep := p.endpoint(kind)
	if r, err := p.Store.GetByUUID(context.Background(), ep, u1); err != nil || r.Key != k {
		t.Fatalf("alias before retirement: %+v %v", r, err)
	}
	p.Server.Retire(context.Background(), time.Now()) // default retention: nothing to retire yet
	if _, err := p.Store.GetByUUID(context.Background(), ep, u1); err != nil {
		t.Fatalf("alias retired too early: %v", err)
	}
	p.Server.Retire(context.Background(), time.Now().Add(sdata.DefaultAliasTTL+time.Hour))
	if _, err := p.Store.GetByUUID(context.Background(), ep, u1); err == nil {
		t.Fatal("alias still resolves after its retention")
	}
	if r, err := p.Store.GetByUUID(context.Background(), ep, u2); err != nil || r.Key != k {
		t.Fatalf("the primary UUID after retirement: %+v %v", r, err)
	}
}
