package feeds

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestSkipFastAgreesWithParse runs documents whose payloads hold every kind
// of token the fast skip handles, well-formed and not, through ScanFeed
// (which skips payloads) and ParseFeed (which builds them): both accept or
// both refuse, with the same error, including the limits counted inside a
// skipped payload.
func TestSkipFastAgreesWithParse(t *testing.T) {
	feed := func(payload string) string {
		return `<feed xmlns="` + AtomNS + `" xmlns:s="` + SDataNS + `"><entry><id>e</id><s:payload>` + payload +
			`</s:payload></entry><entry><id>f</id></entry></feed>`
	}
	deep := strings.Repeat("<a>", 40) + strings.Repeat("</a>", 40)
	many := strings.Repeat("<b x='1'/>", 300)
	attrs := "<r"
	for i := range 80 {
		attrs += fmt.Sprintf(" a%d='v'", i)
	}
	attrs += "/>"
	cases := map[string]string{
		"plain":              `<r xmlns="urn:r" s:uuid="u1"><a>x</a><b/></r>`,
		"references":         `<r xmlns="urn:r"><a t="&lt;&amp;&#65;&#x42;">&quot;&apos;&#x1F600;</a></r>`,
		"bad reference":      `<r xmlns="urn:r"><a>&nope;</a></r>`,
		"bad attr reference": `<r xmlns="urn:r" a="&#;"/>`,
		"lt in attribute":    `<r xmlns="urn:r" a="<"/>`,
		"cdata end in text":  `<r xmlns="urn:r">a]]>b</r>`,
		"cdata":              `<r xmlns="urn:r"><![CDATA[<not> & markup]]></r>`,
		"comment and pi":     `<r xmlns="urn:r"><!-- c --><?pi x?><a/></r>`,
		"bad comment":        `<r xmlns="urn:r"><!-- a -- b --></r>`,
		"directive":          `<r xmlns="urn:r"><!DOCTYPE x></r>`,
		"mismatched":         `<r xmlns="urn:r"><a></b></r>`,
		"unclosed":           `<r xmlns="urn:r"><a>`,
		"non-ascii name":     `<r xmlns="urn:r"><é>x</é></r>`,
		"double colon":       `<r xmlns="urn:r"><a:b:c/></r>`,
		"control character":  "<r xmlns=\"urn:r\">\x01</r>",
		"carriage returns":   "<r xmlns=\"urn:r\" a=\"x\r\ny\">a\r\nb\rc</r>",
		"spaces in tags":     `<r   xmlns = "urn:r"  a = 'x' ><a  /></r  >`,
		"no quote":           `<r xmlns="urn:r" a=x/>`,
		"too deep":           `<r xmlns="urn:r">` + deep + `</r>`,
		"too many elements":  `<r xmlns="urn:r">` + many + `</r>`,
		"too many attrs":     attrs,
		"empty payload elem": `<r/>`,
	}
	lim := Limits{MaxBytes: 1 << 20, MaxDepth: 32, MaxElements: 200, MaxAttributes: 64}
	for name, payload := range cases {
		t.Run(name, func(t *testing.T) {
			doc := []byte(feed(payload))
			_, ferr := ParseFeed(bytes.NewReader(doc), lim)
			_, serr := ScanFeed(bytes.NewReader(doc), lim)
			if fmt.Sprint(ferr) != fmt.Sprint(serr) {
				t.Fatalf("ParseFeed: %v\nScanFeed:  %v", ferr, serr)
			}
			checkScanFeed(t, doc)
		})
	}
}
