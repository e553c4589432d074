//go:build !unix

package monitor

import "time"

// cpuTime and maxFiles have no portable source here: the fields are left out.
func cpuTime() (time.Duration, bool) { return 0, false }
func maxFiles() (uint64, bool)       { return 0, false }
