package feeds

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"sdatasync/digest"
)

// Digests and sync states are validated as they are decoded (digest's one
// validation), in every document, by the fast scanner and by the fallback
// parser alike; the error names the field by its path in the document.
func TestDecodeValidates(t *testing.T) {
	const sync = "xmlns:sync='" + SyncNS + "'"
	const atomNS = "xmlns='" + AtomNS + "'"
	de := func(ep, tick, prio string) string {
		s := "<sync:digestEntry><sync:endpoint>" + ep + "</sync:endpoint><sync:tick>" + tick + "</sync:tick>"
		if prio != "" {
			s += "<sync:conflictPriority>" + prio + "</sync:conflictPriority>"
		}
		return s + "</sync:digestEntry>"
	}
	st := func(ep, tick string) string {
		return "<entry><sync:syncState><sync:endpoint>" + ep + "</sync:endpoint><sync:tick>" + tick + "</sync:tick></sync:syncState></entry>"
	}
	feed := func(digest string, entries ...string) string {
		return "<feed " + atomNS + " " + sync + "><sync:digest>" + digest + "</sync:digest>" + strings.Join(entries, "") + "</feed>"
	}
	var junk strings.Builder
	for i := range digest.MaxEntries + 5 {
		junk.WriteString(de(fmt.Sprintf("http://junk%d/x", i), "1", ""))
	}
	tests := []struct{ name, doc, path string }{
		{"valid", feed(de("http://a/x", "7", "1"), st("http://a/x", "6"), st("http://new/x", "1")), ""},
		{"not a url", feed(de("not a url", "1", "")), "feed/digest/digestEntry[1]/endpoint"},
		{"javascript", feed(de("http://a/x", "1", "") + de("javascript:alert(1)", "1", "")), "feed/digest/digestEntry[2]/endpoint"},
		{"priority 0", feed(de("http://a/x", "1", "0")), "feed/digest/digestEntry[1]/conflictPriority"},
		{"junk entries", feed(junk.String()), "feed/digest"},
		{"negative tick in a state", feed("", st("http://a/x", "-1")), "feed/entry[1]/syncState/tick"},
		{"state not a url", feed("", st("http://a/x", "1"), st("not a url", "1")), "feed/entry[2]/syncState/endpoint"},
		{"state without endpoint", feed("", "<entry><sync:syncState><sync:tick>1</sync:tick></sync:syncState></entry>"), "feed/entry[1]/syncState/endpoint"},
		{"tick above the feed digest", feed(de("http://a/x", "5", ""), st("http://a/x", "4"), st("http://a/x", "100005")), "feed/entry[2]/syncState/tick"},
		{"origin not a url", "<feed " + atomNS + " " + sync + "><sync:digest><sync:origin>javascript:alert(1)</sync:origin></sync:digest></feed>", "feed/digest/origin"},
	}
	for _, tc := range tests {
		for _, parse := range []struct {
			name string
			fn   func(string) error
		}{
			{"ParseFeed", func(s string) error { _, err := ParseFeed(strings.NewReader(s), Limits{}); return err }},
			{"ScanFeed", func(s string) error { _, err := ScanFeed(strings.NewReader(s), Limits{}); return err }},
			// The encoding/xml parser that takes over when the fast scanner
			// gives up.
			{"encoding/xml", func(s string) error {
				_, err := runParser(newParser(strings.NewReader(s), Limits{}.withDefaults()), feedRoot)
				return err
			}},
		} {
			t.Run(tc.name+"/"+parse.name, func(t *testing.T) {
				err := parse.fn(tc.doc)
				if tc.path == "" {
					if err != nil {
						t.Fatalf("valid feed refused: %v", err)
					}
					return
				}
				var ie *digest.InvalidError
				if !errors.As(err, &ie) {
					t.Fatalf("err = %v (%T), want *digest.InvalidError", err, err)
				}
				if ie.Path != tc.path {
					t.Errorf("path %q, want %q (%v)", ie.Path, tc.path, err)
				}
			})
		}
	}
	// The other documents that hold digests.
	_, err := ParseDigest(strings.NewReader("<sync:digest "+sync+">"+de("http://a/x", "-3", "")+"</sync:digest>"), Limits{})
	var ie *digest.InvalidError
	if !errors.As(err, &ie) || ie.Path != "digest/digestEntry[1]/tick" {
		t.Errorf("ParseDigest: %v", err)
	}
	_, err = ParseEntry(strings.NewReader("<entry "+atomNS+" "+sync+"><payload xmlns='"+SDataNS+"'><sync:digest>"+de("http://a/x", "1", "12")+"</sync:digest></payload></entry>"), Limits{})
	if !errors.As(err, &ie) || ie.Path != "entry/payload/digest/digestEntry[1]/conflictPriority" {
		t.Errorf("ParseEntry: %v", err)
	}
}
