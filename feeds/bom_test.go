package feeds

import (
	"bytes"
	"encoding/xml"
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

// utf16Bytes encodes s as UTF-16 with a BOM.
func utf16Bytes(s string, bigEndian bool) []byte {
	out := []byte{0xFF, 0xFE}
	if bigEndian {
		out = []byte{0xFE, 0xFF}
	}
	for _, u := range utf16.Encode([]rune(s)) {
		if bigEndian {
			out = append(out, byte(u>>8), byte(u))
		} else {
			out = append(out, byte(u), byte(u>>8))
		}
	}
	return out
}

const bomPayload = `<?xml version="1.0" encoding="UTF-16"?>` + "\n" +
	`<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><name>Zürich 𝄞 AG</name></tradingAccount>`

func TestBOMDocuments(t *testing.T) {
	plain := `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><name>Zürich 𝄞 AG</name></tradingAccount>`
	for _, tc := range []struct {
		name string
		doc  []byte
	}{
		{"no BOM", []byte(plain)},
		{"UTF-8 BOM", append([]byte{0xEF, 0xBB, 0xBF}, plain...)},
		{"UTF-8 BOM and declaration", append([]byte{0xEF, 0xBB, 0xBF}, `<?xml version="1.0" encoding="utf-8"?>`+plain...)},
		{"UTF-16 LE", utf16Bytes(bomPayload, false)},
		{"UTF-16 BE", utf16Bytes(bomPayload, true)},
		{"UTF-16 LE, no declaration", utf16Bytes(plain, false)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			el, err := ParsePayload(bytes.NewReader(tc.doc), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if got := el.SelectElement("name").Text(); got != "Zürich 𝄞 AG" {
				t.Fatalf("name %q", got)
			}
			n, err := RootName(tc.doc)
			if err != nil || n.Local != "tradingAccount" {
				t.Fatalf("RootName: %v %v", n, err)
			}
		})
	}
}

func TestBOMRefused(t *testing.T) {
	lone := append(utf16Bytes(`<a>x`, false), 0x00, 0xD8) // a high surrogate, then "</a>"
	lone = append(lone, utf16Bytes(`</a>`, false)[2:]...)
	for _, tc := range []struct {
		name string
		doc  []byte
	}{
		{"odd length", append(utf16Bytes(`<a/>`, true), 0x00)},
		{"lone high surrogate", lone},
		{"lone low surrogate", append(utf16Bytes(`<a>`, true), 0xDC, 0x00, 0x00, '<', 0x00, '/', 0x00, 'a', 0x00, '>')},
		{"BOM then text before the root", append([]byte{0xEF, 0xBB, 0xBF}, "x<a/>"...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePayload(bytes.NewReader(tc.doc), Limits{})
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a *SyntaxError", err)
			}
			if _, err := RootName(tc.doc); err == nil && tc.name != "BOM then text before the root" {
				t.Fatal("RootName accepted it")
			}
		})
	}
}

// FuzzUTF16: a document written in UTF-16 (either order, with its BOM)
// parses exactly like its UTF-8 form.
func FuzzUTF16(f *testing.F) {
	f.Add("Zürich 𝄞 AG", true)
	f.Add("", false)
	f.Add("\u2028&amp;", true)
	f.Fuzz(func(t *testing.T, text string, bigEndian bool) {
		if !utf8.ValidString(text) {
			return // not representable in UTF-16
		}
		var esc bytes.Buffer
		if err := xml.EscapeText(&esc, []byte(text)); err != nil {
			return
		}
		body := `<a xmlns="urn:x">` + esc.String() + `</a>`
		want, werr := ParsePayload(bytes.NewReader([]byte(`<?xml version="1.0" encoding="utf-8"?>`+body)), Limits{})
		got, gerr := ParsePayload(bytes.NewReader(utf16Bytes(`<?xml version="1.0" encoding="utf-16"?>`+body, bigEndian)), Limits{})
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("UTF-8: %v; UTF-16: %v", werr, gerr)
		}
		if werr == nil && want.Text() != got.Text() {
			t.Fatalf("UTF-8 %q, UTF-16 %q", want.Text(), got.Text())
		}
	})
}

// TestSurrogateReferences: a character reference to a surrogate is not an
// XML character: refused, where encoding/xml would store U+FFFD; the same
// text in CDATA, a comment or escaped is text.
func TestSurrogateReferences(t *testing.T) {
	for _, doc := range []string{`<a xmlns="urn:x">&#xD800;</a>`, `<a xmlns="urn:x">&#55296;</a>`, `<a xmlns="urn:x" b="&#xdfff;"/>`, "<a xmlns=\"urn:x\">\n\n&#xDBFF;</a>"} {
		_, err := ParsePayload(bytes.NewReader([]byte(doc)), Limits{})
		var se *SyntaxError
		if !errors.As(err, &se) || !strings.Contains(se.Msg, "surrogate") {
			t.Errorf("%s: %v", doc, err)
		}
	}
	for doc, want := range map[string]string{
		`<a xmlns="urn:x"><![CDATA[&#xD800;]]></a>`:         "&#xD800;",
		`<a xmlns="urn:x"><!-- &#xD800; -->ok</a>`:          "ok",
		`<a xmlns="urn:x">&#xD7FF;&#xE000;&amp;#xD800;</a>`: "\ud7ff\ue000&#xD800;",
	} {
		el, err := ParsePayload(bytes.NewReader([]byte(doc)), Limits{})
		if err != nil || el.Text() != want {
			t.Errorf("%s: %q %v, want %q", doc, el.Text(), err, want)
		}
	}
}

// FuzzCharRefs: the surrogate check never panics, and accepts every
// document without a character reference.
func FuzzCharRefs(f *testing.F) {
	for _, s := range []string{`<a>&#xD800;</a>`, `<![CDATA[&#xD800;]]>`, `&#`, `&#x`, `&#12345678901;`, `<!--&#xD800;`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := checkCharRefs(b)
		if err != nil && !bytes.Contains(b, []byte("&#")) {
			t.Fatalf("refused a document without a character reference: %v", err)
		}
	})
}

// checkCharRefsQuadratic is checkCharRefs as it was before it kept the
// positions of the next '&' and '<' (quadratic on many references): the
// reference that FuzzCharRefsSame compares the linear version with.
func checkCharRefsQuadratic(data []byte) error {
	for i := 0; i < len(data); {
		k := bytes.IndexByte(data[i:], '&')
		l := bytes.IndexByte(data[i:], '<')
		switch {
		case k < 0:
			return nil
		case l >= 0 && l < k:
			j := i + l
			var end []byte
			switch {
			case bytes.HasPrefix(data[j:], []byte("<![CDATA[")):
				end = []byte("]]>")
			case bytes.HasPrefix(data[j:], []byte("<!--")):
				end = []byte("-->")
			case bytes.HasPrefix(data[j:], []byte("<?")):
				end = []byte("?>")
			}
			if end == nil {
				i = j + 1
				continue
			}
			e := bytes.Index(data[j:], end)
			if e < 0 {
				return nil
			}
			i = j + e + len(end)
			continue
		}
		j := i + k
		if r, n := charRef(data[j:]); n > 0 && 0xD800 <= r && r <= 0xDFFF {
			return &SyntaxError{Line: 1 + bytes.Count(data[:j], []byte("\n")), Msg: "surrogate"}
		}
		i = j + 1
	}
	return nil
}

// FuzzCharRefsSame: the linear checkCharRefs refuses exactly what the
// former quadratic one refused.
func FuzzCharRefsSame(f *testing.F) {
	for _, s := range []string{`<a>&#xD800;</a>`, `<![CDATA[&#xD800;]]>&#xDC00;`, `&#x41;&#xD800;<b/>`, `<!--&#xD800;-->&#xD800;`,
		`<?pi &#xD800;?><a b="&#xDFFF;"/>`, `<a>&amp;&lt;&#55296;</a>`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if (checkCharRefs(b) == nil) != (checkCharRefsQuadratic(b) == nil) {
			t.Fatalf("%q: linear %v, quadratic %v", b, checkCharRefs(b), checkCharRefsQuadratic(b))
		}
	})
}

// BenchmarkCheckCharRefs: the cost per byte stays flat from 64 KiB to
// 4 MiB of references (it grew with the size before).
func BenchmarkCheckCharRefs(b *testing.B) {
	for _, n := range []int{64 << 10, 1 << 20, 4 << 20} {
		doc := []byte("<a>" + strings.Repeat("&#x41;", n/6) + "</a>" + strings.Repeat("<b/>", n/4/6) + "&#x41;")
		b.Run(strconv.Itoa(n>>10)+"KiB", func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if err := checkCharRefs(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
