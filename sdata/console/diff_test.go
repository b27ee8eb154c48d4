package console

import (
	"reflect"
	"testing"
)

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		name          string
		winner, loser string
		want          []Field
	}{
		{"equal", `<a><name>X</name></a>`, `<a><name>X</name></a>`,
			[]Field{{Path: "name", Winner: "X", Loser: "X", InWin: true, InLose: true}}},
		{"changed and missing fields", `<a><name>X</name><city>Paris</city></a>`, `<a><name>Y</name><phone>1</phone></a>`,
			[]Field{{Path: "name", Winner: "X", Loser: "Y", InWin: true, InLose: true, Differs: true},
				{Path: "city", Winner: "Paris", InWin: true, Differs: true},
				{Path: "phone", Loser: "1", InLose: true, Differs: true}}},
		{"child items by UUID, repeated elements, attributes", `<o><lines><line sdata:uuid="u1"><q>1</q></line><line sdata:uuid="u2"><q>2</q></line></lines><p>a</p><p>b</p><acct sdata:uuid="a"/></o>`,
			`<o><lines><line sdata:uuid="u1"><q>3</q></line></lines><p>a</p><acct sdata:uuid="b"/></o>`,
			[]Field{{Path: "lines/line[u1]/@sdata:uuid", Winner: "u1", Loser: "u1", InWin: true, InLose: true},
				{Path: "lines/line[u1]/q", Winner: "1", Loser: "3", InWin: true, InLose: true, Differs: true},
				{Path: "lines/line[u2]/@sdata:uuid", Winner: "u2", InWin: true, Differs: true},
				{Path: "lines/line[u2]/q", Winner: "2", InWin: true, Differs: true},
				{Path: "p[1]", Winner: "a", InWin: true, Differs: true},
				{Path: "p[2]", Winner: "b", InWin: true, Differs: true},
				{Path: "acct/@sdata:uuid", Winner: "a", Loser: "b", InWin: true, InLose: true, Differs: true},
				{Path: "acct", Winner: "", Loser: "", InWin: true, InLose: true},
				{Path: "p", Loser: "a", InLose: true, Differs: true}}},
		{"markup in values stays text", `<a><name>&lt;script&gt;alert(1)&lt;/script&gt;</name></a>`, `not xml`,
			[]Field{{Path: "name", Winner: "<script>alert(1)</script>", InWin: true, Differs: true}}},
		{"tombstone against content", `<a/>`, `<a><name>X</name></a>`,
			[]Field{{Path: "name", Loser: "X", InLose: true, Differs: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Diff(tc.winner, tc.loser); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Diff:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func FuzzDiff(f *testing.F) {
	f.Add(`<a><b>1</b></a>`, `<a><b>2</b><c x="1"/></a>`)
	f.Fuzz(func(t *testing.T, w, l string) {
		fs := Diff(w, l)
		for _, x := range fs {
			if x.Differs != (!x.InWin || !x.InLose || x.Winner != x.Loser) {
				t.Fatalf("inconsistent field %+v", x)
			}
		}
	})
}
