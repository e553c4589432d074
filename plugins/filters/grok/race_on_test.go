//go:build race

package grok

// raceEnabled: the race detector slows the engines about tenfold, so the
// differential tests use part of their corpus.
const raceEnabled = true
