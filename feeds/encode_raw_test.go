package feeds

import (
	"bytes"
	"testing"
)

// TestRawPayloadWrittenAsIs: a pre-serialized payload is written verbatim and
// parses back like the equivalent tree.
func TestRawPayloadWrittenAsIs(t *testing.T) {
	raw := []byte(`<account xmlns="urn:c" xmlns:sdata="http://schemas.sage.com/sdata/2008/1" sdata:uuid="u1"><name>A &amp; B</name></account>`)
	var buf bytes.Buffer
	if err := WriteEntry(&buf, &Entry{ID: "urn:x", Title: "x", RawPayload: raw}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), raw) {
		t.Fatalf("raw payload not written as is:\n%s", buf.Bytes())
	}
	e, err := ParseEntry(&buf, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if e.Payload == nil || PayloadUUID(e.Payload) != "u1" || e.Payload.SelectElement("name").Text() != "A & B" || e.RawPayload != nil {
		t.Fatalf("parsed back: %+v", e)
	}
}
