package sdata_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"sdatasync/digest"
	"sdatasync/feeds"
	"sdatasync/sdata/demo"
	"sdatasync/sdata/store"
)

func waitABit() { time.Sleep(5 * time.Millisecond) }

const taXML = `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><name>%s</name><reference>%s</reference><currency>GBP</currency></tradingAccount>`

func ta(name, ref string) string { return fmt.Sprintf(taXML, name, ref) }

// TestComplianceFlow runs the compliance checker's flow of SYNC-NOTES for
// every sync-enabled kind of the built-in contract against a real server.
func TestComplianceFlow(t *testing.T) {
	p := newProvider(t, 5)
	if _, err := demo.SeedDataset(context.Background(), p.Server, "-", demoSmall()); err != nil {
		t.Fatal(err)
	}
	for _, k := range p.Config.Contract.SyncKinds() {
		t.Run(k.PluralName, func(t *testing.T) {
			base := p.kind(k.PluralName)
			// 1. The digest.
			st, _, b := do(t, http.MethodGet, base+"/$syncDigest", nil)
			mustStatus(t, http.StatusOK, st, b)
			e, err := feeds.ParseEntry(bytes.NewReader(b), feeds.Limits{})
			if err != nil || e.Digest == nil || len(e.Digest.Entries) == 0 {
				t.Fatalf("digest entry: %v %+v\n%s", err, e, b)
			}
			for _, de := range e.Digest.Entries {
				if de.Tick < 1 || de.ConflictPriority < 1 {
					t.Fatalf("digest entry %+v", de)
				}
			}
			// 2. All ticks to 0, POST to $syncSource, GET the Location.
			for i := range e.Digest.Entries {
				e.Digest.Entries[i].Tick = 0
			}
			var buf bytes.Buffer
			if err := feeds.WriteDigestEntry(&buf, e); err != nil {
				t.Fatal(err)
			}
			st, h, b := do(t, http.MethodPost, base+"/$syncSource?trackingId="+uuid.NewString(), buf.Bytes())
			mustStatus(t, http.StatusAccepted, st, b)
			if !bytes.Contains(b, []byte(feeds.SDataNS)) {
				t.Fatalf("202 body not in the sdata namespace:\n%s", b)
			}
			srcLoc := h.Get("Location")
			st, page := poll(t, srcLoc)
			mustStatus(t, http.StatusOK, st, page)
			f := parseFeedBytes(t, page)
			if len(f.Entries) == 0 {
				t.Fatalf("empty source feed")
			}
			for _, en := range f.Entries {
				if en.SyncState == nil || en.HTTPMethod == "" {
					t.Fatalf("entry without syncState/httpMethod: %+v", en)
				}
			}
			// 3. First entry with a new endpoint's sync state to $syncTarget.
			first := f.Entries[0]
			newEP := "http://compliance.example/sdata/checker/gcrm/-/" + k.PluralName
			first.SyncState = &digest.SyncState{Endpoint: newEP, Tick: 1, Stamp: time.Now().UTC().Truncate(time.Millisecond)}
			f.Entries = f.Entries[:1]
			f.Links = nil
			buf.Reset()
			if err := feeds.WriteFeed(&buf, f); err != nil {
				t.Fatal(err)
			}
			st, h, b = do(t, http.MethodPost, base+"/$syncTarget?trackingId="+uuid.NewString(), buf.Bytes())
			mustStatus(t, http.StatusAccepted, st, b)
			tgtLoc := h.Get("Location")
			st, rb := poll(t, tgtLoc)
			mustStatus(t, http.StatusOK, st, rb)
			rf := parseFeedBytes(t, rb)
			if rf.TotalResults != 1 || len(rf.Entries) != 1 || rf.Entries[0].Payload == nil {
				t.Fatalf("result feed: %+v\n%s", rf, rb)
			}
			if got := rf.Entries[0].HTTPStatus; got != http.StatusOK {
				t.Fatalf("result status %d\n%s", got, rb)
			}
			// 4. Results back to the source; free both contexts.
			st, _, b = do(t, http.MethodPost, base+"/$syncResults", rb)
			mustStatus(t, http.StatusOK, st, b)
			for _, loc := range []string{tgtLoc, srcLoc} {
				st, _, b = do(t, http.MethodDelete, loc, nil)
				mustStatus(t, http.StatusOK, st, b)
				st, _, b = do(t, http.MethodGet, loc, nil)
				mustStatus(t, http.StatusNotFound, st, b)
			}
			// The applied change advanced the digest for the new endpoint.
			if got := p.digest(k.PluralName).Tick(newEP); got != 2 {
				t.Fatalf("digest tick of the new endpoint %d, want 2", got)
			}
		})
	}
}

func mustParse(t testing.TB, s string) *etree.Element {
	t.Helper()
	el, err := feeds.ParsePayload(strings.NewReader(s), feeds.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return el
}

func assertConverged(t *testing.T, a, b *provider, kind string) {
	t.Helper()
	ra, rb := a.resources(kind), b.resources(kind)
	if len(ra) != len(rb) {
		t.Fatalf("%s: %d resources at A, %d at B", kind, len(ra), len(rb))
	}
	for _, u := range sortedKeys(ra) {
		sa, sb := ra[u], rb[u]
		if sa.payload != sb.payload || sa.deleted != sb.deleted || sa.sync.Endpoint != sb.sync.Endpoint || sa.sync.Tick != sb.sync.Tick || !sa.sync.Stamp.Equal(sb.sync.Stamp) {
			t.Fatalf("%s %s differs:\nA %+v\nB %+v", kind, u, sa, sb)
		}
	}
	da, db := ticks(a.digest(kind)), ticks(b.digest(kind))
	if fmt.Sprint(da) != fmt.Sprint(db) {
		t.Fatalf("%s digests differ:\nA %v\nB %v", kind, da, db)
	}
}

// TestTwoProvidersByHand: changes on one side reach the other through the
// four URLs; concurrent edits resolve the same way on both sides.
func TestTwoProvidersByHand(t *testing.T) {
	a, b := newProvider(t, 2), newProvider(t, 4)
	const kind = "tradingAccounts"
	k1 := a.create(kind, ta("Alpha Ltd", "A1"))
	k2 := a.create(kind, ta("Beta Ltd", "B1"))
	k3 := a.create(kind, ta("Gamma Ltd", "C1"))
	a.update(kind, k2, `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><name>Beta Two Ltd</name></tradingAccount>`)
	a.remove(kind, k3)

	res := catchUp(t, a, b, kind, 2, "r1")
	if len(res) != 3 {
		t.Fatalf("%d results, want 3", len(res))
	}
	catchUp(t, b, a, kind, 2, "r1back")
	assertConverged(t, a, b, kind)
	if rb := b.resources(kind); len(rb) != 3 {
		t.Fatalf("B holds %d resources", len(rb))
	}
	// A second pass moves nothing.
	if res := catchUp(t, a, b, kind, 10, "r2"); len(res) != 0 {
		t.Fatalf("second pass moved %d entries", len(res))
	}

	// Concurrent edits of the same resource on both sides: A has priority 2,
	// B priority 4, so A's version wins everywhere whatever the stamps.
	bKey := keyByName(t, b, kind, "Alpha Ltd")
	b.update(kind, bKey, `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><name>Alpha from B</name></tradingAccount>`)
	a.update(kind, k1, `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><name>Alpha from A</name></tradingAccount>`)
	b.update(kind, bKey, `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><currency>EUR</currency></tradingAccount>`)
	// B to A first: A's own version wins at A (409 for B's entry). Then A to
	// B: A has now seen B's version (its digest says so), so its version
	// simply supersedes B's at B (spec 5.4 rule 2: no conflict, apply).
	resBA := catchUp(t, b, a, kind, 10, "r3")
	resAB := catchUp(t, a, b, kind, 10, "r3")
	if len(resAB) != 1 || resAB[0].HTTPStatus != http.StatusOK || len(resAB[0].Diagnoses) != 0 {
		t.Fatalf("A->B conflict result: %+v", resAB)
	}
	if len(resBA) != 1 || resBA[0].HTTPStatus != http.StatusConflict {
		t.Fatalf("B->A conflict result: %+v", resBA)
	}
	assertConverged(t, a, b, kind)
	for _, s := range a.resources(kind) {
		if strings.Contains(s.payload, "Alpha") && !strings.Contains(s.payload, "Alpha from A") {
			t.Fatalf("the lower priority won: %s", s.payload)
		}
	}
	// The audit log recorded the conflicts with both states and the winner.
	recs, _, err := a.Store.AuditLog(context.Background(), store.AuditQuery{Operation: "target.conflict", RunName: "r3"})
	if err != nil || len(recs) != 1 || !strings.Contains(recs[0].Detail, `"winner":"target"`) || !strings.Contains(recs[0].Detail, "targetState") {
		t.Fatalf("A's conflict audit: %+v %v", recs, err)
	}
	// Both passes again: nothing moves any more.
	if n := len(catchUp(t, a, b, kind, 10, "r4")) + len(catchUp(t, b, a, kind, 10, "r4")); n != 0 {
		t.Fatalf("%d entries moved after convergence", n)
	}
	// Concurrent edits again, A to B first this time: the source wins at
	// the target, applied with a warning and audited with both states.
	b.update(kind, bKey, `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><name>Alpha B again</name></tradingAccount>`)
	a.update(kind, k1, `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><name>Alpha A again</name></tradingAccount>`)
	resAB = catchUp(t, a, b, kind, 10, "r5")
	if len(resAB) != 1 || resAB[0].HTTPStatus != http.StatusOK || len(resAB[0].Diagnoses) != 1 || resAB[0].Diagnoses[0].Severity != "warning" {
		t.Fatalf("A->B conflict won by the source: %+v", resAB)
	}
	// B recorded A's winning version as a merge of both (digest.Merge): A's
	// content and stamp under a fresh tick of B's own endpoint, claimed by
	// B's digest, so that the next pass carries it back to A, which takes it
	// in without a conflict.
	var won state
	for _, s := range b.resources(kind) {
		if strings.Contains(s.payload, "Alpha A again") {
			won = s
		}
	}
	var aWon state
	for _, s := range a.resources(kind) {
		if strings.Contains(s.payload, "Alpha A again") {
			aWon = s
		}
	}
	bEP := b.kind(kind)
	if won.sync.Endpoint != bEP || !won.sync.Stamp.Equal(aWon.sync.Stamp) || aWon.sync.Endpoint == bEP {
		t.Fatalf("B holds A's winning version as %+v (A's own: %+v), want a merge under %s with A's stamp", won.sync, aWon.sync, bEP)
	}
	if tk := ticks(b.digest(kind))[bEP]; tk <= won.sync.Tick {
		t.Fatalf("B's digest tick %d does not claim its merge tick %d", tk, won.sync.Tick)
	}
	back := catchUp(t, b, a, kind, 10, "r5")
	if len(back) != 1 || back[0].HTTPStatus != http.StatusOK || len(back[0].Diagnoses) != 0 {
		t.Fatalf("B->A after the merge: %+v", back)
	}
	assertConverged(t, a, b, kind)
	recs, _, err = b.Store.AuditLog(context.Background(), store.AuditQuery{Operation: "target.conflict", RunName: "r5"})
	if err != nil || len(recs) != 1 || !strings.Contains(recs[0].Detail, `"winner":"source"`) {
		t.Fatalf("B's conflict audit: %+v %v", recs, err)
	}
	if n := len(catchUp(t, a, b, kind, 10, "r6")) + len(catchUp(t, b, a, kind, 10, "r6")); n != 0 {
		t.Fatalf("%d entries moved after convergence", n)
	}
}

func keyByName(t *testing.T, p *provider, kind, name string) string {
	t.Helper()
	rs, _, err := p.Store.List(context.Background(), p.endpoint(kind), store.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Title == name {
			return r.Key
		}
	}
	t.Fatalf("no %s named %q", kind, name)
	return ""
}

// TestEqualPrioritiesLaterStampWins: with equal priorities the later edit
// wins on both sides.
func TestEqualPrioritiesLaterStampWins(t *testing.T) {
	a, b := newProvider(t, 5), newProvider(t, 5)
	const kind = "commodities"
	k := a.create(kind, `<commodity xmlns="http://schemas.sage.com/crmErp/2008"><name>Hammer</name><type>Service</type></commodity>`)
	catchUp(t, a, b, kind, 10, "s1")
	bk := keyByName(t, b, kind, "Hammer")
	a.update(kind, k, `<commodity xmlns="http://schemas.sage.com/crmErp/2008"><name>Hammer A</name></commodity>`)
	time.Sleep(3 * time.Millisecond) // stamps have millisecond resolution
	b.update(kind, bk, `<commodity xmlns="http://schemas.sage.com/crmErp/2008"><name>Hammer B</name></commodity>`)
	catchUp(t, a, b, kind, 10, "s2")
	catchUp(t, b, a, kind, 10, "s2")
	assertConverged(t, a, b, kind)
	for _, s := range a.resources(kind) {
		if !strings.Contains(s.payload, "Hammer B") {
			t.Fatalf("the earlier edit won: %s", s.payload)
		}
	}
}

// TestSourceFeedStableWhileWritesHappen: the feed is a snapshot; writes
// during paging go to the next pass.
func TestSourceFeedStableWhileWritesHappen(t *testing.T) {
	a, b := newProvider(t, 5), newProvider(t, 5)
	const kind = "tradingAccounts"
	var keys []string
	for i := 0; i < 7; i++ {
		keys = append(keys, a.create(kind, ta(fmt.Sprintf("Co %d", i), fmt.Sprintf("R%d", i))))
	}
	st, _, dg := do(t, http.MethodGet, b.kind(kind)+"/$syncDigest", nil)
	mustStatus(t, 200, st, dg)
	st, h, body := do(t, http.MethodPost, a.kind(kind)+"/$syncSource?trackingID=stable-1", dg)
	mustStatus(t, http.StatusAccepted, st, body)
	loc := h.Get("Location")
	st, p1 := poll(t, loc+"?count=3")
	mustStatus(t, 200, st, p1)
	// Writes while the feed is paged.
	a.update(kind, keys[5], `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><name>Changed</name></tradingAccount>`)
	a.remove(kind, keys[6])
	a.create(kind, ta("Late Ltd", "LATE"))
	var all []*feeds.Entry
	page := p1
	for {
		f := parseFeedBytes(t, page)
		if f.TotalResults != 7 {
			t.Fatalf("totalResults changed to %d", f.TotalResults)
		}
		all = append(all, f.Entries...)
		next, ok := f.Link("next")
		if !ok {
			break
		}
		st, _, page = do(t, http.MethodGet, next.Href, nil)
		mustStatus(t, 200, st, page)
	}
	if len(all) != 7 {
		t.Fatalf("%d entries", len(all))
	}
	for i, e := range all {
		if e.SyncState.Tick != int64(i+1) || e.HTTPMethod != "POST" || feeds.IsDeleted(e.Payload) || child(e.Payload, "name") != fmt.Sprintf("Co %d", i) {
			t.Fatalf("entry %d changed under the snapshot: tick %d %s %s", i, e.SyncState.Tick, e.HTTPMethod, child(e.Payload, "name"))
		}
	}
	// The same page reads the same again.
	_, _, again := do(t, http.MethodGet, loc+"?count=3", nil)
	if ea, eb := parseFeedBytes(t, again).Entries, parseFeedBytes(t, p1).Entries; len(ea) != len(eb) || ea[2].SyncState.Tick != eb[2].SyncState.Tick {
		t.Fatal("page 1 read differently the second time")
	}
	do(t, http.MethodDelete, loc, nil)
	// The next pass picks up the writes.
	catchUp(t, a, b, kind, 100, "next")
	catchUp(t, b, a, kind, 100, "next")
	assertConverged(t, a, b, kind)
}

// TestTrackingIDIdempotentAndCaseInsensitive: the same trackingID never
// starts a second job; parameter names match case-insensitively.
func TestTrackingIDIdempotentAndCaseInsensitive(t *testing.T) {
	a := newProvider(t, 5)
	const kind = "tradingAccounts"
	a.create(kind, ta("One", "1"))
	empty := []byte(`<digest xmlns="http://schemas.sage.com/sdata/sync/2008/1"/>`)
	st, h1, b := do(t, http.MethodPost, a.kind(kind)+"/$syncSource?trackingid=same-1&RUNNAME=x&runstamp=31/12/2026%2010:00", empty)
	mustStatus(t, http.StatusAccepted, st, b)
	st, _, b = poll2(t, h1.Get("Location"))
	mustStatus(t, 200, st, b)
	a.create(kind, ta("Two", "2"))
	st, h2, b := do(t, http.MethodPost, a.kind(kind)+"/$syncSource?TrackingId=same-1", empty)
	mustStatus(t, http.StatusAccepted, st, b)
	if h1.Get("Location") != h2.Get("Location") {
		t.Fatalf("locations differ: %s vs %s", h1.Get("Location"), h2.Get("Location"))
	}
	_, page := poll(t, h2.Get("Location"))
	if f := parseFeedBytes(t, page); f.TotalResults != 1 {
		t.Fatalf("the repeated POST started a new selection: total %d", f.TotalResults)
	}
	// runStamp is stored verbatim even when it is not ISO 8601.
	recs, _, err := a.Store.AuditLog(context.Background(), store.AuditQuery{TrackingID: "same-1", Operation: "source.post"})
	if err != nil || len(recs) != 2 || recs[1].RunName != "x" || recs[1].RunStamp != "31/12/2026 10:00" || !recs[1].RunTime.IsZero() {
		t.Fatalf("audit: %+v %v", recs, err)
	}
	// DELETE through ?trackingID= works too.
	st, _, b = do(t, http.MethodDelete, a.kind(kind)+"/$syncSource?trackingID=same-1", nil)
	mustStatus(t, 200, st, b)
	st, _, b = do(t, http.MethodGet, h1.Get("Location"), nil)
	mustStatus(t, 404, st, b)
}

func poll2(t testing.TB, url string) (int, http.Header, []byte) {
	st, b := poll(t, url)
	return st, nil, b
}

// TestSynchronousWithoutTrackingID: without a trackingID the answer is
// immediate (200 with page 1 / the results).
func TestSynchronousWithoutTrackingID(t *testing.T) {
	a, b := newProvider(t, 5), newProvider(t, 5)
	const kind = "contacts"
	a.create(kind, `<contact xmlns="http://schemas.sage.com/crmErp/2008"><fullName>Ann Lee</fullName></contact>`)
	_, _, dg := do(t, http.MethodGet, b.kind(kind)+"/$syncDigest", nil)
	st, _, page := do(t, http.MethodPost, a.kind(kind)+"/$syncSource", dg)
	mustStatus(t, 200, st, page)
	if f := parseFeedBytes(t, page); len(f.Entries) != 1 || f.SyncMode != "catchUp" || f.Digest == nil {
		t.Fatalf("synchronous source feed: %+v", f)
	}
	st, _, rb := do(t, http.MethodPost, b.kind(kind)+"/$syncTarget", page)
	mustStatus(t, 200, st, rb)
	if f := parseFeedBytes(t, rb); len(f.Entries) != 1 || f.Entries[0].HTTPStatus != http.StatusCreated || f.Entries[0].Location == "" {
		t.Fatalf("synchronous results: %+v\n%s", f.Entries, rb)
	}
	catchUp(t, b, a, kind, 10, "back")
	assertConverged(t, a, b, kind)
}

// immediateFeed builds an immediate-mode feed carrying the given states;
// its digest is src's, raised to claim every entry (a feed may carry no
// change its own digest does not claim).
func immediateFeed(t *testing.T, src *provider, kind string, entries ...*feeds.Entry) []byte {
	d := src.digest(kind)
	for _, e := range entries {
		if de, ok := d.Get(e.SyncState.Endpoint); ok && de.Tick <= e.SyncState.Tick {
			de.Tick = e.SyncState.Tick + 1
			d.Set(de)
		}
	}
	var buf bytes.Buffer
	if err := feeds.WriteFeed(&buf, &feeds.Feed{ID: "urn:x", Title: "immediate", SyncMode: "immediate", Digest: &d, Entries: entries, TotalResults: -1}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func syncEntryFor(t *testing.T, ep string, tick int64, name string) *feeds.Entry {
	el := mustParse(t, ta(name, "I"+name))
	el.CreateAttr("xmlns:sdata", feeds.SDataNS)
	el.CreateAttr("sdata:uuid", uuid.NewString())
	return &feeds.Entry{ID: "urn:" + name, Title: name, HTTPMethod: "POST", Payload: el,
		SyncState: &digest.SyncState{Endpoint: ep, Tick: tick, Stamp: time.Now().UTC().Truncate(time.Millisecond)}}
}

// TestImmediateGapRefused: a gap in an immediate feed is a 400 and applies
// nothing; contiguous entries apply and advance the digest.
func TestImmediateGapRefused(t *testing.T) {
	a, b := newProvider(t, 5), newProvider(t, 5)
	const kind = "tradingAccounts"
	ep := a.endpoint(kind).URL
	before := b.digest(kind)
	gap := immediateFeed(t, a, kind, syncEntryFor(t, ep, 1, "One"), syncEntryFor(t, ep, 3, "Three"))
	st, _, body := do(t, http.MethodPost, b.kind(kind)+"/$syncTarget?trackingID=imm-1", gap)
	mustStatus(t, http.StatusBadRequest, st, body)
	if ds := diagnosesOf(t, body); len(ds) != 1 || !strings.Contains(ds[0].Message, "tick 3") {
		t.Fatalf("gap diagnosis: %+v", ds)
	}
	if len(b.resources(kind)) != 0 || fmt.Sprint(ticks(b.digest(kind))) != fmt.Sprint(ticks(before)) {
		t.Fatal("a refused immediate feed changed the target")
	}
	ok := immediateFeed(t, a, kind, syncEntryFor(t, ep, 1, "One"), syncEntryFor(t, ep, 2, "Two"))
	st, h, body := do(t, http.MethodPost, b.kind(kind)+"/$syncTarget?trackingID=imm-2", ok)
	mustStatus(t, http.StatusAccepted, st, body)
	st, rb := poll(t, h.Get("Location"))
	mustStatus(t, 200, st, rb)
	if got := b.digest(kind).Tick(ep); got != 3 {
		t.Fatalf("digest tick for the source %d, want 3", got)
	}
	if len(b.resources(kind)) != 2 {
		t.Fatal("contiguous immediate entries not applied")
	}
}

// TestMalformedInputChangesNothing: bad digests and feeds are 400
// diagnoses and leave the target untouched.
func TestMalformedInputChangesNothing(t *testing.T) {
	b := newProvider(t, 5)
	const kind = "tradingAccounts"
	b.create(kind, ta("Keep", "K"))
	before := ticks(b.digest(kind))
	cases := []struct{ name, url, body string }{
		{"digest not XML", "/$syncDigest", `<digest`},
		{"digest negative tick", "/$syncDigest", `<digest xmlns="http://schemas.sage.com/sdata/sync/2008/1"><digestEntry><endpoint>http://x/a</endpoint><tick>-4</tick><stamp>2008-10-30T14:52:03Z</stamp><conflictPriority>1</conflictPriority></digestEntry></digest>`},
		{"digest priority 12", "/$syncDigest", `<digest xmlns="http://schemas.sage.com/sdata/sync/2008/1"><digestEntry><endpoint>http://x/a</endpoint><tick>4</tick><stamp>2008-10-30T14:52:03Z</stamp><conflictPriority>12</conflictPriority></digestEntry></digest>`},
		{"source with bad digest", "/$syncSource?trackingID=m1", `<digest xmlns="http://schemas.sage.com/sdata/sync/2008/1"><digestEntry><tick>x</tick></digestEntry></digest>`},
		{"target not a feed", "/$syncTarget?trackingID=m2", `<entry xmlns="http://www.w3.org/2005/Atom"/>`},
		{"target bad syncMode", "/$syncTarget?trackingID=m3", `<feed xmlns="http://www.w3.org/2005/Atom"><syncMode xmlns="http://schemas.sage.com/sdata/sync/2008/1">sometimes</syncMode></feed>`},
		{"target catchUp without digest", "/$syncTarget?trackingID=m4", `<feed xmlns="http://www.w3.org/2005/Atom"><syncMode xmlns="http://schemas.sage.com/sdata/sync/2008/1">catchUp</syncMode></feed>`},
		{"results not XML", "/$syncResults", `<<<`},
	}
	for _, c := range cases {
		st, _, body := do(t, http.MethodPost, b.kind(kind)+c.url, []byte(c.body))
		if st != http.StatusBadRequest {
			t.Errorf("%s: status %d\n%s", c.name, st, body)
			continue
		}
		if ds := diagnosesOf(t, body); len(ds) == 0 || ds[0].Message == "" {
			t.Errorf("%s: no diagnosis", c.name)
		}
	}
	if got := ticks(b.digest(kind)); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("digest changed: %v -> %v", before, got)
	}
	if len(b.resources(kind)) != 1 {
		t.Fatal("resources changed")
	}
	for _, id := range []string{"m1", "m2", "m3", "m4"} {
		for _, typ := range []string{store.JobSource, store.JobTarget} {
			if _, err := b.Store.Job(context.Background(), b.endpoint(kind).ID, typ, id); err == nil {
				t.Fatalf("a refused request left job %s", id)
			}
		}
	}
}

// TestBadEntriesDoNotStopThePage: an invalid payload is a 400 entry, the
// others apply.
func TestBadEntriesDoNotStopThePage(t *testing.T) {
	a, b := newProvider(t, 5), newProvider(t, 5)
	const kind = "tradingAccounts"
	ep := a.endpoint(kind).URL
	good1, good2 := syncEntryFor(t, ep, 1, "Good1"), syncEntryFor(t, ep, 3, "Good2")
	bad := syncEntryFor(t, ep, 2, "Bad")
	bad.Payload.CreateElement("financeLimit").SetText("lots")
	d := digest.Digest{Origin: ep, Entries: []digest.Entry{{Endpoint: ep, Tick: 4, ConflictPriority: 3}}}
	var buf bytes.Buffer
	feeds.WriteFeed(&buf, &feeds.Feed{ID: "urn:x", SyncMode: "catchUp", Digest: &d, Entries: []*feeds.Entry{good1, bad, good2}, TotalResults: -1})
	st, _, rb := do(t, http.MethodPost, b.kind(kind)+"/$syncTarget", buf.Bytes())
	mustStatus(t, 200, st, rb)
	f := parseFeedBytes(t, rb)
	if len(f.Entries) != 3 || f.Entries[0].HTTPStatus != 201 || f.Entries[1].HTTPStatus != 400 || f.Entries[2].HTTPStatus != 201 {
		t.Fatalf("results: %+v", f.Entries)
	}
	if dg := f.Entries[1].Diagnoses; len(dg) != 1 || !strings.Contains(dg[0].PayloadPath, "financeLimit") || dg[0].Severity != "error" {
		t.Fatalf("bad entry diagnosis: %+v", dg)
	}
	if len(b.resources(kind)) != 2 || b.digest(kind).Tick(ep) != 4 {
		t.Fatalf("target after the page: %d resources, tick %d", len(b.resources(kind)), b.digest(kind).Tick(ep))
	}
}

// TestJobsSurviveRestart: a job finished before a restart is still served;
// a job left running by a crash resumes at start.
func TestJobsSurviveRestart(t *testing.T) {
	a := newProvider(t, 5)
	const kind = "tradingAccounts"
	a.create(kind, ta("One", "1"))
	a.create(kind, ta("Two", "2"))
	empty := []byte(`<digest xmlns="http://schemas.sage.com/sdata/sync/2008/1"/>`)
	st, h, b := do(t, http.MethodPost, a.kind(kind)+"/$syncSource?trackingID=before-restart", empty)
	mustStatus(t, http.StatusAccepted, st, b)
	loc := h.Get("Location")
	poll(t, loc)
	a.restart()
	st, page := poll(t, loc)
	mustStatus(t, 200, st, page)
	if f := parseFeedBytes(t, page); f.TotalResults != 2 {
		t.Fatalf("after restart: %d", f.TotalResults)
	}
	// A crash between the POST and the selection: the job is in the store as
	// running with its request. The next start resumes it.
	ep := a.endpoint(kind)
	if _, _, err := a.Store.CreateJob(context.Background(), store.Job{EndpointID: ep.ID, Type: store.JobSource, TrackingID: "crashed",
		Request: empty, Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	a.restart()
	st, page = poll(t, a.kind(kind)+"/$syncSource('crashed')")
	mustStatus(t, 200, st, page)
	if f := parseFeedBytes(t, page); f.TotalResults != 2 {
		t.Fatalf("resumed job: %d", f.TotalResults)
	}
}

// TestSyncLogFilters: the audit log is queryable by run, tracking id,
// kind, operation and time, newest first.
func TestSyncLogFilters(t *testing.T) {
	a, b := newProvider(t, 5), newProvider(t, 5)
	a.create("tradingAccounts", ta("One", "1"))
	a.create("contacts", `<contact xmlns="http://schemas.sage.com/crmErp/2008"><fullName>Ann</fullName></contact>`)
	start := time.Now().UTC().Add(-time.Second)
	catchUp(t, a, b, "tradingAccounts", 10, "runA")
	catchUp(t, a, b, "contacts", 10, "runB")
	get := func(p *provider, path string) *feeds.Feed {
		st, _, body := do(t, http.MethodGet, p.HTTP.URL+"/sdata/sdatasync/gcrm/-/"+path, nil)
		mustStatus(t, 200, st, body)
		return parseFeedBytes(t, body)
	}
	all := get(a, "$syncLog")
	if all.TotalResults < 6 {
		t.Fatalf("source log has %d records", all.TotalResults)
	}
	if runA := get(a, "$syncLog?runName=runA"); runA.TotalResults == 0 || runA.TotalResults >= all.TotalResults {
		t.Fatalf("runName filter: %d of %d", runA.TotalResults, all.TotalResults)
	}
	res := get(a, "contacts/$syncLog?operation=result")
	if res.TotalResults != 1 || !strings.Contains(child(res.Entries[0].Payload, "detail"), "201") || child(res.Entries[0].Payload, "runName") != "runB" {
		t.Fatalf("posted results not in the log: %+v", res.Entries)
	}
	// One record per posted result feed; it lists every entry, naming the
	// resource by its UUID (read without the payload tree).
	var detail struct {
		Statuses map[string]int `json:"statuses"`
		Entries  []struct {
			UUID       string `json:"uuid"`
			HTTPStatus int    `json:"httpStatus"`
		} `json:"entries"`
	}
	raw := child(res.Entries[0].Payload, "detail")
	if err := json.Unmarshal([]byte(raw), &detail); err != nil || len(detail.Entries) != 1 || detail.Entries[0].HTTPStatus != 201 || detail.Statuses["201"] != 1 {
		t.Fatalf("result detail %q: %v", raw, err)
	}
	if _, err := uuid.Parse(detail.Entries[0].UUID); err != nil {
		t.Fatalf("result detail names no uuid: %q", raw)
	}
	if k := get(a, "$syncLog?kind=contacts&runName=runA"); k.TotalResults != 0 {
		t.Fatalf("kind+run filter: %d", k.TotalResults)
	}
	if s := get(a, "$syncLog?since="+start.Format(time.RFC3339)); s.TotalResults != all.TotalResults {
		t.Fatalf("since: %d of %d", s.TotalResults, all.TotalResults)
	}
	if u := get(a, "$syncLog?until="+start.Format(time.RFC3339)); u.TotalResults != 0 {
		t.Fatalf("until: %d", u.TotalResults)
	}
	page := get(a, "$syncLog?count=2")
	if len(page.Entries) != 2 || page.Entries[0].Updated.Before(page.Entries[1].Updated) {
		t.Fatal("log not newest first")
	}
	tgt := get(b, "tradingAccounts/$syncLog?operation=target.applied")
	if tgt.TotalResults != 1 || child(tgt.Entries[0].Payload, "runStamp") != "2026-11-22T10:00:00Z" || child(tgt.Entries[0].Payload, "trackingID") == "" {
		t.Fatalf("target log: %+v", tgt.Entries)
	}
	st, _, body := do(t, http.MethodGet, a.HTTP.URL+"/sdata/sdatasync/gcrm/-/$syncLog?since=yesterday", nil)
	mustStatus(t, 400, st, body)
}

// TestDigestPutReseeds: PUT replaces the digest after validation, keeping the
// own entry at least past the stored ticks.
func TestDigestPutReseeds(t *testing.T) {
	a := newProvider(t, 5)
	const kind = "tradingAccounts"
	a.create(kind, ta("One", "1"))
	a.create(kind, ta("Two", "2"))
	own := a.endpoint(kind).URL
	body := `<digest xmlns="http://schemas.sage.com/sdata/sync/2008/1"><origin>` + own + `</origin><digestEntry><endpoint>http://other/x</endpoint><tick>9</tick><stamp>2008-10-30T14:52:03Z</stamp><conflictPriority>2</conflictPriority></digestEntry>` +
		`<digestEntry><endpoint>` + own + `</endpoint><tick>1</tick><stamp>2008-10-30T14:52:03Z</stamp><conflictPriority>5</conflictPriority></digestEntry></digest>`
	st, _, b := do(t, http.MethodPut, a.kind(kind)+"/$syncDigest", []byte(body))
	mustStatus(t, 200, st, b)
	d := a.digest(kind)
	if d.Tick("http://other/x") != 9 || d.Tick(own) != 3 {
		t.Fatalf("reseeded digest %+v", d)
	}
}

func demoSmall() demo.Sizes {
	return demo.Sizes{TradingAccounts: 5, Contacts: 6, Commodities: 4, SalesOrders: 3}
}

// TestBareTombstoneOfUnknownResourceTravelsOn: a deletion of a resource the
// target never had is stored as a tombstone that can itself be synchronized
// further.
func TestBareTombstoneOfUnknownResourceTravelsOn(t *testing.T) {
	b, c := newProvider(t, 5), newProvider(t, 5)
	const kind = "tradingAccounts"
	src := "http://elsewhere.example/sdata/app/gcrm/-/tradingAccounts"
	el := mustParse(t, `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"/>`)
	el.CreateAttr("xmlns:sdata", feeds.SDataNS)
	el.CreateAttr("sdata:uuid", uuid.NewString())
	el.CreateAttr("sdata:isDeleted", "true")
	d := digest.Digest{Origin: src, Entries: []digest.Entry{{Endpoint: src, Tick: 2, ConflictPriority: 3}}}
	var buf bytes.Buffer
	feeds.WriteFeed(&buf, &feeds.Feed{ID: "urn:x", SyncMode: "catchUp", Digest: &d, TotalResults: -1, Entries: []*feeds.Entry{{
		ID: "urn:e", Title: "gone", HTTPMethod: "DELETE", Payload: el,
		SyncState: &digest.SyncState{Endpoint: src, Tick: 1, Stamp: time.Now().UTC().Truncate(time.Millisecond)}}}})
	st, _, body := do(t, http.MethodPost, b.kind(kind)+"/$syncTarget", buf.Bytes())
	mustStatus(t, 200, st, body)
	if rs := b.resources(kind); len(rs) != 1 {
		t.Fatalf("B holds %d", len(rs))
	}
	catchUp(t, b, c, kind, 10, "tomb")
	for _, s := range c.resources(kind) {
		if !s.deleted {
			t.Fatal("the tombstone arrived alive")
		}
	}
	if len(c.resources(kind)) != 1 {
		t.Fatal("the tombstone did not travel on")
	}
}

// TestResultsLogOneRecordPerFeed: a posted result feed is one audit record
// whose count, status (the worst one) and detail cover every entry.
func TestResultsLogOneRecordPerFeed(t *testing.T) {
	a := newProvider(t, 5)
	entry := func(id string, status int) string {
		return fmt.Sprintf(`<entry><id>%s</id><http:httpStatus>%d</http:httpStatus><http:httpMethod>PUT</http:httpMethod>`+
			`<sdata:payload><tradingAccount xmlns="http://schemas.sage.com/crmErp/2008" sdata:uuid="%s"/></sdata:payload></entry>`,
			id, status, uuid.NewString())
	}
	feed := `<feed xmlns="http://www.w3.org/2005/Atom" xmlns:sdata="http://schemas.sage.com/sdata/2008/1" ` +
		`xmlns:http="http://schemas.sage.com/sdata/http/2008/1"><id>r</id>` +
		entry("a", 201) + entry("b", 200) + entry("c", 409) + `</feed>`
	st, _, b := do(t, http.MethodPost, a.kind("tradingAccounts")+"/$syncResults?runName=logged&runStamp=x&trackingID=t1", []byte(feed))
	mustStatus(t, http.StatusOK, st, b)
	st, _, body := do(t, http.MethodGet, a.kind("tradingAccounts")+"/$syncLog?operation=result&runName=logged", nil)
	mustStatus(t, http.StatusOK, st, body)
	f := parseFeedBytes(t, body)
	if f.TotalResults != 1 {
		t.Fatalf("%d records for one posted feed", f.TotalResults)
	}
	p := f.Entries[0].Payload
	if child(p, "count") != "3" || child(p, "httpStatus") != "409" || child(p, "trackingID") != "t1" {
		t.Fatalf("record count %q status %q tracking %q", child(p, "count"), child(p, "httpStatus"), child(p, "trackingID"))
	}
	var detail struct {
		Statuses map[string]int    `json:"statuses"`
		Entries  []json.RawMessage `json:"entries"`
	}
	if err := json.Unmarshal([]byte(child(p, "detail")), &detail); err != nil || len(detail.Entries) != 3 ||
		detail.Statuses["201"] != 1 || detail.Statuses["200"] != 1 || detail.Statuses["409"] != 1 {
		t.Fatalf("detail %s (%v)", child(p, "detail"), err)
	}
}

// TestBigTargetPageResumes: a target page too big for the database (its
// request lives in a file) that a crash left unapplied is applied at the
// next start, and its file is gone once it is.
func TestBigTargetPageResumes(t *testing.T) {
	a, b := newProvider(t, 5), newProvider(t, 5)
	const kind = "tradingAccounts"
	for i := 0; i < 40; i++ {
		a.create(kind, ta(strings.Repeat("Long company name ", 20)+itoa(i), "R"+itoa(i)))
	}
	page := firstPage(t, a, b, kind, 100)
	if len(page) <= store.InlineRequestMax {
		t.Fatalf("the page has %d bytes: not big enough for a request file", len(page))
	}
	// The crash: the job was recorded, its page not applied.
	if _, _, err := b.Store.CreateJob(context.Background(), store.Job{EndpointID: b.endpoint(kind).ID, Type: store.JobTarget,
		TrackingID: "crashed", Request: page, Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	files, _ := os.ReadDir(store.RequestDir(b.DB))
	if len(files) != 1 {
		t.Fatalf("%d request files", len(files))
	}
	b.restart()
	st, res := poll(t, b.kind(kind)+"/$syncTarget('crashed')")
	mustStatus(t, http.StatusOK, st, res)
	if f := parseFeedBytes(t, res); f.TotalResults != 40 {
		t.Fatalf("resumed page: %d results, want 40", f.TotalResults)
	}
	if got := len(b.resources(kind)); got != 40 {
		t.Fatalf("b holds %d accounts after the resumed page, want 40", got)
	}
	if files, _ := os.ReadDir(store.RequestDir(b.DB)); len(files) != 0 {
		t.Fatalf("request file left after the page was applied: %v", files)
	}
}

// TestFreedJobsArePurged: what a freed job held (snapshot rows, results)
// is removed in the background after the DELETE answered.
func TestFreedJobsArePurged(t *testing.T) {
	a, b := newProvider(t, 5), newProvider(t, 5)
	for i := 0; i < 12; i++ {
		a.create("tradingAccounts", ta("Acc "+itoa(i), "R"+itoa(i)))
	}
	catchUp(t, a, b, "tradingAccounts", 5, "purge")
	for name, p := range map[string]*provider{"source": a, "target": b} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			var rows, jobs int
			err := p.Store.Tx(context.Background(), func(tx *sql.Tx) error {
				if err := tx.QueryRow(`SELECT (SELECT count(*) FROM sync_job_entries) + (SELECT count(*) FROM sync_job_results)`).Scan(&rows); err != nil {
					return err
				}
				return tx.QueryRow(`SELECT count(*) FROM sync_jobs`).Scan(&jobs)
			})
			if err != nil {
				t.Fatal(err)
			}
			if rows == 0 && jobs == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still holds %d job rows and %d jobs after the pass freed them", name, rows, jobs)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestInterruptedPassKeepsContext: the first page of a pass that never
// finishes (an engine killed between pages) brings a version that includes
// one the target's digest does not claim, since the end-of-feed merge never
// came. When that older version arrives later from a provider of higher
// priority, it is no conflict: the target's copy already includes it.
func TestInterruptedPassKeepsContext(t *testing.T) {
	c := newProvider(t, 1)
	a := newProvider(t, 5)
	b := newProvider(t, 5)
	const kind = "tradingAccounts"
	c.create(kind, ta("Origin", "O1"))
	catchUp(t, c, a, kind, 10, "c-to-a")
	a.update(kind, keyByName(t, a, kind, "Origin"), `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><name>Edited at A</name></tradingAccount>`)
	a.create(kind, ta("Second", "S2"))

	page := firstPage(t, a, b, kind, 1) // A's edit; "Second" is on page 2
	if _, ok := parseFeedBytes(t, page).Link("next"); !ok {
		t.Fatal("the first page has no next link: the pass would not be interrupted")
	}
	st, _, rb := do(t, http.MethodPost, b.kind(kind)+"/$syncTarget?runName=interrupted", page)
	mustStatus(t, http.StatusOK, st, rb)
	if tk := ticks(b.digest(kind))[c.kind(kind)]; tk != 0 {
		t.Fatalf("B's digest claims C's ticks below %d after an interrupted pass", tk)
	}
	res := catchUp(t, c, b, kind, 10, "c-to-b")
	if len(res) != 1 || len(res[0].Diagnoses) != 1 || res[0].Diagnoses[0].ApplicationCode != "Skip" {
		t.Fatalf("C's older version at B: %d results, want one skipped without a conflict: %+v", len(res), res)
	}
	for _, s := range b.resources(kind) {
		if strings.Contains(s.payload, "Origin") {
			t.Fatalf("B went back to C's version: %s", s.payload)
		}
	}
	catchUp(t, a, b, kind, 10, "rerun")
	catchUp(t, b, c, kind, 10, "b-to-c")
	catchUp(t, c, a, kind, 10, "c-to-a-again")
	assertConverged(t, a, b, kind)
	assertConverged(t, b, c, kind)
}
