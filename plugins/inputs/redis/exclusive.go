package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pipelined/pipeline/engine"
)

// list_mode "exclusive": one input at a time reads the list, holding a lease
// on it ("<key>:reader:owner", the same lease as a processing list's). It
// reads batches with LRANGE, without moving or copying anything, and trims
// the acknowledged prefix from the head with LTRIM. So an element stays in the
// list until its batch is acknowledged: a crash leaves it there, and the next
// holder of the lease reads it again (at least once). Producers RPUSH to the
// tail, which never moves the head's numbering; nothing but this input may
// remove elements from the list (another consumer popping would make the
// trims remove elements not yet delivered).
//
// The counter "<key>:reader:trimmed" holds the number of elements ever
// trimmed from the head, so that the element at the head is number t, and a
// trim says from which number to which: a trim whose reply was lost and is
// redone trims nothing more, and a counter that does not match (Redis lost
// data, or another input trimmed) makes the reader forget what it emitted and
// read the list again from its head.

// trimHeadScript trims KEYS[1] from element number ARGV[2] to ARGV[3] (the
// new head) if the lease KEYS[2] is held by ARGV[1] (taken again, with expiry
// ARGV[4] ms, if it vanished: Redis restarted) and the counter KEYS[3] is at
// ARGV[2]. It returns -1 when the lease is another's, else the counter after
// the call: ARGV[3] on success (also when the trim had been done already).
var trimHeadScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[2])
if not v then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[4])
elseif v ~= ARGV[1] then
  return -1
end
local t = tonumber(redis.call('GET', KEYS[3]) or '0')
local from = tonumber(ARGV[2])
local to = tonumber(ARGV[3])
if t == from and to > from then
  redis.call('LTRIM', KEYS[1], to - from, -1)
  redis.call('SET', KEYS[3], to)
  return to
end
return t
`)

// headReader tracks, for the exclusive reader, the elements read from the
// list and emitted, by number: base is the number of the list's head (what
// the counter says), next the number of the next element to read, head the
// end of the acknowledged prefix.
type headReader struct {
	ackPrefix       // its mu also guards base
	base      int64 // number of the list's head, as the counter says
}

func newHeadReader(t int64) *headReader {
	return &headReader{ackPrefix: newAckPrefix(t), base: t}
}

// reset forgets every emitted batch (their acknowledgements trim nothing):
// the list's head is number t now, and is read again.
func (h *headReader) reset(t int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.forgetLocked(t)
	h.base = t
}

// readerKeys names the lease and the counter of key, in key's slot for a
// Redis Cluster.
func (in *Input) readerKeys() (lease, counter string) {
	base := in.key + ":reader"
	if in.seeds != nil {
		base = slotted(in.key, base)
	}
	return base, base + ":trimmed"
}

// trim removes the acknowledged prefix, if any. It returns errLeaseLost, or
// reports reset when the counter did not match (the reader starts over).
func (in *Input) trimHead(ctx context.Context, c goredis.Scripter, h *headReader, l *lease, counter string) (reset bool, err error) {
	h.mu.Lock()
	from, to := h.base, h.head
	h.mu.Unlock()
	if to <= from {
		return false, nil
	}
	t, err := trimHeadScript.Run(ctx, c, []string{in.key, l.key, counter}, l.token, from, to, leaseTTL.Milliseconds()).Int64()
	if err != nil {
		return false, err
	}
	return in.trimmed(h, from, to, t)
}

// trimmed applies the result t of a trim from..to.
func (in *Input) trimmed(h *headReader, from, to, t int64) (reset bool, err error) {
	switch {
	case t < 0:
		return false, errLeaseLost
	case t == to:
		h.mu.Lock()
		if h.base == from {
			h.base = to
		}
		h.mu.Unlock()
		return false, nil
	}
	in.log.Error("the list's head changed outside this input (Redis lost data, or another consumer removes elements from it); reading it again from its head",
		"key", in.key, "expected_trimmed", from, "trimmed", t)
	h.reset(t)
	return true, nil
}

// runExclusive reads the list as its exclusive reader (list_mode "exclusive").
func (in *Input) runExclusive(ctx context.Context, emit engine.EmitFunc) (err error) {
	c := in.newClient()
	defer c.Close()
	leaseKey, counter := in.readerKeys()
	loopCtx, stopLoop, lost, release, ok := in.holdLease(ctx, c, newLease(leaseKey))
	if !ok {
		return nil
	}
	defer func() { err = lost.failed(err) }() // after release: the renewer has ended
	defer release()
	l := lost.lease
	failures := 0
	var h *headReader
	for h == nil {
		s, err := c.Get(loopCtx, counter).Result()
		if errors.Is(err, goredis.Nil) {
			s, err = "0", nil
		}
		if err == nil {
			t, perr := strconv.ParseInt(s, 10, 64)
			if perr != nil || t < 0 {
				return fmt.Errorf("redis %s db %d: %s holds %q, not a count of elements", in.addr, in.db, counter, s)
			}
			h = newHeadReader(t)
			break
		}
		in.logFailure(ctx, c, err, in.key)
		if !backoff(loopCtx, failures) {
			return nil
		}
		failures++
	}
	aborted := false
	defer func() {
		if aborted {
			return
		}
		// Wait for the acknowledgements, trimming as they come.
		deadline := time.Now().Add(in.ackWait)
		for {
			h.mu.Lock()
			n, done, trimmedAll := len(h.pending), h.done, h.base >= h.head
			h.mu.Unlock()
			if n == 0 && trimmedAll {
				return
			}
			left := time.Until(deadline)
			if left <= 0 || lost.Load() {
				break
			}
			if n > 0 {
				select {
				case <-done:
				case <-time.After(min(left, 50*time.Millisecond)):
				}
			}
			tctx, cancel := context.WithTimeout(context.Background(), min(left, in.timeout))
			_, err := in.trimHead(tctx, c, h, l, counter)
			cancel()
			if err != nil {
				time.Sleep(min(time.Until(deadline), 100*time.Millisecond))
			}
		}
		in.log.Warn("stopping before every batch was acknowledged; the rest stays in the list and is read again at the next start", "key", in.key)
	}()

	type read struct {
		elems []string
		ack   engine.AckFunc
	}
	batches := make(chan read) // unbuffered: at most one batch read ahead
	var emitErr error
	emitted := make(chan struct{})
	go func() {
		defer close(emitted)
		for r := range batches {
			if emitErr != nil {
				continue
			}
			if err := engine.Guard(in.log, "redis list emitter", func() error { return in.emitTracked(emit, r.elems, r.ack) }); err != nil {
				emitErr = err
				stopLoop()
			}
		}
	}()

	failures = 0
	poll := time.Duration(0)
	for loopCtx.Err() == nil {
		// One round trip: trim the acknowledged prefix and read the next
		// batch behind what was read, numbered as after the trim.
		h.mu.Lock()
		from, to, next := h.base, h.head, h.next
		h.mu.Unlock()
		pipe := c.Pipeline()
		var trimCmd *goredis.Cmd
		newBase := from
		if to > from {
			trimCmd = trimHeadScript.Eval(loopCtx, pipe, []string{in.key, l.key, counter}, l.token, from, to, leaseTTL.Milliseconds())
			newBase = to
		}
		off := next - newBase
		rangeCmd := pipe.LRange(loopCtx, in.key, off, off+int64(in.batchCount)-1)
		_, err := pipe.Exec(loopCtx)
		if trimCmd != nil && trimCmd.Err() == nil {
			t, terr := trimCmd.Int64()
			if terr == nil {
				var reset bool
				reset, terr = in.trimmed(h, from, to, t)
				if reset {
					continue // the read was numbered wrong
				}
			}
			if errors.Is(terr, errLeaseLost) {
				lost.Store(true)
				break
			}
			if terr != nil && err == nil {
				err = terr
			}
		}
		if err != nil {
			if loopCtx.Err() != nil {
				break
			}
			in.logFailure(ctx, c, err, in.key)
			if !backoff(loopCtx, failures) {
				break
			}
			failures++
			continue
		}
		failures = 0
		elems := rangeCmd.Val()
		if len(elems) > 0 {
			poll = 0
			batches <- read{elems, h.add(len(elems))}
			continue
		}
		// Nothing behind what was read.
		h.mu.Lock()
		idle := h.next == h.base && h.head == h.base
		kick := h.kick
		h.mu.Unlock()
		if idle {
			// Wait for an element without taking it: moving the head to
			// the head is a no-op that blocks while the list is empty.
			err := c.BLMove(loopCtx, in.key, in.key, "LEFT", "LEFT", in.blockFor).Err()
			if err != nil && !errors.Is(err, goredis.Nil) && loopCtx.Err() == nil {
				in.logFailure(ctx, c, err, in.key)
				if !backoff(loopCtx, failures) {
					break
				}
				failures++
			}
			continue
		}
		// Batches are in flight: look again soon, or at the next
		// acknowledgement (its trim is due).
		poll = min(max(2*poll, time.Millisecond), 50*time.Millisecond)
		select {
		case <-kick:
		case <-time.After(poll):
		case <-loopCtx.Done():
		}
	}
	close(batches)
	<-emitted
	if emitErr != nil {
		aborted = true
		return emitErr
	}
	if lost.Load() {
		aborted = true
		return fmt.Errorf("redis %s db %d: %s: %w", in.addr, in.db, in.key, errLeaseLost)
	}
	return nil
}
