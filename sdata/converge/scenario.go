// Scenarios: a seeded run from start to check.

package converge

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Scenario is one seeded convergence run over in-process providers.
type Scenario struct {
	Seed     int64
	Nodes    int      // 2..9
	Topology Topology // "" means Mesh
	// Priorities are the nodes' conflict priorities; nil: distinct ones
	// drawn from 1..9 by the seed.
	Priorities []int
	Warmup     int // writes before the first pass
	Steps      int // sequential steps, each a write (60%) or a random pass
	// ConcurrentOps writes run by a second goroutine while the main one
	// keeps running random passes (at least ConcurrentPasses of them).
	ConcurrentOps    int
	ConcurrentPasses int
	PageSize         int // engine page size (0: the providers')
	// Devices are mobile devices writing through the synchronize service
	// of random nodes during the sequential steps (issue 14); at the end
	// each must hold exactly its node's accounts under its filter.
	Devices   int
	MaxRounds int // bound of the settling rounds (0: 3*Nodes+3)
	Dir       string
	Logf      func(format string, args ...any)
}

// Result is what a scenario did.
type Result struct {
	Priorities []int
	Stats      Stats
	Devices    Stats     // what the devices wrote (included in Stats)
	DeviceRule [3]string // their component's conflict rule, merge fallback, storeBusinessData
	Passes     int       // engine passes, settling included
	Moved      int       // entries applied or decided as conflicts by them
	Rounds     int       // settling rounds
	Report     Report
	Elapsed    time.Duration
}

func (r Result) String() string {
	return fmt.Sprintf("priorities %v; %d writes (creates %v, %d updates, %d deletes, line changes/deletes/adds %d/%d/%d, %d shared edits, %d stale); "+
		"%d passes moved %d entries; settled in %d rounds; %d resources (%d tombstones) per node; %d conflicts checked (%d by stamp); %s",
		r.Priorities, r.Stats.Ops(), r.Stats.Creates, r.Stats.Updates, r.Stats.Deletes, r.Stats.LineChanges, r.Stats.LineDeletes,
		r.Stats.LineAdds, r.Stats.SharedEdits, r.Stats.Stale, r.Passes, r.Moved, r.Rounds, r.Report.Resources, r.Report.Tombstones,
		r.Report.Conflicts, r.Report.ByStamp, r.Elapsed.Round(time.Millisecond)) +
		fmt.Sprintf("; devices (%v) wrote %d (creates %v, %d updates, %d deletes)", r.DeviceRule, r.Devices.Ops(), r.Devices.Creates, r.Devices.Updates, r.Devices.Deletes)
}

// Priorities returns n distinct conflict priorities from 1..9 drawn with rnd.
func Priorities(rnd *rand.Rand, n int) []int {
	p := rnd.Perm(9)[:n]
	for i := range p {
		p[i]++
	}
	return p
}

// Run runs the scenario: start the nodes, warm up, interleave writes and
// passes, run writes concurrently with passes, settle, check.
func (sc Scenario) Run(ctx context.Context) (res Result, err error) {
	start := time.Now()
	defer func() { res.Elapsed = time.Since(start) }()
	rnd := rand.New(rand.NewPCG(uint64(sc.Seed), 0x5da7a))
	if sc.Topology == "" {
		sc.Topology = Mesh
	}
	if sc.MaxRounds == 0 {
		sc.MaxRounds = 3*sc.Nodes + 3
	}
	res.Priorities = sc.Priorities
	if res.Priorities == nil {
		res.Priorities = Priorities(rnd, sc.Nodes)
	}
	nodes := make([]*Node, sc.Nodes)
	defer func() {
		for _, n := range nodes {
			if n != nil {
				n.Close()
			}
		}
	}()
	for i := range nodes {
		name := string(rune('a' + i))
		if nodes[i], err = StartInProcess(ctx, name, TempDB(sc.Dir, name), res.Priorities[i]); err != nil {
			return res, err
		}
	}
	d := NewDriver(nodes, sc.Topology, sc.PageSize, fmt.Sprintf("seed%d", sc.Seed))
	d.Logf = sc.Logf
	w := NewWorkload(nodes, rand.New(rand.NewPCG(rnd.Uint64(), 1)), fmt.Sprintf("s%d", sc.Seed))
	w.Strict = true
	for range sc.Warmup {
		if err := w.Step(ctx); err != nil {
			return res, fmt.Errorf("warmup: %w", err)
		}
	}
	var ds *Devices
	if sc.Devices > 0 {
		if ds, err = NewDevices(ctx, nodes, sc.Devices, rand.New(rand.NewPCG(rnd.Uint64(), 3)), fmt.Sprintf("d%d", sc.Seed)); err != nil {
			return res, err
		}
	}
	for i := range sc.Steps {
		if ds != nil && rnd.IntN(10) < 3 {
			err = ds.Step(ctx)
		} else if rnd.IntN(10) < 6 {
			err = w.Step(ctx)
		} else {
			err = d.RandomPass(ctx, rnd)
		}
		if err != nil {
			return res, fmt.Errorf("step %d: %w", i, err)
		}
	}
	res.Stats.add(w.Stats)
	if sc.ConcurrentOps > 0 {
		cw := NewWorkload(nodes, rand.New(rand.NewPCG(rnd.Uint64(), 2)), fmt.Sprintf("c%d", sc.Seed))
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			var err error
			for i := 0; i < sc.ConcurrentOps && err == nil; i++ {
				err = cw.Step(cctx)
			}
			done <- err
		}()
		var werr, perr error
		finished := false
		for passes := 0; perr == nil && (!finished || passes < sc.ConcurrentPasses); passes++ {
			perr = d.RandomPass(ctx, rnd)
			if !finished {
				select {
				case werr = <-done:
					finished = true
				default:
				}
			}
		}
		if !finished {
			cancel()
			werr = <-done
		}
		cancel()
		res.Stats.add(cw.Stats)
		if perr != nil {
			return res, fmt.Errorf("concurrent phase: %w", perr)
		}
		if werr != nil {
			return res, fmt.Errorf("concurrent writes: %w", werr)
		}
	}
	res.Rounds, err = d.Settle(ctx, rnd, sc.MaxRounds)
	res.Passes, res.Moved = d.Passes()
	if err != nil {
		if _, cerr := CheckAll(ctx, nodes, res.Stats.Creates, true); cerr != nil {
			err = fmt.Errorf("%w; state: %v", err, cerr)
		}
		return res, err
	}
	if ds != nil {
		res.Stats.add(ds.Stats)
		res.Devices, res.DeviceRule = ds.Stats, ds.Rule
		if err := ds.Final(ctx); err != nil {
			return res, fmt.Errorf("devices: %w", err)
		}
	}
	res.Report, err = CheckAll(ctx, nodes, res.Stats.Creates, true)
	if err == nil && ds != nil {
		var p Problems
		if err := ds.Check(ctx, &p); err != nil {
			return res, err
		}
		err = p.Err()
	}
	return res, err
}
