package feeds

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// addSeeds adds every testdata document (and the spec examples when present)
// to the fuzz corpus.
func addSeeds(f *testing.F) {
	var files []string
	for _, pattern := range []string{"*.xml", "*.golden", "prefixes/*.xml"} {
		m, _ := filepath.Glob(filepath.Join(testdataDir, pattern))
		files = append(files, m...)
	}
	if len(files) == 0 {
		f.Fatal("no seed documents in " + testdataDir)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`<feed xmlns="` + AtomNS + `"><entry><payload xmlns="` + SDataNS + `" xmlns:s="` + SDataNS + `" s:uuid="u"><r xmlns="urn:r">a<b/>c</r></payload></entry></feed>`))
}

// fuzzRoundTrip checks the codec property on arbitrary input: parsing never
// panics, and whatever parses writes a document that parses to an equal
// model and writes identically again.
func fuzzRoundTrip(t *testing.T, c codec, data []byte) {
	m1, err := c.parse(bytes.NewReader(data), Limits{MaxBytes: 1 << 20})
	if err != nil {
		return
	}
	var out1 bytes.Buffer
	if err := c.write(&out1, m1); err != nil {
		t.Fatalf("write: %v", err)
	}
	m2, err := c.parse(bytes.NewReader(out1.Bytes()), Limits{})
	if err != nil {
		t.Fatalf("written document does not parse: %v\n%s", err, out1.Bytes())
	}
	if !reflect.DeepEqual(m1, m2) {
		t.Fatalf("model changed in round trip\nfirst:  %s\nsecond: %s\ndocument:\n%s", dump(m1), dump(m2), out1.Bytes())
	}
	var out2 bytes.Buffer
	if err := c.write(&out2, m2); err != nil {
		t.Fatalf("second write: %v", err)
	}
	if !bytes.Equal(out1.Bytes(), out2.Bytes()) {
		t.Fatalf("writer output not stable:\n%s\n%s", out1.Bytes(), out2.Bytes())
	}
}

func FuzzParseFeed(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRoundTrip(t, codecs["feed"], data)
	})
}

func FuzzParseEntry(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRoundTrip(t, codecs["entry"], data)
		// The other document parsers must not panic either.
		_, _ = ParseDigest(bytes.NewReader(data), Limits{})
		_, _ = ParseDiagnoses(bytes.NewReader(data), Limits{})
		_, _ = ParseTracking(bytes.NewReader(data), Limits{})
		fuzzRoundTrip(t, codecs["payload"], data)
	})
}

// checkScanFeed checks ScanFeed against ParseFeed on one document: both
// accept or both refuse it, and ScanFeed's model is ParseFeed's without the
// payload trees (the UUIDs stay).
func checkScanFeed(t *testing.T, data []byte) {
	t.Helper()
	full, ferr := ParseFeed(bytes.NewReader(data), Limits{MaxBytes: 1 << 20})
	skim, serr := ScanFeed(bytes.NewReader(data), Limits{MaxBytes: 1 << 20})
	if (ferr == nil) != (serr == nil) {
		t.Fatalf("ParseFeed error %v, ScanFeed error %v\n%s", ferr, serr, data)
	}
	if ferr != nil {
		return
	}
	for _, e := range full.Entries {
		if e.Payload != nil && e.UUID != PayloadUUID(e.Payload) {
			t.Fatalf("entry %q: UUID %q, payload sdata:uuid %q", e.ID, e.UUID, PayloadUUID(e.Payload))
		}
		e.Payload = nil
	}
	if !reflect.DeepEqual(full, skim) {
		t.Fatalf("ScanFeed differs from ParseFeed without payloads\nParseFeed: %s\nScanFeed:  %s", dump(full), dump(skim))
	}
}

func TestScanFeedIsParseFeedWithoutTrees(t *testing.T) {
	var files []string
	for _, pattern := range []string{"*.xml", "*.golden", "prefixes/*.xml"} {
		m, _ := filepath.Glob(filepath.Join(testdataDir, pattern))
		files = append(files, m...)
	}
	uuids := 0
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		checkScanFeed(t, b)
		if f, err := ScanFeed(bytes.NewReader(b), Limits{}); err == nil {
			for _, e := range f.Entries {
				if e.UUID != "" {
					uuids++
				}
			}
		}
	}
	if uuids == 0 {
		t.Fatal("no testdata feed has an entry with a payload uuid: the comparison proves nothing")
	}
	// The uuid may sit on sdata:payload or on the resource element (which wins).
	doc := `<feed xmlns="` + AtomNS + `" xmlns:s="` + SDataNS + `"><entry><s:payload s:uuid="outer"><r xmlns="urn:r"/></s:payload></entry>` +
		`<entry><s:payload s:uuid="outer"><r xmlns="urn:r" s:uuid="inner"/></s:payload></entry></feed>`
	f, err := ScanFeed(bytes.NewReader([]byte(doc)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Entries[0].UUID != "outer" || f.Entries[1].UUID != "inner" || f.Entries[0].Payload != nil {
		t.Fatalf("uuids %q %q, payload %v", f.Entries[0].UUID, f.Entries[1].UUID, f.Entries[0].Payload)
	}
	checkScanFeed(t, []byte(doc))
	// A malformed payload is refused by both.
	checkScanFeed(t, []byte(`<feed xmlns="`+AtomNS+`"><entry><payload xmlns="`+SDataNS+`"><r><a></r></payload></entry></feed>`))
}

func FuzzScanFeed(f *testing.F) {
	addSeeds(f)
	f.Fuzz(checkScanFeed)
}

// checkFeedHead checks ScanFeedHead against ParseFeed: on a feed ParseFeed
// accepts, the head is ParseFeed's feed without its entries and without
// what follows the first entry.
func checkFeedHead(t *testing.T, data []byte) {
	t.Helper()
	head, herr := ScanFeedHead(data, Limits{MaxBytes: 1 << 20})
	full, ferr := ParseFeed(bytes.NewReader(data), Limits{MaxBytes: 1 << 20})
	if ferr != nil || herr != nil {
		return // a head may read fine before a broken entry, or need encoding/xml
	}
	if len(head.Entries) != 0 {
		t.Fatalf("head has %d entries", len(head.Entries))
	}
	if len(full.Entries) == 0 {
		// No entry: the head is the whole feed.
		if !reflect.DeepEqual(head, full) {
			t.Fatalf("feed without entries\nhead: %s\nfull: %s", dump(head), dump(full))
		}
		return
	}
	// Everything the head holds, the full feed holds too (the full feed
	// may have more: elements after the first entry).
	if head.ID != "" && head.ID != full.ID || head.TotalResults >= 0 && head.TotalResults != full.TotalResults ||
		head.StartIndex != 0 && head.StartIndex != full.StartIndex || len(head.Links) > len(full.Links) ||
		!reflect.DeepEqual(head.Links, full.Links[:len(head.Links)]) {
		t.Fatalf("head disagrees with the feed\nhead: %s\nfull: %s", dump(head), dump(full))
	}
}

func TestScanFeedHead(t *testing.T) {
	doc := `<feed xmlns="` + AtomNS + `" xmlns:os="` + OpenSearchNS + `"><id>f</id><os:totalResults>2</os:totalResults>` +
		`<link rel="next" href="n"/><entry><id>1</id></entry><os:startIndex>1</os:startIndex><entry><id>2</id></entry></feed>`
	h, err := ScanFeedHead([]byte(doc), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if h.ID != "f" || h.TotalResults != 2 || h.StartIndex != 0 || len(h.Entries) != 0 {
		t.Fatalf("head %s", dump(h))
	}
	if l, ok := h.Link("next"); !ok || l.Href != "n" {
		t.Fatalf("links %v", h.Links)
	}
	checkFeedHead(t, []byte(doc))
	// What follows the first entry is not read: a broken tail still has a head.
	if _, err := ScanFeedHead([]byte(`<feed xmlns="`+AtomNS+`"><id>f</id><entry><bad`), Limits{}); err != nil {
		t.Fatalf("broken tail: %v", err)
	}
	for _, bad := range []string{`<entry xmlns="` + AtomNS + `"/>`, `<feed xmlns="` + AtomNS + `"><id>f</`, `not xml`} {
		if _, err := ScanFeedHead([]byte(bad), Limits{}); err == nil {
			t.Fatalf("%q: no error", bad)
		}
	}
	if _, err := ScanFeedHead([]byte(doc), Limits{MaxBytes: 10}); err == nil {
		t.Fatal("MaxBytes not enforced")
	}
}

func FuzzScanFeedHead(f *testing.F) {
	addSeeds(f)
	f.Fuzz(checkFeedHead)
}
