package mobile

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecode: any body decodes to a request within the limits or to a
// DecodeError, in both formats, never a panic; what decodes encodes back.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"inputParams": {"mscAlias": "a", "lastVersion": "", "filter": {"k": ["x", "y"]}}, "inputPayload": [{"mDataRow": {"reference": "A", "n": null, "x": 1.5}, "uid": "A", "actionId": 2}]}`), false)
	f.Add([]byte(`<s><inputParams><mscAlias>a</mscAlias><filter><k>x</k></filter></inputParams><inputPayload><mDataRow><r>A</r><n nil="true"/></mDataRow><actionId>0</actionId></inputPayload></s>`), true)
	f.Add([]byte(`{"inputParams": {"mscAlias": "a"}, "inputPayload": [{"actionId": "1", "uid": "%-~x"}]}`), false)
	f.Fuzz(func(t *testing.T, body []byte, isXML bool) {
		fm := JSON
		if isXML {
			fm = XML
		}
		d, err := Decode(fm, body, 10, 10)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("not a DecodeError: %T %v", err, err)
			}
			return
		}
		if d.Alias == "" || len(d.Rows) > 10 {
			t.Fatalf("decoded beyond the rules: %+v", d)
		}
		for _, r := range d.Rows {
			if len(r.Record) > 10 || r.ActionID < 0 || r.ActionID > 2 {
				t.Fatalf("row beyond the rules: %+v", r)
			}
			var b bytes.Buffer
			enc := NewEncoder(fm, &b)
			if err := enc.Row(OutputRow{Record: r.Record, UID: r.UID, ActionID: r.ActionID}); err != nil {
				t.Fatal(err)
			}
			if err := enc.End(Result{StatusCode: StatusOK}); err != nil {
				t.Fatal(err)
			}
		}
	})
}
