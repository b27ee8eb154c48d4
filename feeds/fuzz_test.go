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
