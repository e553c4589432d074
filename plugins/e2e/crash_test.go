package e2e_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// seqSink is the reading end of the crash tests: the engine's file output
// writes json_lines into a FIFO, and the sink counts each line's "seq". The
// test holds the sink to stop the output's progress, so the queues fill.
type seqSink struct {
	t    *testing.T
	path string // the FIFO

	mu   sync.Mutex
	seen map[int]int // seq → how many times written
	slow sync.Mutex  // held to pause the reader
}

// newSeqSink makes the FIFO in dir (the test is skipped where there are none).
func newSeqSink(t *testing.T, dir string) *seqSink {
	t.Helper()
	path := filepath.Join(dir, "out.fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	return &seqSink{t: t, path: path, seen: map[int]int{}}
}

// hold stops the reader after the line it is at; release lets it go on.
func (s *seqSink) hold()    { s.slow.Lock() }
func (s *seqSink) release() { s.slow.Unlock() }

// read reads the FIFO from the engine's next open until it closes (the
// engine stopped or was killed); the channel is closed then.
func (s *seqSink) read() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f, err := os.Open(s.path) // waits for the engine to open it
		if err != nil {
			s.t.Error(err)
			return
		}
		defer f.Close()
		// A line cut off by a kill has no newline: it was never complete,
		// so it does not count as delivered.
		r := bufio.NewReader(f)
		for {
			line, err := r.ReadBytes('\n')
			if err != nil {
				if len(line) > 0 {
					s.t.Logf("torn last line at the kill: %.40q", line)
				}
				return
			}
			s.slow.Lock()
			s.slow.Unlock()
			var doc struct{ Seq int }
			if err := json.Unmarshal(line, &doc); err != nil {
				s.t.Errorf("bad line %q", line)
				return
			}
			s.mu.Lock()
			s.seen[doc.Seq]++
			s.mu.Unlock()
		}
	}()
	return done
}

// distinct is how many different seqs were written.
func (s *seqSink) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// waitAll waits up to timeout until every seq below n was written, and
// fails the test with how many are missing otherwise.
func (s *seqSink) waitAll(n int, timeout time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s.mu.Lock()
		missing := 0
		for i := range n {
			if s.seen[i] == 0 {
				missing++
			}
		}
		s.mu.Unlock()
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%d of %d acknowledged events missing after the restart", missing, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// duplicates is how many lines repeated a seq already written.
func (s *seqSink) duplicates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	dups := 0
	for _, n := range s.seen {
		dups += n - 1
	}
	return dups
}

// sendSeqs sends batches of per events {"seq": i, …extra} to the beats input
// on port and returns how many the input acknowledged (all of them, or the
// test fails).
func sendSeqs(t *testing.T, port, batches, per int, extra map[string]any) int {
	t.Helper()
	c := topoDialBeats(t, port, 30*time.Second)
	defer c.Close()
	acked := 0
	for b := range batches {
		evs := make([]interface{}, per)
		for j := range evs {
			ev := map[string]interface{}{"seq": b*per + j}
			for k, v := range extra {
				ev[k] = v
			}
			evs[j] = ev
		}
		n, err := c.Send(evs)
		if err != nil || n != per {
			t.Fatalf("batch %d: %d acked, %v", b, n, err)
		}
		acked += n
	}
	return acked
}
