// Package chaos holds the kill -9 campaign of sdatasync (make chaos; not
// part of make test): two `sdatasync serve` child processes, a source S
// and a target T, both under concurrent writes (creates and updates of
// trading accounts over HTTP), and the engine as `sdatasync pass --both`
// child processes in a loop between them. A killer sends SIGKILL to S, T
// or the running engine at random moments and restarts what it killed.
// After each round of kills the writes stop, passes run until nothing
// moves, both providers are stopped and the round is checked:
//
//   - no acknowledged write is lost: every create answered 201 is at both
//     providers, and every resource holds the value of its last
//     acknowledged update (or of a later write that was in flight when a
//     kill cut its answer);
//   - no duplicate appears: no reference is held by two resources at a
//     provider;
//   - the digests are consistent: both providers hold the same resources
//     with the same sync states and the same digests
//     (converge.CheckConverged), and PRAGMA integrity_check is ok.
//
// The campaign is TestChaos, which runs only when asked for:
//
//	go test ./sdata/chaos -run Chaos -count=1 -timeout 60m -v -args -chaos -bin bin/sdatasync -rounds 5 -kills 25
//
// TestWALUnderLoad (-walsoak) measures the size of the write-ahead log of
// one provider under a minute of 200 concurrent writers (the figure of the
// README): go test ./sdata/chaos -run WAL -v -args -walsoak -bin bin/sdatasync.
package chaos
