package mobile

import (
	"slices"
	"strings"
	"testing"
)

func TestUIDCodec(t *testing.T) {
	cases := []struct {
		vals []string
		uid  string
	}{
		{[]string{"A1"}, "A1"},
		{[]string{"a", "b"}, "a~b"},
		{[]string{""}, "%-"},
		{[]string{"", ""}, "%-~%-"},
		{[]string{"x~y"}, "x%7Ey"},
		{[]string{"100%"}, "100%25"},
		{[]string{"%-"}, "%25-"},
		{[]string{"line\nbreak\x7f"}, "line%0Abreak%7F"},
		{[]string{"ünï code", "/?&="}, "ünï code~/?&="},
	}
	for _, c := range cases {
		if got := EncodeUID(c.vals); got != c.uid {
			t.Errorf("EncodeUID(%q) = %q, want %q", c.vals, got, c.uid)
		}
		back, err := DecodeUID(c.uid, len(c.vals))
		if err != nil || !slices.Equal(back, c.vals) {
			t.Errorf("DecodeUID(%q) = %q, %v", c.uid, back, err)
		}
	}
	// Uids the server never issues.
	for _, bad := range []string{"", "a~b", "%41", "%7e", "%", "%2", "%ZZ", "a\nb", "%-x", "x%-"} {
		if _, err := DecodeUID(bad, 1); err == nil {
			t.Errorf("DecodeUID(%q, 1) accepted", bad)
		}
	}
}

func FuzzUID(f *testing.F) {
	for _, s := range []string{"A1", "a~b", "%-", "x%7Ey", "%25", "%0A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uid string) {
		for n := 1; n <= 3; n++ {
			vals, err := DecodeUID(uid, n)
			if err != nil {
				continue
			}
			// Every accepted uid is exactly the one its values encode to.
			if EncodeUID(vals) != uid {
				t.Fatalf("DecodeUID(%q) = %q, which encodes to %q", uid, vals, EncodeUID(vals))
			}
		}
		// Any values round-trip.
		vals := strings.Split(uid, "|")
		back, err := DecodeUID(EncodeUID(vals), len(vals))
		if err != nil || !slices.Equal(back, vals) {
			t.Fatalf("round trip of %q: %q, %v", vals, back, err)
		}
	})
}

func testSealer() Sealer {
	return Sealer{Keys: []Key{{ID: 2, Secret: []byte("0123456789abcdef0123456789abcdef")}, {ID: 1, Secret: []byte("old-old-old-old-old-old-old-old!")}}}
}

func TestVersionSeal(t *testing.T) {
	s := testSealer()
	v := Version{Alias: "a", Device: "d", Config: "c", Pos: 7, Held: 7, Start: 7, Filter: Filter{"k": {"x"}}, HeldFilter: Filter{"k": {"x"}}, Response: 3}
	sealed, err := s.Seal(v)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Open(sealed, "a", "d", "c")
	if err != nil || got.Pos != 7 || got.Response != 3 || !got.Filter.Equal(v.Filter) {
		t.Fatalf("open: %+v %v", got, err)
	}
	for _, tc := range []struct{ alias, dev, cfg, want string }{
		{"b", "d", "c", "another mobile sync component"},
		{"a", "e", "c", "another device"},
		{"a", "d", "z", "stale"},
	} {
		if _, err := s.Open(sealed, tc.alias, tc.dev, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("open as %v: %v, want %q", tc, err, tc.want)
		}
	}
	// An older key still opens; a key not in the list does not.
	old, _ := Sealer{Keys: s.Keys[1:]}.Seal(v)
	if _, err := s.Open(old, "a", "d", "c"); err != nil {
		t.Fatalf("old key: %v", err)
	}
	if _, err := (Sealer{Keys: s.Keys[:1]}).Open(old, "a", "d", "c"); err == nil {
		t.Fatal("a retired key opened")
	}
}

func FuzzOpenVersion(f *testing.F) {
	s := testSealer()
	good, _ := s.Seal(Version{Alias: "a", Device: "d", Config: "c", Pos: 1, Held: 1, Start: 1})
	f.Add(good)
	f.Add("v1.2.e30.AAAA")
	f.Add("v1.")
	f.Fuzz(func(t *testing.T, sealed string) {
		v, err := s.Open(sealed, "a", "d", "c")
		if err != nil {
			return
		}
		// Whatever opens was sealed by us: it seals back to an equivalent version.
		again, err := s.Seal(v)
		if err != nil {
			t.Fatal(err)
		}
		if v2, err := s.Open(again, "a", "d", "c"); err != nil || v2.Pos != v.Pos {
			t.Fatalf("reseal: %v", err)
		}
	})
}

func TestDecide(t *testing.T) {
	srv := account("K", "server", "EUR")
	base := account("K", "base", "EUR")
	dev := account("K", "device", "EUR")
	devOther := append(account("K", "base", "EUR"), Field{Name: "website", Value: "w"})
	cases := []struct {
		name   string
		s      Situation
		status int
		write  bool
		del    bool
		winner string
		result string // the resolved name
	}{
		{"no conflict", Situation{Action: ActUpdate, Device: dev, Server: base, ServerLive: true, Rule: ServerWins}, RowOK, true, false, "", "device"},
		{"retry contained", Situation{Action: ActUpdate, Device: dev, Server: dev, ServerLive: true, Changed: true, Rule: ServerWins}, RowOK, false, false, "", "device"},
		{"delete gone", Situation{Action: ActDelete, Server: srv, Changed: true, Rule: ServerWins}, RowOK, false, true, "", ""},
		{"serverWins", Situation{Action: ActUpdate, Device: dev, Server: srv, ServerLive: true, Changed: true, Rule: ServerWins}, RowResolved, false, false, "server", "server"},
		{"clientWins", Situation{Action: ActUpdate, Device: dev, Server: srv, ServerLive: true, Changed: true, Rule: ClientWins}, RowResolved, true, false, "device", "device"},
		{"serverWins delete vs edit", Situation{Action: ActDelete, Server: srv, ServerLive: true, Changed: true, Rule: ServerWins}, RowResolved, false, false, "server", "server"},
		{"clientWins delete vs edit", Situation{Action: ActDelete, Server: srv, ServerLive: true, Changed: true, Rule: ClientWins}, RowResolved, true, true, "device", ""},
		{"serverWins edit vs delete", Situation{Action: ActUpdate, Device: dev, Server: srv, Changed: true, Rule: ServerWins}, RowResolved, false, true, "server", ""},
		{"clientWins edit vs delete", Situation{Action: ActUpdate, Device: dev, Server: srv, Changed: true, Rule: ClientWins}, RowResolved, true, false, "device", "device"},
		{"merge same field, fallback server", Situation{Action: ActUpdate, Device: dev, Server: srv, ServerLive: true, Changed: true, Base: base, HasBase: true, Rule: Merge, Fallback: ServerWins}, RowResolved, false, false, "merge", "server"},
		{"merge same field, fallback client", Situation{Action: ActUpdate, Device: dev, Server: srv, ServerLive: true, Changed: true, Base: base, HasBase: true, Rule: Merge, Fallback: ClientWins}, RowResolved, true, false, "merge", "device"},
		{"merge other fields", Situation{Action: ActUpdate, Device: devOther, Server: srv, ServerLive: true, Changed: true, Base: base, HasBase: true, Rule: Merge, Fallback: ServerWins}, RowResolved, true, false, "merge", "server"},
		{"merge without base", Situation{Action: ActUpdate, Device: dev, Server: srv, ServerLive: true, Changed: true, Rule: Merge, Fallback: ServerWins}, RowUnresolvable, false, false, "", "server"},
		{"backend", Situation{Action: ActUpdate, Device: dev, Server: srv, ServerLive: true, Changed: true, Backend: true, Rule: ServerWins}, RowOK, true, false, "", "device"},
		{"insert new", Situation{Action: ActInsert, Device: dev, Changed: true, Rule: ServerWins}, RowOK, true, false, "", "device"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Decide(c.s)
			if r.Status != c.status || r.Write != c.write || r.Delete != c.del || r.Winner != c.winner {
				t.Fatalf("got %+v", r)
			}
			if !r.Delete && get(r.Result, "name").Value != c.result {
				t.Fatalf("result %v, want name %q", r.Result, c.result)
			}
			if r.Winner != "" && r.Winner != "merge" && len(r.Lost) == 0 && !r.LostDeleted {
				t.Fatalf("a conflict lost nothing: %+v", r)
			}
		})
	}
	// merge other fields keeps both changes.
	r := Decide(Situation{Action: ActUpdate, Device: devOther, Server: srv, ServerLive: true, Changed: true, Base: base, HasBase: true, Rule: Merge, Fallback: ServerWins})
	if get(r.Result, "website").Value != "w" || get(r.Result, "name").Value != "server" || len(r.Lost) != 0 {
		t.Fatalf("merge: %+v", r)
	}
}

func TestScanHolds(t *testing.T) {
	eur := Filter{"currency": {"EUR"}}
	rec := account("K", "n", "EUR")
	gbp := account("K", "n", "GBP")
	steady := Version{Pos: 10, Held: 10, HeldFilter: eur, Start: 10, Filter: eur}
	cases := []struct {
		name string
		v    Version
		seq  int64
		frst int64
		rec  Record
		want holding
	}{
		{"new since", startScan(steady, false, eur, 20), 15, 15, rec, holdsNot},
		{"changed since", startScan(steady, false, eur, 20), 15, 3, rec, holdsMaybe},
		{"fresh", startScan(Version{}, true, eur, 20), 5, 1, rec, holdsNot},
		{"filter change, held", startScan(steady, false, Filter{"currency": {"GBP"}}, 20), 5, 1, rec, holdsExact},
		{"filter change, not held", startScan(steady, false, Filter{"currency": {"GBP"}}, 20), 5, 1, gbp, holdsNot},
		{"page 2, modified after page 1", Version{Pos: 12, Held: 10, HeldFilter: eur, Start: 20, Filter: eur}, 25, 11, rec, holdsMaybe},
		{"page 2, untouched", Version{Pos: 12, Held: 10, HeldFilter: eur, Start: 20, Filter: eur}, 18, 11, rec, holdsNot},
	}
	for _, c := range cases {
		if got := c.v.holds(storeRow(c.seq, c.frst), c.rec); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}
