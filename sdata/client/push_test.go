package client_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"sdatasync/digest"
	"sdatasync/feeds"
	"sdatasync/sdata/client"
)

// TestImmediatePushUse is the immediate pusher's use of the client against
// a real target: GET the target's digest, then POST an immediate-mode feed
// in a single attempt (a push is best effort: the next catch-up pass
// carries what it misses); an error answer carries the diagnosis message.
func TestImmediatePushUse(t *testing.T) {
	target := newProvider(t) + "/sdata/sdatasync/gcrm/-/tradingAccounts"
	const source = "http://a.example.com/sdata/sdatasync/gcrm/-/tradingAccounts"
	ctx := context.Background()
	c := &client.Client{HTTP: &http.Client{Timeout: 30 * time.Second}, MaxAttempts: 1}
	q := client.Query(client.Params{{"runName", "immediate-push"}, {"runStamp", "2025-03-01T12:00:00Z"}})

	tickAtTarget := func() int64 {
		t.Helper()
		res, err := c.Do(ctx, http.MethodGet, target+"/$syncDigest"+q, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		td, err := feeds.ParseDigest(bytes.NewReader(res.Body), feeds.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return td.Tick(source)
	}
	if tick := tickAtTarget(); tick > digest.FirstTick {
		t.Fatalf("a fresh target holds tick %d of the source", tick)
	}

	// One change made at the source with the given tick, as an immediate feed.
	push := func(tick int64) (*client.Response, error) {
		now := time.Now().UTC().Truncate(time.Second)
		var buf bytes.Buffer
		fw, err := feeds.NewFeedWriter(&buf, &feeds.Feed{ID: source + "/$syncSource", Title: "immediate", Updated: now, SyncMode: "immediate",
			Digest:       &digest.Digest{Origin: source, Entries: []digest.Entry{{Endpoint: source, Tick: tick + 1, Stamp: now, ConflictPriority: 3}}},
			TotalResults: -1})
		if err != nil {
			t.Fatal(err)
		}
		payload := `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008" xmlns:sdata="http://schemas.sage.com/sdata/2008/1" sdata:uuid="` +
			uuid.NewString() + `"><name>Pushed</name><reference>P1</reference><currency>GBP</currency></tradingAccount>`
		if err := fw.WriteEntry(&feeds.Entry{ID: source + "('p1')", Title: "Pushed", Updated: now, HTTPMethod: http.MethodPost,
			SyncState: &digest.SyncState{Endpoint: source, Tick: tick, Stamp: now}, RawPayload: []byte(payload)}); err != nil {
			t.Fatal(err)
		}
		if err := fw.Close(); err != nil {
			t.Fatal(err)
		}
		return c.Once(ctx, http.MethodPost, target+"/$syncTarget"+q, buf.Bytes(), client.TypeFeed)
	}

	// A push that starts past what the target holds is refused as a gap.
	_, err := push(digest.FirstTick + 1)
	var he *client.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusBadRequest || len(he.Diagnoses) == 0 || he.Message() != he.Diagnoses[0].Message {
		t.Fatalf("push with a gap: %v", err)
	}
	t.Logf("refused: %s", he.Message())

	// From the target's tick on, it is applied: 200 and the result feed.
	res, err := push(digest.FirstTick)
	if err != nil || res.Status != http.StatusOK {
		t.Fatalf("push: %v", err)
	}
	rf, err := feeds.ParseFeed(bytes.NewReader(res.Body), feeds.Limits{})
	if err != nil || len(rf.Entries) != 1 || rf.Entries[0].HTTPStatus/100 != 2 {
		t.Fatalf("result feed: %v %+v", err, rf)
	}
	if tick := tickAtTarget(); tick != digest.FirstTick+1 {
		t.Errorf("the target holds tick %d of the source after the push, want %d", tick, digest.FirstTick+1)
	}
}
