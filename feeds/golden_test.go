package feeds

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/feeds")

const testdataDir = "../testdata/feeds"

// codec parses and writes one document kind, so that golden and fuzz tests
// can treat every kind alike.
type codec struct {
	parse func(io.Reader, Limits) (any, error)
	write func(io.Writer, any) error
}

var codecs = map[string]codec{
	"feed": {
		parse: func(r io.Reader, l Limits) (any, error) { return ParseFeed(r, l) },
		write: func(w io.Writer, v any) error { return WriteFeed(w, v.(*Feed)) },
	},
	"entry": {
		parse: func(r io.Reader, l Limits) (any, error) { return ParseEntry(r, l) },
		write: func(w io.Writer, v any) error { return WriteEntry(w, v.(*Entry)) },
	},
	"diagnoses": {
		parse: func(r io.Reader, l Limits) (any, error) { return ParseDiagnoses(r, l) },
		write: func(w io.Writer, v any) error { return WriteDiagnoses(w, v.([]Diagnosis)) },
	},
	"tracking": {
		parse: func(r io.Reader, l Limits) (any, error) { return ParseTracking(r, l) },
		write: func(w io.Writer, v any) error { return WriteTracking(w, *v.(*Tracking)) },
	},
	"payload": {
		parse: func(r io.Reader, l Limits) (any, error) { return ParsePayload(r, l) },
		write: func(w io.Writer, v any) error { return writePayloadDoc(w, v.(*etree.Element)) },
	},
}

// writePayloadDoc writes a payload element as a document (test helper: the
// package API writes payloads only inside entries).
func writePayloadDoc(w io.Writer, p *etree.Element) error {
	x := &xmlWriter{w: bufio.NewWriter(w)}
	x.raw(xmlHeader)
	x.element(0, p, true)
	x.raw("\n")
	x.flush()
	return x.err
}

var goldenCases = []struct{ name, kind string }{
	{"sync-feed", "feed"},
	{"result-feed", "feed"},
	{"collection-feed", "feed"},
	{"digest-entry", "entry"},
	{"diagnoses", "diagnoses"},
	{"tracking", "tracking"},
	{"payload", "payload"},
}

// roundTrip parses src, writes the model, parses the output again and checks
// the two models are equal. It returns the written document.
func roundTrip(t *testing.T, c codec, src []byte) []byte {
	t.Helper()
	m1, err := c.parse(bytes.NewReader(src), Limits{})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var out bytes.Buffer
	if err := c.write(&out, m1); err != nil {
		t.Fatalf("write: %v", err)
	}
	m2, err := c.parse(bytes.NewReader(out.Bytes()), Limits{})
	if err != nil {
		t.Fatalf("re-parse of written document: %v\n%s", err, out.Bytes())
	}
	if !reflect.DeepEqual(m1, m2) {
		t.Fatalf("model changed in round trip\nfirst:  %s\nsecond: %s\ndocument:\n%s", dump(m1), dump(m2), out.Bytes())
	}
	return out.Bytes()
}

func TestGoldenRoundTrip(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(testdataDir, tc.name+".xml"))
			if err != nil {
				t.Fatal(err)
			}
			out := roundTrip(t, codecs[tc.kind], src)
			golden := filepath.Join(testdataDir, tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("output differs from %s (run go test -update after checking):\n%s", golden, lineDiff(string(want), string(out)))
			}
			// The golden file itself parses to the same model and writes itself.
			if again := roundTrip(t, codecs[tc.kind], want); !bytes.Equal(again, want) {
				t.Errorf("golden file is not a fixed point of parse+write:\n%s", lineDiff(string(want), string(again)))
			}
		})
	}
}

// dump renders a model for failure messages, payloads as XML.
func dump(v any) string {
	var b strings.Builder
	switch m := v.(type) {
	case *Feed:
		c := *m
		c.Entries = nil
		b.WriteString(strings.ReplaceAll(fmt.Sprintf("%+v", c), "\n", " "))
		for i, e := range m.Entries {
			b.WriteString(fmt.Sprintf("\n entry %d: ", i+1))
			b.WriteString(dump(e))
		}
	case *Entry:
		c := *m
		c.Payload = nil
		b.WriteString(fmt.Sprintf("%+v sync=%+v digest=%+v payload=%s", c, m.SyncState, m.Digest, dump(m.Payload)))
	case *etree.Element:
		if m == nil {
			return "<nil>"
		}
		var buf bytes.Buffer
		_ = writePayloadDoc(&buf, m)
		b.WriteString(fmt.Sprintf("%s attrs=%+v", buf.String(), m.Attr))
	default:
		b.WriteString(fmt.Sprintf("%+v", v))
	}
	return b.String()
}

// lineDiff shows the first differing line of two texts.
func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\nwant: %q\ngot:  %q", i+1, w, g)
		}
	}
	return "(no line differs)"
}

// TestEncodedEntriesWriteTheSameFeed: a feed written from entries encoded
// ahead of time (EncodeEntry, WriteEncoded) is byte for byte the feed
// WriteEntry writes, for every feed of the golden cases.
func TestEncodedEntriesWriteTheSameFeed(t *testing.T) {
	n := 0
	for _, gc := range goldenCases {
		if gc.kind != "feed" {
			continue
		}
		src, err := os.ReadFile(filepath.Join(testdataDir, gc.name+".xml"))
		if err != nil {
			t.Fatal(err)
		}
		f, err := ParseFeed(bytes.NewReader(src), Limits{})
		if err != nil {
			t.Fatalf("%s: %v", gc.name, err)
		}
		var direct, encoded bytes.Buffer
		for _, out := range []*bytes.Buffer{&direct, &encoded} {
			fw, err := NewFeedWriter(out, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range f.Entries {
				if out == &direct {
					err = fw.WriteEntry(e)
				} else {
					var b []byte
					if b, err = EncodeEntry(e); err == nil {
						err = fw.WriteEncoded(b)
					}
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := fw.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(direct.Bytes(), encoded.Bytes()) {
			t.Fatalf("%s: encoded entries write another feed\n%s\n---\n%s", gc.name, direct.Bytes(), encoded.Bytes())
		}
		n += len(f.Entries)
	}
	if n == 0 {
		t.Fatal("no golden feed with entries")
	}
}
