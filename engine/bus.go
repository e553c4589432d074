package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/engine/event"
)

// Bus connects the pipelines of one process, as Logstash's pipeline bus: a
// `pipeline` input listens on a virtual address and `pipeline` outputs send
// to addresses. The supervisor makes one per process and gives it to every
// pipeline it builds (Settings.Bus), so addresses outlive reloads: while the
// pipeline listening on an address is being replaced, senders wait for the
// new one instead of losing events.
//
// A send returns once the receiving pipeline's queue accepted the events (the
// memory queue took them, or the persisted queue wrote them), so the sending
// batch is acknowledged only then and back-pressure crosses pipelines.
type Bus struct {
	mu    sync.Mutex
	addrs map[string]*busAddr
	// blockOnUnlisten is Logstash's setBlockOnUnlisten(true), set when the
	// process shuts down: a listener then stops only once no running
	// pipeline sends to its address, so pipelines stop senders first and
	// what the senders drain still has somewhere to go.
	blockOnUnlisten bool
}

// NewBus returns an empty bus.
func NewBus() *Bus { return &Bus{addrs: map[string]*busAddr{}} }

// busAddr is one address: its listener, if any, and how many running
// pipelines send to it.
type busAddr struct {
	recv    *busRecv
	senders int
	// changed is closed (and replaced) at every change of recv or senders,
	// waking whoever waits for one.
	changed chan struct{}
}

type busRecv struct {
	pipeline string
	deliver  func([]*event.Event) (int, error)
	inflight sync.WaitGroup
}

// errUnavailable: nothing listens on the address (yet, or any more).
var errUnavailable = errors.New("no pipeline listens on the address")

// addr returns the address's state, created if new; call with mu held.
func (b *Bus) addr(name string) *busAddr {
	a := b.addrs[name]
	if a == nil {
		a = &busAddr{changed: make(chan struct{})}
		b.addrs[name] = a
	}
	return a
}

func (a *busAddr) notify() {
	close(a.changed)
	a.changed = make(chan struct{})
}

// Shutdown makes listeners that stop from now on wait until no running
// pipeline sends to their address (Logstash's block-on-unlisten at shutdown):
// call it before stopping every pipeline at once, so a downstream pipeline
// keeps receiving what its upstream pipelines drain.
func (b *Bus) Shutdown() {
	b.mu.Lock()
	b.blockOnUnlisten = true
	for _, a := range b.addrs {
		a.notify()
	}
	b.mu.Unlock()
}

// listen binds recv to the address. An address another pipeline still holds
// (a reload moving it between pipelines) is waited for, with a warning: the
// configuration check already refuses two pipelines listening on one
// address, so this only lasts until the old holder has drained.
func (b *Bus) listen(ctx context.Context, name string, recv *busRecv, log *slog.Logger) error {
	warned := false
	for {
		b.mu.Lock()
		a := b.addr(name)
		if a.recv == nil {
			a.recv = recv
			a.notify()
			b.mu.Unlock()
			return nil
		}
		holder, ch := a.recv.pipeline, a.changed
		b.mu.Unlock()
		if !warned {
			log.Warn("address already bound by another pipeline; waiting for it to be released", "address", name, "holder", holder)
			warned = true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// unlisten releases the address: at once, or, after Shutdown, once no
// pipeline sends to it any more (or abort is closed). It returns after the
// deliveries in progress have finished.
func (b *Bus) unlisten(name string, recv *busRecv, abort <-chan struct{}) {
	b.mu.Lock()
	a := b.addr(name)
	for b.blockOnUnlisten && a.senders > 0 {
		ch := a.changed
		b.mu.Unlock()
		aborted := false
		select {
		case <-ch:
		case <-abort:
			aborted = true
		}
		b.mu.Lock()
		if aborted {
			break
		}
	}
	if a.recv == recv {
		a.recv = nil
		a.notify()
	}
	b.mu.Unlock()
	recv.inflight.Wait()
}

// register counts a running pipeline as a sender to each address, and
// returns the function that takes it back.
func (b *Bus) register(names []string) func() {
	b.mu.Lock()
	for _, n := range names {
		a := b.addr(n)
		a.senders++
		a.notify()
	}
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		for _, n := range names {
			a := b.addr(n)
			a.senders--
			a.notify()
		}
		b.mu.Unlock()
	}
}

// deliver hands copies of events to the address's listener once. It returns
// how many the receiving queue accepted, and errUnavailable or the receiving
// pipeline's error when not all. wait is closed at the address's next
// change, for a caller that retries.
func (b *Bus) deliver(name string, events []*event.Event) (n int, wait <-chan struct{}, err error) {
	b.mu.Lock()
	a := b.addr(name)
	recv, wait := a.recv, a.changed
	if recv != nil {
		recv.inflight.Add(1)
	}
	b.mu.Unlock()
	if recv == nil {
		return 0, wait, errUnavailable
	}
	defer recv.inflight.Done()
	copies := make([]*event.Event, len(events))
	for i, e := range events {
		copies[i] = e.Copy()
	}
	n, err = recv.deliver(copies)
	return n, wait, err
}

// BusPort is a plugin's access to the process's Bus (Resources.Bus). A
// plugin declares in its constructor the addresses it listens on or sends
// to, which lets `pipeline check` see every pipeline's addresses together
// and lets the engine count a pipeline as a sender while it runs.
type BusPort struct {
	pl   *Pipeline
	body hcl.Body
	log  *slog.Logger
}

// busEndpoint is one address a plugin listens on or sends to.
type busEndpoint struct {
	address string
	listen  bool
	ensure  bool // sends: ensure_delivery
	rng     hcl.Range
}

// Listen declares that the plugin listens on address (given by the option
// named option, which diagnostics point at) and returns the listener to run.
func (p *BusPort) Listen(option, address string) *BusListener {
	p.pl.busEndpoints = append(p.pl.busEndpoints, busEndpoint{address: address, listen: true,
		rng: attrRange(p.body, option)})
	return &BusListener{pl: p.pl, address: address, log: p.log}
}

// Sender declares that the plugin sends to addresses (given by option) and
// returns the sender. With ensureDelivery, a send to an address nothing
// listens on waits until a pipeline listens there; without, those events
// are dropped, logged and counted, as Logstash's ensure_delivery => false.
func (p *BusPort) Sender(option string, addresses []string, ensureDelivery bool) *BusSender {
	rng := attrRange(p.body, option)
	for _, a := range addresses {
		p.pl.busEndpoints = append(p.pl.busEndpoints, busEndpoint{address: a, ensure: ensureDelivery, rng: rng})
	}
	s := &BusSender{pl: p.pl, addresses: addresses, ensure: ensureDelivery, log: p.log}
	p.pl.busSenders = append(p.pl.busSenders, s)
	return s
}

// BusListener receives what pipeline outputs send to one address.
type BusListener struct {
	pl      *Pipeline
	address string
	log     *slog.Logger
}

// Run listens on the address and emits what arrives, until ctx is done; it
// then stops listening (see Bus.Shutdown) and returns once the deliveries in
// progress have been emitted. Each delivery is emitted in batches of at most
// the pipeline's batch size, without an Ack: the sender's batch is
// acknowledged once emit has returned, that is once this pipeline's queue
// holds the events.
func (l *BusListener) Run(ctx context.Context, emit EmitFunc) error {
	size := l.pl.settings.BatchSize
	recv := &busRecv{pipeline: l.pl.name, deliver: func(evs []*event.Event) (int, error) {
		n := 0
		for len(evs) > 0 {
			k := min(len(evs), size)
			if err := emit(Batch{Events: evs[:k:k]}); err != nil {
				return n, err
			}
			n += k
			evs = evs[k:]
		}
		return n, nil
	}}
	bus := l.pl.settings.Bus
	if err := bus.listen(ctx, l.address, recv, l.log); err != nil {
		return nil // stopped before the address was free
	}
	l.log.Info("listening", "address", l.address)
	<-ctx.Done()
	bus.unlisten(l.address, recv, l.pl.abort)
	return nil
}

// BusSender sends events to addresses.
type BusSender struct {
	pl        *Pipeline
	addresses []string
	ensure    bool
	log       *slog.Logger
	dropped   atomic.Int64
}

// A send waiting for its address logs after busFirstLog, then every
// busRetryLog.
const (
	busFirstLog = time.Second
	busRetryLog = 30 * time.Second
)

// Send hands a copy of events (with @metadata) to every address in turn
// and returns once each receiving pipeline's queue accepted them. With
// ensure_delivery it waits while an address has no listener (a downstream
// pipeline starting or being reloaded) or its listener stops before taking
// all; it returns ctx's error if ctx ends first. Without ensure_delivery
// what an address does not take is dropped, logged and counted.
func (s *BusSender) Send(ctx context.Context, events []*event.Event) error {
	bus := s.pl.settings.Bus
	for _, addr := range s.addresses {
		rest := events
		var lastLog, waitSince time.Time
		for len(rest) > 0 {
			n, wait, err := bus.deliver(addr, rest)
			rest = rest[n:]
			if err == nil {
				break
			}
			if !s.ensure {
				s.dropped.Add(int64(len(rest)))
				s.log.Warn("events dropped: the address did not take them and ensure_delivery is false",
					"address", addr, "events", len(rest), "err", err, "dropped_total", s.dropped.Load())
				break
			}
			if waitSince.IsZero() {
				waitSince = time.Now()
			}
			// Pipelines start side by side, so a sender often waits a
			// moment for its receiver: only a longer wait is worth a line.
			d := time.Since(waitSince)
			if d >= busFirstLog && time.Since(lastLog) >= busRetryLog {
				lastLog = time.Now()
				s.log.Warn("cannot send to the address; waiting for a pipeline to listen on it (ensure_delivery)",
					"address", addr, "events", len(rest), "waited", d.Round(time.Millisecond), "err", err)
			}
			next := busFirstLog - d
			if !lastLog.IsZero() {
				next = busRetryLog - time.Since(lastLog)
			}
			remind := time.NewTimer(max(next, 0) + time.Millisecond)
			select {
			case <-wait:
			case <-remind.C:
			case <-ctx.Done():
				remind.Stop()
				return fmt.Errorf("pipeline output: sending to %q: %w", addr, ctx.Err())
			}
			remind.Stop()
		}
	}
	return nil
}

// Dropped returns how many events were dropped because ensure_delivery is
// false and their address did not take them.
func (s *BusSender) Dropped() int64 { return s.dropped.Load() }

// registerSenders counts the pipeline as a sender to its addresses while it
// runs; the returned function takes that back once its outputs are closed.
func (p *Pipeline) registerSenders() func() {
	var names []string
	for _, s := range p.busSenders {
		names = append(names, s.addresses...)
	}
	if len(names) == 0 {
		return func() {}
	}
	return p.settings.Bus.register(names)
}

// busWhere is the pipeline and plugin listening on an address.
type busWhere struct {
	pipeline string
	ep       busEndpoint
}

// CheckBus reports what is wrong between the pipelines of one configuration
// that pass events through the bus: an address two `pipeline` inputs listen
// on is an error (Logstash refuses it: "Addresses must be globally unique
// across pipelines"); a `send_to` address no pipeline listens on is a warning
// (Logstash accepts it, and its output then blocks until a pipeline listens
// there, or drops the events with ensure_delivery => false); so are
// pipelines that send to each other in a loop.
func CheckBus(pipelines []*Pipeline) hcl.Diagnostics {
	listeners := map[string]busWhere{}
	var diags hcl.Diagnostics
	for _, p := range pipelines {
		for _, ep := range p.busEndpoints {
			if !ep.listen {
				continue
			}
			if first, dup := listeners[ep.address]; dup {
				rng := ep.rng
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Address already bound",
					Detail: fmt.Sprintf("Pipeline %q already listens on address %q (%s); addresses must be unique across pipelines, as in Logstash.",
						first.pipeline, ep.address, first.ep.rng.String()),
					Subject: &rng})
				continue
			}
			listeners[ep.address] = busWhere{p.name, ep}
		}
	}
	known := make([]string, 0, len(listeners))
	for a := range listeners {
		known = append(known, a)
	}
	sort.Strings(known)
	for _, p := range pipelines {
		for _, ep := range p.busEndpoints {
			if ep.listen {
				continue
			}
			if _, ok := listeners[ep.address]; ok {
				continue
			}
			what := "with ensure_delivery (the default) its output blocks, and its pipeline with it, until a pipeline listening there is added"
			if !ep.ensure {
				what = "with ensure_delivery false, the events sent there are dropped (logged and counted)"
			}
			list := "no pipeline listens on any address"
			if len(known) > 0 {
				list = "addresses listened on: " + strings.Join(known, ", ")
			}
			rng := ep.rng
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "No pipeline listens on this address",
				Detail: fmt.Sprintf("Pipeline %q sends to address %q, which no pipeline input of this configuration listens on: %s.%s (%s.)",
					p.name, ep.address, what, suggest(ep.address, known), list),
				Subject: &rng})
		}
	}
	return append(diags, checkCycles(pipelines, listeners)...)
}

// checkCycles warns about pipelines that send, through the bus, to
// themselves or to one another in a loop: Logstash's documentation asks to
// avoid cycles because such pipelines cannot stop cleanly (each waits for
// the other to drain first; a second signal aborts them).
func checkCycles(pipelines []*Pipeline, listeners map[string]busWhere) hcl.Diagnostics {
	type edge struct {
		to string
		ep busEndpoint
	}
	next := map[string][]edge{}
	for _, p := range pipelines {
		for _, ep := range p.busEndpoints {
			if l, ok := listeners[ep.address]; ok && !ep.listen {
				next[p.name] = append(next[p.name], edge{l.pipeline, ep})
			}
		}
	}
	var diags hcl.Diagnostics
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(name string)
	visit = func(name string) {
		state[name] = onPath
		path = append(path, name)
		for _, e := range next[name] {
			switch state[e.to] {
			case unseen:
				visit(e.to)
			case onPath:
				// e closes a loop: from e.to along path back to name.
				i := len(path) - 1
				for path[i] != e.to {
					i--
				}
				loop := append(append([]string(nil), path[i:]...), e.to)
				rng := e.ep.rng
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Pipelines send to each other in a loop",
					Detail: fmt.Sprintf("Events can go round %s (address %q closes the loop). Such pipelines cannot stop cleanly, each waiting for the other to drain; Logstash's documentation asks to avoid cycles.",
						strings.Join(loop, " → "), e.ep.address),
					Subject: &rng})
			}
		}
		path = path[:len(path)-1]
		state[name] = done
	}
	for _, p := range pipelines {
		if state[p.name] == unseen {
			visit(p.name)
		}
	}
	return diags
}
