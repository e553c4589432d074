//go:build race

package nats

// raceScale divides the cluster test's events under -race, where every
// server node (this test binary) runs instrumented and several times slower.
const raceScale = 3
