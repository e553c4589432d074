//go:build race

package useragent

// raceEnabled: the race detector slows regular expressions about tenfold, so
// the differential test checks the texts as written only (not their upper-
// and lower-cased forms).
const raceEnabled = true
