//go:build race

package cond_test

// raceEnabled: under the race detector sync.Pool drops items at random, so
// regexp's pooled matchers are sometimes allocated again.
const raceEnabled = true
