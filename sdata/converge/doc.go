// Package converge is the convergence harness of sdatasync: it starts
// several real providers (in-process ones started by sdata/sdatatest, or
// `sdatasync serve` child processes), applies a random, seeded workload to
// them over HTTP (creates, updates and deletes of trading accounts,
// commodities, contacts and sales orders with lines, including concurrent
// edits of the same resources on several nodes), runs sync engine passes
// between random pairs of a topology while edits continue, then stops the
// edits and runs passes until nothing moves. CheckAll then asserts that
// every provider holds the same resources with the same sync states and
// digests, that references resolve, that no child line is orphaned or
// duplicated and that every recorded conflict was decided by the priority
// and stamp rules.
//
// The files say what they hold:
//
//	nodes.go     Node: StartInProcess, StartChild, Restart, Kill, Stop, Close
//	workload.go  Workload: the random writes (Step) and what they did (Stats)
//	http.go      the workload's requests, paged reads of a kind, HTTPError
//	driver.go    Topology, Driver: engine passes, RandomPass, Settle, Fingerprint
//	snapshot.go  Kinds, Snapshot: what a node's store holds
//	checks.go    CheckConverged, CheckCounts, CheckIntegrity, CheckConflicts,
//	             CheckLineViews, CheckAll, Report
//	scenario.go  Scenario (one seeded run from start to check), Result
//	auth.go      the harness's credentials: user converge (admin) on every node, Transport
//
// The harness is ordinary (non-test) code so that the tests of this package
// and longer soak runs share it. The short runs are ordinary tests
// (go test ./sdata/converge); a failing run names its seed and replays with
//
//	go test ./sdata/converge -run TestName -args -seed=N
//
// The soak (TestSoak: bigger clusters, every topology, child-process faults,
// several seeds) runs only when asked for, with make soak (SOAK_SEED,
// SOAK_SEEDS), which is
//
//	go test ./sdata/converge -run Soak -count=1 -timeout 60m -v -args -soak -seed=N -seeds=K
package converge
