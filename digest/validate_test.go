package digest

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The cases of issue 13 that the data-driven table (testdata/validate.txt)
// cannot spell: endpoints with spaces or parentheses, huge digests, long
// values, stamps out of range.
func TestValidateHostile(t *testing.T) {
	const ep = "http://a/sdata/x/c/-/accounts"
	junk := Digest{Origin: ep}
	for i := range MaxEntries + 1 {
		junk.Entries = append(junk.Entries, Entry{Endpoint: fmt.Sprintf("http://junk%d/x", i), Tick: 1, ConflictPriority: 5})
	}
	atMax := Digest{Origin: ep, Entries: junk.Entries[:MaxEntries]}
	ok := func(e Entry) Digest { return Digest{Origin: ep, Entries: []Entry{e}} }
	tests := []struct {
		name string
		d    Digest
		path string // "" for valid
	}{
		{"valid", ok(Entry{Endpoint: ep, Tick: 3, ConflictPriority: 1}), ""},
		{"MaxEntries entries", atMax, ""},
		{"not a url", ok(Entry{Endpoint: "not a url", Tick: 1, ConflictPriority: 5}), "digest/digestEntry[1]/endpoint"},
		{"javascript", ok(Entry{Endpoint: "javascript:alert(1)", Tick: 1, ConflictPriority: 5}), "digest/digestEntry[1]/endpoint"},
		{"empty endpoint", ok(Entry{Tick: 1, ConflictPriority: 5}), "digest/digestEntry[1]/endpoint"},
		{"newline in endpoint", ok(Entry{Endpoint: "http://a/x\n", Tick: 1, ConflictPriority: 5}), "digest/digestEntry[1]/endpoint"},
		{"fragment", ok(Entry{Endpoint: "http://a/x#y", Tick: 1, ConflictPriority: 5}), "digest/digestEntry[1]/endpoint"},
		{"bare query mark", ok(Entry{Endpoint: "http://a/x?", Tick: 1, ConflictPriority: 5}), "digest/digestEntry[1]/endpoint"},
		{"long endpoint", ok(Entry{Endpoint: "http://a/" + strings.Repeat("x", MaxEndpointLen), Tick: 1, ConflictPriority: 5}), "digest/digestEntry[1]/endpoint"},
		{"priority 0", ok(Entry{Endpoint: ep, Tick: 1}), "digest/digestEntry[1]/conflictPriority"},
		{"stamp year 10000", ok(Entry{Endpoint: ep, Tick: 1, ConflictPriority: 5, Stamp: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}), "digest/digestEntry[1]/stamp"},
		{"10,000 junk entries", junk, "digest"},
		{"origin not a url", Digest{Origin: "not a url"}, "digest/origin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.d.Validate()
			if tc.path == "" {
				if err != nil {
					t.Fatalf("valid digest refused: %v", err)
				}
				return
			}
			var ie *InvalidError
			if !errors.As(err, &ie) || !errors.Is(err, ErrInvalidDigest) {
				t.Fatalf("got %v, want an *InvalidError wrapping ErrInvalidDigest", err)
			}
			if ie.Path != tc.path {
				t.Errorf("path %q, want %q (%v)", ie.Path, tc.path, err)
			}
			if in := ie.In("feed"); in.Path != "feed/"+tc.path || ie.Path != tc.path {
				t.Errorf("In: %q (original now %q)", in.Path, ie.Path)
			}
		})
	}
}

func TestSyncStateValidate(t *testing.T) {
	const ep = "https://b.example/sdata/x/c/-/accounts"
	tests := []struct {
		name string
		s    SyncState
		path string
	}{
		{"valid", SyncState{Endpoint: ep, Tick: 0, Stamp: time.Now(), User: "john.doe@acme.com"}, ""},
		{"no endpoint", SyncState{Tick: 1}, "syncState/endpoint"},
		{"not a url", SyncState{Endpoint: "not a url", Tick: 1}, "syncState/endpoint"},
		{"javascript", SyncState{Endpoint: "javascript:alert(1)", Tick: 1}, "syncState/endpoint"},
		{"negative tick", SyncState{Endpoint: ep, Tick: -1}, "syncState/tick"},
		{"stamp year 0", SyncState{Endpoint: ep, Tick: 1, Stamp: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)}, "syncState/stamp"},
		{"long user", SyncState{Endpoint: ep, Tick: 1, User: strings.Repeat("u", MaxUserLen+1)}, "syncState/user"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Validate()
			if tc.path == "" {
				if err != nil {
					t.Fatalf("valid state refused: %v", err)
				}
				return
			}
			var ie *InvalidError
			if !errors.As(err, &ie) || !errors.Is(err, ErrInvalidSyncState) || ie.Path != tc.path {
				t.Fatalf("got %v, want an *InvalidError at %s wrapping ErrInvalidSyncState", err, tc.path)
			}
		})
	}
}

// FuzzValidEndpoint: whatever ValidEndpoint accepts is an absolute http(s)
// URL with a host, and nothing else.
func FuzzValidEndpoint(f *testing.F) {
	for _, s := range []string{"http://a/x", "https://a:1/x", "not a url", "javascript:alert(1)", "http:/x", "HTTP://A/X",
		"http://[::1]:80/x", "http://u@a/", "http://a/%zz", "", "http://a/x#", "http://a:0/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidEndpoint(s) != nil {
			return
		}
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("accepted %q that does not parse: %v", s, err)
		}
		if sc := strings.ToLower(u.Scheme); sc != "http" && sc != "https" || u.Hostname() == "" || u.User != nil ||
			u.RawQuery != "" || u.Fragment != "" || len(s) > MaxEndpointLen || strings.ContainsAny(s, " \t\r\n") {
			t.Fatalf("accepted %q", s)
		}
	})
}

// FuzzDigestValidate builds digests from fuzzed entries: Validate never
// panics, is deterministic, and what it accepts keeps every rule.
func FuzzDigestValidate(f *testing.F) {
	f.Add("http://a/x", "http://a/x", int64(1), 5, "http://b/y", int64(0), 1, uint8(2))
	f.Add("", "not a url", int64(-1), 0, "javascript:alert(1)", int64(7), 10, uint8(200))
	f.Add("http://a/x", "http://a/x", int64(3), 9, "http://a/x", int64(4), 1, uint8(2))
	f.Fuzz(func(t *testing.T, origin, ep1 string, t1 int64, p1 int, ep2 string, t2 int64, p2 int, n uint8) {
		d := Digest{Origin: origin}
		for i := range int(n) % 5 {
			if i%2 == 0 {
				d.Entries = append(d.Entries, Entry{Endpoint: ep1, Tick: t1 + int64(i), ConflictPriority: p1})
			} else {
				d.Entries = append(d.Entries, Entry{Endpoint: ep2, Tick: t2, ConflictPriority: p2})
			}
		}
		err := d.Validate()
		if again := d.Validate(); (err == nil) != (again == nil) {
			t.Fatalf("not deterministic: %v then %v", err, again)
		}
		if err != nil {
			var ie *InvalidError
			if !errors.As(err, &ie) || !errors.Is(err, ErrInvalidDigest) || !strings.HasPrefix(ie.Path, "digest") {
				t.Fatalf("error %v is not an *InvalidError under digest", err)
			}
			return
		}
		if d.Origin != "" && ValidEndpoint(d.Origin) != nil {
			t.Fatalf("accepted origin %q", d.Origin)
		}
		seen := map[string]bool{}
		for _, e := range d.Entries {
			if ValidEndpoint(e.Endpoint) != nil || e.Tick < 0 || ValidPriority(e.ConflictPriority) != nil || seen[e.Endpoint] {
				t.Fatalf("accepted entry %+v of %+v", e, d)
			}
			seen[e.Endpoint] = true
		}
	})
}

// FuzzSyncState: SyncState.Validate and Claims.Check never panic, and a
// state they accept keeps the rules, within the digest's claim.
func FuzzSyncState(f *testing.F) {
	f.Add("http://a/x", int64(1), "u", "http://a/x", int64(2))
	f.Add("not a url", int64(-1), "", "http://a/x", int64(0))
	f.Add("http://a/x", int64(100005), "", "http://a/x", int64(5))
	f.Fuzz(func(t *testing.T, ep string, tick int64, user, dep string, dtick int64) {
		s := SyncState{Endpoint: ep, Tick: tick, User: user}
		err := s.Validate()
		if err == nil {
			err = Digest{Entries: []Entry{{Endpoint: dep, Tick: dtick, ConflictPriority: 5}}}.Claims().Check(s)
		}
		if err != nil {
			var ie *InvalidError
			if !errors.As(err, &ie) || !errors.Is(err, ErrInvalidSyncState) || !strings.HasPrefix(ie.Path, "syncState/") {
				t.Fatalf("error %v is not an *InvalidError under syncState", err)
			}
			return
		}
		if ValidEndpoint(ep) != nil || tick < 0 || len(user) > MaxUserLen || ep == dep && tick >= dtick {
			t.Fatalf("accepted %+v against (%s %d)", s, dep, dtick)
		}
	})
}
