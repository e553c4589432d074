package netserver

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ErrEvicted is wrapped by the read error of a connection closed because
// unfinished lines held more than their share of the input's pending bytes.
var ErrEvicted = errors.New("closed to free the input's pending bytes")

// EventOverhead is what one event costs beyond the bytes of its line (the
// event's map, its fields' headers, the batch slot), counted against the
// pending budget for every event a connection holds in its batch.
const EventOverhead = 2048

// ReadBufferSize is the read buffer of one connection of the tcp and syslog
// inputs (GetReader): large enough for a read to take many lines at once,
// small enough that connections blocked with data cost little (1,000 of
// them: 4 MiB; a new connection takes one only when the budget has room).
// Longer lines are gathered beyond it.
const ReadBufferSize = 4 << 10

var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, ReadBufferSize) }}

// GetReader returns a pooled reader of ReadBufferSize bytes reading r; give
// it back with PutReader when the connection ends, so that connections
// coming and going do not each allocate a buffer.
func GetReader(r io.Reader) *bufio.Reader {
	br := readers.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

// PutReader returns a reader from GetReader to the pool.
func PutReader(br *bufio.Reader) {
	br.Reset(nil)
	readers.Put(br)
}

// Pending is the input-wide budget of bytes that the connections of one input
// hold, read from their sockets and not yet handed to the pipeline: the
// events of each connection's batch (with EventOverhead each), its unfinished
// line and what its read buffer holds. A connection reads only while the
// input holds less than Max; at Max it first hands its batch to the pipeline
// (which releases that batch's bytes), then waits without reading, so the
// client is pushed back by TCP as when the pipeline is full.
//
// Unfinished lines cannot be handed over, and a client may never finish
// one: when a connection has to wait while the unfinished lines of all
// connections hold more than half of Max, the connection with the longest
// one is closed (its unfinished line is lost; nothing of it was emitted), so
// waiting never deadlocks and idle senders of partial lines cannot starve
// the others. Each wait and each such close is counted, and logged at most
// every 10 s.
type Pending struct {
	// Max is the budget in bytes; 0 means no limit.
	Max int64
	// Log and Name (the input's name) are for the warnings.
	Log  *slog.Logger
	Name string

	mu       sync.Mutex
	used     int64
	conns    map[*Hold]struct{}
	queue    []*Hold // connections waiting for room, first come first served
	lastWarn time.Time

	waits     atomic.Uint64
	evictions atomic.Uint64
	peak      atomic.Int64
}

// Used is the bytes held now; Peak the most held at once.
func (p *Pending) Used() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.used
}

// Peak is the most bytes the input held at once.
func (p *Pending) Peak() int64 { return p.peak.Load() }

// Waits counts the times a connection stopped reading because the input held
// Max bytes.
func (p *Pending) Waits() uint64 { return p.waits.Load() }

// Evictions counts the connections closed because unfinished lines held
// more than half of Max.
func (p *Pending) Evictions() uint64 { return p.evictions.Load() }

// Hold is one connection's share of a Pending budget. Its methods are
// called by the connection's handler goroutine, except evict.
type Hold struct {
	p *Pending
	// Flush hands the connection's batch to the pipeline (Batcher.Flush);
	// called when the budget is used up, before waiting.
	Flush func() error
	// Buffered reports the bytes read and not yet taken by the decoder
	// (bufio.Reader.Buffered); nil: none.
	Buffered func() int
	// kill stops the connection's reads (set by the TCP server).
	kill func()

	held    int64 // counted in p.used; guarded by p.mu
	partial int64 // bytes since the last newline; guarded by p.mu

	stop     chan struct{} // closed by evict or Stop
	wake     chan struct{} // its turn may have come (while queued)
	queued   bool          // in p.queue; guarded by p.mu
	stopOnce sync.Once
	evicted  atomic.Bool
	closed   bool
}

// Open starts counting one connection. Close it when the connection ends.
func (p *Pending) Open() *Hold {
	h := &Hold{p: p, stop: make(chan struct{}), wake: make(chan struct{}, 1)}
	p.mu.Lock()
	if p.conns == nil {
		p.conns = map[*Hold]struct{}{}
	}
	p.conns[h] = struct{}{}
	p.mu.Unlock()
	return h
}

// Close releases everything the connection held.
func (h *Hold) Close() {
	p := h.p
	p.mu.Lock()
	if !h.closed {
		h.closed = true
		delete(p.conns, h)
		p.dequeueLocked(h)
		p.releaseLocked(h.held)
		h.held, h.partial = 0, 0
	}
	p.mu.Unlock()
	h.Stop()
}

// Stop makes a wait for budget return (the server is stopping the
// connection's reads).
func (h *Hold) Stop() { h.stopOnce.Do(func() { close(h.stop) }) }

func (p *Pending) releaseLocked(n int64) {
	if n == 0 {
		return
	}
	p.used -= n
	p.wakeHeadLocked()
}

// wakeHeadLocked tells the first waiting connection that there may be room.
func (p *Pending) wakeHeadLocked() {
	if len(p.queue) > 0 && p.used < p.Max {
		select {
		case p.queue[0].wake <- struct{}{}:
		default:
		}
	}
}

// dequeueLocked takes h out of the queue.
func (p *Pending) dequeueLocked(h *Hold) {
	if !h.queued {
		return
	}
	h.queued = false
	for i, q := range p.queue {
		if q == h {
			p.queue = append(p.queue[:i], p.queue[i+1:]...)
			break
		}
	}
	p.wakeHeadLocked()
}

func (p *Pending) addLocked(n int64) {
	p.used += n
	if p.used > p.peak.Load() {
		p.peak.Store(p.used)
	}
}

// AddEvent counts one more event in the connection's batch.
func (h *Hold) AddEvent() {
	p := h.p
	p.mu.Lock()
	if !h.closed {
		h.held += EventOverhead
		p.addLocked(EventOverhead)
	}
	p.mu.Unlock()
}

// Settle is called once the batch was handed to the pipeline: the
// connection now holds only what its buffer and its unfinished line hold.
func (h *Hold) Settle() {
	buffered := int64(0)
	if h.Buffered != nil {
		buffered = int64(h.Buffered())
	}
	p := h.p
	p.mu.Lock()
	if !h.closed {
		if now := buffered + h.partial; now < h.held {
			p.releaseLocked(h.held - now)
			h.held = now
		}
	}
	p.mu.Unlock()
}

// Consumed says the handler took, or skipped, every byte it read except
// what its buffer still holds, although no newline ended them (an
// octet-counted frame, a skipped over-long message): its unfinished line is
// at most what the buffer holds.
func (h *Hold) Consumed() {
	buffered := int64(0)
	if h.Buffered != nil {
		buffered = int64(h.Buffered())
	}
	h.p.mu.Lock()
	h.partial = min(h.partial, buffered)
	h.p.mu.Unlock()
}

// Wait returns once the input holds less than Max bytes (or fails as a
// read would): a new connection calls it before it takes a read buffer, so
// that connections accepted while the budget is used up hold none.
func (h *Hold) Wait() error {
	_, err := h.room(0)
	return err
}

// Reader returns r counted against the budget: each Read first waits for
// room, then counts what it read.
func (h *Hold) Reader(r io.Reader) io.Reader { return &pendingReader{h: h, r: r} }

type pendingReader struct {
	h *Hold
	r io.Reader
}

func (pr *pendingReader) Read(b []byte) (int, error) {
	reserved, err := pr.h.room(int64(len(b)))
	if err != nil {
		return 0, err
	}
	n, err := pr.r.Read(b)
	if pr.h.evicted.Load() {
		// Its reads were stopped: the unfinished line is refused, not
		// taken for a last line at the end of the stream.
		pr.h.read(b[:0], reserved)
		return 0, pr.h.evictedErr()
	}
	pr.h.read(b[:n], reserved)
	return n, err
}

// read counts the bytes just read in place of the reserved ones.
func (h *Hold) read(b []byte, reserved int64) {
	n := int64(len(b))
	p := h.p
	p.mu.Lock()
	if !h.closed {
		h.held += n - reserved
		if n < reserved {
			p.releaseLocked(reserved - n)
		} else {
			p.addLocked(n - reserved)
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			h.partial = int64(len(b) - 1 - i)
		} else {
			h.partial += n
		}
	}
	p.mu.Unlock()
}

// room returns once the input holds less than Max bytes, having reserved n
// bytes for the read to come (so that connections woken together do not
// all read past Max): at once when it does and nobody waits; otherwise after
// handing the connection's batch over and, if that was not enough, waiting
// its turn (first come, first served, so a flood on many connections does
// not starve a well-behaved one). It fails when the connection was evicted
// or stopped.
func (h *Hold) room(n int64) (int64, error) {
	p := h.p
	if h.evicted.Load() {
		return 0, h.evictedErr()
	}
	flushed := false
	for {
		p.mu.Lock()
		if h.closed {
			p.mu.Unlock()
			return 0, nil
		}
		turn := len(p.queue) == 0 || p.queue[0] == h
		if p.Max <= 0 || (p.used < p.Max && turn) {
			h.held += n
			p.addLocked(n)
			p.dequeueLocked(h) // and the next one's turn, if there is room
			p.mu.Unlock()
			return n, nil
		}
		if !flushed {
			p.mu.Unlock()
			flushed = true
			if h.Flush != nil {
				if err := h.Flush(); err != nil {
					return 0, err
				}
			}
			continue
		}
		if !h.queued {
			h.queued = true
			p.queue = append(p.queue, h)
			p.waits.Add(1)
		}
		victim := p.victimLocked()
		p.mu.Unlock()
		if victim != nil {
			victim.evict()
		}
		if h.evicted.Load() {
			return 0, h.leave(h.evictedErr())
		}
		p.warn()
		select {
		case <-h.wake:
		case <-h.stop:
			if h.evicted.Load() {
				return 0, h.leave(h.evictedErr())
			}
			return 0, h.leave(fmt.Errorf("%s: connection stopped while waiting for max_pending_bytes: %w", p.Name, net.ErrClosed))
		case <-time.After(time.Second):
		}
	}
}

// leave takes h out of the queue and returns err.
func (h *Hold) leave(err error) error {
	h.p.mu.Lock()
	h.p.dequeueLocked(h)
	h.p.mu.Unlock()
	return err
}

// victimLocked picks the connection to close when unfinished lines hold
// more than half of Max: the one with the longest.
func (p *Pending) victimLocked() *Hold {
	var sum int64
	var victim *Hold
	for c := range p.conns {
		if c.evicted.Load() {
			continue
		}
		sum += c.partial
		if victim == nil || c.partial > victim.partial {
			victim = c
		}
	}
	if sum*2 <= p.Max || victim == nil || victim.partial == 0 {
		return nil
	}
	return victim
}

func (h *Hold) evict() {
	if h.evicted.CompareAndSwap(false, true) {
		p := h.p
		p.evictions.Add(1)
		if p.Log != nil {
			p.mu.Lock()
			partial := h.partial
			p.mu.Unlock()
			p.Log.Warn(p.Name+": closing a connection whose unfinished line holds the input's pending bytes (max_pending_bytes)",
				"unfinished_bytes", partial, "max_pending_bytes", p.Max, "evicted_total", p.evictions.Load())
		}
		h.Stop()
		if h.kill != nil {
			h.kill()
		}
	}
}

func (h *Hold) evictedErr() error {
	return fmt.Errorf("%s: %w (max_pending_bytes %d)", h.p.Name, ErrEvicted, h.p.Max)
}

// warn logs that connections wait, at most every 10 s.
func (p *Pending) warn() {
	if p.Log == nil {
		return
	}
	p.mu.Lock()
	if !p.lastWarn.IsZero() && time.Since(p.lastWarn) < 10*time.Second {
		p.mu.Unlock()
		return
	}
	p.lastWarn = time.Now()
	used := p.used
	p.mu.Unlock()
	p.Log.Warn(p.Name+": connections hold max_pending_bytes; they stop reading until the pipeline takes their events",
		"max_pending_bytes", p.Max, "held_bytes", used, "waits_total", p.waits.Load())
}
