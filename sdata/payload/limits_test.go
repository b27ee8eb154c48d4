package payload

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"sdatasync/contracts"
	"sdatasync/feeds"
)

func TestShorten(t *testing.T) {
	long := strings.Repeat("é", 300) // 600 bytes
	got := shorten(long, MaxTitle)
	if len(got) > MaxTitle || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Fatalf("shorten: %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
	if shorten("short", MaxTitle) != "short" {
		t.Fatal("a short title changed")
	}
}

// TestCanonicalBounds: unknown attributes are never stored, titles are
// bounded, a value over MaxValue is refused.
func TestCanonicalBounds(t *testing.T) {
	c, err := contracts.Builtin("gcrm")
	if err != nil {
		t.Fatal(err)
	}
	k := c.Kind("tradingAccounts")
	doc := `<tradingAccount xmlns="` + c.TargetNamespace + `" xmlns:x="urn:x" xmlns:sdata="` + feeds.SDataNS + `" x:made="up" bogus="1" sdata:key="k">` +
		`<name lang="en">` + strings.Repeat("N", 2000) + `</name><currency xmlns:xsi="` + feeds.XSINS + `" xsi:type="x" xsi:nil="true"/></tradingAccount>`
	el, err := feeds.ParsePayload(strings.NewReader(doc), feeds.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	stored, _, title, err := Canonical(c, k, el, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"made", "bogus", "lang", "xsi:type"} {
		if bytes.Contains(stored, []byte(bad+"=")) {
			t.Errorf("stored %s: %s", bad, stored)
		}
	}
	if !bytes.Contains(stored, []byte(`xsi:nil="true"`)) {
		t.Errorf("xsi:nil dropped: %s", stored)
	}
	if len(title) > MaxTitle {
		t.Errorf("title of %d bytes", len(title))
	}
	big, _ := feeds.ParsePayload(strings.NewReader(`<tradingAccount xmlns="`+c.TargetNamespace+`"><name>`+strings.Repeat("x", MaxValue+1)+`</name></tradingAccount>`), feeds.Limits{MaxBytes: 4 << 20})
	if err := Validate(c, k, big, true); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Fatalf("a value over MaxValue: %v", err)
	}
}
