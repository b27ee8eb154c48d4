package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"sdatasync/digest"
	"sdatasync/digest/digesttest"
)

// The spec tables of package digest, run through the SQLite store: one
// table, two runners (the other is digest's TestDataDriven). A case the
// store cannot express is skipped by command, with the reason:
//   - missing: digest ranges without resources; the store's selection is
//     checked by the sync cases and TestSelectionAgreesWithDigest.
//   - after-entry, end-of-feed: digest updates alone, without entries;
//     every arrive, sync and immediate case checks the digest the store
//     keeps after them.
//   - advance, validate: pure functions the store calls as they are.

const specDir = "../../digest/testdata"

// specStore is a fresh SQLite store with one endpoint (kind "k" of dataset
// "-") at url with priority.
func specStore(t *testing.T, url string, priority int) (*SQLite, Endpoint) {
	t.Helper()
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ep, err := s.Endpoint(ctx, "-", "k", url, priority)
	if err != nil {
		t.Fatal(err)
	}
	return s, ep
}

// seed writes a digest and resources (name -> state, with a context)
// straight into the store.
func seed(t *testing.T, s *SQLite, ep Endpoint, d digest.Digest, res map[string]digest.SyncState, ctxs map[string]digest.Context) {
	t.Helper()
	ctx := context.Background()
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := writeDigest(ctx, tx, ep, d); err != nil {
			return err
		}
		for _, name := range slices.Sorted(maps.Keys(res)) {
			st := res[name]
			nid, err := nodeID(ctx, tx, st.Endpoint)
			if err != nil {
				return err
			}
			sc := noCtx
			if c := ctxs[name]; len(c) > 0 {
				if sc, err = contextID(ctx, tx, c); err != nil {
					return err
				}
			}
			r := Resource{Key: name, UUID: uuidOf(name), Payload: []byte(`<k/>`), Props: []byte(`{}`), Title: name, Change: Updated, State: st}
			r.ETag = etag(r.Payload, false, st)
			seq, err := nextSeq(ctx, tx)
			if err != nil {
				return err
			}
			if err := insertResource(ctx, tx, ep, nid, &r, sc, seq, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// uuidOf is the UUID a case's resource name stands for.
func uuidOf(name string) string { return uuid.NewSHA1(uuid.NameSpaceOID, []byte(name)).String() }

// incoming is an entry of a page for the resource name.
func incoming(name string, st digest.SyncState, deleted bool, invalid error) Incoming {
	in := Incoming{UUID: uuidOf(name), State: st, Method: "PUT", Deleted: deleted, Payload: []byte(`<k/>`), Props: []byte(`{}`), Title: name, Invalid: invalid}
	if deleted {
		in.Method = "DELETE"
	}
	return in
}

// apply runs one page at the target.
func apply(t *testing.T, s *SQLite, ep Endpoint, feed digest.Digest, immediate, last bool, in ...Incoming) ([]Result, error) {
	t.Helper()
	ctx := context.Background()
	j, _, err := s.CreateJob(ctx, Job{EndpointID: ep.ID, Type: JobTarget, TrackingID: uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	_, res, err := s.RunTarget(ctx, ep, j, feed, immediate, last, Entries(in))
	return res, err
}

// held reads the state and context of the resource name (nil: none).
func held(t *testing.T, s *SQLite, ep Endpoint, name string) (*digest.SyncState, digest.Context) {
	t.Helper()
	ctx := context.Background()
	r, err := s.GetByUUID(ctx, ep, uuidOf(name))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var c digest.Context
	err = s.write(ctx, func(tx *sql.Tx) error {
		var id int64
		if err := tx.QueryRowContext(ctx, `SELECT id FROM resources WHERE endpoint_id = ? AND uuid = ?`, ep.ID, uuidOf(name)).Scan(&id); err != nil {
			return err
		}
		c, err = resourceContext(ctx, tx, id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return &r.State, c
}

func specDigest(t *testing.T, s *SQLite, ep Endpoint) digest.Digest {
	t.Helper()
	d, err := s.Digest(context.Background(), ep)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSpecTablesThroughStore(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(specDir, "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no spec tables in %s: %v", specDir, err)
	}
	ran := map[string]int{}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			for _, c := range digesttest.ParseFile(t, path) {
				var got string
				switch c.Cmd {
				case "arrive":
					got = storeArrive(t, c)
				case "decide":
					got = storeDecide(t, c)
				case "sync":
					got = storeSync(t, c)
				case "immediate":
					got = storeImmediate(t, c)
				default:
					continue // see the list at the top of this file
				}
				ran[c.Cmd]++
				if got != c.Want {
					t.Errorf("%s:%d: %s through the store\n--- got:\n%s\n--- want:\n%s", c.File, c.Line, c.Cmd, got, c.Want)
				}
			}
		})
	}
	for _, cmd := range []string{"arrive", "decide", "sync", "immediate"} {
		if ran[cmd] == 0 {
			t.Errorf("no %s case ran through the store", cmd)
		}
	}
}

// storeArrive runs an arrive case: the held version and the target's
// digest seeded, one entry applied by RunTarget, then read back.
func storeArrive(t *testing.T, c *digesttest.Case) string {
	a := digesttest.ReadArrive(t, c)
	s, ep := specStore(t, a.Origin, a.Priority)
	res := map[string]digest.SyncState{}
	if a.Held != nil {
		res["r"] = *a.Held
	}
	seed(t, s, ep, a.Target, res, map[string]digest.Context{"r": a.HeldContext})
	results, err := apply(t, s, ep, a.Feed, a.Immediate, a.Last, incoming("r", a.Arrival.State, a.Arrival.Deleted, a.Arrival.Invalid))
	if err != nil {
		t.Fatalf("%s:%d: %v", c.File, c.Line, err)
	}
	r := results[0]
	after, hc := held(t, s, ep, "r")
	d := digest.Decision{Status: r.Status, Severity: r.Severity, Message: r.Message}
	d.Outcome = outcomeNamed(t, r.Outcome)
	if after != nil && (d.Outcome.Applies() || d.Outcome == digest.ConflictTarget) {
		d.State = *after
	}
	d.Restamp = d.Outcome == digest.ConflictTarget && a.Held != nil && *after != *a.Held
	return digesttest.Outcome{Decision: d, Held: after, Context: hc, Target: specDigest(t, s, ep)}.Format(c.HasArg("stamps"))
}

func outcomeNamed(t *testing.T, name string) digest.Outcome {
	for _, o := range []digest.Outcome{digest.Apply, digest.Skip, digest.ConflictSource, digest.ConflictTarget, digest.Invalid} {
		if o.String() == name {
			return o
		}
	}
	t.Fatalf("unknown outcome %q", name)
	return 0
}

// storeDecide runs a decide case as an entry on a page that is not the
// last (the outcome is what is compared).
func storeDecide(t *testing.T, c *digesttest.Case) string {
	src := digesttest.ParseState(t, c, c.Value(t, "source"))
	s, ep := specStore(t, "urn:spec:target", digest.DefaultConflictPriority)
	res := map[string]digest.SyncState{}
	if tgt := digesttest.ParseState(t, c, c.Value(t, "target")); tgt != nil {
		res["r"] = *tgt
	}
	seed(t, s, ep, digesttest.ParseDigest(t, c, c.Value(t, "target-digest")), res, nil)
	results, err := apply(t, s, ep, digesttest.ParseDigest(t, c, c.Value(t, "source-digest")), false, false, incoming("r", *src, false, nil))
	if err != nil {
		t.Fatalf("%s:%d: %v", c.File, c.Line, err)
	}
	return results[0].Outcome
}

// storeImmediate applies an immediate feed's entries (one resource each).
func storeImmediate(t *testing.T, c *digesttest.Case) string {
	s, ep := specStore(t, "urn:spec:target", digest.DefaultConflictPriority)
	seed(t, s, ep, digesttest.ParseDigest(t, c, c.Value(t, "target")), nil, nil)
	source := digesttest.ParseDigest(t, c, c.Value(t, "source"))
	var in []Incoming
	for i, e := range c.Values("entry") {
		in = append(in, incoming(fmt.Sprint("e", i), *digesttest.ParseState(t, c, e), false, nil))
	}
	if _, err := apply(t, s, ep, source, true, true, in...); err != nil {
		var gap *digest.GapError
		if !errors.As(err, &gap) {
			t.Fatalf("%s:%d: %v", c.File, c.Line, err)
		}
		return fmt.Sprintf("gap at entry %d: %s tick %d, expected at most %d\n%v", gap.Index, gap.Endpoint, gap.Tick, gap.Expected, err)
	}
	return "ok: " + digesttest.FormatDigest(specDigest(t, s, ep), c.HasArg("stamps"))
}

// storeSync runs a catchUp pass through two stores: the source's selection
// (RunSource, SourceEntries), every entry applied at the target on one last
// page (RunTarget).
func storeSync(t *testing.T, c *digesttest.Case) string {
	stamps := c.HasArg("stamps")
	source := digesttest.ParseDigest(t, c, c.Value(t, "source"))
	target := digesttest.ParseDigest(t, c, c.Value(t, "target"))
	ctx := context.Background()
	src, sep := specStore(t, "urn:spec:source", digest.DefaultConflictPriority)
	dst, dep := specStore(t, "urn:spec:target", digest.DefaultConflictPriority)
	sres, tres := map[string]digest.SyncState{}, map[string]digest.SyncState{}
	for _, v := range c.Values("source-resource") {
		n, st := digesttest.ParseResource(t, c, v)
		sres[n] = st
	}
	for _, v := range c.Values("target-resource") {
		n, st := digesttest.ParseResource(t, c, v)
		tres[n] = st
	}
	seed(t, src, sep, source, sres, nil)
	seed(t, dst, dep, target, tres, nil)
	j, _, err := src.CreateJob(ctx, Job{EndpointID: sep.ID, Type: JobSource, TrackingID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if j, err = src.RunSource(ctx, sep, j, target); err != nil {
		t.Fatal(err)
	}
	entries, err := src.SourceEntries(ctx, j, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	byUUID := map[string]string{}
	for n := range sres {
		byUUID[uuidOf(n)] = n
	}
	rs := digest.Missing(source, target)
	ranges := make([]string, len(rs))
	for i, r := range rs {
		ranges[i] = r.String()
	}
	lines := []string{"select: " + strings.Join(ranges, " or ")}
	// The feed is ordered by ascending tick per endpoint; the table lists
	// it by tick, then endpoint.
	slices.SortStableFunc(entries, func(a, b Resource) int {
		return cmp.Or(cmp.Compare(a.State.Tick, b.State.Tick), cmp.Compare(a.State.Endpoint, b.State.Endpoint))
	})
	var in []Incoming
	for _, e := range entries {
		in = append(in, incoming(byUUID[e.UUID], e.State, false, nil))
	}
	results, err := apply(t, dst, dep, *j.Digest, false, true, in...)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		lines = append(lines, fmt.Sprintf("%s %s: %s", byUUID[e.UUID], digesttest.FormatState(e.State, stamps), results[i].Outcome))
	}
	lines = append(lines, "target digest: "+digesttest.FormatDigest(specDigest(t, dst, dep), stamps))
	var names []string
	all := maps.Clone(tres)
	maps.Copy(all, sres)
	for _, n := range slices.Sorted(maps.Keys(all)) {
		st, _ := held(t, dst, dep, n)
		if st != nil {
			names = append(names, n+" "+digesttest.FormatState(*st, stamps))
		}
	}
	return strings.Join(append(lines, "target resources: "+strings.Join(names, ", ")), "\n")
}
