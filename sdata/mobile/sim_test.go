package mobile

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestSimulation runs random workloads: a backend writing, devices
// uploading inserts, updates and deletes under random filters, responses
// lost at random (the device retries from its old version), filters
// changed at random, downloads cut into small pages. Whatever happened,
// once every device syncs to the end it holds exactly the server's rows
// that match its filter: nothing missed, nothing extra, nothing stale.
func TestSimulation(t *testing.T) {
	currencies := []string{"EUR", "GBP", "USD"}
	for _, sbd := range []bool{false, true} {
		for _, rule := range []string{ServerWins, ClientWins, Merge} {
			if rule == Merge && !sbd {
				continue
			}
			for seed := uint64(1); seed <= simSeeds; seed++ {
				t.Run(fmt.Sprintf("%s/sbd=%t/seed=%d", rule, sbd, seed), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(seed, 99))
					f := newFixture(t)
					f.e.limits.PageSize = 3
					c := f.component("acc", rule, sbd)
					randFilter := func() Filter {
						var vs []string
						for _, cur := range currencies {
							if rng.IntN(2) == 0 {
								vs = append(vs, cur)
							}
						}
						if len(vs) == 0 {
							vs = []string{"EUR"}
						}
						return Filter{"currency": vs}
					}
					var devs []*device
					for i := range 3 {
						devs = append(devs, f.device("acc", fmt.Sprint("d", i), randFilter()))
					}
					ref := func() string { return fmt.Sprintf("R%02d", rng.IntN(25)) }
					rec := func(r string) Record {
						return append(account(r, fmt.Sprint("n", rng.IntN(1000)), currencies[rng.IntN(3)]), Field{Name: "website", Value: fmt.Sprint("w", rng.IntN(3))})
					}
					for step := 0; step < 150; step++ {
						switch rng.IntN(4) {
						case 0: // the backend writes
							var rows []InputRow
							for range 1 + rng.IntN(3) {
								r := ref()
								switch rng.IntN(3) {
								case 0:
									rows = append(rows, ins(rec(r)))
								case 1:
									rows = append(rows, upd(r, rec(r)))
								default:
									rows = append(rows, del(r))
								}
							}
							f.notify("acc", rows...)
							if tr := os.Getenv("MOBILE_SIM_TRACE"); tr != "" {
								for _, r := range rows {
									if r.UID == tr || get(r.Record, "reference").Value == tr {
										t.Logf("step %d backend %d %v", step, r.ActionID, r.Record)
									}
								}
							}
						default: // a device syncs
							d := devs[rng.IntN(len(devs))]
							if rng.IntN(8) == 0 {
								d.filter = randFilter()
							}
							var rows []InputRow
							held := make([]string, 0, len(d.rows))
							for u := range d.rows {
								held = append(held, u)
							}
							slices.Sort(held)
							for range rng.IntN(3) {
								switch {
								case len(held) > 0 && rng.IntN(3) == 0:
									rows = append(rows, del(held[rng.IntN(len(held))]))
								case len(held) > 0 && rng.IntN(2) == 0:
									u := held[rng.IntN(len(held))]
									rows = append(rows, upd(u, rec(u)))
								default:
									rows = append(rows, ins(rec(ref())))
								}
							}
							// A device edits its own copy first, then syncs.
							for _, r := range rows {
								if r.ActionID == ActDelete {
									delete(d.rows, r.UID)
								} else {
									d.rows[uidOf(c, r.Record)] = r.Record.sorted()
								}
							}
							res, out := d.send(d.version, rows...)
							if res.StatusCode != StatusOK {
								t.Fatalf("step %d: status %d %s", step, res.StatusCode, res.Message)
							}
							lost := rng.IntN(5) == 0
							if !lost {
								d.take(res, out)
							}
							if tr := os.Getenv("MOBILE_SIM_TRACE"); tr != "" {
								for _, r := range rows {
									if r.UID == tr || get(r.Record, "reference").Value == tr {
										t.Logf("step %d %s filter %v sends %d %v", step, d.id, d.filter, r.ActionID, r.Record)
									}
								}
								t.Logf("step %d %s filter %v rows %d out %d more %t lost %t", step, d.id, d.filter, len(rows), len(out), res.HasMore, lost)
								for _, o := range out {
									if o.UID == tr {
										t.Logf("step %d %s gets %d status %d %v lost=%t", step, d.id, o.ActionID, o.RowStatus, o.Record, lost)
									}
								}
							}
						}
					}
					for _, d := range devs {
						d.syncAll()
						if want := f.serverRows(c, d.filter); !sameRows(d.rows, want) {
							t.Fatalf("device %s (filter %v) holds %d rows, the server %d: %s", d.id, d.filter, len(d.rows), len(want), rowDiff(d.rows, want))
						}
					}
				})
			}
		}
	}
}

// simSeeds is how many random workloads each configuration runs
// (MOBILE_SIM_SEEDS raises it for a longer search).
var simSeeds = func() uint64 {
	if n, err := strconv.ParseUint(os.Getenv("MOBILE_SIM_SEEDS"), 10, 64); err == nil && n > 0 {
		return n
	}
	return 4
}()

// rowDiff says how what a device holds differs from what it should.
func rowDiff(got, want map[string]Record) string {
	var b strings.Builder
	for u, r := range got {
		if w, ok := want[u]; !ok {
			fmt.Fprintf(&b, "\n  extra %s %v", u, r)
		} else if !slices.Equal(r.sorted(), w.sorted()) {
			fmt.Fprintf(&b, "\n  stale %s %v, server %v", u, r, w)
		}
	}
	for u, w := range want {
		if _, ok := got[u]; !ok {
			fmt.Fprintf(&b, "\n  missing %s %v", u, w)
		}
	}
	return b.String()
}
