package store

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func requestFiles(t *testing.T, s *SQLite) []string {
	t.Helper()
	entries, err := os.ReadDir(RequestDir(s.path))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestBigRequestsLiveInFiles: a request over InlineRequestMax is kept in a
// file while the job needs it (resuming reads it back), and the file goes
// with the job whatever ends it; small requests stay in the database.
func TestBigRequestsLiveInFiles(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	ep := testEndpoint(t, s)
	big := bytes.Repeat([]byte("<x/>"), InlineRequestMax/4+1)
	job := func(tracking string, req []byte) Job {
		t.Helper()
		j, created, err := s.CreateJob(ctx, Job{EndpointID: ep.ID, Type: JobTarget, TrackingID: tracking, Request: req, Expires: time.Now().Add(time.Hour)})
		if err != nil || !created {
			t.Fatalf("create %s: %v %v", tracking, created, err)
		}
		return j
	}
	small := job("small", []byte("<small/>"))
	deleted, failed := job("deleted", big), job("failed", big)
	job("expired", big)
	if got := len(requestFiles(t, s)); got != 3 {
		t.Fatalf("%d request files for 3 big requests", got)
	}
	// The same tracking ID again makes no job and leaves no file.
	if _, created, err := s.CreateJob(ctx, Job{EndpointID: ep.ID, Type: JobTarget, TrackingID: "deleted", Request: big, Expires: time.Now().Add(time.Hour)}); err != nil || created {
		t.Fatalf("repeat: %v %v", created, err)
	}
	if got := len(requestFiles(t, s)); got != 3 {
		t.Fatalf("a repeated POST left a file: %d files", got)
	}
	// Resuming reads every request back, from the file or the database.
	running, err := s.RunningJobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range running {
		want := big
		if j.ID == small.ID {
			want = []byte("<small/>")
		}
		if !bytes.Equal(j.Request, want) {
			t.Fatalf("job %s request: %d bytes, want %d", j.TrackingID, len(j.Request), len(want))
		}
	}
	// A stray file (a crash before the job committed) goes at the next open;
	// the files of running jobs stay.
	stray := filepath.Join(RequestDir(path), "stray"+requestExt)
	if err := os.WriteFile(stray, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = OpenSQLite(ctx, path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := os.Stat(stray); !os.IsNotExist(err) {
		t.Fatalf("stray request file kept: %v", err)
	}
	if got := len(requestFiles(t, s)); got != 3 {
		t.Fatalf("%d request files after reopening, want 3", got)
	}
	if err := s.DeleteJob(ctx, deleted.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.FailJob(ctx, failed, "test"); err != nil {
		t.Fatal(err)
	}
	if got := len(requestFiles(t, s)); got != 1 {
		t.Fatalf("%d request files after delete and fail, want 1", got)
	}
	if n, err := s.PurgeDeletedJobs(ctx); err != nil || n != 1 {
		t.Fatalf("purged %d jobs %v, want the deleted one", n, err)
	}
	if n, err := s.ExpireJobs(ctx, time.Now().Add(2*time.Hour)); err != nil || n != 3 {
		t.Fatalf("expired %d %v, want 3", n, err)
	}
	if got := requestFiles(t, s); len(got) != 0 {
		t.Fatalf("request files left: %v", got)
	}
}

// TestTargetPageDropsItsRequest: once a target page is applied, its
// request file is gone.
func TestTargetPageDropsItsRequest(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	ep := testEndpoint(t, s)
	j, _, err := s.CreateJob(ctx, Job{EndpointID: ep.ID, Type: JobTarget, TrackingID: "page",
		Request: bytes.Repeat([]byte(" "), InlineRequestMax+1), Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(requestFiles(t, s)) != 1 {
		t.Fatal("no request file")
	}
	if _, _, err := s.RunTarget(ctx, ep, j, ep0Digest(), false, true, Entries(nil)); err != nil {
		t.Fatal(err)
	}
	if got := requestFiles(t, s); len(got) != 0 {
		t.Fatalf("request files left after the page was applied: %v", got)
	}
}

// TestNewUUIDIsOrdered: resource UUIDs are RFC 9562 version 7 UUIDs in
// the lowercase text form, each greater than the one before (so a burst
// of them fills indexes in order) and all distinct.
func TestNewUUIDIsOrdered(t *testing.T) {
	prev := ""
	for i := 0; i < 20000; i++ {
		s := NewUUID()
		u, err := uuid.Parse(s)
		if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 || s != strings.ToLower(s) || len(s) != 36 {
			t.Fatalf("%q: version %d variant %v err %v", s, u.Version(), u.Variant(), err)
		}
		if s <= prev {
			t.Fatalf("UUID %d (%s) is not after %s", i, s, prev)
		}
		prev = s
	}
}
