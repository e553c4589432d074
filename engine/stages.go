package engine

import (
	"context"
	"time"

	"github.com/pipelined/pipeline/engine/event"
)

// BatchFilter is implemented by a filter whose cost is per call rather than
// per event (the ruby filter's round trip to its co-process). The engine then
// hands it, in one call, every event of a worker's batch that reaches it,
// instead of one at a time.
//
// FilterBatch returns one result per event of events, in order: what Filter
// would have returned for that event (Out holds the events to pass on, with
// the same rules as Filter's out; Err the same meaning as Filter's error).
// The events that come out of the pipeline, and their order, are the same as
// if Filter had been called for each event: the engine runs the filters of a
// pipeline holding a BatchFilter stage by stage over the batch (conditionals
// split it and put it back together in order), which is also how Logstash
// runs its filters. Filter must still work on its own (tests, flushes).
type BatchFilter interface {
	Filter
	FilterBatch(ctx context.Context, events []*event.Event) []FilterResult
}

// BatchResultsDone is implemented by a BatchFilter that reuses the slices
// of results it returns (a filter called for every batch of every worker,
// where the slice would be most of what it allocates): the engine calls
// ResultsDone with what FilterBatch returned once it has read it, and
// keeps nothing of it (the events in Out are the engine's, not the slices).
type BatchResultsDone interface {
	ResultsDone(res []FilterResult)
}

// FilterResult is what a BatchFilter made of one event.
type FilterResult struct {
	Out []*event.Event
	Err error
}

// Flusher is implemented by a filter that makes events on a timer, e.g. the
// aggregate filter pushing the maps of tasks that timed out (Logstash's
// periodic_flush). The engine calls Flush every Settings.FlushInterval (5 s by
// default, as Logstash) from a worker, and once more with final set when the
// pipeline drains, after the last Filter call and before Close. Flush appends
// the events to pass on to out: they go through the filters that follow this
// one (and the conditionals around it, as the filter's own output would) and
// to the outputs, without the common options (add_field …, as Logstash) and
// without acknowledgement. Flush may run concurrently with Filter when the
// pipeline has more than one worker.
type Flusher interface {
	Flush(ctx context.Context, final bool, out []*event.Event) []*event.Event
}

// NotThreadsafe is implemented by a filter that must see a pipeline's events
// one worker at a time, in order (the aggregate filter, whose docs require
// pipeline.workers 1). As Logstash does for filters that are not thread-safe:
// when the pipeline's workers were not set, it runs one worker and logs
// "Defaulting pipeline worker threads to 1 …"; when they were set above one,
// the workers run as set and `check` warns ("Manual override …").
type NotThreadsafe interface {
	NotThreadsafe()
}

// NewEventsUnmatched is implemented by a filter whose new events (those it
// appends beside the event it was given) must not get the common options
// (add_field, add_tag, remove_field, remove_tag): in Logstash the events a
// filter yields are not passed to filter_matched unless the plugin does it,
// as the aggregate filter's pushed maps.
type NewEventsUnmatched interface {
	NewEventsUnmatched()
}

// DefaultFlushInterval is Logstash's periodic flush interval.
const DefaultFlushInterval = 5 * time.Second

// runStaged runs nodes over a batch stage by stage: each filter sees all the
// events that reach it in one go (one FilterBatch call for a BatchFilter).
// own[i] says which input event events[i] comes from; the result keeps the
// order of a depth-first run (runOne), with the owners of what comes out.
func (p *Pipeline) runStaged(w *workerMetrics, nodes []node, events []*event.Event, own []int32) ([]*event.Event, []int32) {
	for _, nd := range nodes {
		if len(events) == 0 {
			break
		}
		switch n := nd.(type) {
		case *filterNode:
			events, own = n.applyStage(&w.filters[n.index], events, own)
		case *ifNode:
			if n.staged {
				events, own = p.ifStage(w, n, events, own)
				continue
			}
			out := make([]*event.Event, 0, len(events))
			o := make([]int32, 0, len(events))
			for j, e := range events {
				start := len(out)
				out = p.runOne(w, n.pick(e), e, out)
				for range len(out) - start {
					o = append(o, own[j])
				}
			}
			events, own = out, o
		case *routeNode:
			// Outputs are never among filters.
		}
	}
	return events, own
}

// ifStage splits events by the branch they take, runs each branch over its
// part and puts the results back in the events' order.
func (p *Pipeline) ifStage(w *workerMetrics, n *ifNode, events []*event.Event, own []int32) ([]*event.Event, []int32) {
	nb := len(n.branches) + 1
	pick := make([]int, len(events))
	parts := make([][]*event.Event, nb)
	for j, e := range events {
		b := len(n.branches)
		for i, br := range n.branches {
			if n.test(br.cond, e) {
				b = i
				break
			}
		}
		pick[j] = b
		parts[b] = append(parts[b], e)
	}
	res := make([][]*event.Event, nb)
	resOwn := make([][]int32, nb)
	for b, part := range parts {
		if len(part) == 0 {
			continue
		}
		body := n.els
		if b < len(n.branches) {
			body = n.branches[b].body
		}
		pos := make([]int32, len(part))
		for i := range pos {
			pos[i] = int32(i)
		}
		res[b], resOwn[b] = p.runStaged(w, body, part, pos)
	}
	out := make([]*event.Event, 0, len(events))
	o := make([]int32, 0, len(events))
	next := make([]int32, nb) // position in each part of the next event taking it
	ptr := make([]int, nb)    // next result of each part
	for j := range events {
		b := pick[j]
		for ptr[b] < len(res[b]) && resOwn[b][ptr[b]] == next[b] {
			out = append(out, res[b][ptr[b]])
			o = append(o, own[j])
			ptr[b]++
		}
		next[b]++
	}
	return out, o
}

// applyStage runs the filter over every event of a stage.
func (n *filterNode) applyStage(acc *filterAcc, events []*event.Event, own []int32) ([]*event.Event, []int32) {
	out := make([]*event.Event, 0, len(events))
	o := make([]int32, 0, len(events))
	if n.batch == nil {
		for j, e := range events {
			start := len(out)
			out = n.applyOne(acc, e, out)
			for range len(out) - start {
				o = append(o, own[j])
			}
		}
		return out, o
	}
	t0 := time.Now()
	res := n.callBatch(events)
	acc.nanos += int64(time.Since(t0))
	acc.timed += int64(len(events))
	for j, e := range events {
		start := len(out)
		var r FilterResult
		if j < len(res) {
			r = res[j]
		} else {
			r = FilterResult{Out: []*event.Event{e}, Err: errFilterPanic}
		}
		out = append(out, r.Out...)
		out = n.settle(acc, e, out, start, r.Err)
		for range len(out) - start {
			o = append(o, own[j])
		}
	}
	if n.resultsDone != nil {
		n.resultsDone.ResultsDone(res)
	}
	return out, o
}

// callBatch calls FilterBatch; a panic passes every event on unchanged.
func (n *filterNode) callBatch(events []*event.Event) (res []FilterResult) {
	defer func() {
		if r := recover(); r != nil {
			Recovered(r, n.log, "filter "+n.typ+"/"+n.id+" (batch passed on unchanged)")
			n.pl.stats.Panics.Add(1)
			res = make([]FilterResult, len(events))
			for i, e := range events {
				res[i] = FilterResult{Out: []*event.Event{e}, Err: errFilterPanic}
			}
		}
	}()
	return n.batch.FilterBatch(context.Background(), events)
}

// flusherNode is a filter that flushes, with the node lists that follow it
// (innermost first): where its flushed events go.
type flusherNode struct {
	n    *filterNode
	f    Flusher
	rest [][]node
}

// findFlushers lists the flushing filters of nodes in build order, each with
// what follows it.
func findFlushers(nodes []node, after [][]node, out []flusherNode) []flusherNode {
	for i, nd := range nodes {
		rest := append([][]node{nodes[i+1:]}, after...)
		switch n := nd.(type) {
		case *filterNode:
			if f, ok := n.f.(Flusher); ok {
				out = append(out, flusherNode{n: n, f: f, rest: rest})
			}
		case *ifNode:
			for _, br := range n.branches {
				out = findFlushers(br.body, rest, out)
			}
			out = findFlushers(n.els, rest, out)
		}
	}
	return out
}

// flushFilters calls every flushing filter and routes what they made; it
// returns false if the pipeline was aborted.
func (p *Pipeline) flushFilters(w *workerMetrics, final bool) bool {
	var all []*event.Event
	for _, fl := range p.flushers {
		evs := fl.call(final)
		if len(evs) == 0 {
			continue
		}
		fl.n.counters.out.Add(int64(len(evs)))
		for _, rest := range fl.rest {
			evs = p.runNodes(w, rest, evs)
		}
		all = append(all, evs...)
	}
	w.flush(p)
	p.stats.Filtered.Add(int64(len(all)))
	return p.route(all)
}

func (fl flusherNode) call(final bool) (out []*event.Event) {
	n := fl.n
	defer func() {
		if perr := Recovered(recover(), n.log, "filter "+n.typ+"/"+n.id+" flush"); perr != nil {
			n.pl.stats.Panics.Add(1)
			out = nil
		}
	}()
	return fl.f.Flush(context.Background(), final, nil)
}

// ticker asks a worker to flush the filters every interval until stop.
func (p *Pipeline) ticker(stop <-chan struct{}) {
	t := time.NewTicker(p.settings.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			select {
			case p.queue <- chunk{tick: true}:
			case <-stop:
				return
			case <-p.abort:
				return
			}
		case <-stop:
			return
		case <-p.abort:
			return
		}
	}
}
