package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pipelined/pipeline/engine"
)

// The processing list pk has a state hash "<pk>:state" with the fields e
// (the epoch: the token of the input that owns it), m (elements ever moved
// into pk) and t (elements ever trimmed from its head), so that pk holds the
// elements numbered t to m-1. The scripts below keep them exact, which makes
// every step idempotent or checkable after a lost reply: a trim says up to
// which number to trim, and a resync compares LLEN with m-t.

// moveScript moves up to ARGV[1] elements from the head of KEYS[1] to the
// tail of KEYS[2] and returns them, counting them (plus ARGV[3], an element
// moved by BLMOVE just before) in the state KEYS[3] of epoch ARGV[2].
var moveScript = goredis.NewScript(`
if redis.call('HGET', KEYS[3], 'e') ~= ARGV[2] then
  return redis.error_reply('EPOCH the processing list state changed')
end
local n = tonumber(ARGV[1])
local items = {}
if n > 0 then
  items = redis.call('LRANGE', KEYS[1], 0, n - 1)
end
if #items > 0 then
  redis.call('LTRIM', KEYS[1], #items, -1)
  for i = 1, #items, 1000 do
    redis.call('RPUSH', KEYS[2], unpack(items, i, math.min(i + 999, #items)))
  end
end
redis.call('HINCRBY', KEYS[3], 'm', #items + tonumber(ARGV[3]))
return items
`)

// trimScript trims KEYS[1] so that its first element is number ARGV[2], if
// the state KEYS[2] is still of epoch ARGV[1]. Running it twice is harmless.
var trimScript = goredis.NewScript(`
if redis.call('HGET', KEYS[2], 'e') ~= ARGV[1] then
  return 0
end
local t = tonumber(redis.call('HGET', KEYS[2], 't'))
local target = tonumber(ARGV[2])
if target > t then
  redis.call('LTRIM', KEYS[1], target - t, -1)
  redis.call('HSET', KEYS[2], 't', target)
end
return 1
`)

// syncScript returns {t, m, reset} for KEYS[1] and its state KEYS[2]. An
// element at the tail not counted (a BLMOVE whose reply was lost) is counted.
// A state of another epoch (this input just started, or took over), or a list
// shorter than counted (Redis lost data), starts epoch ARGV[1] with t = 0 and
// m = LLEN, and reset 1.
var syncScript = goredis.NewScript(`
local l = redis.call('LLEN', KEYS[1])
if redis.call('HGET', KEYS[2], 'e') == ARGV[1] then
  local t = tonumber(redis.call('HGET', KEYS[2], 't'))
  local m = tonumber(redis.call('HGET', KEYS[2], 'm'))
  if l >= m - t then
    if l > m - t then
      m = t + l
      redis.call('HSET', KEYS[2], 'm', m)
    end
    return {t, m, 0}
  end
end
redis.call('HSET', KEYS[2], 'e', ARGV[1], 't', 0, 'm', l)
return {0, l, 1}
`)

// tracker follows the elements of the processing list emitted in batches and
// trims acknowledged ones. Acknowledgements may come in any order: only the
// longest acknowledged prefix is trimmed, which never removes an element not
// yet delivered.
type tracker struct {
	client goredis.UniversalClient
	key    string // the processing list
	state  string // its state hash
	epoch  string
	log    func(err error)
	// panicLog is where a recovered panic of the trimmer is logged.
	panicLog *slog.Logger

	// trimMu is held while a trim runs, so that a resync, which may renumber
	// the list, never overlaps one. Lock order: trimMu, then mu.
	trimMu sync.Mutex

	ackPrefix       // its mu also guards disabled and trimmed; kick wakes the trimmer
	disabled  bool  // the processing list is not ours any more
	trimmed   int64 // the head last trimmed to

	stop    chan struct{}
	stopped chan struct{}
}

// ackPrefix tracks batches emitted in order, by element number, and the end
// of their acknowledged prefix (head): acknowledgements may come in any
// order, head only moves over batches all acknowledged before them. Shared by
// the processing-list tracker and the exclusive reader, which both trim the
// list up to head.
type ackPrefix struct {
	mu      sync.Mutex
	pending []*pendingBatch // emitted, in order, until acknowledged
	head    int64           // number of the first element of pending[0]
	next    int64           // number of the next element to track
	done    chan struct{}   // closed and replaced when pending empties
	kick    chan struct{}   // an acknowledgement moved head: a trim is due
}

type pendingBatch struct {
	n     int64
	acked bool
	gone  bool // forgotten by a reset: its acknowledgement trims nothing
}

func newAckPrefix(at int64) ackPrefix {
	return ackPrefix{head: at, next: at, done: make(chan struct{}), kick: make(chan struct{}, 1)}
}

// add records a batch of the next n elements about to be emitted and returns
// its Ack.
func (p *ackPrefix) add(n int) engine.AckFunc {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addLocked(n)
}

func (p *ackPrefix) addLocked(n int) engine.AckFunc {
	b := &pendingBatch{n: int64(n)}
	p.pending = append(p.pending, b)
	p.next += int64(n)
	return func(error) { p.ack(b) }
}

// ack marks b acknowledged and moves head over what became an acknowledged
// prefix, kicking the trimmer. A failed trim is done by the next one (until
// then, the elements would be emitted again after a restart).
func (p *ackPrefix) ack(b *pendingBatch) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b.gone {
		return
	}
	b.acked = true
	i := 0
	for i < len(p.pending) && p.pending[i].acked {
		p.head += p.pending[i].n
		i++
	}
	if i == 0 {
		return
	}
	clear(p.pending[:i])
	p.pending = p.pending[i:]
	select {
	case p.kick <- struct{}{}:
	default: // a trim is already due; it will read the new head
	}
	if len(p.pending) == 0 {
		close(p.done)
		p.done = make(chan struct{})
	}
}

// forgetLocked forgets every emitted batch (their acknowledgements trim
// nothing) and numbers the next element at; waiters on done wake.
func (p *ackPrefix) forgetLocked(at int64) {
	for _, b := range p.pending {
		b.gone = true
	}
	clear(p.pending)
	p.pending = p.pending[:0]
	p.head, p.next = at, at
	close(p.done)
	p.done = make(chan struct{})
}

func newTracker(c goredis.UniversalClient, pk, epoch string, log func(error)) *tracker {
	t := &tracker{client: c, key: pk, state: pk + ":state", epoch: epoch, log: log, ackPrefix: newAckPrefix(0),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	go t.trimmer()
	return t
}

// trimmer trims the processing list up to the acknowledged head, off the
// acknowledgement path: acknowledgements come from the output's goroutine,
// which must not wait for Redis, and several of them are folded into one trim.
func (t *tracker) trimmer() {
	defer close(t.stopped)
	for {
		select {
		case <-t.kick:
			t.guardedTrim()
		case <-t.stop:
			t.guardedTrim()
			return
		}
	}
}

// guardedTrim is trimOnce on the trimmer's goroutine, which the engine does
// not guard: a panic is recovered, counted and logged, and fails safe, as a
// failed trim does: nothing is trimmed (the acknowledged elements stay in the
// processing list, emitted again after a restart, never lost), and the next
// acknowledgement tries again.
func (t *tracker) guardedTrim() {
	defer func() {
		if perr := engine.Recovered(recover(), t.panicLog, "redis processing list trimmer"); perr != nil {
			t.log(perr)
		}
	}()
	t.trimOnce()
}

func (t *tracker) trimOnce() {
	t.trimMu.Lock()
	defer t.trimMu.Unlock()
	t.mu.Lock()
	target, skip := t.head, t.disabled || t.head <= t.trimmed
	t.mu.Unlock()
	if skip {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err := trimScript.Run(ctx, t.client, []string{t.key, t.state}, t.epoch, target).Err()
	cancel()
	if err != nil {
		t.log(err) // the next trim covers these too
		return
	}
	t.mu.Lock()
	if t.head >= target { // not renumbered meanwhile
		t.trimmed = target
	}
	t.mu.Unlock()
}

// close stops the trimmer after a last trim.
func (t *tracker) close() {
	close(t.stop)
	<-t.stopped
}

// start begins this input's epoch on the processing list and returns what a
// previous run left in it, tracked.
func (t *tracker) start(ctx context.Context) ([]string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, _, _, err := t.syncLocked(ctx); err != nil {
		return nil, err
	}
	// A new epoch: the list holds the elements 0 to m-1, all left over.
	left, err := t.client.LRange(ctx, t.key, 0, -1).Result()
	if err != nil {
		return nil, err
	}
	t.head, t.next, t.trimmed = 0, 0, 0
	return left, nil
}

func (t *tracker) syncLocked(ctx context.Context) (tr, m int64, reset bool, err error) {
	v, err := syncScript.Run(ctx, t.client, []string{t.key, t.state}, t.epoch).Int64Slice()
	if err != nil {
		return 0, 0, false, err
	}
	if len(v) != 3 {
		return 0, 0, false, fmt.Errorf("sync script returned %v", v)
	}
	return v[0], v[1], v[2] == 1, nil
}

// resync runs after a move whose outcome is unknown (its reply was lost). It
// returns, tracked, the elements that such a move added to the processing
// list, and redoes the last trim. When the list lost elements outside this
// input (Redis restarted without persistence), the emitted batches are
// forgotten (their acknowledgements trim nothing) and whatever the list holds
// is returned, to be emitted again.
func (t *tracker) resync(ctx context.Context) ([]string, engine.AckFunc, error) {
	t.trimMu.Lock()
	defer t.trimMu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	tr, m, reset, err := t.syncLocked(ctx)
	if err != nil {
		return nil, nil, err
	}
	if reset {
		t.log(fmt.Errorf("processing list %s changed outside this input (Redis lost data, or its consumer_id is used by another input); re-emitting its %d elements", t.key, m))
		t.forgetLocked(0)
		t.trimmed = 0
	} else if t.head > tr {
		if err := trimScript.Run(ctx, t.client, []string{t.key, t.state}, t.epoch, t.head).Err(); err != nil {
			return nil, nil, err
		}
		tr = t.head
		t.trimmed = t.head
	}
	if m <= t.next {
		return nil, nil, nil
	}
	extra, err := t.client.LRange(ctx, t.key, t.next-tr, m-tr-1).Result()
	if err != nil {
		return nil, nil, err
	}
	if int64(len(extra)) != m-t.next {
		return nil, nil, fmt.Errorf("processing list %s: read %d elements, want %d", t.key, len(extra), m-t.next)
	}
	return extra, t.addLocked(len(extra)), nil
}

// disable stops trimming: the processing list belongs to another input now.
func (t *tracker) disable() {
	t.mu.Lock()
	t.disabled = true
	t.mu.Unlock()
}

// wait waits until every emitted batch was acknowledged and trimmed, or d
// passed.
func (t *tracker) wait(d time.Duration) bool {
	deadline := time.After(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		t.mu.Lock()
		n, done := len(t.pending), t.done
		trimmed := t.disabled || t.trimmed >= t.head
		t.mu.Unlock()
		if n == 0 && trimmed {
			return true
		}
		if n == 0 {
			select {
			case t.kick <- struct{}{}:
			default:
			}
		}
		select {
		case <-done:
		case <-tick.C:
		case <-deadline:
			return false
		}
	}
}

// runList moves batches from the list to the processing list pk and emits
// them, after first emitting what a previous run left in pk.
func (in *Input) runList(ctx context.Context, emit engine.EmitFunc, pk string) (err error) {
	c := in.newClient()
	defer c.Close()
	failures := 0
	logErr := func(err error) { in.logFailure(ctx, c, err, pk) }
	// Own the processing list before touching it.
	loopCtx, stopLoop, lost, release, ok := in.holdLease(ctx, c, newLease(pk))
	if !ok {
		return nil
	}
	defer func() { err = lost.failed(err) }() // after release: the renewer has ended
	defer release()
	l := lost.lease

	t := newTracker(c, pk, l.token, func(err error) {
		in.log.Warn("cannot remove acknowledged elements from the processing list; they will be emitted again after a restart",
			"err", in.describe(err), "processing_list", pk)
	})
	t.panicLog = in.log
	defer t.close()  // after the wait below: the last trim needs the client
	aborted := false // emit failed: no acknowledgement will come
	defer func() {
		if !aborted && !t.wait(in.ackWait) {
			in.log.Warn("stopping before every batch was acknowledged; the rest stays in the processing list and is emitted again at the next start",
				"processing_list", pk)
		}
	}()

	// Recovery: emit what the previous run left in the processing list.
	for {
		left, err := t.start(ctx)
		if err == nil {
			if len(left) > 0 {
				in.log.Warn("re-emitting elements left unacknowledged by a previous run", "count", len(left), "processing_list", pk)
			}
			for len(left) > 0 {
				n := min(len(left), in.batchCount)
				if err := in.emitElems(emit, t, left[:n]); err != nil {
					aborted = true
					return err
				}
				left = left[n:]
			}
			break
		}
		logErr(err)
		if !backoff(ctx, failures) {
			return nil
		}
		failures++
	}

	// Moving and decoding overlap: while one goroutine decodes and emits a
	// batch, the next is already being moved by Redis. At most one batch waits
	// in between, in the processing list, so a crash loses nothing more.
	type moved struct {
		elems []string
		ack   engine.AckFunc
	}
	batches := make(chan moved) // unbuffered: the mover holds at most one batch
	var emitErr error
	emitted := make(chan struct{})
	go func() {
		defer close(emitted)
		for m := range batches {
			if emitErr != nil {
				continue // the pipeline is gone: these stay in the processing list
			}
			if err := engine.Guard(in.log, "redis list emitter", func() error { return in.emitTracked(emit, m.elems, m.ack) }); err != nil {
				emitErr = err
				stopLoop()
			}
		}
	}()
	failures = 0
	needSync := false
	for loopCtx.Err() == nil {
		if needSync {
			extra, ack, err := t.resync(loopCtx)
			if err != nil {
				logErr(err)
				if !backoff(loopCtx, failures) {
					break
				}
				failures++
				continue
			}
			needSync = false
			if len(extra) > 0 {
				batches <- moved{extra, ack}
			}
		}
		elems, err := in.move(loopCtx, c, pk, l.token)
		if err != nil {
			// The move may have happened with its reply lost: find out before
			// the next move, while nothing else is added to the processing list.
			needSync = true
			if loopCtx.Err() != nil {
				break // the next start recovers whatever was moved
			}
			logErr(err)
			if !backoff(loopCtx, failures) {
				break
			}
			failures++
			continue
		}
		failures = 0
		if len(elems) == 0 {
			continue
		}
		batches <- moved{elems, t.add(len(elems))}
	}
	close(batches)
	<-emitted
	if emitErr != nil {
		aborted = true
		return emitErr
	}
	if lost.Load() {
		t.disable()
		aborted = true // nothing to wait for: the elements are another input's now
		return fmt.Errorf("redis %s db %d: %s: %w", in.addr, in.db, pk, errLeaseLost)
	}
	return nil
}

// move takes up to batchCount elements into the processing list pk, waiting
// up to blockFor for the first when the list is empty.
func (in *Input) move(ctx context.Context, c goredis.UniversalClient, pk, epoch string) ([]string, error) {
	keys := []string{in.key, pk, pk + ":state"}
	elems, err := moveScript.Run(ctx, c, keys, in.batchCount, epoch, 0).StringSlice()
	if err != nil || len(elems) > 0 {
		return elems, err
	}
	first, err := c.BLMove(ctx, in.key, pk, "LEFT", "RIGHT", in.blockFor).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// Count first, and take the rest of the batch. On failure first is in the
	// processing list uncounted: the caller resyncs, which counts it.
	more, err := moveScript.Run(ctx, c, keys, in.batchCount-1, epoch, 1).StringSlice()
	if err != nil {
		return nil, err
	}
	return append([]string{first}, more...), nil
}

// emitElems decodes and emits elements that are in the processing list.
func (in *Input) emitElems(emit engine.EmitFunc, t *tracker, elems []string) error {
	return in.emitTracked(emit, elems, t.add(len(elems)))
}

// emitTracked decodes and emits elements whose Ack is ack.
func (in *Input) emitTracked(emit engine.EmitFunc, elems []string, ack engine.AckFunc) error {
	evs := in.decodeBatch(elems)
	if len(evs) == 0 { // only blank or null elements: nothing to deliver
		ack(nil)
		return nil
	}
	return emit(engine.Batch{Events: evs, Ack: ack})
}

// logFailure logs a failed Redis call of a list reader, unless ctx ended.
func (in *Input) logFailure(ctx context.Context, c goredis.UniversalClient, err error, list string) {
	if ctx.Err() != nil {
		return
	}
	in.log.Error("redis list input failed, retrying", "err", in.describe(err), "list", list)
	if cc, ok := c.(*goredis.ClusterClient); ok {
		// A master may have failed over: learn the slots anew instead
		// of dialling the dead node until go-redis notices.
		cc.ReloadState(ctx)
	}
}

// heldLease is a lease acquired by holdLease and renewed in the background.
type heldLease struct {
	*lease
	lost     atomic.Bool                       // another input took it
	panicked atomic.Pointer[engine.PanicError] // the renewer panicked; the reader stopped
}

// failed returns err, or the renewer's panic when err is nil: a reader
// stopped by it must not return as if cancelled.
func (h *heldLease) failed(err error) error {
	if p := h.panicked.Load(); p != nil && err == nil {
		return p
	}
	return err
}

func (h *heldLease) Load() bool { return h.lost.Load() }

func (h *heldLease) Store(v bool) { h.lost.Store(v) }

// holdLease acquires l, waiting (with a backoff) while another running input
// holds it, and renews it until loopCtx, derived from ctx, ends: stopLoop
// ends it, and so does the loss of the lease. release stops the renewal and
// gives the lease up. ok is false when ctx ended first.
func (in *Input) holdLease(ctx context.Context, c goredis.UniversalClient, l *lease) (loopCtx context.Context, stopLoop context.CancelFunc, held *heldLease, release func(), ok bool) {
	reported := ""
	failures := 0
	for {
		err := l.acquire(ctx, c, func(holder string) {
			if holder != reported {
				in.log.Error("the list is in use by another running input; waiting until it stops or its lease expires. Give each engine process its own consumer_id (list_mode \"processing_list\"), or run one reader per list (list_mode \"exclusive\")",
					"lease", l.key, "holder", holder)
				reported = holder
			}
		})
		if err == nil {
			break
		}
		if !errors.Is(err, errLeaseHeld) {
			in.logFailure(ctx, c, err, l.key)
		}
		if !backoff(ctx, failures) {
			return nil, nil, nil, nil, false
		}
		failures++
	}
	held = &heldLease{lease: l}
	loopCtx, stopLoop = context.WithCancel(ctx)
	renewDone := make(chan struct{})
	go func() {
		defer close(renewDone)
		// This goroutine is not the engine's to guard: a panic is
		// recovered, counted and logged, and fails safe. Without renewal the
		// lease would expire under a running reader, so the reader stops
		// (loopCtx) and returns the panic; what it emitted and was not
		// acknowledged stays in Redis, read again at the next start.
		defer func() {
			if perr := engine.Recovered(recover(), in.log, "redis lease renewer"); perr != nil {
				held.panicked.Store(perr)
				stopLoop()
			}
		}()
		tick := time.NewTicker(leaseTTL / 3)
		defer tick.Stop()
		for {
			select {
			case <-loopCtx.Done():
				return
			case <-tick.C:
			}
			if err := l.renew(loopCtx, c); errors.Is(err, errLeaseLost) {
				held.Store(true)
				stopLoop()
				return
			}
		}
	}()
	release = func() {
		stopLoop()
		<-renewDone
		l.release(c)
	}
	return loopCtx, stopLoop, held, release, true
}
