// Package ack counts the copies of a batch's events in flight and fires the
// batch acknowledgement exactly once, when the last copy is released.
package ack

import (
	"fmt"
	"sync/atomic"
)

// Tracker is shared by every event of one emitted batch (and their clones).
type Tracker struct {
	n     atomic.Int64
	err   atomic.Pointer[error]
	fn    func(error)
	fired *atomic.Int64 // optional counter of fired acks, for stats
}

// New returns a tracker expecting n releases before calling fn. fired, if not
// nil, is incremented when fn is called.
func New(n int, fn func(error), fired *atomic.Int64) *Tracker {
	t := &Tracker{fn: fn, fired: fired}
	t.n.Store(int64(n))
	return t
}

// Retain records k more copies in flight.
func (t *Tracker) Retain(k int) { t.n.Add(int64(k)) }

// Release records that one copy was delivered (err nil) or failed for good. The
// first failure is the one reported ("worst status wins": any failure beats
// success).
func (t *Tracker) Release(err error) {
	if err != nil {
		t.err.CompareAndSwap(nil, &err)
	}
	switch n := t.n.Add(-1); {
	case n == 0:
		var e error
		if p := t.err.Load(); p != nil {
			e = *p
		}
		if t.fired != nil {
			t.fired.Add(1)
		}
		t.fn(e)
	case n < 0:
		panic(fmt.Sprintf("ack: batch released %d times too often", -n))
	}
}
