package sdata_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"sdatasync/sdata/sdatatest"
	"sdatasync/sdata/store"
)

// seedConsole fills a provider's store for the console benchmarks: runs of
// 10 audit records (a selection, pages, conflicts with both versions, an
// error now and then) up to records, and resources of tradingAccounts (raw
// rows, the console never reads them but the store is that big).
func seedConsole(b *testing.B, p *sdatatest.Provider, records, resources int) {
	b.Helper()
	ctx := context.Background()
	t0 := time.Now().UTC().Add(-30 * 24 * time.Hour)
	kinds := []string{"tradingAccounts", "contacts", "commodities", "salesOrders"}
	conflict := `{"uuid":"01a2","key":"7","sourceState":{"Endpoint":"http://peer/sdata/a/gcrm/-/contacts","Tick":9},"targetState":null,` +
		`"winner":"source","rule":"priority","winnerVersion":{"payload":"<contact><name>A</name><city>Paris</city></contact>","title":"A"},` +
		`"loserVersion":{"payload":"<contact><name>B</name><city>Lyon</city></contact>","title":"B"}}`
	var batch []store.AuditRecord
	for i := 0; i < records; i++ {
		run, k := i/10, kinds[(i/10)%len(kinds)]
		at := t0.Add(time.Duration(i) * 25 * time.Second)
		rec := store.AuditRecord{Time: at, Dataset: "-", Kind: k, RunName: fmt.Sprintf("bench-%d", run%50), RunStamp: fmt.Sprintf("2026-11-%02dT%02d:00:00Z", 1+run%28, run%24),
			TrackingID: fmt.Sprintf("t%d", i), Status: 200, Count: 100, Duration: 40 * time.Millisecond}
		switch i % 10 {
		case 0:
			rec.Operation = "source.selected"
		case 1, 2:
			rec.Operation, rec.Detail = "target.conflict", conflict
		case 9:
			rec.Operation, rec.Status = "target.failed", 500
			if run%7 != 0 {
				rec.Operation, rec.Status = "source.get", 200
			}
		default:
			rec.Operation, rec.Detail = "target.applied", `{"Apply":96,"Skip":2,"ConflictSource":2}`
		}
		batch = append(batch, rec)
		if len(batch) == 1000 || i == records-1 {
			if err := p.Store.Audit(ctx, batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if resources == 0 {
		return
	}
	ep, _ := p.Server.Endpoint("-", "tradingAccounts")
	err := p.Store.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?)
			INSERT INTO resources (endpoint_id, key, etag, payload, props, title, deleted, change, sync_node, sync_tick, sync_stamp, created, updated)
			SELECT ?, 'b' || x, 'e' || x, CAST('<tradingAccount><name>Bench ' || x || '</name></tradingAccount>' AS BLOB), '{"name":"Bench"}', 'Bench ' || x, 0, 'POST',
			(SELECT node_id FROM endpoints WHERE id = ?), 1000000 + x, '2026-11-01T00:00:00.000000000Z', '2026-11-01T00:00:00.000000000Z', '2026-11-01T00:00:00.000000000Z' FROM n`,
			resources, ep.ID, ep.ID)
		if err != nil {
			return err
		}
		// Rows inserted in SQL count themselves (the store's inserts do).
		_, err = tx.ExecContext(ctx, `INSERT INTO resource_counts (endpoint_id, live) VALUES (?, ?)
			ON CONFLICT (endpoint_id) DO UPDATE SET live = live + excluded.live`, ep.ID, resources)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkConsoleAPI measures each console API on a store of 100k audit
// records and 1M resources (CONSOLE_BENCH_RESOURCES=0 skips the resources).
func BenchmarkConsoleAPI(b *testing.B) {
	p := sdatatest.Start(b, sdatatest.Options{})
	start := time.Now()
	seedConsole(b, p, 100_000, 1_000_000)
	b.Logf("seeded 100k audit records and 1M resources in %s", time.Since(start).Round(time.Millisecond))
	recs, _, err := p.Store.AuditLog(context.Background(), store.AuditQuery{Operation: "target.conflict", Limit: 1})
	if err != nil || len(recs) == 0 {
		b.Fatal(err)
	}
	api := p.URL + "/console/api/"
	for _, u := range []string{
		"endpoints", "runs", "runs?offset=20&limit=50", "runs?status=failed", "runs?kind=contacts&since=2026-01-01",
		"run?runName=bench-7&runStamp=2026-11-08T07:00:00Z", "jobs", "conflicts", "conflicts?kind=contacts&offset=1000",
		fmt.Sprintf("conflicts('%d')", recs[0].ID), "charts", "audit?operation=target.failed", "registry",
	} {
		b.Run(u, func(b *testing.B) {
			for b.Loop() {
				res, err := http.Get(api + u)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					b.Fatalf("%s: %d", u, res.StatusCode)
				}
			}
		})
	}
}
