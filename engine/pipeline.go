package engine

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/internal/ack"
	"github.com/pipelined/pipeline/engine/pq"
)

// ErrAborted is returned by emit, and by Run, once a pipeline was aborted: events
// still in flight were not delivered and their batches were not acknowledged.
var ErrAborted = errors.New("pipeline aborted")

// Pipeline is a built pipeline, ready to Run once.
type Pipeline struct {
	name     string
	settings Settings
	log      *slog.Logger
	inputs   []*inputUnit
	filters  []node
	routes   []node
	outputs  []*outputUnit
	// unrouted counts the events no output took by condition chain.
	unrouted unroutedChains
	// filterList holds every filter in build order; filterNode.index points into it.
	filterList []*filterNode

	queue     chan chunk
	abort     chan struct{}
	abortCtx  context.Context // done on Abort
	abortOnce sync.Once
	// abandoned: persistedStopGrace ran out after a signal and Run
	// aborted with everything undelivered still in the persisted queue.
	abandoned atomic.Bool
	stats     Stats
	pq        *pq.Queue // nil with the memory queue
	// commits carries emitted batches to the persisted queue's group
	// committer (nil with the memory queue).
	commits    chan *pendingBatch
	commitDone chan struct{}
	pqMaxBytes int64
	// hot hands the events the committer wrote to the reader (persisted
	// queue only).
	hot hotRecords
	// queued counts the events in the queue, for monitoring.
	queued atomic.Int64
	// waiting holds the push times (Unix ns) of the memory queue's chunks
	// an input has handed over and no worker has taken yet, for the age
	// of the oldest (Snapshot.QueueOldestAge): one entry per chunk, not
	// per event, nearly in order (removals are at the front).
	waitMu  sync.Mutex
	waiting []int64
	// workNanos and pushNanos: time workers spent on batches, and inputs
	// blocked handing them to the queue.
	workNanos, pushNanos atomic.Int64
	// pqView is pq for Snapshot, which runs on other goroutines than Run.
	pqView atomic.Pointer[pq.Queue]
	// busEndpoints are the addresses the plugins listen on or send to
	// (CheckBus); busSenders are the senders, registered while Run runs.
	busEndpoints []busEndpoint
	busSenders   []*BusSender
	// queueFailing is set while a persisted-queue write keeps failing.
	queueFailing atomic.Bool
	// appendFault, set by tests only, fails persisted-queue writes as a
	// full or failing disk does.
	appendFault func() error
	// staged: a BatchFilter is among the filters, which then run stage by
	// stage (runStaged). flushers are the filters that flush on a timer.
	staged   bool
	flushers []flusherNode
	// taps are the attached `pipeline tap` streams (tap.go).
	taps tapHub
}

// Stats are a pipeline's event counters.
type Stats struct {
	In       atomic.Int64 // events emitted by inputs
	Filtered atomic.Int64 // events that left the filter stage
	// Out counts events every output they were routed to delivered: once
	// per event, as Logstash's events.out (Failed and DeadLettered count
	// the rest). Each output's own deliveries count under its plugin.
	Out      atomic.Int64
	Dropped  atomic.Int64 // events dropped by filters (acknowledged)
	Unrouted atomic.Int64 // events that no output condition matched (acknowledged)
	// FilterFailed counts filter calls that failed on an event (the filter
	// tagged it, e.g. _grokparsefailure, and passed it on).
	FilterFailed atomic.Int64
	Failed       atomic.Int64 // event deliveries failed permanently (acknowledged as failed)
	// DeadLettered counts deliveries refused for good by an output and kept in
	// the dead letter queue (acknowledged as delivered: the DLQ holds them).
	DeadLettered atomic.Int64
	Retries      atomic.Int64 // output write attempts that failed and were retried
	AcksFired    atomic.Int64 // batch acknowledgements called
	// Panics counts panics recovered in this pipeline's filters, conditions,
	// outputs, workers and inputs' Run (not in the goroutines inputs start:
	// those count in PanicsRecovered only).
	Panics atomic.Int64
	// QueueWriteErrors and QueueReadErrors count failed persisted-queue
	// writes and reads; both are retried.
	QueueWriteErrors, QueueReadErrors atomic.Int64
}

// Name returns the pipeline name.
func (p *Pipeline) Name() string { return p.name }

// Stats returns the live counters.
func (p *Pipeline) Stats() *Stats { return &p.stats }

// Settings returns the resolved settings.
func (p *Pipeline) Settings() Settings { return p.settings }

// Abort stops a pipeline without draining: outputs stop retrying and events in
// flight are left unacknowledged (a source that acknowledges will resend them).
func (p *Pipeline) Abort() {
	p.abortOnce.Do(func() { close(p.abort) })
}

func (p *Pipeline) watchAbort() context.CancelFunc {
	ctx, cancel := context.WithCancel(context.Background())
	p.abortCtx = ctx
	go func() {
		select {
		case <-p.abort:
			cancel()
		case <-ctx.Done():
		}
	}()
	return cancel
}

// Run runs the pipeline until every input has returned and everything they
// emitted was delivered. Cancelling ctx begins a graceful drain: inputs are
// told to stop, then in-flight events are delivered and outputs closed. Call
// Abort to give up on the drain. Run returns the inputs' errors, or ErrAborted.
func (p *Pipeline) Run(ctx context.Context) error {
	s := p.settings
	p.queue = make(chan chunk, s.Workers)
	defer p.watchAbort()()
	if err := p.openQueue(); err != nil {
		return err
	}
	if p.pq != nil {
		defer func() {
			if err := p.pq.Close(); err != nil {
				p.log.Error("persisted queue close failed", "err", err)
			}
		}()
		if !s.Queue.Drain {
			// The events still undelivered at a signal stay in the queue
			// (nothing is acknowledged to it before an output delivered
			// it), so an output that cannot deliver (its every host down)
			// does not hold the stop for ever: after the grace the
			// pipeline gives up on it, and they are sent at the next start.
			ran := make(chan struct{})
			defer close(ran)
			stop := context.AfterFunc(ctx, func() {
				t := time.NewTimer(persistedStopGrace)
				defer t.Stop()
				select {
				case <-t.C:
				case <-p.abort:
					return
				case <-ran:
					return
				}
				p.abandoned.Store(true)
				n, b := p.pq.Len()
				p.log.Warn("stopping: the outputs did not finish within the grace; what they did not deliver stays in the persisted queue for the next start",
					"grace", persistedStopGrace.String(), "queued_events", n, "queued_bytes", b)
				p.Abort()
			})
			defer stop()
		}
	}
	for _, o := range p.outputs {
		o.ch = make(chan []*event.Event, outputChanBatches)
	}

	// Counted as a sender before any event can be sent, and until the
	// outputs are closed: at shutdown the pipelines listening downstream
	// wait for that (Bus.Shutdown).
	unregister := p.registerSenders()
	var sinks sync.WaitGroup
	for _, o := range p.outputs {
		sinks.Add(1)
		go func() { defer sinks.Done(); o.run() }()
	}
	var workers sync.WaitGroup
	for range s.Workers {
		workers.Add(1)
		go func() { defer workers.Done(); p.safeWorker() }()
	}
	stopTicker := make(chan struct{})
	tickerDone := make(chan struct{})
	if len(p.flushers) > 0 {
		go func() { defer close(tickerDone); p.ticker(stopTicker) }()
	} else {
		close(tickerDone)
	}
	readerCtx, stopReader := context.WithCancel(context.Background())
	defer stopReader()
	readerDone := make(chan struct{})
	if p.pq != nil {
		go func() { defer close(readerDone); p.readQueue(readerCtx) }()
	} else {
		close(readerDone)
	}
	if p.commits != nil {
		go p.committer()
	}
	var inputs sync.WaitGroup
	errs := make([]error, len(p.inputs))
	for i, u := range p.inputs {
		inputs.Add(1)
		go func() {
			defer inputs.Done()
			errs[i] = u.run(ctx)
		}()
	}
	p.log.Info("pipeline started", "workers", s.Workers, "batch_size", s.BatchSize, "batch_delay", s.BatchDelay)

	// Shutdown order: every channel is closed by its only sender.
	inputs.Wait()
	p.log.Info("inputs finished, draining")
	if p.commits != nil {
		close(p.commits)
		<-p.commitDone
	}
	if p.pq != nil {
		// Inputs that ended by themselves (a file read to its end) leave
		// nothing behind; on a signal, what is on disk waits for the next
		// start unless queue.drain is set.
		if ctx.Err() == nil || s.Queue.Drain {
			p.pq.CloseWrites()
		} else {
			stopReader()
		}
		<-readerDone
	}
	close(stopTicker)
	<-tickerDone
	close(p.queue)
	workers.Wait()
	if len(p.flushers) > 0 && !p.aborted() {
		// Logstash's final flush: what the filters still hold (the
		// aggregate filter's maps) goes out before the outputs close.
		p.safeFinalFlush()
	}
	p.closeFilters()
	for _, o := range p.outputs {
		close(o.ch)
	}
	sinks.Wait()
	unregister()
	aborted := false
	select {
	case <-p.abort:
		aborted = true
	default:
	}
	st := &p.stats
	p.log.Info("pipeline stopped", "in", st.In.Load(), "out", st.Out.Load(), "dropped", st.Dropped.Load(),
		"unrouted", st.Unrouted.Load(), "failed", st.Failed.Load())
	if aborted && !p.abandoned.Load() {
		return ErrAborted
	}
	if aborted { // abandoned: the inputs' ErrAborted lost nothing
		for i, err := range errs {
			if errors.Is(err, ErrAborted) {
				errs[i] = nil
			}
		}
	}
	return errors.Join(errs...)
}

// persistedStopGrace is how long, after a signal, a pipeline with the
// persisted queue (and no queue.drain) waits for its inputs to stop and its
// outputs to deliver the batches they took from the queue; then it stops
// without them, and they wait in the queue for the next start. Nothing is
// lost, so one signal is enough even with every destination unreachable.
const persistedStopGrace = 10 * time.Second

func (p *Pipeline) aborted() bool {
	select {
	case <-p.abort:
		return true
	default:
		return false
	}
}

// safeFinalFlush runs the final flush, recovering a panic of the engine's
// own code as the workers do.
func (p *Pipeline) safeFinalFlush() {
	defer func() {
		if perr := Recovered(recover(), p.log, "final flush"); perr != nil {
			p.stats.Panics.Add(1)
		}
	}()
	p.flushFilters(&workerMetrics{filters: make([]filterAcc, len(p.filterList))}, true)
}

// closeFilters releases what filters hold outside the process (the ruby
// filter's co-processes) once no worker can call them any more.
func (p *Pipeline) closeFilters() {
	for _, n := range p.filterList {
		if c, ok := n.f.(interface{ Close() error }); ok {
			if err := c.Close(); err != nil {
				n.log.Warn("filter close failed", "err", err)
			}
		}
	}
}

// chunk is what the queue carries: at most batch_size events of one emitted
// batch. flush says no more events are coming from that sender until these
// are acknowledged, so a worker must not wait to fill its batch.
type chunk struct {
	events []*event.Event
	flush  bool
	// tick asks the worker that takes it to flush the filters (Flusher).
	tick bool
	// pushed is when an input pushed it (Unix ns, in p.waiting), 0 for
	// chunks of the persisted queue and ticks.
	pushed int64
}

// waitAdd records a chunk pushed at t (see Pipeline.waiting).
func (p *Pipeline) waitAdd(t int64) {
	p.waitMu.Lock()
	p.waiting = append(p.waiting, t)
	p.waitMu.Unlock()
}

// waitDone removes a chunk pushed at t, taken by a worker or abandoned.
func (p *Pipeline) waitDone(t int64) {
	if t == 0 {
		return
	}
	p.waitMu.Lock()
	if i := slices.Index(p.waiting, t); i >= 0 {
		if i == 0 {
			p.waiting = p.waiting[1:]
		} else {
			p.waiting = slices.Delete(p.waiting, i, i+1)
		}
	}
	p.waitMu.Unlock()
}

// oldestWaiting returns the push time of the oldest chunk waiting in the
// memory queue, or 0.
func (p *Pipeline) oldestWaiting() int64 {
	p.waitMu.Lock()
	defer p.waitMu.Unlock()
	if len(p.waiting) == 0 {
		return 0
	}
	return slices.Min(p.waiting)
}

// inputUnit runs one input and decorates what it emits.
type inputUnit struct {
	id, typ   string // typ is the `type` option
	plugin    string // the plugin type, e.g. "beats"
	tags      []string
	addFields []addField
	in        Input
	log       *slog.Logger
	pl        *Pipeline
	out       atomic.Int64 // events emitted
	pushNanos atomic.Int64 // time emit waited for the queue
}

func (u *inputUnit) run(ctx context.Context) (err error) {
	defer func() {
		if perr := Recovered(recover(), u.log, "input "+u.plugin+"/"+u.id); perr != nil {
			u.pl.stats.Panics.Add(1)
			err = perr
		}
		if err != nil && !errors.Is(err, ErrAborted) {
			u.log.Error("input failed", "err", err)
		}
	}()
	if u.pl.pq != nil {
		ctx = context.WithValue(ctx, queueAckKey{}, true)
	}
	return u.in.Run(ctx, u.emit)
}

// emit attaches the batch acknowledgement to every event, applies the common
// input options and queues the events in chunks of at most the batch size.
func (u *inputUnit) emit(b Batch) error {
	p := u.pl
	if len(b.Events) == 0 {
		if b.Ack != nil {
			p.stats.AcksFired.Add(1)
			b.Ack(nil)
		}
		return nil
	}
	if p.pq != nil {
		return u.emitPersisted(b)
	}
	if b.Ack != nil {
		tr := ack.New(len(b.Events), b.Ack, &p.stats.AcksFired)
		for _, e := range b.Events {
			e.SetAcker(tr)
		}
	}
	if u.typ != "" || len(u.tags) > 0 || len(u.addFields) > 0 {
		for _, e := range b.Events {
			u.decorate(e)
		}
	}
	if tapHooks && p.taps.active.Load() {
		p.tapOffer(u.id, TapOutputOf, b.Events)
	}
	events := b.Events
	size := p.settings.BatchSize
	for len(events) > 0 {
		n := min(len(events), size)
		c := chunk{events: events[:n:n]}
		events = events[n:]
		// A sender that waits for its acknowledgement (a beats window) sends
		// nothing more until this batch is delivered, so a worker waiting
		// batch_delay to fill the tail would only add latency.
		c.flush = len(events) == 0 && b.Ack != nil
		start := time.Now()
		// The one time read per chunk doubles as its push time: a chunk
		// waiting for room in the queue is waiting for a worker too.
		c.pushed = start.UnixNano()
		p.waitAdd(c.pushed)
		select {
		case p.queue <- c:
			p.queued.Add(int64(n))
			// Plugin counters first: whoever sees a pipeline total sees
			// the plugin counts that make it up.
			u.out.Add(int64(n))
			p.stats.In.Add(int64(n))
			d := int64(time.Since(start))
			p.pushNanos.Add(d)
			u.pushNanos.Add(d)
		case <-p.abort:
			p.waitDone(c.pushed)
			return ErrAborted
		}
	}
	return nil
}

func (u *inputUnit) decorate(e *event.Event) {
	if u.typ != "" {
		if _, ok := e.Get(typeRef); !ok {
			_ = e.Set(typeRef, u.typ)
		}
	}
	if len(u.tags) > 0 {
		e.AddTag(u.tags...)
	}
	applyAddFields(e, u.addFields)
}

var typeRef = event.MustRef("type")

func release(e *event.Event, err error) {
	if a := e.Acker(); a != nil {
		a.Release(err)
	}
}

// safeWorker runs a worker and starts it again after a panic in the
// engine's own code (plugin panics are recovered closer to the plugin). The
// events of the batch in hand are not acknowledged: a source that
// acknowledges sends them again.
func (p *Pipeline) safeWorker() {
	for {
		done := func() (done bool) {
			defer func() {
				if perr := Recovered(recover(), p.log, "pipeline worker (batch abandoned, worker restarted)"); perr != nil {
					p.stats.Panics.Add(1)
					done = false
				}
			}()
			p.worker()
			return true
		}()
		if done {
			return
		}
	}
}

// worker takes batches from the queue, filling up to the batch size within the
// batch delay, runs the filters and routes the result to the outputs.
func (p *Pipeline) worker() {
	size := p.settings.BatchSize
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	w := &workerMetrics{filters: make([]filterAcc, len(p.filterList))}
	for {
		first, ok := <-p.queue
		if !ok {
			return
		}
		p.queued.Add(-int64(len(first.events)))
		p.waitDone(first.pushed)
		tick := first.tick
		if tick && len(first.events) == 0 {
			if !p.flushFilters(w, false) {
				return
			}
			continue
		}
		batch := first.events
		if len(batch) < size && !first.flush {
			batch = append(make([]*event.Event, 0, size), first.events...)
			timer.Reset(p.settings.BatchDelay)
		fill:
			for len(batch) < size {
				select {
				case more, ok := <-p.queue:
					if !ok {
						break fill
					}
					p.queued.Add(-int64(len(more.events)))
					p.waitDone(more.pushed)
					tick = tick || more.tick
					batch = append(batch, more.events...)
					if more.flush {
						break fill
					}
				case <-timer.C:
					break fill
				}
			}
			timer.Stop()
		}
		start := time.Now()
		w.tap = tapHooks && p.taps.active.Load()
		out := p.runNodes(w, p.filters, batch)
		w.flush(p)
		p.stats.Filtered.Add(int64(len(out)))
		ok = p.route(out)
		p.workNanos.Add(int64(time.Since(start)))
		if !ok {
			return
		}
		if tick && !p.flushFilters(w, false) {
			return
		}
	}
}

// workerMetrics are one worker's filter counters, added to the shared ones
// once per batch so the per-event path touches no shared cache line.
type workerMetrics struct {
	filters []filterAcc
	// tap: a tap is attached (read once per batch).
	tap bool
}

type filterAcc struct {
	in, out, dropped, failed int64
	nanos, timed             int64 // time spent in the timed calls, and how many
	// seq counts calls across batches, so the sampled calls are spread
	// evenly over batch positions (timing the first calls of each batch
	// overstated: they run with cold caches). sample: the filter's calls
	// are cheap enough that timing each would cost more than the filter;
	// false at first, so the first batch is timed whole.
	seq    uint32
	sample bool
}

// Filter timing. A clock read costs 50-70 ns on the VMs we measure on, more
// than the engine's own work per event for a cheap filter, so a filter whose
// calls cost less than exactAbove has one call in timeEvery timed and the
// rest extrapolated (labelled an estimate in the API); a filter above it
// (grok, geoip, ruby …), where two clock reads are under 5 % of a call, is
// timed on every call and its duration is exact.
const (
	timeEvery  = 32
	exactAbove = 2 * time.Microsecond
)

func (w *workerMetrics) flush(p *Pipeline) {
	filters := p.filterList
	for i := range w.filters {
		a := &w.filters[i]
		if a.in == 0 {
			continue
		}
		c := &filters[i].counters
		c.in.Add(a.in)
		c.out.Add(a.out)
		if a.dropped != 0 {
			c.dropped.Add(a.dropped)
			p.stats.Dropped.Add(a.dropped)
		}
		if a.failed != 0 {
			c.failed.Add(a.failed)
			p.stats.FilterFailed.Add(a.failed)
		}
		switch {
		case a.timed == a.in:
			c.nanos.Add(a.nanos)
		default:
			c.sampledNanos.Add(a.nanos)
			c.sampledTimed.Add(a.timed)
			c.sampledCalls.Add(a.in)
		}
		if a.timed > 0 {
			a.sample = a.nanos/a.timed < int64(exactAbove)
		}
		*a = filterAcc{seq: a.seq, sample: a.sample}
	}
}

// counters are one plugin's figures for monitoring.
type counters struct {
	in, out, dropped, failed, deadLettered atomic.Int64
	// nanos: time measured on every call (outputs, batch filters, costly
	// filters). sampled*: calls timed one in timeEvery, how long they took,
	// how many were timed out of how many.
	nanos, sampledNanos, sampledTimed, sampledCalls atomic.Int64
}

// runNodes applies the filter tree to a batch, event by event, so events keep
// their order (as Logstash does with one worker) and conditionals cost nothing
// per batch.
func (p *Pipeline) runNodes(w *workerMetrics, nodes []node, events []*event.Event) []*event.Event {
	if len(nodes) == 0 || len(events) == 0 {
		return events
	}
	if p.staged {
		own := make([]int32, len(events))
		out, _ := p.runStaged(w, nodes, events, own)
		return out
	}
	out := make([]*event.Event, 0, len(events))
	for _, e := range events {
		out = p.runOne(w, nodes, e, out)
	}
	return out
}

// runOne runs e through nodes and appends what comes out to out.
func (p *Pipeline) runOne(w *workerMetrics, nodes []node, e *event.Event, out []*event.Event) []*event.Event {
	for i, n := range nodes {
		start := len(out)
		switch n := n.(type) {
		case *filterNode:
			if w.tap {
				p.tapOffer(n.id, TapInputOf, []*event.Event{e})
			}
			if !w.tap {
				out = n.applyOne(&w.filters[n.index], e, out)
				break
			}
			acc := &w.filters[n.index]
			dropped, failed := acc.dropped, acc.failed
			out = n.applyOne(acc, e, out)
			p.tapOffer(n.id, TapOutputOf, out[start:])
			switch {
			case acc.dropped > dropped:
				p.tapOfferWhy(n.id, TapDropped, func() string { return "dropped by filter " + n.id + " (" + n.typ + ")" }, e)
			case acc.failed > failed:
				p.tapOfferWhy(n.id, TapFailed, func() string { return failedReason(n, e) }, e)
			}
		case *ifNode:
			out = p.runOne(w, n.pick(e), e, out)
		}
		// The common case, one event in and the same number out, continues inline.
		if len(out) == start+1 {
			e = out[start]
			out = out[:start]
			continue
		}
		if len(out) == start {
			return out
		}
		produced := append([]*event.Event(nil), out[start:]...)
		out = out[:start]
		for _, x := range produced {
			out = p.runOne(w, nodes[i+1:], x, out)
		}
		return out
	}
	return append(out, e)
}

// pick returns the body of the first branch whose condition holds, or else.
func (n *ifNode) pick(e *event.Event) []node {
	body, _ := n.pickIndex(e)
	return body
}

// pickIndex is pick that also tells which branch it took (len(branches) for
// else or none).
func (n *ifNode) pickIndex(e *event.Event) ([]node, int) {
	for i, br := range n.branches {
		if n.test(br.cond, e) {
			return br.body, i
		}
	}
	return n.els, len(n.branches)
}

// test evaluates one condition. A condition that panics on an event is false
// for it (counted and logged), so the worker and the rest of the batch go on.
func (n *ifNode) test(cond func(*event.Event) bool, e *event.Event) (ok bool) {
	defer func() {
		if perr := Recovered(recover(), n.pl.log, "condition (taken as false)"); perr != nil {
			n.pl.stats.Panics.Add(1)
			ok = false
		}
	}()
	return cond(e)
}

// route hands every event to the outputs its conditions select. One event may
// go to several outputs: it is shared (outputs never modify events) and counted
// once more per extra output. It returns false if the pipeline was aborted.
func (p *Pipeline) route(events []*event.Event) bool {
	if len(events) == 0 {
		return true
	}
	per := make([][]*event.Event, len(p.outputs))
	tap := tapHooks && p.taps.active.Load()
	var chains map[string]int64 // this batch's unrouted events by chain
	for _, e := range events {
		// The chain key is at most maxChainDepth bytes: on the stack, never
		// an allocation per event, however many ifs the outputs have.
		var buf [maxChainDepth]byte
		n, key := p.routeOne(p.routes, e, per, buf[:0])
		switch {
		case n == 0:
			p.stats.Unrouted.Add(1)
			if chains == nil {
				chains = map[string]int64{}
			}
			chains[string(key)]++
			if tap {
				k := string(key) // the closure must not keep buf
				p.tapOfferWhy("", TapUnrouted, func() string { return "no output matched: " + chainText(p.routes, []byte(k)) }, e)
			}
			release(e, nil)
		case n > 1:
			if a := e.Acker(); a != nil {
				a.Retain(n - 1)
			}
		}
		if n > 0 {
			e.SetRoutes(n)
		}
	}
	if chains != nil {
		p.noteUnrouted(chains)
	}
	for i, evs := range per {
		if len(evs) == 0 {
			continue
		}
		if tap {
			p.tapOffer(p.outputs[i].id, TapInputOf, evs)
		}
		p.outputs[i].inFlight.Add(int64(len(evs)))
		select {
		case p.outputs[i].ch <- evs:
		case <-p.abort:
			return false
		}
	}
	return true
}

// routeOne appends e to the outputs its conditions select and returns how
// many; it appends to key the branch each if node took (len(branches) for
// else or none), depth first, at most maxChainDepth: the chain an unrouted
// event is counted under, recorded here so that no condition is evaluated
// twice.
func (p *Pipeline) routeOne(nodes []node, e *event.Event, per [][]*event.Event, key []byte) (int, []byte) {
	n := 0
	for _, nd := range nodes {
		switch nd := nd.(type) {
		case *routeNode:
			per[nd.index] = append(per[nd.index], e)
			n++
		case *ifNode:
			body, i := nd.pickIndex(e)
			if len(key) < maxChainDepth {
				key = append(key, byte(min(i, 255)))
			}
			var m int
			m, key = p.routeOne(body, e, per, key)
			n += m
		}
	}
	return n, key
}

// filterNode is one filter with its common options.
type filterNode struct {
	id, typ      string
	index        int // in Pipeline.filterList
	counters     counters
	f            Filter
	batch        BatchFilter // f, when it takes batches
	resultsDone  BatchResultsDone
	ownOnly      bool // common options on e only (NewEventsUnmatched)
	log          *slog.Logger
	pl           *Pipeline
	hasCommon    bool
	addFields    []addField
	addTags      []event.Template
	removeFields []event.FieldTemplate
	removeTags   []event.Template
	// failTags counts, per tag, the events this filter failed on by the
	// last tag they carry then (where a filter puts its tag_on_failure):
	// at most maxFailureTags tags, the rest under otherFailureTag.
	failMu   sync.Mutex
	failTags map[string]int64
	examples failureExamples
}

// Budget of failTags, and where the tags past it count.
const (
	maxFailureTags  = 16
	otherFailureTag = "(other)"
)

// noteFailure counts e under its last tag (the failure path only: the
// filter just failed on e and tagged it).
func (n *filterNode) noteFailure(e *event.Event) {
	tag := "(untagged)"
	if tags := e.Tags(); len(tags) > 0 {
		tag = tags[len(tags)-1]
	}
	n.failMu.Lock()
	defer n.failMu.Unlock()
	if n.failTags == nil {
		n.failTags = map[string]int64{}
	}
	if _, ok := n.failTags[tag]; !ok && len(n.failTags) >= maxFailureTags {
		tag = otherFailureTag
	}
	n.failTags[tag]++
	n.examples.note(e, tag)
}

func (n *filterNode) failureExamples() []FailureExample {
	n.failMu.Lock()
	defer n.failMu.Unlock()
	return n.examples.list()
}

func (n *filterNode) failureTags() map[string]int64 {
	n.failMu.Lock()
	defer n.failMu.Unlock()
	if len(n.failTags) == 0 {
		return nil
	}
	out := make(map[string]int64, len(n.failTags))
	for k, v := range n.failTags {
		out[k] = v
	}
	return out
}

var errFilterPanic = errors.New("filter panicked")

func (n *filterNode) call(e *event.Event, out []*event.Event) (res []*event.Event, err error) {
	defer func() {
		// The site's name is built only on a panic: this runs for every
		// event through every filter.
		if r := recover(); r != nil {
			Recovered(r, n.log, "filter "+n.typ+"/"+n.id+" (event passed on unchanged)")
			n.pl.stats.Panics.Add(1)
			res, err = out, errFilterPanic
		}
	}()
	return n.f.Filter(context.Background(), e, out)
}

// applyOne runs the filter on e and appends what it passes on.
func (n *filterNode) applyOne(acc *filterAcc, e *event.Event, out []*event.Event) []*event.Event {
	start := len(out)
	timed := !acc.sample || acc.seq%timeEvery == 0
	acc.seq++
	var t0 time.Time
	if timed {
		t0 = time.Now()
	}
	out, err := n.call(e, out)
	out = n.settle(acc, e, out, start, err)
	if timed {
		acc.nanos += int64(time.Since(t0))
		acc.timed++
	}
	return out
}

// settle accounts for what the filter made of e (out[start:]): common
// options, drops, counts.
func (n *filterNode) settle(acc *filterAcc, e *event.Event, out []*event.Event, start int, err error) []*event.Event {
	acc.in++
	if err != nil {
		if len(out) == start {
			out = append(out, e)
		}
		if errors.Is(err, ErrNotApplied) {
			// New events made beside an e that did not match (clone's
			// copies) did match.
			if n.hasCommon {
				for _, x := range out[start:] {
					if x != e && !n.ownOnly {
						n.common(x)
					}
				}
			}
		} else {
			acc.failed++
			n.noteFailure(e)
			n.log.Debug("filter failed", "err", err)
		}
	} else {
		kept := false
		for _, x := range out[start:] {
			if x == e {
				kept = true
			}
			if n.hasCommon && (x == e || !n.ownOnly) {
				n.common(x)
			}
		}
		if !kept {
			// Counted in Stats.Dropped when the worker flushes acc.
			acc.dropped++
			release(e, nil)
		}
	}
	acc.out += int64(len(out) - start)
	return out
}

// common applies add_field, remove_field, add_tag, remove_tag in Logstash's
// order (filters/base.rb filter_matched).
func (n *filterNode) common(e *event.Event) {
	applyAddFields(e, n.addFields)
	for _, f := range n.removeFields {
		if r, err := f.Resolve(e); err == nil {
			e.Delete(r)
		}
	}
	if len(n.addTags) > 0 {
		e.AddTag(renderTags(e, n.addTags)...)
	}
	if len(n.removeTags) > 0 {
		e.RemoveTag(renderTags(e, n.removeTags)...)
	}
}

// outputUnit owns one output: it connects, writes batches and retries with
// capped exponential backoff while holding the batch, so a slow or down output
// blocks the pipeline instead of losing events.
type outputUnit struct {
	id        string
	typ       string
	index     int
	out       Output
	log       *slog.Logger
	pl        *Pipeline
	ch        chan []*event.Event
	connected bool
	counters  counters
	// inFlight counts the events handed to this output and not yet done
	// with; failingSince (Unix ns, 0 while healthy) is when the current
	// failure began and busySince when the batch in hand was taken;
	// lastErr is the latest failure's message.
	inFlight                atomic.Int64
	failingSince, busySince atomic.Int64
	lastErr                 atomic.Pointer[string]
}

// done records that the output is finished with evs: delivered them, or
// gave up on them (failed, dead-lettered). The pipeline counts an event out
// once, when the last output it went to delivered it and none gave up.
func (o *outputUnit) done(evs []*event.Event, failed bool) {
	o.inFlight.Add(-int64(len(evs)))
	n := int64(0)
	for _, e := range evs {
		if e.RouteDone(failed) {
			n++
		}
	}
	o.pl.stats.Out.Add(n)
}

func (o *outputUnit) run() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-o.pl.abort:
			cancel()
		case <-ctx.Done():
		}
	}()
	limit := outputMergeBatches * o.pl.settings.BatchSize
	for evs := range o.ch {
		o.deliver(ctx, o.merge(evs, limit))
	}
	if err := o.guard("close", func() error { return o.out.Close(context.WithoutCancel(ctx)) }); err != nil {
		o.log.Warn("output close failed", "err", err)
	}
}

// guard calls one of the output's methods; a panic becomes a *PanicError,
// counted and logged.
func (o *outputUnit) guard(what string, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Recovered(r, o.log, "output "+o.typ+"/"+o.id+" "+what)
			o.pl.stats.Panics.Add(1)
		}
	}()
	return fn()
}

// outputChanBatches is how many worker batches wait for an output, and
// outputMergeBatches how many of them one Write may take at once.
const (
	outputChanBatches  = 4
	outputMergeBatches = 8
)

// merge appends to evs the batches already waiting for this output, up to
// limit events, so that a slow output (one fsync or one bulk request per
// Write) writes bigger batches as its backlog grows, and never waits for
// more. Order is kept: batches are taken in the order the workers sent them.
func (o *outputUnit) merge(evs []*event.Event, limit int) []*event.Event {
	merged := false
	for len(evs) < limit {
		select {
		case more, ok := <-o.ch:
			if !ok {
				return evs
			}
			if !merged {
				evs = append(make([]*event.Event, 0, min(limit, len(evs)+len(more))), evs...)
				merged = true
			}
			evs = append(evs, more...)
		default:
			return evs
		}
	}
	return evs
}

// sleep waits d or until abort; it reports false on abort.
func (o *outputUnit) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-o.pl.abort:
		return false
	}
}

func (o *outputUnit) deliver(ctx context.Context, evs []*event.Event) {
	st := &o.pl.stats
	o.counters.in.Add(int64(len(evs)))
	backoff := o.pl.settings.RetryInitial
	start := time.Now()
	o.busySince.Store(start.UnixNano())
	defer o.busySince.Store(0)
	var failedAt, loggedAt time.Time
	// A failing output logs its first failure, then at most once per
	// StallAfter while it keeps failing, and once when it recovers: an outage
	// of hours is a line every 30 s, not silence and not a flood.
	wait := func(what string, err error, attempt int) bool {
		st.Retries.Add(1)
		now := time.Now()
		msg := err.Error()
		o.lastErr.Store(&msg)
		if failedAt.IsZero() {
			failedAt = now
			o.failingSince.CompareAndSwap(0, now.UnixNano())
		}
		if loggedAt.IsZero() || now.Sub(loggedAt) >= o.pl.settings.StallAfter {
			loggedAt = now
			o.log.Warn(what+" failed; retrying", "err", err, "attempt", attempt, "backoff", backoff,
				"events", len(evs), "failing_for", now.Sub(time.Unix(0, o.failingSince.Load())).Round(time.Millisecond),
				"batch_age", now.Sub(start).Round(time.Millisecond))
		}
		ok := o.sleep(backoff)
		backoff = min(backoff*2, o.pl.settings.RetryMax)
		return ok
	}
	defer func() {
		select {
		case <-o.pl.abort:
			return // stopped, not recovered
		default:
		}
		if failedAt.IsZero() {
			return
		}
		since := o.failingSince.Swap(0)
		o.log.Info("output recovered", "failed_for", time.Since(time.Unix(0, since)).Round(time.Millisecond),
			"retries", st.Retries.Load())
	}()
	for attempt := 1; len(evs) > 0; attempt++ {
		select {
		case <-o.pl.abort:
			return
		default:
		}
		if !o.connected {
			if err := o.guard("connect", func() error { return o.out.Connect(ctx) }); err != nil {
				if !wait("connect", err, attempt) {
					return
				}
				continue
			}
			o.connected = true
		}
		t0 := time.Now()
		err := o.guard("write", func() error { return o.out.Write(ctx, evs) })
		o.counters.nanos.Add(int64(time.Since(t0)))
		var perr *PanicError
		if errors.As(err, &perr) {
			// A panicking Write would most likely panic again on the same
			// events: the batch fails for good (dead letter queue, or counted
			// and acknowledged as failed) and the output goes on with the next.
			o.connected = false
			err = Permanent(err)
		}
		if err == nil {
			o.counters.out.Add(int64(len(evs)))
			if tapHooks && o.pl.taps.active.Load() {
				o.pl.tapOffer(o.id, TapOutputOf, evs)
			}
			o.done(evs, false)
			for _, e := range evs {
				release(e, nil)
			}
			return
		}
		var be *BatchError
		hold := o.pl.settings.HoldPermanentFailures && o.pl.settings.DeadLetter == nil
		switch {
		case IsPermanent(err) && hold:
			if !wait("write (refused for good; held by pipeline.on_permanent_failure: hold)", err, attempt) {
				return
			}
		case IsPermanent(err):
			o.fail(evs, func(int) error { return err })
			return
		case errors.As(err, &be):
			var retry, refused []*event.Event
			var reasons []error
			for i, e := range evs {
				ferr, failed := be.Failed[i]
				switch {
				case !failed:
					o.counters.out.Add(1)
					o.done([]*event.Event{e}, false)
					release(e, nil)
				case IsPermanent(ferr) && !hold:
					refused = append(refused, e)
					reasons = append(reasons, ferr)
				default:
					retry = append(retry, e)
				}
			}
			if len(refused) > 0 {
				o.fail(refused, func(i int) error { return reasons[i] })
			}
			evs = retry
			if len(evs) > 0 && !wait("write", err, attempt) {
				return
			}
		case errors.Is(err, ErrNotConnected):
			o.connected = false
			if !wait("write", err, attempt) {
				return
			}
		default:
			if !wait("write", err, attempt) {
				return
			}
		}
	}
}

// fail handles events an output refused for good. With a dead letter queue
// they are kept there and acknowledged as delivered once it holds them (a DLQ
// that cannot write is retried like an output: nothing is dropped); without
// one they are counted, logged and acknowledged as failed.
func (o *outputUnit) fail(evs []*event.Event, errOf func(i int) error) {
	dlq := o.pl.settings.DeadLetter
	if dlq == nil {
		o.counters.failed.Add(int64(len(evs)))
		o.pl.stats.Failed.Add(int64(len(evs)))
		// One line per batch, with the first reason: a batch of mapping
		// errors must not become a line per event.
		o.log.Error("events failed permanently", "events", len(evs), "err", errOf(0))
		if tapHooks && o.pl.taps.active.Load() {
			for i, e := range evs {
				o.pl.tapOfferWhy(o.id, TapFailed, func() string { return "output " + o.id + " refused it for good: " + errText(errOf(i)) }, e)
			}
		}
		o.done(evs, true)
		for i, e := range evs {
			release(e, errOf(i))
		}
		return
	}
	backoff := o.pl.settings.RetryInitial
	from := DeadLetterSource{Pipeline: o.pl.name, PluginType: o.typ, PluginID: o.id}
	for i, e := range evs {
		reason := errOf(i).Error()
		for attempt := 1; ; attempt++ {
			perr := dlq.Put(e, from, reason)
			if perr == nil {
				break
			}
			if attempt == 1 || attempt%10 == 0 {
				o.log.Error("dead letter queue write failed; retrying", "err", perr, "attempt", attempt)
			}
			if !o.sleep(backoff) {
				return
			}
			backoff = min(backoff*2, o.pl.settings.RetryMax)
		}
		o.counters.deadLettered.Add(1)
		o.pl.stats.DeadLettered.Add(1)
		o.done(evs[i:i+1], true)
		release(e, nil)
	}
	o.log.Warn("events refused by output kept in the dead letter queue", "events", len(evs), "reason", errOf(0).Error())
}
