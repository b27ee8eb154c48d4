package sdata_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"sdatasync/feeds"
	"sdatasync/sdata/batch"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/store"
)

const batchKind = "tradingAccounts"

// batchFeed wraps entries in a batch request feed.
func batchFeed(entries ...string) []byte {
	return []byte(`<feed xmlns="http://www.w3.org/2005/Atom" xmlns:sdata="http://schemas.sage.com/sdata/2008/1" xmlns:http="http://schemas.sage.com/sdata/http/2008/1">
<title>batch</title><id>urn:test:batch</id><updated>2026-01-01T00:00:00Z</updated>` + strings.Join(entries, "\n") + `</feed>`)
}

// batchReq builds one request entry: id may be "", ifMatch may be "",
// payload may be "" (no sdata:payload).
func batchReq(method, id, ifMatch, payload string) string {
	var b strings.Builder
	b.WriteString("<entry>")
	if id != "" {
		b.WriteString("<id>" + id + "</id>")
	}
	b.WriteString("<title>" + method + "</title><http:httpMethod>" + method + "</http:httpMethod>")
	if ifMatch != "" {
		b.WriteString("<http:ifMatch>" + ifMatch + "</http:ifMatch>")
	}
	if payload != "" {
		b.WriteString("<sdata:payload>" + payload + "</sdata:payload>")
	}
	b.WriteString("</entry>")
	return b.String()
}

const taNS = "http://schemas.sage.com/crmErp/2008"

func taPatch(inner string) string {
	return `<tradingAccount xmlns="` + taNS + `">` + inner + `</tradingAccount>`
}

// ownTick is the provider's own digest tick for kind.
func (p *provider) ownTick(kind string) int64 {
	p.t.Helper()
	return ticks(p.digest(kind))[p.endpoint(kind).URL]
}

// etagOf reads a resource's current ETag from the store.
func (p *provider) etagOf(kind, key string) string {
	p.t.Helper()
	r, err := p.Store.Get(context.Background(), p.endpoint(kind), key)
	if err != nil {
		p.t.Fatal(err)
	}
	return r.ETag
}

func (p *provider) countLive(kind string) int {
	p.t.Helper()
	_, n, err := p.Store.List(context.Background(), p.endpoint(kind), store.ListQuery{Limit: 1})
	if err != nil {
		p.t.Fatal(err)
	}
	return n
}

func wantEntry(t *testing.T, e *feeds.Entry, method string, status int) {
	t.Helper()
	if e.HTTPMethod != method || e.HTTPStatus != status {
		t.Fatalf("entry %s: method %s status %d, want %s %d; diagnoses %+v", e.ID, e.HTTPMethod, e.HTTPStatus, method, status, e.Diagnoses)
	}
	if e.HTTPMessage != http.StatusText(status) {
		t.Errorf("entry %s: httpMessage %q", e.ID, e.HTTPMessage)
	}
	if status >= 400 && len(e.Diagnoses) == 0 {
		t.Errorf("entry %s: status %d without a diagnosis", e.ID, status)
	}
	if status < 400 && len(e.Diagnoses) != 0 {
		t.Errorf("entry %s: status %d with diagnoses %+v", e.ID, status, e.Diagnoses)
	}
}

// TestBatchMixedMethods: POST, PUT (partial, by entry id with ifMatch),
// DELETE (by sdata:key) and GET (by sdata:url) in one synchronous batch; the
// results come in order with statuses, locations, etags and payloads, and
// every write ticked once.
func TestBatchMixedMethods(t *testing.T) {
	a := newProvider(t, 5)
	k1 := a.create(batchKind, ta("One", "R1"))
	k2 := a.create(batchKind, ta("Two", "R2"))
	k3 := a.create(batchKind, ta("Three", "R3"))
	tag1 := a.etagOf(batchKind, k1)
	before := a.ownTick(batchKind)

	body := batchFeed(
		batchReq("POST", "", "", ta("Four", "R4")),
		batchReq("PUT", a.kind(batchKind)+"('"+k1+"')", tag1, taPatch("<name>One renamed</name>")),
		batchReq("DELETE", "", "", `<tradingAccount xmlns="`+taNS+`" sdata:key="`+k2+`"/>`),
		batchReq("get", "", "", `<tradingAccount xmlns="`+taNS+`" sdata:url="`+a.kind(batchKind)+`('`+k3+`')"/>`),
	)
	st, _, b := do(t, http.MethodPost, a.kind(batchKind)+"/$batch", body)
	mustStatus(t, http.StatusOK, st, b)
	f := parseFeedBytes(t, b)
	if len(f.Entries) != 4 {
		t.Fatalf("%d result entries, want 4:\n%s", len(f.Entries), b)
	}
	post, put, del, get := f.Entries[0], f.Entries[1], f.Entries[2], f.Entries[3]

	wantEntry(t, post, "POST", http.StatusCreated)
	newKey := feeds.PayloadKey(post.Payload)
	if newKey == "" || post.Location != a.kind(batchKind)+"('"+newKey+"')" || post.ID != post.Location {
		t.Errorf("POST: key %q location %q id %q", newKey, post.Location, post.ID)
	}
	if post.ETag == "" || post.ETag != a.etagOf(batchKind, newKey) || child(post.Payload, "name") != "Four" {
		t.Errorf("POST: etag %q payload name %q", post.ETag, child(post.Payload, "name"))
	}

	wantEntry(t, put, "PUT", http.StatusOK)
	if child(put.Payload, "name") != "One renamed" || child(put.Payload, "reference") != "R1" {
		t.Errorf("PUT: partial update lost data: name %q reference %q", child(put.Payload, "name"), child(put.Payload, "reference"))
	}
	if put.ETag == tag1 || put.ETag != a.etagOf(batchKind, k1) || put.Location != "" {
		t.Errorf("PUT: etag %q (was %q) location %q", put.ETag, tag1, put.Location)
	}

	wantEntry(t, del, "DELETE", http.StatusOK)
	if del.ID != a.kind(batchKind)+"('"+k2+"')" {
		t.Errorf("DELETE: id %q", del.ID)
	}
	if st, _, _ := do(t, http.MethodGet, a.kind(batchKind)+"('"+k2+"')", nil); st != http.StatusNotFound {
		t.Errorf("deleted resource reads %d", st)
	}

	wantEntry(t, get, "GET", http.StatusOK)
	if child(get.Payload, "name") != "Three" || get.ETag != a.etagOf(batchKind, k3) {
		t.Errorf("GET: name %q etag %q", child(get.Payload, "name"), get.ETag)
	}

	if got := a.ownTick(batchKind); got != before+3 {
		t.Errorf("own tick %d after the batch, want %d (three writes, GET does not tick)", got, before+3)
	}
	// The writes are ordinary local changes: a source selection sees them.
	changes, _, err := a.Store.OwnChanges(context.Background(), a.endpoint(batchKind), before, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 3 || changes[0].Change != store.Created || changes[1].Change != store.Updated || changes[2].Change != store.Deleted {
		t.Errorf("own changes after the batch: %+v", changes)
	}
}

// TestBatchFailingEntriesDoNotStopOthers: an invalid payload (400 with a
// payload path), a stale ifMatch (412), an unknown resource (404), a
// missing method and an unnamed PUT sit between good entries; the batch is
// 200, the good entries apply, and only they tick.
func TestBatchFailingEntriesDoNotStopOthers(t *testing.T) {
	a := newProvider(t, 5)
	k1 := a.create(batchKind, ta("One", "R1"))
	stale := a.etagOf(batchKind, k1)
	a.update(batchKind, k1, taPatch("<name>One v2</name>"))
	before := a.ownTick(batchKind)
	n := a.countLive(batchKind)

	body := batchFeed(
		batchReq("POST", "", "", ta("Good A", "GA")),
		batchReq("POST", "", "", taPatch("<name>Bad</name><bogus>x</bogus>")),
		batchReq("PUT", a.kind(batchKind)+"('"+k1+"')", stale, taPatch("<name>lost update</name>")),
		batchReq("DELETE", a.kind(batchKind)+"('no-such-key')", "", ""),
		`<entry><title>no method</title><sdata:payload>`+ta("X", "X")+`</sdata:payload></entry>`,
		batchReq("PUT", "urn:uuid:7d1c8a9e-0000-4000-8000-000000000001", "", taPatch("<name>who?</name>")),
		batchReq("POST", "", "", ta("Good B", "GB")),
	)
	st, _, b := do(t, http.MethodPost, a.kind(batchKind)+"/$batch", body)
	mustStatus(t, http.StatusOK, st, b)
	f := parseFeedBytes(t, b)
	if len(f.Entries) != 7 {
		t.Fatalf("%d result entries, want 7", len(f.Entries))
	}
	wantEntry(t, f.Entries[0], "POST", http.StatusCreated)
	wantEntry(t, f.Entries[1], "POST", http.StatusBadRequest)
	if d := f.Entries[1].Diagnoses[0]; d.PayloadPath != "feed/entry[2]/payload/tradingAccount/bogus" || d.ApplicationCode != diag.InvalidPayload.AppCode() {
		t.Errorf("invalid payload diagnosis: %+v", d)
	}
	wantEntry(t, f.Entries[2], "PUT", http.StatusPreconditionFailed)
	if d := f.Entries[2].Diagnoses[0]; d.ApplicationCode != diag.PreconditionFailed.AppCode() || f.Entries[2].ID != a.kind(batchKind)+"('"+k1+"')" {
		t.Errorf("stale ifMatch: id %q diagnosis %+v", f.Entries[2].ID, d)
	}
	wantEntry(t, f.Entries[3], "DELETE", http.StatusNotFound)
	if d := f.Entries[3].Diagnoses[0]; d.ApplicationCode != diag.NoResource.AppCode() {
		t.Errorf("unknown resource diagnosis: %+v", d)
	}
	wantEntry(t, f.Entries[4], "", http.StatusBadRequest)
	if d := f.Entries[4].Diagnoses[0]; d.PayloadPath != "feed/entry[5]/httpMethod" {
		t.Errorf("missing method diagnosis: %+v", d)
	}
	wantEntry(t, f.Entries[5], "PUT", http.StatusBadRequest)
	wantEntry(t, f.Entries[6], "POST", http.StatusCreated)

	if got := a.ownTick(batchKind); got != before+2 {
		t.Errorf("own tick %d, want %d: only the two good creates tick", got, before+2)
	}
	if got := a.countLive(batchKind); got != n+2 {
		t.Errorf("%d live resources, want %d", got, n+2)
	}
	r, err := a.Store.Get(context.Background(), a.endpoint(batchKind), k1)
	if err != nil || strings.Contains(string(r.Payload), "lost update") {
		t.Errorf("the stale PUT applied: %s %v", r.Payload, err)
	}
}

// TestBatchAsyncTrackingID: 202 + Location + tracking, GET polls to the
// result feed (repeatable), a repeated POST with the same trackingID (any
// spelling of the parameter) never runs the batch again, DELETE frees it.
func TestBatchAsyncTrackingID(t *testing.T) {
	a := newProvider(t, 5)
	before := a.ownTick(batchKind)
	body := batchFeed(batchReq("POST", "", "", ta("Async A", "AA")), batchReq("POST", "", "", ta("Async B", "AB")))
	st, h, b := do(t, http.MethodPost, a.kind(batchKind)+"/$batch?trackingId=batch-1", body)
	mustStatus(t, http.StatusAccepted, st, b)
	loc := h.Get("Location")
	if loc != a.kind(batchKind)+"/$batch('batch-1')" {
		t.Fatalf("Location %q", loc)
	}
	if _, err := feeds.ParseTracking(strings.NewReader(string(b)), feeds.Limits{}); err != nil {
		t.Fatalf("202 body is not sdata:tracking: %v\n%s", err, b)
	}
	st, rb := poll(t, loc)
	mustStatus(t, http.StatusOK, st, rb)
	f := parseFeedBytes(t, rb)
	if len(f.Entries) != 2 {
		t.Fatalf("%d results", len(f.Entries))
	}
	wantEntry(t, f.Entries[0], "POST", http.StatusCreated)
	wantEntry(t, f.Entries[1], "POST", http.StatusCreated)
	if f.Entries[0].Location == "" || child(f.Entries[1].Payload, "name") != "Async B" {
		t.Errorf("results: %s", rb)
	}

	// Repeat the POST (another spelling, even another body): same job, no new writes.
	st, h, b = do(t, http.MethodPost, a.kind(batchKind)+"/$batch?TRACKINGID=batch-1", batchFeed(batchReq("POST", "", "", ta("Again", "AG"))))
	mustStatus(t, http.StatusAccepted, st, b)
	if h.Get("Location") != loc {
		t.Errorf("repeat Location %q", h.Get("Location"))
	}
	tr, err := feeds.ParseTracking(strings.NewReader(string(b)), feeds.Limits{})
	if err != nil || tr.Phase != "Done" {
		t.Errorf("repeat tracking %+v %v", tr, err)
	}
	if got := a.ownTick(batchKind); got != before+2 {
		t.Errorf("own tick %d, want %d: the batch ran more than once", got, before+2)
	}
	// The result survives repeated GETs, by URL and by parameter.
	st, rb2 := poll(t, a.kind(batchKind)+"/$batch?trackingID=batch-1")
	mustStatus(t, http.StatusOK, st, rb2)
	if g := parseFeedBytes(t, rb2); len(g.Entries) != 2 || g.Entries[0].Location != f.Entries[0].Location {
		t.Errorf("second GET differs:\n%s", rb2)
	}
	// POST on the job URL is not allowed; DELETE frees the job.
	st, _, b = do(t, http.MethodPost, loc, body)
	mustStatus(t, http.StatusMethodNotAllowed, st, b)
	st, _, b = do(t, http.MethodDelete, loc, nil)
	mustStatus(t, http.StatusOK, st, b)
	st, _, b = do(t, http.MethodGet, loc, nil)
	mustStatus(t, http.StatusNotFound, st, b)
	diagnosesOf(t, b)
	st, _, b = do(t, http.MethodGet, a.kind(batchKind)+"/$batch", nil)
	mustStatus(t, http.StatusBadRequest, st, b)
	st, _, b = do(t, http.MethodPost, a.kind(batchKind)+"/$batch?trackingID=bad%20id", body)
	mustStatus(t, http.StatusBadRequest, st, b)
}

// TestBatchMalformedWritesNothing: documents that are not a batch feed are
// refused as a whole with a diagnosis, and nothing is written.
func TestBatchMalformedWritesNothing(t *testing.T) {
	a := newProvider(t, 5)
	a.create(batchKind, ta("One", "R1"))
	before, n := a.ownTick(batchKind), a.countLive(batchKind)
	good := batchReq("POST", "", "", ta("Never", "NV"))
	for name, body := range map[string][]byte{
		"truncated":   batchFeed(good)[:200],
		"not a feed":  []byte(`<entry xmlns="http://www.w3.org/2005/Atom"><title>x</title></entry>`),
		"wrong ns":    []byte(`<feed><entry/></feed>`),
		"not xml":     []byte(`POST this please`),
		"bad payload": batchFeed(good, `<entry><http:httpMethod>POST</http:httpMethod><sdata:payload><a><b></a></sdata:payload></entry>`),
	} {
		st, _, b := do(t, http.MethodPost, a.kind(batchKind)+"/$batch", body)
		if st != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400\n%s", name, st, b)
			continue
		}
		if ds := diagnosesOf(t, b); len(ds) == 0 {
			t.Errorf("%s: no diagnosis", name)
		}
		// Asynchronously too: refused at once, no job.
		st, _, b = do(t, http.MethodPost, a.kind(batchKind)+"/$batch?trackingID=malformed", body)
		if st != http.StatusBadRequest {
			t.Errorf("%s async: status %d\n%s", name, st, b)
		}
	}
	if st, _, b := do(t, http.MethodGet, a.kind(batchKind)+"/$batch('malformed')", nil); st != http.StatusNotFound {
		t.Errorf("a refused batch left a job: %d %s", st, b)
	}
	if a.ownTick(batchKind) != before || a.countLive(batchKind) != n {
		t.Errorf("a malformed batch wrote something")
	}
}

// TestBatchTooManyEntries: over batch.MaxEntries the batch is refused (413)
// before any entry runs.
func TestBatchTooManyEntries(t *testing.T) {
	a := newProvider(t, 5)
	before := a.ownTick(batchKind)
	entries := make([]string, batch.MaxEntries+1)
	for i := range entries {
		entries[i] = batchReq("POST", "", "", ta(fmt.Sprintf("N%d", i), fmt.Sprintf("R%d", i)))
	}
	st, _, b := do(t, http.MethodPost, a.kind(batchKind)+"/$batch", batchFeed(entries...))
	mustStatus(t, http.StatusRequestEntityTooLarge, st, b)
	if ds := diagnosesOf(t, b); len(ds) != 1 || ds[0].ApplicationCode != diag.TooLarge.AppCode() {
		t.Errorf("diagnoses %+v", ds)
	}
	if a.ownTick(batchKind) != before || a.countLive(batchKind) != 0 {
		t.Errorf("an oversized batch wrote something")
	}
}

// TestBatchRestart: a batch restarted during its run finishes with every
// entry either applied or reported 503 (the results match the store); a
// finished batch is still served after a restart; a batch job a crash left
// running is failed at the next start with a clear diagnosis, and a repeat
// POST answers with that failed job without running anything.
func TestBatchRestart(t *testing.T) {
	a := newProvider(t, 5)
	const n = 200
	entries := make([]string, n)
	for i := range entries {
		entries[i] = batchReq("POST", "", "", ta(fmt.Sprintf("R%d", i), fmt.Sprintf("R%d", i)))
	}
	before := a.ownTick(batchKind)
	st, h, b := do(t, http.MethodPost, a.kind(batchKind)+"/$batch?trackingID=restart-1", batchFeed(entries...))
	mustStatus(t, http.StatusAccepted, st, b)
	loc := h.Get("Location")
	a.restart() // graceful: stops the job between entries
	st, rb := poll(t, loc)
	mustStatus(t, http.StatusOK, st, rb)
	f := parseFeedBytes(t, rb)
	if len(f.Entries) != n {
		t.Fatalf("%d results, want %d", len(f.Entries), n)
	}
	applied := 0
	for i, e := range f.Entries {
		switch e.HTTPStatus {
		case http.StatusCreated:
			if i != applied {
				t.Fatalf("entry %d applied after an unprocessed one", i+1)
			}
			applied++
		case http.StatusServiceUnavailable:
			if len(e.Diagnoses) == 0 || e.Diagnoses[0].Severity != "transient" {
				t.Errorf("unprocessed entry %d: %+v", i+1, e.Diagnoses)
			}
		default:
			t.Fatalf("entry %d: status %d", i+1, e.HTTPStatus)
		}
	}
	if got := a.ownTick(batchKind); got != before+int64(applied) {
		t.Errorf("own tick %d, want %d (%d entries reported applied)", got, before+int64(applied), applied)
	}
	if got := a.countLive(batchKind); got != applied {
		t.Errorf("%d resources, %d reported applied", got, applied)
	}
	t.Logf("%d of %d entries applied before the restart", applied, n)

	// After a restart a finished batch still answers with the same results.
	a.restart()
	st, rb2 := poll(t, loc)
	mustStatus(t, http.StatusOK, st, rb2)
	if g := parseFeedBytes(t, rb2); len(g.Entries) != n {
		t.Errorf("after a second restart: %d results", len(g.Entries))
	}

	// A crash: the job is still "running" in the store at the next start.
	body := batchFeed(batchReq("POST", "", "", ta("Crash", "CR")))
	if _, _, err := a.Store.CreateJob(context.Background(), store.Job{EndpointID: a.endpoint(batchKind).ID, Type: store.JobBatch,
		TrackingID: "crashed", Request: body, Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	a.restart()
	tick := a.ownTick(batchKind)
	st, _, b = do(t, http.MethodGet, a.kind(batchKind)+"/$batch('crashed')", nil)
	mustStatus(t, http.StatusInternalServerError, st, b)
	if ds := diagnosesOf(t, b); len(ds) == 0 || !strings.Contains(ds[0].Message, "interrupted") {
		t.Errorf("failed job diagnoses: %+v", ds)
	}
	st, h, b = do(t, http.MethodPost, a.kind(batchKind)+"/$batch?trackingID=crashed", body)
	mustStatus(t, http.StatusAccepted, st, b)
	if tr, err := feeds.ParseTracking(strings.NewReader(string(b)), feeds.Limits{}); err != nil || tr.Phase != "Failed" || h.Get("Location") == "" {
		t.Errorf("repeat of a failed batch: %+v %v", tr, err)
	}
	waitABit()
	if a.ownTick(batchKind) != tick {
		t.Errorf("the repeat POST of a failed batch ran it")
	}
}

// TestBatchStoreSaveResults: SaveResults refuses a job that was freed or is
// no longer running.
func TestBatchStoreSaveResults(t *testing.T) {
	a := newProvider(t, 5)
	ctx := context.Background()
	j, _, err := a.Store.CreateJob(ctx, store.Job{EndpointID: a.endpoint(batchKind).ID, Type: store.JobBatch, TrackingID: "s1",
		Request: []byte("x"), Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	done, err := a.Store.SaveResults(ctx, j, []store.Result{{Status: 201, Method: "POST", Key: "1"}, {Status: 404, Method: "GET", Severity: "error"}})
	if err != nil || done.Status != store.JobDone || done.Total != 2 {
		t.Fatalf("save: %+v %v", done, err)
	}
	rs, err := a.Store.TargetResults(ctx, done, 0, 10)
	if err != nil || len(rs) != 2 || rs[0].Seq != 1 || rs[1].Status != 404 {
		t.Fatalf("results %+v %v", rs, err)
	}
	if _, err := a.Store.SaveResults(ctx, j, nil); err == nil {
		t.Error("saved twice")
	}
	if err := a.Store.DeleteJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.SaveResults(ctx, j, nil); err == nil {
		t.Error("saved a freed job")
	}
}
