package chaos

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sdatasync/contracts"
	"sdatasync/sdata/converge"
	"sdatasync/sdata/store"
)

var (
	chaosFlag   = flag.Bool("chaos", false, "run the kill -9 campaign (TestChaos)")
	walSoakFlag = flag.Bool("walsoak", false, "measure the WAL under 200 concurrent writers (TestWALUnderLoad)")
	binFlag     = flag.String("bin", "", "the sdatasync binary (default: built into a temporary folder)")
	roundsFlag  = flag.Int("rounds", 5, "rounds of the campaign, each checked")
	killsFlag   = flag.Int("kills", 25, "kills per round")
	writersFlag = flag.Int("writers", 8, "concurrent writers (half on each provider)")
	seedFlag    = flag.Uint64("seed", 20261128, "seed of the killer and the writers")
	walClients  = flag.Int("walclients", 200, "concurrent writers of TestWALUnderLoad")
	walFor      = flag.Duration("walfor", time.Minute, "duration of TestWALUnderLoad")
)

const kind = "tradingAccounts"

// binary returns the sdatasync binary: -bin, or one built for the test.
func binary(t *testing.T) string {
	t.Helper()
	if *binFlag != "" {
		abs, err := filepath.Abs(*binFlag)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	bin := filepath.Join(t.TempDir(), "sdatasync")
	out, err := exec.Command("go", "build", "-o", bin, "sdatasync/cmd/sdatasync").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// writeLog is what the writers did, to check against what is stored.
type writeLog struct {
	mu        sync.Mutex
	created   map[string]bool     // reference -> acknowledged
	acked     map[string]int      // reference -> version of the last acknowledged write
	attempted map[string][]int    // reference -> versions sent after the last acknowledged one, unanswered
	urls      map[string][]string // writer's own references -> resource URL
	nCreates  int
	nUpdates  int
	nFailed   int
}

func newWriteLog() *writeLog {
	return &writeLog{created: map[string]bool{}, acked: map[string]int{}, attempted: map[string][]int{}, urls: map[string][]string{}}
}

func (l *writeLog) attempt(ref string, v int) {
	l.mu.Lock()
	l.attempted[ref] = append(l.attempted[ref], v)
	l.mu.Unlock()
}

func (l *writeLog) ack(ref string, v int, create bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if create {
		l.created[ref] = true
		l.nCreates++
	} else {
		l.nUpdates++
	}
	if v >= l.acked[ref] {
		l.acked[ref] = v
		kept := l.attempted[ref][:0]
		for _, a := range l.attempted[ref] {
			if a > v {
				kept = append(kept, a)
			}
		}
		l.attempted[ref] = kept
	}
}

func (l *writeLog) fail() {
	l.mu.Lock()
	l.nFailed++
	l.mu.Unlock()
}

const taXML = `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><name>%s</name>%s</tradingAccount>`

// name is the stored name of version v of reference ref.
func name(ref string, v int) string { return fmt.Sprintf("%s v%d", ref, v) }

// writer creates trading accounts at n and updates its own, until ctx ends.
func writer(ctx context.Context, hc *http.Client, n *converge.Node, id int, rnd *rand.Rand, log *writeLog) {
	type own struct {
		ref, url string
		v        int
	}
	var mine []*own
	seq := 0
	for ctx.Err() == nil {
		if len(mine) == 0 || rnd.IntN(10) < 6 {
			seq++
			ref := fmt.Sprintf("w%d-%d-%d", id, seq, rnd.Uint32())
			log.attempt(ref, 0)
			body := fmt.Sprintf(taXML, name(ref, 0), "<reference>"+ref+"</reference><currency>GBP</currency>")
			res, err := send(ctx, hc, http.MethodPost, n.KindURL(kind), body)
			if err != nil || res.StatusCode != http.StatusCreated || res.Header.Get("Location") == "" {
				log.fail()
				pause(ctx, 20*time.Millisecond)
				continue
			}
			log.ack(ref, 0, true)
			mine = append(mine, &own{ref: ref, url: res.Header.Get("Location")})
			continue
		}
		o := mine[rnd.IntN(len(mine))]
		v := o.v + 1
		o.v = v // a version is never sent twice, answered or not
		log.attempt(o.ref, v)
		res, err := send(ctx, hc, http.MethodPut, o.url, fmt.Sprintf(taXML, name(o.ref, v), ""))
		if err != nil || res.StatusCode != http.StatusOK {
			log.fail()
			pause(ctx, 20*time.Millisecond)
			continue
		}
		log.ack(o.ref, v, false)
	}
}

func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func send(ctx context.Context, hc *http.Client, method, u, body string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/xml")
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res, nil
}

// engine runs `sdatasync pass --both` between S and T in a loop until ctx
// ends; kill sends SIGKILL to the pass running at that moment.
type engine struct {
	bin, src, dst string
	mu            sync.Mutex
	cmd           *exec.Cmd
	ok, failed    int
	killed        int
}

// pass runs one pass to its end; it reports whether it succeeded.
func (e *engine) pass(ctx context.Context, timeout time.Duration) bool {
	credArgs, credEnv := converge.PassArgs()
	cmd := exec.Command(e.bin, append([]string{"pass", "--source", e.src, "--target", e.dst, "--both",
		"--page-size", "50", "--run-name", "chaos", "--timeout", timeout.String()}, credArgs...)...)
	cmd.Env = append(os.Environ(), credEnv...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return false
	}
	e.mu.Lock()
	e.cmd = cmd
	e.mu.Unlock()
	err := cmd.Wait()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cmd = nil
	var ee *exec.ExitError
	switch {
	case err == nil:
		e.ok++
		return true
	case errors.As(err, &ee) && ee.ProcessState.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL:
		e.killed++
	default:
		e.failed++
	}
	return false
}

func (e *engine) loop(ctx context.Context) {
	for ctx.Err() == nil {
		e.pass(ctx, 30*time.Second)
		pause(ctx, 50*time.Millisecond)
	}
}

// kill sends SIGKILL to the running pass; false when none runs.
func (e *engine) kill() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cmd == nil || e.cmd.Process == nil {
		return false
	}
	return e.cmd.Process.Kill() == nil
}

// TestChaos is the kill -9 campaign (see the package comment).
func TestChaos(t *testing.T) {
	if !*chaosFlag {
		t.Skip("kill -9 campaign: make chaos (go test ./sdata/chaos -run Chaos -args -chaos)")
	}
	bin := binary(t)
	ctx := context.Background()
	dir := t.TempDir()
	var nodes []*converge.Node
	for i, nm := range []string{"S", "T"} {
		addr, err := converge.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		n, err := converge.StartChild(ctx, bin, nm, converge.TempDB(dir, nm), addr, filepath.Join(dir, nm+".log"), 3+2*i)
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		nodes = append(nodes, n)
	}
	eng := &engine{bin: bin, src: nodes[0].DatasetURL(), dst: nodes[1].DatasetURL()}
	log := newWriteLog()
	rnd := rand.New(rand.NewPCG(*seedFlag, 1))
	hc := &http.Client{Timeout: 10 * time.Second, Transport: converge.TransportOver(&http.Transport{MaxIdleConnsPerHost: 64})}
	kills := map[string]int{}
	start := time.Now()
	for round := 1; round <= *roundsFlag; round++ {
		rctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for w := range *writersFlag {
			wg.Add(1)
			go func() {
				defer wg.Done()
				writer(rctx, hc, nodes[w%2], round*1000+w, rand.New(rand.NewPCG(*seedFlag, uint64(round*1000+w))), log)
			}()
		}
		wg.Add(1)
		go func() { defer wg.Done(); eng.loop(rctx) }()
		for k := 0; k < *killsFlag; {
			time.Sleep(time.Duration(100+rnd.IntN(400)) * time.Millisecond)
			switch v := rnd.IntN(3); v {
			case 2:
				if eng.kill() {
					kills["engine"]++
					k++
				}
			default:
				n := nodes[v]
				n.Kill()
				kills[n.Name]++
				k++
				if err := n.Restart(ctx); err != nil {
					stop()
					wg.Wait()
					t.Fatalf("round %d: %v", round, err)
				}
			}
		}
		stop()
		wg.Wait()
		passes, err := settle(ctx, eng, nodes)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for _, n := range nodes {
			n.Stop()
		}
		if err := check(ctx, nodes, log); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		t.Logf("round %d: converged after %d clean passes; kills so far S %d, T %d, engine %d; acknowledged %d creates, %d updates",
			round, passes, kills["S"], kills["T"], kills["engine"], log.nCreates, log.nUpdates)
		if round < *roundsFlag {
			for _, n := range nodes {
				if err := n.Restart(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	total := kills["S"] + kills["T"] + kills["engine"]
	t.Logf("chaos: %d rounds, %d kills (source %d, target %d, engine %d), %d writes acknowledged (%d creates, %d updates), %d unanswered or refused, passes ok %d / killed %d / failed %d, lost 0, duplicates 0, integrity ok, %s",
		*roundsFlag, total, kills["S"], kills["T"], kills["engine"], log.nCreates+log.nUpdates, log.nCreates, log.nUpdates, log.nFailed,
		eng.ok, eng.killed, eng.failed, time.Since(start).Round(time.Second))
}

// settle runs clean passes until one succeeds and leaves the digests as
// they were (nothing moved); it returns the passes run.
func settle(ctx context.Context, eng *engine, nodes []*converge.Node) (int, error) {
	prev := ""
	for i := 1; i <= 20; i++ {
		ok := eng.pass(ctx, 5*time.Minute)
		fp, err := converge.Fingerprint(ctx, nodes)
		if err != nil {
			return i, err
		}
		if ok && fp == prev {
			return i, nil
		}
		if ok {
			prev = fp
		}
	}
	return 20, errors.New("not settled after 20 clean passes")
}

var (
	refRE  = regexp.MustCompile(`<(?:\w+:)?reference>([^<]*)<`)
	nameRE = regexp.MustCompile(`<(?:\w+:)?name>([^<]*)<`)
)

// check runs the checks of a round on the stopped nodes.
func check(ctx context.Context, nodes []*converge.Node, log *writeLog) error {
	var p converge.Problems
	snaps := make([]*converge.Snapshot, len(nodes))
	for i, n := range nodes {
		s, err := n.Snapshot(ctx)
		if err != nil {
			return err
		}
		snaps[i] = s
		if err := integrity(n.DB); err != nil {
			p.Addf("%s: %v", n.Name, err)
		}
	}
	converge.CheckConverged(snaps, &p)
	c, err := contracts.Builtin("gcrm")
	if err != nil {
		return err
	}
	converge.CheckIntegrity(snaps, c, &p)
	log.mu.Lock()
	defer log.mu.Unlock()
	for _, s := range snaps {
		held := map[string]string{} // reference -> name
		for id, r := range s.Kinds[kind].Resources {
			if r.Deleted {
				continue
			}
			m := refRE.FindStringSubmatch(r.Payload)
			if m == nil {
				p.Addf("%s %s at %s: no reference", kind, id, s.Node)
				continue
			}
			if _, dup := held[m[1]]; dup {
				p.Addf("duplicate: reference %s twice at %s", m[1], s.Node)
			}
			nm := ""
			if n := nameRE.FindStringSubmatch(r.Payload); n != nil {
				nm = n[1]
			}
			held[m[1]] = nm
		}
		for ref := range log.created {
			got, ok := held[ref]
			if !ok {
				p.Addf("lost: acknowledged create %s not at %s", ref, s.Node)
				continue
			}
			okNames := []string{name(ref, log.acked[ref])}
			for _, v := range log.attempted[ref] {
				okNames = append(okNames, name(ref, v))
			}
			if !slices.Contains(okNames, got) {
				p.Addf("lost: %s at %s holds %q, want one of %v", ref, s.Node, got, okNames)
			}
		}
	}
	return p.Err()
}

// integrity runs PRAGMA integrity_check on a stopped node's database.
func integrity(db string) error {
	st, err := store.OpenSQLite(context.Background(), db)
	if err != nil {
		return err
	}
	defer st.Close()
	w, _ := st.DB()
	return integrityOf(w)
}

func integrityOf(db *sql.DB) error {
	rows, err := db.Query(`PRAGMA integrity_check`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var out bytes.Buffer
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		out.WriteString(s)
	}
	if out.String() != "ok" {
		return fmt.Errorf("integrity_check: %s", out.String())
	}
	return rows.Err()
}

// TestWALUnderLoad: one provider, -walclients concurrent clients each
// creating trading accounts and reading a page of them for -walfor; the
// size of the write-ahead log is sampled every 100 ms. Run it with -bin
// pointing at a build before the checkpointer to get the "before" figure.
func TestWALUnderLoad(t *testing.T) {
	if !*walSoakFlag {
		t.Skip("WAL figure: go test ./sdata/chaos -run WAL -v -args -walsoak [-bin B]")
	}
	bin := binary(t)
	ctx := context.Background()
	dir := t.TempDir()
	addr, err := converge.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	n, err := converge.StartChild(ctx, bin, "W", converge.TempDB(dir, "W"), addr, filepath.Join(dir, "W.log"), 5)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	walSize := func() int64 {
		fi, err := os.Stat(n.DB + "-wal")
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: converge.TransportOver(&http.Transport{MaxIdleConnsPerHost: *walClients})}
	lctx, stop := context.WithTimeout(ctx, *walFor)
	defer stop()
	var mu sync.Mutex
	writes, reads, errs := 0, 0, 0
	var wg sync.WaitGroup
	for c := range *walClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; lctx.Err() == nil; i++ {
				ref := fmt.Sprintf("c%d-%d", c, i)
				res, err := send(lctx, hc, http.MethodPost, n.KindURL(kind), fmt.Sprintf(taXML, ref, "<reference>"+ref+"</reference>"))
				ok := err == nil && res.StatusCode == http.StatusCreated
				res2, err2 := send(lctx, hc, http.MethodGet, n.KindURL(kind)+"?count=20", "")
				ok2 := err2 == nil && res2.StatusCode == http.StatusOK
				mu.Lock()
				if ok {
					writes++
				}
				if ok2 {
					reads++
				}
				if (!ok || !ok2) && lctx.Err() == nil {
					errs++
				}
				mu.Unlock()
			}
		}()
	}
	var peak int64
	tick := time.NewTicker(100 * time.Millisecond)
	for lctx.Err() == nil {
		select {
		case <-tick.C:
			peak = max(peak, walSize())
		case <-lctx.Done():
		}
	}
	tick.Stop()
	wg.Wait()
	atEnd := walSize()
	time.Sleep(3 * time.Second)
	after := walSize()
	var dbSize int64
	if fi, err := os.Stat(n.DB); err == nil {
		dbSize = fi.Size()
	}
	t.Logf("WAL under %d clients for %s: %d writes, %d page reads, %d errors; WAL peak %.1f MiB, at the end %.1f MiB, 3 s later %.1f MiB; database %.1f MiB",
		*walClients, *walFor, writes, reads, errs, mib(peak), mib(atEnd), mib(after), mib(dbSize))
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }
