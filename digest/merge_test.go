package digest

import (
	"testing"
	"time"
)

func TestMerge(t *testing.T) {
	t0 := time.Date(2008, 10, 30, 12, 0, 0, 0, time.UTC)
	const self, other = "http://t/ep", "http://s/ep"
	cases := []struct {
		name     string
		target   Digest
		winner   SyncState
		wantTick int64
		want     Entry // the target's own entry afterwards
	}{
		{
			name:     "own entry present: its tick is taken, the later stamp kept",
			target:   Digest{Origin: self, Entries: []Entry{{Endpoint: self, Tick: 7, Stamp: t0, ConflictPriority: 2}}},
			winner:   SyncState{Endpoint: other, Tick: 3, Stamp: t0.Add(time.Hour), User: "u"},
			wantTick: 7,
			want:     Entry{Endpoint: self, Tick: 8, Stamp: t0.Add(time.Hour), ConflictPriority: 2},
		},
		{
			name:     "an older winner stamp leaves the entry's stamp alone",
			target:   Digest{Origin: self, Entries: []Entry{{Endpoint: self, Tick: 4, Stamp: t0, ConflictPriority: 2}}},
			winner:   SyncState{Endpoint: self, Tick: 3, Stamp: t0.Add(-time.Hour)},
			wantTick: 4,
			want:     Entry{Endpoint: self, Tick: 5, Stamp: t0, ConflictPriority: 2},
		},
		{
			name:     "missing own entry: created at FirstTick with the given priority",
			target:   Digest{Origin: self, Entries: []Entry{{Endpoint: other, Tick: 9}}},
			winner:   SyncState{Endpoint: other, Tick: 8, Stamp: t0},
			wantTick: FirstTick,
			want:     Entry{Endpoint: self, Tick: FirstTick + 1, Stamp: t0, ConflictPriority: 3},
		},
		{
			name:     "own tick 0 (nothing assigned yet) counts as FirstTick",
			target:   Digest{Origin: self, Entries: []Entry{{Endpoint: self, Tick: 0, ConflictPriority: 1}}},
			winner:   SyncState{Endpoint: other, Tick: 2, Stamp: t0},
			wantTick: FirstTick,
			want:     Entry{Endpoint: self, Tick: FirstTick + 1, Stamp: t0, ConflictPriority: 1},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := c.target.Clone()
			got := Merge(&d, self, 3, c.winner)
			want := SyncState{Endpoint: self, Tick: c.wantTick, Stamp: c.winner.Stamp, User: c.winner.User}
			if got != want {
				t.Errorf("Merge = %+v, want %+v", got, want)
			}
			if e, _ := d.Get(self); e != c.want {
				t.Errorf("own entry = %+v, want %+v", e, c.want)
			}
			for _, e := range c.target.Entries {
				if e.Endpoint != self {
					if g, _ := d.Get(e.Endpoint); g != e {
						t.Errorf("entry %s changed: %+v -> %+v", e.Endpoint, e, g)
					}
				}
			}
			// The merge state is claimed by the digest (spec 4.3) and no
			// other version of the target's endpoint can carry its tick.
			if d.Tick(self) <= got.Tick {
				t.Errorf("digest tick %d does not cover the merge tick %d", d.Tick(self), got.Tick)
			}
		})
	}
}
