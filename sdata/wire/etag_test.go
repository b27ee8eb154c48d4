package wire

import (
	"net/http"
	"sdatasync/sdata/diag"
	"testing"
)

// TestMatchETag: If-Match values as clients send them, including ETags
// that themselves begin with "W/" (base64 can: the rare 412 of the soak).
func TestMatchETag(t *testing.T) {
	const slash = "W/n7eM1BGpcl4gJYPObl5g==" // a real ETag of ours
	const plain = "n7eM1BGpcl4gJYPObl5g+A=="
	for _, tc := range []struct {
		ifMatch, cur string
		ok           bool
	}{
		{`"` + plain + `"`, plain, true},
		{plain, plain, true},
		{`W/"` + plain + `"`, plain, true},
		{`W/` + plain, plain, true},
		{`"` + slash + `"`, slash, true},
		{slash, slash, true}, // bare: compared as given first
		{`W/"` + slash + `"`, slash, true},
		{`"other", "` + slash + `"`, slash, true},
		{`*`, slash, true},
		{`"` + plain + `"`, slash, false},
		{`W/"` + plain + `"`, slash, false},
		{slash, "n7eM1BGpcl4gJYPObl5g==", true}, // weak form of a strong tag
		{`"W/x"`, "y", false},
		{``, plain, false},
	} {
		err := MatchETag(tc.ifMatch, tc.cur)
		if (err == nil) != tc.ok {
			t.Errorf("If-Match %s against %s: %v, want match %v", tc.ifMatch, tc.cur, err, tc.ok)
		}
		if err != nil {
			if he, ok := err.(*diag.Error); !ok || he.Status != http.StatusPreconditionFailed {
				t.Errorf("If-Match %s: %v, want a 412 diagnosis", tc.ifMatch, err)
			}
		}
	}
}
