//go:build race

package correlate

// raceEnabled: the race detector makes sync.Pool drop buffers on purpose,
// so allocation counts do not hold.
const raceEnabled = true
