package site

import (
	"strings"
	"testing"
)

func TestParseKey(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"'1'", "1", true},
		{"1", "1", true},
		{"'a''b'", "a'b", true},
		{"'a b'", "a b", true},
		{"''", "", false},
		{"", "", false},
		{"'a", "", false},
		{"'a'b'", "", false},
		{"a b", "", false},
		{"a'b", "", false},
		{"a(b", "", false},
	} {
		got, err := ParseKey(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseKey(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestKeyFromURL(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"http://h/sdata/a/c/-/tradingAccounts('7')", "7", true},
		{"http://h/sdata/a/c/-/tradingAccounts('it''s')", "it's", true},
		{"/sdata/a/c/-/contacts(12)", "12", true},
		{"http://h/sdata/a/c/-/tradingAccounts", "", false},
		{"http://h/sdata/a/c/-/tradingAccounts('7'", "", false},
		{"%zz", "", false},
	} {
		got, err := KeyFromURL(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("KeyFromURL(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// FuzzParseKey: any key quoted as ResourceURL quotes it parses back to
// itself, and ParseKey never accepts an empty key.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"1", "a'b", "''", "x y", "ü", "'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if k, err := ParseKey(key); err == nil && k == "" {
			t.Fatalf("ParseKey(%q) accepted an empty key", key)
		}
		if key == "" {
			return
		}
		quoted := "'" + strings.ReplaceAll(key, "'", "''") + "'"
		got, err := ParseKey(quoted)
		if err != nil || got != key {
			t.Fatalf("ParseKey(%q) = %q, %v; want %q", quoted, got, err, key)
		}
	})
}
