package feeds

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"unicode/utf8"
)

// sanitized is what escape promises a reader gets back: s with every
// character XML cannot carry (invalid UTF-8, control characters other than
// \t \n \r, U+FFFE and U+FFFF, surrogates) replaced by U+FFFD.
func sanitized(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1,
			r < 0x20 && r != '\t' && r != '\n' && r != '\r',
			r >= utf8.RuneSelf && !isXMLChar(r):
			b.WriteRune('\uFFFD')
		default:
			b.WriteRune(r)
		}
		i += n
	}
	return b.String()
}

// checkEscape writes s as an attribute value and as text, reads both back
// with encoding/xml, and compares them with sanitized(s).
func checkEscape(t *testing.T, s string) {
	t.Helper()
	var buf bytes.Buffer
	x := xmlWriter{w: bufio.NewWriter(&buf)}
	x.raw(`<a v="`)
	x.escape(s, true)
	x.raw(`">`)
	x.escape(s, false)
	x.raw(`</a>`)
	x.flush()
	var got struct {
		V    string `xml:"v,attr"`
		Text string `xml:",chardata"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%q written as %q does not parse: %v", s, buf.Bytes(), err)
	}
	if want := sanitized(s); got.V != want || got.Text != want {
		t.Fatalf("%q written as %q reads back as attribute %q and text %q, want %q", s, buf.Bytes(), got.V, got.Text, want)
	}
}

var escapeSeeds = []string{"", "plain", `a&b<c>d"e'f`, "tab\there\nline\r\nend\r", "\x00\x01\x1f", "é€😀", "\xff\xfe bad", "\uFFFE\uFFFF", "]]>", strings.Repeat("x", 300) + "&"}

func TestEscapeReadsBack(t *testing.T) {
	for _, s := range escapeSeeds {
		checkEscape(t, s)
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range escapeSeeds {
		f.Add(s)
	}
	f.Fuzz(checkEscape)
}
