//go:build !race

package nats

// raceScale divides the cluster test's events under -race (see
// race_on_test.go).
const raceScale = 1
