package payload

import (
	"encoding/json"
	"math"
	"testing"
)

// checkProps compares appendProps with json.Marshal of the same map.
func checkProps(t *testing.T, fields []propValue) {
	t.Helper()
	m := map[string]any{}
	for _, f := range fields {
		m[f.name] = f.value
	}
	want, err := json.Marshal(m)
	if err != nil {
		t.Skip("not marshalable:", err)
	}
	got, err := appendProps(nil, append([]propValue(nil), fields...))
	if err != nil {
		t.Fatalf("appendProps: %v", err)
	}
	if string(got) != string(want) {
		t.Fatalf("appendProps = %s\njson.Marshal = %s", got, want)
	}
}

func TestAppendPropsIsJSONMarshal(t *testing.T) {
	for _, tc := range [][]propValue{
		nil,
		{{"name", "Acme"}},
		{{"z", int64(-7)}, {"a", true}, {"m", nil}, {"b", 12.5}, {"c", 1e21}, {"d", 1e-7}, {"e", float64(3)}},
		{{"name", "first"}, {"name", "last wins"}, {"x", false}},
		{{"s", `quote " backslash \ <tag> & amp`}, {"ctl", "tab\tnl\n\x01"}, {"uni", "caf\u00e9 \u2028 \u2029"}, {"bad", "\xff\xfe"}},
		{{"empty", ""}, {"n", int64(math.MaxInt64)}, {"f", -0.0}},
	} {
		checkProps(t, tc)
	}
}

func FuzzAppendProps(f *testing.F) {
	f.Add("name", "Acme <Ltd>", int64(42), 12.5, true)
	f.Add("", "\xff", int64(-1), 1e300, false)
	f.Fuzz(func(t *testing.T, k, s string, n int64, x float64, b bool) {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			x = 0
		}
		checkProps(t, []propValue{{k, s}, {k + "n", n}, {k + "x", x}, {"b" + k, b}, {"nil", nil}, {s, k}})
	})
}
