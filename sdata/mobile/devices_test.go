package mobile_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"sdatasync/feeds"
	"sdatasync/sdata/mobile"
	"sdatasync/sdata/sdatatest"
	"sdatasync/sdata/store"
)

var updated = regexp.MustCompile(`<updated>[^<]*</updated>`)

// sdataView is what an SData peer sees of the accounts of p: the
// $syncDigest document and the first page of the sync feed for a peer
// that holds nothing.
func sdataView(t *testing.T, p, peer *sdatatest.Provider) (dg []byte, entries, digestEntries, payloadBytes int) {
	t.Helper()
	path := func(u string) string { return strings.TrimPrefix(u, p.URL) }
	a := call(t, p, http.MethodGet, path(p.KindURL("tradingAccounts"))+"/$syncDigest", "", "", nil)
	if a.status != http.StatusOK {
		t.Fatalf("digest: %d %s", a.status, a.body)
	}
	dg = updated.ReplaceAll(a.body, nil) // the time of the answer
	empty := call(t, peer, http.MethodGet, strings.TrimPrefix(peer.KindURL("tradingAccounts"), peer.URL)+"/$syncDigest", "", "", nil)
	a = call(t, p, http.MethodPost, path(p.KindURL("tradingAccounts"))+"/$syncSource?count=1000", "", "application/atom+xml", empty.body)
	if a.status != http.StatusOK {
		t.Fatalf("source: %d %s", a.status, a.body)
	}
	f, err := feeds.ParseFeed(bytes.NewReader(a.body), feeds.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range f.Entries {
		if e.Payload != nil {
			doc := etree.NewDocument()
			doc.SetRoot(e.Payload.Copy())
			b, _ := doc.WriteToBytes()
			payloadBytes += len(b)
		}
	}
	return dg, len(f.Entries), len(f.Digest.Entries), payloadBytes
}

// TestDevicesAddNothingForPeers: with 10,000 devices registered (and some
// syncing for real), the kind's $syncDigest is the same document and the
// sync feed a peer gets has the same entries and digest as with none.
func TestDevicesAddNothingForPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 devices")
	}
	mob, peer := sdatatest.Start(t, sdatatest.Options{}), sdatatest.Start(t, sdatatest.Options{})
	ctx := context.Background()
	eng := mob.Server.Mobile()
	if _, _, err := eng.PutComponent(ctx, mobile.Component{Alias: "acc", Kind: "tradingAccounts", RowIdentifiers: []string{"reference"},
		FilterKeys: []string{"currency"}, ConflictRule: mobile.ServerWins, StoreBusinessData: true,
		Apps: []mobile.App{{Name: "sales", Versions: []string{"*"}}}}); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for i := range 50 {
		rows = append(rows, acct("0", "", fmt.Sprintf("R%02d", i), fmt.Sprintf("Account %d", i)))
	}
	a := call(t, mob, http.MethodPost, syncPath, "", "application/json", []byte(syncBody("acc", "", strings.Join(rows, ","))))
	if a.status != 200 {
		t.Fatalf("seed: %d %s", a.status, a.body)
	}
	dg0, n0, d0, p0 := sdataView(t, mob, peer)

	// 10,000 devices in the registry, each holding every row.
	now := time.Now()
	for b := 0; b < 10; b++ {
		err := mob.Store.MobileWrite(ctx, func(m *store.MobileTx) error {
			for i := b * 1000; i < (b+1)*1000; i++ {
				dev := fmt.Sprintf("device-%05d", i)
				if err := m.PutDevice(ctx, store.MobileDevice{Alias: "acc", Device: dev, User: "u", App: "sales", AppVersion: "1",
					FirstSync: now, LastSync: now, LastStatus: 40, VersionSeq: 50, Responses: 1, Syncs: 1}); err != nil {
					return err
				}
				if err := m.PutHeld(ctx, "acc", dev, store.HeldRow{Key: "1", Seq: 1, Record: []byte(`{}`)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		newPhone(t, mob, "acc", fmt.Sprintf("real-%d", i)).sync()
	}
	if _, total, _ := mob.Store.MobileDevices(ctx, store.DeviceQuery{Alias: "acc"}); total != 10020 {
		t.Fatalf("%d devices registered", total)
	}
	dg1, n1, d1, p1 := sdataView(t, mob, peer)
	if !bytes.Equal(dg0, dg1) {
		t.Fatalf("the digest changed with devices:\n%s\n%s", dg0, dg1)
	}
	if n1 != n0 || d1 != d0 || p1 != p0 {
		t.Fatalf("the sync feed grew with devices: %d entries, %d digest entries, %d -> %d, %d, %d", n0, d0, p0, n1, d1, p1)
	}
}
