package devjobs

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDecodeUpdates: LocalDataUpdates is an object of aliases, each a list
// of rows, kept in the order sent; anything else is refused.
func TestDecodeUpdates(t *testing.T) {
	for _, tc := range []struct {
		in      string
		aliases string // "" with err
		err     string
	}{
		{`{}`, "", ""},
		{`{"b": [], "a": [{"actionId": 0, "mDataRow": {"x": 1}}]}`, "b,a", ""},
		{`{"a": [{"actionId": "2", "uid": "u", "mDataRow": {}}]}`, "a", ""},
		{`{"a": [{"actionId": 1, "uid": "u"}]}`, "a", ""},
		{`{"a": [{"actionId": 1}]}`, "", "mDataRow is required"},
		{`{"a": [{"actionId": 3, "mDataRow": {}}]}`, "", "actionId"},
		{`{"a": [{"mDataRow": {}}]}`, "", "actionId"},
		{`{"a": [{"actionId": 0, "mDataRow": [1]}]}`, "", "must be an object"},
		{`{"a": [], "a": []}`, "", "named twice"},
		{`{"": []}`, "", "empty"},
		{`{"a": {}}`, "", "list of rows"},
		{`[]`, "", "must be an object"},
		{`{"a": []} 1`, "", "after the object"},
		{`{"a": [`, "", "LocalDataUpdates"},
		{`"x"`, "", "must be an object"},
	} {
		got, err := decodeUpdates([]byte(tc.in))
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one about %q", tc.in, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.in, err)
		case tc.err == "":
			var names []string
			for _, c := range got {
				names = append(names, c.Alias)
			}
			if s := strings.Join(names, ","); s != tc.aliases {
				t.Errorf("%s: aliases %q, want %q", tc.in, s, tc.aliases)
			}
		}
	}
}

// FuzzDecodeUpdates: whatever a device sends, decoding returns rows whose
// actionId is 0..2 and whose mDataRow is an object (or absent on a delete
// naming its uid), or an error; it never panics.
func FuzzDecodeUpdates(f *testing.F) {
	for _, s := range []string{`{}`, `{"a": [{"actionId": 0, "mDataRow": {"x": 1}}]}`, `{"a": [{"actionId": "1", "uid": "u"}]}`,
		`{"a": [], "b": [{"actionId": 2, "uid": "q", "mDataRow": {"n": null}}]}`, `[`, `{"a": [{"actionId": 0, "mDataRow": "x"}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeUpdates(b)
		if err != nil {
			return
		}
		for _, c := range got {
			for _, r := range c.Rows {
				if r.ActionID < ActionInsert || r.ActionID > ActionUpdate {
					t.Fatalf("actionId %d", r.ActionID)
				}
				if r.MDataRow == nil && (r.ActionID != ActionDelete || r.UID == "") {
					t.Fatalf("row without mDataRow: %+v", r)
				}
				if r.MDataRow != nil && !json.Valid(r.MDataRow) {
					t.Fatalf("invalid mDataRow %q", r.MDataRow)
				}
			}
		}
		if _, err := decodeSyncRequest(b); err != nil {
			return
		}
	})
}
