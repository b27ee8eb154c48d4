package feeds

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// docKind runs one document parser twice: through the public path (fast
// scanner with fallback) and on encoding/xml alone, the reference.
type docKind struct {
	name string
	fast func([]byte, Limits) (any, error)
	ref  func([]byte, Limits) (any, error)
	// scan runs the fast path without fallback; errFallback means the
	// scanner gave up.
	scan func([]byte, Limits) (any, error)
}

func kindOf[T any](name string, fn func(*parser, xml.StartElement) (T, error)) docKind {
	return docKind{
		name: name,
		fast: func(b []byte, lim Limits) (any, error) { return parseDoc(bytes.NewReader(b), lim, fn) },
		ref: func(b []byte, lim Limits) (any, error) {
			// The checks every document passes before either parser.
			if int64(len(b)) <= lim.withDefaults().MaxBytes {
				d, err := utf8Document(b)
				if err == nil {
					err = checkCharRefs(d)
				}
				if err != nil {
					var zero T
					return zero, err
				}
				b = d
			}
			return runParser(newParser(bytes.NewReader(b), lim), fn)
		},
		scan: func(b []byte, lim Limits) (any, error) { return runParser(newFastParser(b, lim), fn) },
	}
}

var docKinds = []docKind{
	kindOf("feed", feedRoot),
	kindOf("entry", entryRoot),
	kindOf("digest", digestRoot),
	kindOf("diagnoses", diagnosesRoot),
	kindOf("tracking", trackingRoot),
	kindOf("payload", payloadRoot),
}

// errString renders an error with its type, so that equal renderings mean
// the same error to a caller.
func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%T %v", err, err)
}

// checkSameAsReference parses data with every document parser on both paths
// and fails if results or errors differ.
func checkSameAsReference(t *testing.T, data []byte, lim Limits) {
	t.Helper()
	for _, k := range docKinds {
		got, gotErr := k.fast(data, lim)
		want, wantErr := k.ref(data, lim)
		if errString(gotErr) != errString(wantErr) {
			t.Fatalf("%s: error %s, encoding/xml gives %s\ndocument: %q", k.name, errString(gotErr), errString(wantErr), data)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: model differs from encoding/xml\ngot:  %s\nwant: %s\ndocument: %q", k.name, dump(got), dump(want), data)
		}
	}
}

// testDocuments returns the testdata documents and the spec examples.
func testDocuments(t *testing.T) map[string][]byte {
	var files []string
	for _, pattern := range []string{"*.xml", "*.golden", "prefixes/*.xml"} {
		m, _ := filepath.Glob(filepath.Join(testdataDir, pattern))
		files = append(files, m...)
	}
	if ex := sharedExamplesDir(); ex != "" {
		m, _ := filepath.Glob(filepath.Join(ex, "*"))
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no test documents")
	}
	docs := make(map[string][]byte)
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		docs[name] = b
	}
	return docs
}

// sharedExamplesDir returns the directory of the spec examples, "" if absent.
func sharedExamplesDir() string {
	ex := filepath.Join("..", "..", "shared", "sdata", "examples")
	if _, err := os.Stat(ex); err != nil {
		return ""
	}
	return ex
}

// The fast path handles every test document itself (without falling back)
// and gives exactly the encoding/xml result.
func TestScannerMatchesEncodingXML(t *testing.T) {
	for name, data := range testDocuments(t) {
		t.Run(filepath.Base(name), func(t *testing.T) {
			checkSameAsReference(t, data, Limits{})
			if !strings.HasSuffix(name, ".xml") && !strings.HasSuffix(name, ".golden") {
				return
			}
			handled := false
			for _, k := range docKinds {
				if _, err := k.scan(data, Limits{}); err != errFallback {
					handled = true
				}
			}
			if !handled {
				t.Errorf("the scanner gives up on %s", name)
			}
		})
	}
}

// Edge cases of the XML syntax: the fast path either handles them exactly as
// encoding/xml does or falls back to it.
func TestScannerEdgeCases(t *testing.T) {
	atom := `xmlns="` + AtomNS + `"`
	wrap := func(body string) string {
		return `<entry ` + atom + `><content>` + body + `</content><payload xmlns="` + SDataNS + `"><r xmlns="urn:r" ` + body2attr(body) + `>` + body + `</r></payload></entry>`
	}
	bodies := []string{
		"plain", "", "a&amp;b&lt;&gt;&apos;&quot;", "&#65;&#x42;&#x10FFFF;&#xD800;&#0;&#x0;&#1114112;&#99999999999999999999;",
		"&#;", "&#x;", "&#X41;", "&#65", "&amp", "&ampx;", "&bogus;", "& ;", "&#32;&#9;&#10;&#13;",
		"a\r\nb\rc\n\r", "\r&#10;\r", "]]>", "]]&gt;", "]&#93;>", "x]]", "<![CDATA[a<&b]]c\r\n]]>", "<![CDATA[", "<![CDATA[x]>",
		"<!-- c -->", "<!-- a -- b -->", "<!--->x-->", "<!---->", "<!-- x --->", "<!- x -->", "<?pi x?>", "<?pi?>", "<?xml version='1.1'?>",
		"<?xml encoding='latin1'?>", "<?xml encoding='UTF-8'?>", "<?x:y:z a?>", "<?9 x?>",
		"\x00", "\x01", "\t", "\xff", "\xc3\xa9", "\xef\xbf\xbe", "\xef\xbf\xbd", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		"<a/>", "<a></a >", "<a></b>", "<a x='1' x='2'/>", "<a x='1'y='2'/>", "<a x=1/>", "<a x/>", "<a x='<'/>", "<a x='&#60;'/>",
		"<a x='\r\n\t'/>", "<a x=\"'\" y='\"'/>", "<a:b xmlns:a='urn:a'/>", "<a:b/>", "<a:b:c/>", "<:a/>", "<a:/>", "<_a/>", "<-a/>",
		"<é/>", "<aé/>", "<a xmlns:p='urn:p' p:x='1' q:y='2' xml:lang='en' xmlns:xml='urn:x'/>", "<a xmlns='' />", "<xmlns:a/>", "<xmlns/>",
		"<a xmlns:p=''><p:b/></a>", "<p:a xmlns:p='urn:1'><p:b xmlns:p='urn:2'/><p:c/></p:a>", "<a\n/>", "<a / >", "<a/ >",
		"</a>", "<!DOCTYPE x>", "<!ENTITY x 'y'>", "<![x[", "<", "<a", "<a x='1", "x</content></entry>",
	}
	for _, b := range bodies {
		for _, doc := range []string{wrap(b), b, `<?xml version="1.0"?>` + b, b + `<entry ` + atom + `/>`, `<entry ` + atom + `/>` + b} {
			t.Run(fmt.Sprintf("%q", doc), func(t *testing.T) {
				checkSameAsReference(t, []byte(doc), Limits{})
				checkSameAsReference(t, []byte(doc), Limits{MaxDepth: 3, MaxBytes: 120})
			})
		}
	}
}

// body2attr turns a text body into an attribute when it can be one.
func body2attr(body string) string {
	if strings.ContainsAny(body, `<"`) {
		return ""
	}
	return `v="` + body + `"`
}

// A document whose reading fails or exceeds MaxBytes gives the same result
// as on encoding/xml alone.
func TestScannerReadErrors(t *testing.T) {
	doc := []byte(`<entry xmlns="` + AtomNS + `"><id>x</id><title>` + strings.Repeat("t", 200) + `</title></entry>`)
	boom := errors.New("boom")
	for _, n := range []int{0, 10, 30, len(doc) - 1, len(doc)} {
		for _, lim := range []Limits{{}, {MaxBytes: 40}, {MaxBytes: int64(len(doc))}} {
			mk := func() io.Reader { return io.MultiReader(bytes.NewReader(doc[:n]), failingReader{boom}) }
			got, gotErr := ParseEntry(mk(), lim)
			want, wantErr := runParser(newParser(mk(), lim), entryRoot)
			if errString(gotErr) != errString(wantErr) || !reflect.DeepEqual(got, want) {
				t.Errorf("n=%d %+v: got %v, %s; want %v, %s", n, lim, got, errString(gotErr), want, errString(wantErr))
			}
		}
	}
}

// FuzzScanner compares the fast path with encoding/xml on arbitrary input.
func FuzzScanner(f *testing.F) {
	addSeeds(f)
	f.Add([]byte(`<entry xmlns="` + AtomNS + `"><title>a&amp;&#x41;<![CDATA[<]]>&#13;</title><link href="a&lt;b" rel='x'/></entry>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSameAsReference(t, data, Limits{MaxBytes: 1 << 20})
		checkSameAsReference(t, data, Limits{MaxDepth: 4, MaxBytes: 300, MaxEntries: 2})
	})
}
