package feeds

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"sdatasync/digest"
)

func mustPayload(t *testing.T, doc string) *etree.Element {
	t.Helper()
	p, err := ParsePayload(strings.NewReader(doc), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func payloadString(t *testing.T, p *etree.Element) string {
	t.Helper()
	var b bytes.Buffer
	if err := writePayloadDoc(&b, p); err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(strings.TrimSpace(b.String()), strings.TrimSpace(xmlHeader)+"\n")
}

func TestPayloadNormalization(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"prefixed root becomes default",
			`<c:a xmlns:c="urn:c" xmlns:unused="urn:u"><c:b>1</c:b></c:a>`,
			"<a xmlns=\"urn:c\">\n  <b>1</b>\n</a>"},
		{"sdata and xsi prefixes declared only when used",
			`<a xmlns="urn:c" xmlns:S="` + SDataNS + `" xmlns:I="` + XSINS + `"><b I:nil="true"/><c S:key="k"/></a>`,
			"<a xmlns=\"urn:c\" xmlns:sdata=\"" + SDataNS + "\" xmlns:xsi=\"" + XSINS + "\">\n  <b xsi:nil=\"true\"/>\n  <c sdata:key=\"k\"/>\n</a>"},
		{"foreign namespaces numbered in order of appearance",
			`<a xmlns="urn:c"><y:b xmlns:y="urn:y"/><x:b xmlns:x="urn:x" y:q="1" xmlns:y="urn:y"/></a>`,
			"<a xmlns=\"urn:c\" xmlns:ns1=\"urn:y\" xmlns:ns2=\"urn:x\">\n  <ns1:b/>\n  <ns2:b ns1:q=\"1\"/>\n</a>"},
		{"qualified attribute in the root namespace",
			`<c:a xmlns:c="urn:c" c:id="1"/>`,
			`<a xmlns="urn:c" xmlns:ns1="urn:c" ns1:id="1"/>`},
		{"unqualified child of a namespaced root",
			`<a xmlns="urn:c"><b xmlns=""><c xmlns="urn:c">x</c></b></a>`,
			"<a xmlns=\"urn:c\">\n  <b xmlns=\"\">\n    <c xmlns=\"urn:c\">x</c>\n  </b>\n</a>"},
		{"no namespace at all",
			`<a k="v"><b/></a>`,
			"<a xmlns=\"\" k=\"v\">\n  <b/>\n</a>"},
		{"comments and PIs dropped, text around them merged",
			`<a xmlns="urn:c"><!-- c --><?pi x?><b>x<!-- y -->z</b>  <c>  </c></a>`,
			"<a xmlns=\"urn:c\">\n  <b>xz</b>\n  <c>  </c>\n</a>"},
		{"mixed content kept inline",
			`<a xmlns="urn:c">hello <b>big</b> world</a>`,
			`<a xmlns="urn:c">hello <b>big</b> world</a>`},
		{"escaping",
			"<a xmlns=\"urn:c\" t=\"tab&#9;nl&#10;cr&#13;&quot;&lt;\">&amp;&lt;&gt;&#13;\"'</a>",
			"<a xmlns=\"urn:c\" t=\"tab&#x9;nl&#xA;cr&#xD;&quot;&lt;\">&amp;&lt;&gt;&#xD;\"'</a>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustPayload(t, tc.in)
			if p.Parent() != nil {
				t.Error("payload has a parent")
			}
			if got := payloadString(t, p); got != tc.want {
				t.Errorf("normalized:\n%s\nwant:\n%s", got, tc.want)
			}
			// Normal form is a fixed point.
			if again := payloadString(t, mustPayload(t, tc.want)); again != tc.want {
				t.Errorf("not a fixed point:\n%s", again)
			}
		})
	}
}

func TestPayloadHelpers(t *testing.T) {
	p := mustPayload(t, `<x:line xmlns:x="urn:c" xmlns:s="`+SDataNS+`" xmlns:i="`+XSINS+`" s:uuid="U" s:key="K" s:isDeleted="1"><x:qty i:nil="true"/><x:price i:nil="false">2</x:price></x:line>`)
	if PayloadUUID(p) != "U" || PayloadKey(p) != "K" || !IsDeleted(p) {
		t.Errorf("uuid/key/deleted = %q %q %v", PayloadUUID(p), PayloadKey(p), IsDeleted(p))
	}
	if p.SelectAttrValue("sdata:uuid", "") != "U" {
		t.Error("sdata:uuid not selectable by canonical prefix")
	}
	if !IsNil(p.SelectElement("qty")) || IsNil(p.SelectElement("price")) || IsNil(p) {
		t.Error("IsNil wrong")
	}
	if PayloadUUID(nil) != "" || IsDeleted(nil) || IsNil(nil) {
		t.Error("nil element helpers")
	}
	q := mustPayload(t, `<line xmlns="urn:c"/>`)
	if PayloadUUID(q) != "" || IsDeleted(q) {
		t.Error("helpers on bare element")
	}
}

// A payload built by hand (not parsed) is written as is and stays out of
// the Atom default namespace.
func TestWriteHandBuiltPayload(t *testing.T) {
	p := etree.NewElement("account")
	p.CreateAttr("sdata:uuid", "A-1")
	p.CreateElement("name").SetText("Tab\tand <angle>")
	p.CreateElement("balance").CreateAttr("xsi:nil", "true")
	e := &Entry{ID: "urn:1", Title: "t", Payload: p, SyncState: &digest.SyncState{Endpoint: "http://ep.example/x", Tick: 7}}
	var b bytes.Buffer
	if err := WriteEntry(&b, e); err != nil {
		t.Fatal(err)
	}
	got, err := ParseEntry(&b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	g := got.Payload
	if g.SelectAttrValue("xmlns", "?") != "?" || g.Tag != "account" || PayloadUUID(g) != "A-1" ||
		g.SelectElement("name").Text() != "Tab\tand <angle>" || !IsNil(g.SelectElement("balance")) {
		t.Errorf("payload = %s", dump(g))
	}
	if got.SyncState.Tick != 7 || got.SyncState.Stamp != e.SyncState.Stamp {
		t.Errorf("syncState = %+v", got.SyncState)
	}
}

func TestWriteInvalidCharacters(t *testing.T) {
	e := &Entry{ID: "urn:\x00bad", Title: "bell\a \xff end", Content: "cr\r\nlf"}
	var b bytes.Buffer
	if err := WriteEntry(&b, e); err != nil {
		t.Fatal(err)
	}
	got, err := ParseEntry(&b, Limits{})
	if err != nil {
		t.Fatalf("written document does not parse: %v\n%s", err, b.String())
	}
	if got.ID != "urn:\uFFFDbad" || got.Title != "bell\uFFFD \uFFFD end" || got.Content != "cr\r\nlf" {
		t.Errorf("got %q %q %q", got.ID, got.Title, got.Content)
	}
}

type errWriter struct{ n int }

func (w *errWriter) Write(p []byte) (int, error) {
	if w.n -= len(p); w.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestFeedWriterStreams(t *testing.T) {
	var b bytes.Buffer
	head := &Feed{ID: "urn:f", Title: "stream", TotalResults: -1, Links: []Link{{Rel: "self", Href: "urn:f"}},
		Entries: []*Entry{{ID: "ignored"}}}
	fw, err := NewFeedWriter(&b, head)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := fw.WriteEntry(&Entry{ID: "urn:e" + string(rune('1'+i)), Title: "e"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fw.WriteEntry(&Entry{}); err == nil {
		t.Error("WriteEntry after Close succeeded")
	}
	if err := fw.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	f, err := ParseFeed(&b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Entries) != 3 || f.Entries[2].ID != "urn:e3" || f.TotalResults != -1 {
		t.Errorf("feed = %s", dump(f))
	}
	// Write errors surface (at the latest on Close).
	fw, err = NewFeedWriter(&errWriter{n: 100}, head)
	if err == nil {
		for range 100 {
			if err = fw.WriteEntry(&Entry{ID: strings.Repeat("x", 100)}); err != nil {
				break
			}
		}
		if err == nil {
			err = fw.Close()
		}
	}
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("err = %v, want disk full", err)
	}
}

func TestWriteDigestEntryNeedsDigest(t *testing.T) {
	if err := WriteDigestEntry(&bytes.Buffer{}, &Entry{}); err == nil {
		t.Error("WriteDigestEntry without digest succeeded")
	}
	var b bytes.Buffer
	d := &digest.Digest{Origin: "http://a.example/x", Entries: []digest.Entry{{Endpoint: "http://a.example/x", Tick: 9, ConflictPriority: 3}}}
	if err := WriteDigestEntry(&b, &Entry{ID: "urn:d", Digest: d}); err != nil {
		t.Fatal(err)
	}
	got, err := ParseDigest(&b, Limits{})
	if err != nil || got.Origin != "http://a.example/x" || got.Tick("http://a.example/x") != 9 || got.Entries[0].ConflictPriority != 3 {
		t.Errorf("digest = %+v, %v", got, err)
	}
}
