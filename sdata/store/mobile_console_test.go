package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// seedDevices registers n devices over three components and seven users,
// their last syncs spread over time with many equal stamps (ties must be
// ordered too); it returns them in the console's order.
func seedDevices(t *testing.T, s *SQLite, n int) []MobileDevice {
	t.Helper()
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var all []MobileDevice
	err := s.MobileWrite(ctx, func(m *MobileTx) error {
		for i := range n {
			d := MobileDevice{Alias: fmt.Sprintf("comp%d", i%3), Device: fmt.Sprintf("dev-%04d", i), User: fmt.Sprintf("user%d", i%7),
				App: "field", AppVersion: "1.0", FirstSync: base, LastSync: base.Add(time.Duration(i%40) * time.Minute),
				LastStatus: 40, VersionSeq: int64(i), Syncs: int64(i%5 + 1)}
			if err := m.PutDevice(ctx, d); err != nil {
				return err
			}
			all = append(all, d)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(all, func(a, b MobileDevice) int {
		return -cmp.Or(a.LastSync.Compare(b.LastSync), cmp.Compare(a.Alias, b.Alias), cmp.Compare(a.Device, b.Device))
	})
	return all
}

// TestConsoleDevicesPaging: following the cursors page by page, with every
// filter, yields exactly the registry's rows that match, in the console's
// order (newest sync first), each once; the last page has no cursor.
func TestConsoleDevicesPaging(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	all := seedDevices(t, s, 500)
	for _, q := range []ConsoleDeviceQuery{{}, {Alias: "comp1"}, {User: "user3"}, {Alias: "comp2", User: "user5"}, {Device: "dev-0042"},
		{Alias: "nope"}} {
		t.Run(fmt.Sprintf("%+v", q), func(t *testing.T) {
			var want []MobileDevice
			for _, d := range all {
				if (q.Alias == "" || d.Alias == q.Alias) && (q.User == "" || d.User == q.User) && (q.Device == "" || d.Device == q.Device) {
					want = append(want, d)
				}
			}
			var got []MobileDevice
			q.Limit = 37
			for pages := 0; ; pages++ {
				if pages > len(all) {
					t.Fatal("the cursors do not end")
				}
				page, next, err := s.ConsoleDevices(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > q.Limit {
					t.Fatalf("a page of %d rows, limit %d", len(page), q.Limit)
				}
				got = append(got, page...)
				if next == "" {
					break
				}
				q.After = next
			}
			if len(got) != len(want) {
				t.Fatalf("%d rows, want %d", len(got), len(want))
			}
			for i := range want {
				g, w := got[i], want[i]
				if g.Alias != w.Alias || g.Device != w.Device || !g.LastSync.Equal(w.LastSync) || g.User != w.User || g.VersionSeq != w.VersionSeq ||
					g.Syncs != w.Syncs {
					t.Fatalf("row %d: %+v, want %+v", i, g, w)
				}
			}
		})
	}
	for _, bad := range []string{"x", "eyJ0IjoiIn0", "!!"} {
		if _, _, err := s.ConsoleDevices(ctx, ConsoleDeviceQuery{After: bad}); !errors.Is(err, ErrBadCursor) {
			t.Errorf("cursor %q: %v, want ErrBadCursor", bad, err)
		}
	}
}

// TestConsoleDevicesUseIndexes: every shape of the page query searches an
// index and, filtered by component or user or not at all, reads it in the
// console's order (no sort of the whole registry); only a device's few
// rows (one per component) may be sorted.
func TestConsoleDevicesUseIndexes(t *testing.T) {
	s, _ := openTest(t)
	seedDevices(t, s, 200)
	if _, err := s.w.Exec(`ANALYZE`); err != nil {
		t.Fatal(err)
	}
	cur := deviceCursor{LastSync: fmtStamp(time.Now()), Alias: "comp1", Device: "dev-0001"}.encode()
	for _, q := range []ConsoleDeviceQuery{{}, {After: cur}, {Alias: "comp1"}, {Alias: "comp1", After: cur}, {User: "user2"},
		{User: "user2", After: cur}, {Alias: "comp1", User: "user2", After: cur}, {Device: "dev-0007"}, {Device: "dev-0007", After: cur}} {
		stmt, args, err := consoleDeviceSQL(q, 51)
		if err != nil {
			t.Fatal(err)
		}
		plan := strings.Join(queryPlan(t, s, stmt, args...), "\n")
		t.Logf("%+v:\n%s", q, plan)
		if !strings.Contains(plan, "USING INDEX") && !strings.Contains(plan, "USING PRIMARY KEY") && !strings.Contains(plan, "USING COVERING INDEX") {
			t.Errorf("%+v reads no index:\n%s", q, plan)
		}
		if strings.Contains(plan, "TEMP B-TREE") && q.Device == "" {
			t.Errorf("%+v sorts the registry:\n%s", q, plan)
		}
		if q.Alias == "" && q.User == "" && q.Device == "" && !strings.Contains(plan, "mobile_devices_recent") {
			t.Errorf("%+v does not read by last sync:\n%s", q, plan)
		}
	}
}
