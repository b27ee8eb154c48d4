package sdata_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"sdatasync/sdata/sdatatest"
	"sdatasync/sdata/store"
)

// BenchmarkConsoleDevices measures the console's device registry API on a
// registry of 10,000 devices (5 components, 50 users): the first page,
// each filter, and a page near the end reached by cursor.
func BenchmarkConsoleDevices(b *testing.B) {
	p := sdatatest.Start(b, sdatatest.Options{})
	ctx := context.Background()
	t0 := time.Now().UTC().Add(-24 * time.Hour)
	err := p.Store.MobileWrite(ctx, func(m *store.MobileTx) error {
		for i := range 10_000 {
			if err := m.PutDevice(ctx, store.MobileDevice{Alias: fmt.Sprintf("c%d", i%5), Device: fmt.Sprintf("dev-%05d", i),
				User: fmt.Sprintf("u%d", i%50), App: "sales", AppVersion: "1.0", FirstSync: t0, LastSync: t0.Add(time.Duration(i) * time.Second),
				LastStatus: 40, VersionSeq: int64(i), Syncs: 3}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	api := p.URL + "/console/api/"
	get := func(b *testing.B, u string) []byte {
		res, err := http.Get(api + u)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("%s: %d %s", u, res.StatusCode, body)
		}
		return body
	}
	// The cursor of the page after the first 9,900 devices.
	var pg struct{ Next string }
	if err := json.Unmarshal(get(b, "devices?limit=500"), &pg); err != nil {
		b.Fatal(err)
	}
	for range 18 {
		if err := json.Unmarshal(get(b, "devices?limit=500&after="+url.QueryEscape(pg.Next)), &pg); err != nil {
			b.Fatal(err)
		}
	}
	if err := json.Unmarshal(get(b, "devices?limit=400&after="+url.QueryEscape(pg.Next)), &pg); err != nil || pg.Next == "" {
		b.Fatal("no cursor near the end", err)
	}
	for _, c := range []struct{ name, u string }{{"first", "devices"}, {"alias", "devices?alias=c3"}, {"user", "devices?user=u7"},
		{"device", "devices?device=dev-05000"}, {"after9900", "devices?after=" + url.QueryEscape(pg.Next)}, {"components", "components"}} {
		u := c.u
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				get(b, u)
			}
		})
	}
}
