package feeds

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"sdatasync/digest"
)

// sharedExamples returns the directory of the spec example documents, or
// skips the test when the shared reference material is absent.
func sharedExamples(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("module root not found")
		}
		dir = parent
	}
	ex := filepath.Join(dir, "..", "shared", "sdata", "examples")
	if _, err := os.Stat(ex); err != nil {
		t.Skipf("spec examples not available: %v", err)
	}
	return ex
}

func openExample(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join(sharedExamples(t), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UTC()
}

const (
	ep1 = "http://www.example.com/sdata/myApp1/myContract/-/accounts"
	ep2 = "http://www.example.com/sdata/myApp2/myContract/-/accounts"
	ep3 = "http://www.example.com/sdata/sageApp3/test/-/accounts"
)

func checkDigest(t *testing.T, got *digest.Digest, want digest.Digest) {
	t.Helper()
	if got == nil {
		t.Fatal("digest is nil")
	}
	if got.Origin != want.Origin {
		t.Errorf("origin = %q, want %q", got.Origin, want.Origin)
	}
	if len(got.Entries) != len(want.Entries) {
		t.Fatalf("digest has %d entries, want %d: %+v", len(got.Entries), len(want.Entries), got.Entries)
	}
	for i, w := range want.Entries {
		g := got.Entries[i]
		if g.Endpoint != w.Endpoint || g.Tick != w.Tick || !g.Stamp.Equal(w.Stamp) || g.ConflictPriority != w.ConflictPriority {
			t.Errorf("digest entry %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestExampleDigest(t *testing.T) {
	want := digest.Digest{Origin: ep1, Entries: []digest.Entry{
		{Endpoint: ep1, Tick: 5, Stamp: mustTime(t, "2008-10-30T14:52:03.281Z"), ConflictPriority: 2},
		{Endpoint: ep2, Tick: 11, Stamp: mustTime(t, "2008-10-30T13:46:45Z"), ConflictPriority: 1},
		{Endpoint: ep3, Tick: 8, Stamp: mustTime(t, "2008-10-30T12:40:25Z"), ConflictPriority: 3},
	}}
	for _, name := range []string{"digest-4.2.xml", "digest-entry-5.1.xml"} {
		t.Run(name, func(t *testing.T) {
			d, err := ParseDigest(openExample(t, name), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			checkDigest(t, d, want)
		})
	}
	t.Run("entry", func(t *testing.T) {
		e, err := ParseEntry(openExample(t, "digest-entry-5.1.xml"), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if e.ID != ep2+"/$syncDigest" || e.Title != "Synchronization digest" {
			t.Errorf("id/title = %q / %q", e.ID, e.Title)
		}
		if !e.Updated.Equal(mustTime(t, "2008-03-31T13:46:45Z")) {
			t.Errorf("updated = %v", e.Updated)
		}
		if l, ok := e.Link("self"); !ok || l.Href != ep2+"/$syncDigest" || l.Title != "Refresh" || l.Type != "application/atom+xml; type=entry" {
			t.Errorf("self link = %+v, %v", l, ok)
		}
		if e.Payload != nil {
			t.Errorf("payload set beside digest: %v", e.Payload)
		}
		checkDigest(t, e.Digest, want)
	})
}

func TestExampleSyncFeed(t *testing.T) {
	f, err := ParseFeed(openExample(t, "feed-4.4.xml"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	src := ep1 + "/$syncSource('DD052E5C-BFAD-4ffa-8D54-D696E4959497')"
	if f.ID != src || f.Title != "Account synchronization feed DD052E5C-BFAD-4ffa-8D54-D696E4959497" {
		t.Errorf("id/title = %q / %q", f.ID, f.Title)
	}
	if f.SyncMode != "catchUp" {
		t.Errorf("syncMode = %q", f.SyncMode)
	}
	if f.TotalResults != -1 || f.StartIndex != 0 || f.ItemsPerPage != 0 {
		t.Errorf("opensearch = %d %d %d, want absent", f.TotalResults, f.StartIndex, f.ItemsPerPage)
	}
	if len(f.Links) != 3 {
		t.Errorf("%d links, want 3", len(f.Links))
	}
	if l, ok := f.Link("next"); !ok || l.Href != src+"\n?startIndex=11&count=10" || l.Title != "NextPage" {
		t.Errorf("next link = %+v, %v", l, ok)
	}
	if _, ok := f.Link("previous"); ok {
		t.Error("unexpected previous link")
	}
	checkDigest(t, f.Digest, digest.Digest{Origin: ep1, Entries: []digest.Entry{
		{Endpoint: ep1, Tick: 6, Stamp: mustTime(t, "2008-10-30T17:23:08Z"), ConflictPriority: 2},
		{Endpoint: ep2, Tick: 10, Stamp: mustTime(t, "2008-10-30T12:16:51Z"), ConflictPriority: 1},
		{Endpoint: ep3, Tick: 10, Stamp: mustTime(t, "2008-10-30T16:47:03Z"), ConflictPriority: 3},
	}})
	if len(f.Entries) != 2 {
		t.Fatalf("%d entries, want 2", len(f.Entries))
	}
	wantStates := []digest.SyncState{
		{Endpoint: ep1, Tick: 5, Stamp: mustTime(t, "2008-10-30T14:55:43.281Z")},
		{Endpoint: ep3, Tick: 8, Stamp: mustTime(t, "2008-10-30T13:27:19.207Z")},
	}
	wantUUIDs := []string{"74926A0D-D2C0-4daa-9986-47C833691569", "C4411795-9943-4cf4-8705-51A74C9F0ACC"}
	wantNames := []string{"Natural Goods Ltd.", "Chemical Brothers Inc."}
	for i, e := range f.Entries {
		if e.SyncState == nil || *e.SyncState != wantStates[i] {
			t.Errorf("entry %d syncState = %+v, want %+v", i, e.SyncState, wantStates[i])
		}
		p := e.Payload
		if p == nil {
			t.Fatalf("entry %d has no payload", i)
		}
		if p.Tag != "account" || p.Space != "" || p.SelectAttrValue("xmlns", "") != "http://schemas.sage.com/myContract" {
			t.Errorf("entry %d payload root = %s xmlns=%q", i, p.FullTag(), p.SelectAttrValue("xmlns", ""))
		}
		if got := PayloadUUID(p); got != wantUUIDs[i] {
			t.Errorf("entry %d uuid = %q, want %q", i, got, wantUUIDs[i])
		}
		if n := p.SelectElement("name"); n == nil || n.Text() != wantNames[i] {
			t.Errorf("entry %d name = %v", i, n)
		}
		if IsDeleted(p) {
			t.Errorf("entry %d marked deleted", i)
		}
	}
	if e := f.Entries[1]; e.ID != ep1+"('23552')" || e.Content != "Account Chemical Bros" {
		t.Errorf("entry 2 id/content = %q / %q", e.ID, e.Content)
	}
	if e := f.Entries[0]; e.ID != "" || e.Title != "" || !e.Updated.Equal(mustTime(t, "2008-10-30T14:55:43.281Z")) {
		t.Errorf("entry 1 = %q %q %v", e.ID, e.Title, e.Updated)
	}
}

func TestExampleImmediateFeed(t *testing.T) {
	f, err := ParseFeed(openExample(t, "immediate-5.8.xml"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if f.SyncMode != "immediate" {
		t.Errorf("syncMode = %q", f.SyncMode)
	}
	checkDigest(t, f.Digest, digest.Digest{Entries: []digest.Entry{
		{Endpoint: ep1, Tick: 7, Stamp: mustTime(t, "2008-10-30T19:07:56Z"), ConflictPriority: 1},
		{Endpoint: ep2, Tick: 10, Stamp: mustTime(t, "2008-10-30T12:16:51Z"), ConflictPriority: 2},
		{Endpoint: ep3, Tick: 15, Stamp: mustTime(t, "2008-10-30T17:40:11Z"), ConflictPriority: 3},
	}})
	if len(f.Entries) != 1 {
		t.Fatalf("%d entries, want 1", len(f.Entries))
	}
	e := f.Entries[0]
	if e.SyncState == nil || e.SyncState.Tick != 6 || e.SyncState.Endpoint != ep1 {
		t.Errorf("syncState = %+v", e.SyncState)
	}
	// The uuid sits on sdata:payload in this example: it moves to the resource.
	if got := PayloadUUID(e.Payload); got != "C4411795-9943-4cf4-8705-51A74C9F0ACC" {
		t.Errorf("uuid = %q", got)
	}
	if e.Payload.SelectAttrValue("xmlns:sdata", "") != SDataNS {
		t.Errorf("payload root does not declare sdata: %+v", e.Payload.Attr)
	}
}

func TestExampleResultFeed(t *testing.T) {
	f, err := ParseFeed(openExample(t, "result-5.3.xml"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if f.ID != "/sdata/myApp2/myContract/-/accounts/$syncTarget" || f.SyncMode != "" || f.Digest != nil {
		t.Errorf("feed = %q %q %v", f.ID, f.SyncMode, f.Digest)
	}
	want := []struct {
		method, location, etag string
	}{
		{"POST", ep2 + "('28004')", "2nXz9DZYR2pqmcXi/ZCbYA=="},
		{"PUT", "", "STFtZgHEkPz7TyH98YEmWA=="},
	}
	if len(f.Entries) != len(want) {
		t.Fatalf("%d entries, want %d", len(f.Entries), len(want))
	}
	for i, w := range want {
		e := f.Entries[i]
		if e.HTTPStatus != 200 || e.HTTPMessage != "OK" || e.HTTPMethod != w.method || e.Location != w.location || e.ETag != w.etag {
			t.Errorf("entry %d http = %d %q %q %q %q", i, e.HTTPStatus, e.HTTPMessage, e.HTTPMethod, e.Location, e.ETag)
		}
		if e.Payload != nil || e.SyncState != nil {
			t.Errorf("entry %d has payload/syncState", i)
		}
	}
}

func TestExampleTracking(t *testing.T) {
	tr, err := ParseTracking(openExample(t, "tracking-5.2.xml"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := Tracking{Phase: "Initialization", PhaseDetail: "Starting thread", Progress: 0, ElapsedSeconds: 0, RemainingSeconds: 7, PollingMillis: 500}
	if *tr != want {
		t.Errorf("tracking = %+v, want %+v", *tr, want)
	}
}

// The syncState example is a bare sync:syncState: it is no feed, entry or
// digest, so every document parser rejects it with a FormatError naming the root.
func TestExampleSyncStateIsNotADocument(t *testing.T) {
	_, err := ParseEntry(openExample(t, "syncstate-4.3.xml"), Limits{})
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Path != "syncState" {
		t.Fatalf("err = %v, want FormatError at syncState", err)
	}
	p, err := ParsePayload(openExample(t, "syncstate-4.3.xml"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if p.SelectElement("user").Text() != "john.doe@acme.com" || p.SelectAttrValue("xmlns", "") != SyncNS {
		t.Errorf("payload = %+v", p)
	}
}
