package feeds

import (
	"bytes"
	"strings"
	"testing"

	"sdatasync/digest"
)

// FuzzParseDigest: whatever ParseDigest accepts is valid by digest's one
// validation and survives a round trip through WriteDigestEntry; whatever
// it refuses is an error, never a panic.
func FuzzParseDigest(f *testing.F) {
	const sync = `xmlns="` + SyncNS + `"`
	for _, s := range []string{
		`<digest ` + sync + `><origin>http://a/x</origin><digestEntry><endpoint>http://a/x</endpoint><tick>5</tick><stamp>2008-10-30T14:52:03.281Z</stamp><conflictPriority>2</conflictPriority></digestEntry></digest>`,
		`<digest ` + sync + `/>`,
		`<digest ` + sync + `><digestEntry><endpoint>not a url</endpoint><tick>-1</tick><conflictPriority>0</conflictPriority></digestEntry></digest>`,
		`<digest ` + sync + `><origin>javascript:alert(1)</origin></digest>`,
		`<entry xmlns="` + AtomNS + `"><payload xmlns="` + SDataNS + `"><digest ` + sync + `><digestEntry><endpoint>http://b/y</endpoint><tick>0</tick></digestEntry></digest></payload></entry>`,
		`<digest ` + sync + `>` + strings.Repeat(`<digestEntry><endpoint>http://a/x</endpoint><tick>1</tick></digestEntry>`, 3) + `</digest>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDigest(bytes.NewReader(b), Limits{MaxBytes: 1 << 20})
		if err != nil {
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("accepted an invalid digest: %v", err)
		}
		var buf bytes.Buffer
		if err := WriteDigestEntry(&buf, &Entry{ID: "urn:x", Title: "d", Digest: d}); err != nil {
			t.Fatal(err)
		}
		again, err := ParseDigest(&buf, Limits{})
		if err != nil {
			t.Fatalf("written digest does not parse: %v\n%s", err, buf.Bytes())
		}
		if !sameDigest(*d, *again) {
			t.Fatalf("round trip changed the digest:\n%+v\n%+v", d, again)
		}
	})
}

func sameDigest(a, b digest.Digest) bool {
	if a.Origin != b.Origin || len(a.Entries) != len(b.Entries) {
		return false
	}
	for i, e := range a.Entries {
		g := b.Entries[i]
		if e.Endpoint != g.Endpoint || e.Tick != g.Tick || e.ConflictPriority != g.ConflictPriority || !e.Stamp.Equal(g.Stamp) {
			return false
		}
	}
	return true
}
