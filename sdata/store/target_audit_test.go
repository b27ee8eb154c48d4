package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sdatasync/digest"
)

// auditedPage is an IncomingPage that audits one record per result.
type auditedPage struct {
	Entries
	calls int
}

func (p *auditedPage) AuditResults(res []Result) []AuditRecord {
	p.calls++
	recs := make([]AuditRecord, len(res))
	for i, r := range res {
		recs[i] = AuditRecord{Time: time.Now().UTC(), Operation: "test.result", Status: r.Status, Detail: r.UUID}
	}
	return recs
}

// TestPageAuditIsAtomic: the audit records of a ResultAuditor are there as
// soon as the job is done, and a page refused as a whole leaves none (nor
// any result or resource).
func TestPageAuditIsAtomic(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	ep := testEndpoint(t, s)
	src := "http://elsewhere/sdata/app/gcrm/-/tradingAccounts"
	now := time.Now().UTC()
	page := func(first int64, n int) *auditedPage {
		p := &auditedPage{}
		for i := range n {
			tick := first + int64(i)
			p.Entries = append(p.Entries, Incoming{UUID: fmt.Sprintf("00000000-0000-7000-8000-%012d", tick), Method: "PUT",
				State: digest.SyncState{Endpoint: src, Tick: tick, Stamp: now}, Payload: []byte(`<tradingAccount/>`)})
		}
		return p
	}
	run := func(id string, p *auditedPage, fdTick int64, immediate bool) (Job, error) {
		t.Helper()
		j, _, err := s.CreateJob(ctx, Job{EndpointID: ep.ID, Type: JobTarget, TrackingID: id, Expires: now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		fd := digest.Digest{}
		fd.Set(digest.Entry{Endpoint: src, Tick: fdTick, Stamp: now, ConflictPriority: 5})
		done, _, err := s.RunTarget(ctx, ep, j, fd, immediate, true, p)
		return done, err
	}
	audited := func() int {
		t.Helper()
		recs, total, err := s.AuditLog(ctx, AuditQuery{Operation: "test.result"})
		if err != nil || total != len(recs) {
			t.Fatalf("audit log: %d of %d, %v", len(recs), total, err)
		}
		return total
	}

	ok := page(1, 3)
	done, err := run("ok", ok, 4, false)
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != JobDone || ok.calls == 0 {
		t.Fatalf("job %s, audit called %d times", done.Status, ok.calls)
	}
	if n := audited(); n != 3 {
		t.Fatalf("%d records once the job is done, want 3", n)
	}

	// An immediate page that skips ticks 4..9 is refused (spec 5.8): no
	// audit record, no resource.
	gap := page(10, 2)
	if _, err := run("gap", gap, 12, true); err == nil {
		t.Fatal("a page with a gap was applied")
	}
	if n := audited(); n != 3 {
		t.Fatalf("%d records after a refused page, want 3", n)
	}
	if _, err := s.GetByUUID(ctx, ep, gap.Entries[0].UUID); err == nil {
		t.Fatal("the refused page stored a resource")
	}
}
