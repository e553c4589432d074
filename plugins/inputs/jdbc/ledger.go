package jdbc

import "sync"

// ledger persists sql_last_value only after the pipeline acknowledged every
// event of the runs up to it, in the order of the runs: a crash re-reads
// what was not acknowledged (at least once) and never skips a row.
type ledger struct {
	mu    sync.Mutex
	runs  []*runMark
	write func(v any) // nil: record_last_run is off
}

// runMark is one run of the statement: the batches it emitted that are not
// yet acknowledged, plus one while the run is still reading.
type runMark struct {
	pending int
	value   any // the value to persist once acknowledged; nil: none (the run failed)
}

// begin starts a run.
func (l *ledger) begin() *runMark {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := &runMark{pending: 1}
	l.runs = append(l.runs, r)
	return r
}

// add counts one more batch of r in flight.
func (l *ledger) add(r *runMark) {
	l.mu.Lock()
	r.pending++
	l.mu.Unlock()
}

// finish ends r's reading with the value it leaves (nil: keep the previous).
func (l *ledger) finish(r *runMark, v any) {
	l.mu.Lock()
	r.value = v
	l.mu.Unlock()
	l.done(r)
}

// done acknowledges one batch of r (or the end of its reading) and writes
// the value of the latest run whose events, and all earlier runs' events,
// are acknowledged.
func (l *ledger) done(r *runMark) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r.pending--
	var v any
	for len(l.runs) > 0 && l.runs[0].pending == 0 {
		if l.runs[0].value != nil {
			v = l.runs[0].value
		}
		l.runs = l.runs[1:]
	}
	if v != nil && l.write != nil {
		l.write(v) // under the lock: writes happen in order
	}
}
