// Engine passes between the nodes of a topology, and the settling rounds.

package converge

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"sdatasync/feeds"
	"sdatasync/sdata/engine"
)

// Topology says which ordered pairs of nodes synchronize.
type Topology string

// The topologies.
const (
	Mesh  Topology = "mesh"  // every pair
	Star  Topology = "star"  // node 0 is the hub: hub <-> spoke only
	Chain Topology = "chain" // neighbours only: 0-1-2-...
)

// Pairs returns the ordered (source, target) pairs of the topology over n
// nodes.
func (t Topology) Pairs(n int) [][2]int {
	var out [][2]int
	for i := range n {
		for j := range n {
			if i == j {
				continue
			}
			switch t {
			case Star:
				if i != 0 && j != 0 {
					continue
				}
			case Chain:
				if i-j != 1 && j-i != 1 {
					continue
				}
			}
			out = append(out, [2]int{i, j})
		}
	}
	return out
}

// Driver runs engine passes between the nodes of a topology.
type Driver struct {
	Nodes    []*Node
	Topology Topology
	Engine   *engine.Engine
	RunName  string
	// Logf, when set, receives one line per failed pass.
	Logf func(format string, args ...any)

	mu     sync.Mutex
	passes int
	moved  int
}

// NewDriver returns a driver with an engine tuned for tests: short polls,
// quick retries and the given page size.
func NewDriver(nodes []*Node, top Topology, pageSize int, runName string) *Driver {
	e := &engine.Engine{Client: &http.Client{Timeout: 30 * time.Second, Transport: Transport()}, PageSize: pageSize,
		MinPoll: time.Millisecond, MaxPoll: 20 * time.Millisecond,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: time.Second, MaxAttempts: 10}
	return &Driver{Nodes: nodes, Topology: top, Engine: e, RunName: runName}
}

// Passes returns the number of passes run and of entries they moved
// (applied or decided as conflicts).
func (d *Driver) Passes() (passes, moved int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.passes, d.moved
}

// Moved is the number of entries of a summary that changed the target:
// applied, or decided as a conflict either way (a conflict records the
// winner as a merge with a fresh tick of the target, see digest.Merge).
func Moved(s *engine.Summary) int {
	n := 0
	if s == nil {
		return 0
	}
	for _, k := range s.Kinds {
		n += k.Applied + k.ConflictsSource + k.ConflictsTarget
	}
	return n
}

// Pass runs one pass from node src to node dst (kinds nil: all shared
// kinds), with eng (nil: the driver's engine).
func (d *Driver) Pass(ctx context.Context, eng *engine.Engine, src, dst int, kinds []string, both bool) (*engine.Summary, error) {
	if eng == nil {
		eng = d.Engine
	}
	d.mu.Lock()
	d.passes++
	run := fmt.Sprintf("%s-%d", d.RunName, d.passes)
	d.mu.Unlock()
	sum, err := eng.Pass(ctx, engine.PassOptions{Source: d.Nodes[src].DatasetURL(), Target: d.Nodes[dst].DatasetURL(),
		Kinds: kinds, Both: both, RunName: run})
	d.mu.Lock()
	d.moved += Moved(sum)
	d.mu.Unlock()
	if err == nil && sum != nil && !sum.OK {
		err = fmt.Errorf("pass %s %s -> %s: some entries failed: %s", run, d.Nodes[src].Name, d.Nodes[dst].Name, failures(sum))
	}
	if err == nil {
		err = d.noJobsRunning(ctx, run)
	}
	if err != nil && d.Logf != nil {
		d.Logf("pass %s %s -> %s: %v", run, d.Nodes[src].Name, d.Nodes[dst].Name, err)
	}
	return sum, err
}

func failures(s *engine.Summary) string {
	var out []string
	for _, k := range s.Kinds {
		out = append(out, k.Failures...)
		if k.Err != "" {
			out = append(out, k.Kind+": "+k.Err)
		}
	}
	return strings.Join(out, "; ")
}

// RandomPass runs a pass between a random pair of the topology, in a random
// direction, sometimes both ways, sometimes for one random kind only.
func (d *Driver) RandomPass(ctx context.Context, rnd *rand.Rand) error {
	pairs := d.Topology.Pairs(len(d.Nodes))
	p := pairs[rnd.IntN(len(pairs))]
	var kinds []string
	if rnd.IntN(5) == 0 {
		ks := Kinds()
		kinds = []string{ks[rnd.IntN(len(ks))]}
	}
	_, err := d.Pass(ctx, nil, p[0], p[1], kinds, rnd.IntN(3) == 0)
	return err
}

// noJobsRunning checks that a finished pass left no sync job running at
// any in-process node: the engine waits for every job it starts, so a job
// still running would be writing behind the workload's back.
func (d *Driver) noJobsRunning(ctx context.Context, run string) error {
	for _, n := range d.Nodes {
		st := n.openStore()
		if st == nil {
			continue
		}
		jobs, err := st.RunningJobs(ctx)
		if err != nil {
			return err
		}
		if len(jobs) > 0 {
			j := jobs[0]
			return fmt.Errorf("pass %s finished with %d sync job(s) still running at %s, e.g. %s %s (run %s)",
				run, len(jobs), n.Name, j.Type, j.TrackingID, j.RunName)
		}
	}
	return nil
}

// Settle runs rounds of passes over every ordered pair of the topology (all
// kinds, in sync order) until a round moves no entry and leaves every
// digest as it found it, at most maxRounds rounds. It returns the number of
// rounds run.
func (d *Driver) Settle(ctx context.Context, rnd *rand.Rand, maxRounds int) (int, error) {
	pairs := d.Topology.Pairs(len(d.Nodes))
	for round := 1; round <= maxRounds; round++ {
		before, err := Fingerprint(ctx, d.Nodes)
		if err != nil {
			return round, err
		}
		moved := 0
		rnd.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
		for _, p := range pairs {
			sum, err := d.Pass(ctx, nil, p[0], p[1], nil, false)
			if err != nil {
				return round, err
			}
			moved += Moved(sum)
		}
		after, err := Fingerprint(ctx, d.Nodes)
		if err != nil {
			return round, err
		}
		if moved == 0 && before == after {
			return round, nil
		}
	}
	return maxRounds, fmt.Errorf("converge: not settled after %d rounds", maxRounds)
}

// Fingerprint reads every digest of every node over HTTP ($syncDigest) and
// returns them as one string.
func Fingerprint(ctx context.Context, nodes []*Node) (string, error) {
	c := reader(&http.Client{Timeout: 30 * time.Second, Transport: Transport()})
	var sb strings.Builder
	for _, n := range nodes {
		for _, k := range Kinds() {
			res, err := c.Once(ctx, http.MethodGet, n.KindURL(k)+"/$syncDigest", nil, "")
			if err != nil {
				return "", fmt.Errorf("digest of %s at %s: %w", k, n.Name, err)
			}
			b := res.Body
			e, err := feeds.ParseEntry(bytes.NewReader(b), feeds.Limits{})
			if err != nil || e.Digest == nil {
				return "", fmt.Errorf("digest of %s at %s: %v", k, n.Name, err)
			}
			fmt.Fprintf(&sb, "%s %s:", n.Name, k)
			for _, de := range e.Digest.Entries {
				fmt.Fprintf(&sb, " %s=%d", de.Endpoint, de.Tick)
			}
			sb.WriteByte('\n')
		}
	}
	return sb.String(), nil
}
