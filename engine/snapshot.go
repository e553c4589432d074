package engine

import (
	"cmp"
	"time"
)

// Snapshot is a copy of a pipeline's counters, for monitoring. Each counter is
// read atomically, but not all at one instant: figures of a running pipeline
// may be a batch apart.
type Snapshot struct {
	Name       string
	Workers    int
	BatchSize  int
	BatchDelay time.Duration
	// Events: In were emitted by inputs, Filtered left the filter stage, Out
	// were delivered (one per output).
	In, Filtered, Out         int64
	Dropped, Unrouted, Failed int64
	// UnroutedChains counts the Unrouted events by the condition chain of
	// the output section they went through (`if [type] == 'x' → false;
	// else if … → false`); at most 16 chains, the rest under "(other)".
	UnroutedChains map[string]int64
	// FilterFailed: filter calls that failed on an event (tagged it with
	// their tag_on_failure); each filter's count is its Failed.
	FilterFailed                     int64
	DeadLettered, Retries, AcksFired int64
	// Panics were recovered in the pipeline's filters, conditions, outputs,
	// workers and inputs' Run.
	Panics int64
	// QueueWriteErrors and QueueReadErrors are persisted-queue writes and
	// reads that failed (and were retried); QueueFailing is true while a
	// write keeps failing (the inputs wait).
	QueueWriteErrors, QueueReadErrors int64
	QueueFailing                      bool
	// Duration is the time workers spent on batches (filters, routing);
	// QueuePush the time inputs waited to hand batches to the queue.
	Duration, QueuePush time.Duration
	// QueueType is "memory" or "persisted". QueueEvents are the events
	// waiting for a worker (memory) or not yet acknowledged (persisted);
	// QueueBytes and QueueMaxBytes are the persisted queue's size and bound.
	QueueType                              string
	QueueEvents, QueueBytes, QueueMaxBytes int64
	// QueueOldestAge is how long the oldest event in the queue has waited:
	// memory, since its input pushed it (a batch still waiting for room
	// counts); persisted, since the oldest record not yet acknowledged was
	// appended, or since the queue was opened for records left by a
	// previous run (a lower bound). 0 when the queue is empty.
	QueueOldestAge time.Duration
	// DeadLetterQueue says whether a dead letter queue is configured.
	DeadLetterQueue          bool
	Inputs, Filters, Outputs []PluginSnapshot
	// Health is green, yellow or red, with the reasons of anything but green.
	Health Health
}

// Health statuses, worst last, as in Logstash's health report.
const (
	HealthGreen  = "green"
	HealthYellow = "yellow"
	HealthRed    = "red"
)

// Health is a pipeline's status: red when an output has failed for
// Settings.StallAfter or longer (the pipeline is stalled) or persisted-queue
// writes keep failing; yellow while an output is retrying for less than that,
// or the persisted queue is full (the inputs wait); green otherwise.
type Health struct {
	Status  string
	Reasons []string
}

// Worse reports whether status a is worse than b.
func Worse(a, b string) bool { return healthRank(a) > healthRank(b) }

func healthRank(s string) int {
	switch s {
	case HealthRed:
		return 2
	case HealthYellow:
		return 1
	}
	return 0
}

func (h *Health) raise(status, reason string) {
	if Worse(status, h.Status) {
		h.Status = status
	}
	h.Reasons = append(h.Reasons, reason)
}

// PluginSnapshot are one plugin's counters. Inputs count only Out (events
// emitted) and Duration. A filter costing over 2 µs a call is timed on every
// call; a cheaper one on one call in 32, and its Duration is an estimate
// (DurationEstimated).
type PluginSnapshot struct {
	ID, Type string
	In, Out  int64
	// Dropped: events a filter dropped. Failed: for a filter, events it
	// failed on (tagged with its tag_on_failure and passed on), counted
	// in FailureTags by the last tag they then carried; for an output,
	// events it refused for good without a dead letter queue
	// (DeadLettered: with one).
	Dropped, Failed, DeadLettered int64
	FailureTags                   map[string]int64
	// FailureExamples (filters): the last events it failed on, at most one
	// a second, oldest first.
	FailureExamples []FailureExample
	// Duration: time spent in the filter, or in the output's Write calls, or
	// for an input the time it waited to hand batches to the queue.
	Duration time.Duration
	// DurationEstimated: part of Duration was extrapolated from sampled calls.
	DurationEstimated bool
	// Counters are the plugin's own (see Counted), nil for most plugins.
	Counters []Counter
	// Details are the plugin's own (see Detailed), nil for most plugins.
	Details map[string]any
	// Outputs only: InFlight events handed to the output and not done with;
	// FailingFor how long its current failure lasts (0: not failing) and
	// LastError that failure; BatchAge how long the batch in hand has been
	// in delivery.
	InFlight   int64
	FailingFor time.Duration
	BatchAge   time.Duration
	LastError  string
}

// detailed returns p's own details, if it has any.
func detailed(p any) map[string]any {
	if d, ok := p.(Detailed); ok {
		return d.Details()
	}
	return nil
}

// counted returns p's own counters, if it keeps any.
func counted(p any) []Counter {
	if c, ok := p.(Counted); ok {
		return c.Counters()
	}
	return nil
}

// Snapshot returns the pipeline's counters.
func (p *Pipeline) Snapshot() Snapshot {
	st := &p.stats
	s := Snapshot{
		Name: p.name, Workers: p.settings.Workers, BatchSize: p.settings.BatchSize, BatchDelay: p.settings.BatchDelay,
		In: st.In.Load(), Filtered: st.Filtered.Load(), Out: st.Out.Load(),
		Dropped: st.Dropped.Load(), Unrouted: st.Unrouted.Load(), UnroutedChains: p.unroutedSnapshot(), Failed: st.Failed.Load(), FilterFailed: st.FilterFailed.Load(),
		DeadLettered: st.DeadLettered.Load(), Retries: st.Retries.Load(), AcksFired: st.AcksFired.Load(),
		Panics:           st.Panics.Load(),
		QueueWriteErrors: st.QueueWriteErrors.Load(), QueueReadErrors: st.QueueReadErrors.Load(),
		QueueFailing: p.queueFailing.Load(),
		Duration:     time.Duration(p.workNanos.Load()), QueuePush: time.Duration(p.pushNanos.Load()),
		QueueType: "memory", QueueEvents: max(p.queued.Load(), 0), DeadLetterQueue: p.settings.DeadLetter != nil,
	}
	now := time.Now()
	if t := p.oldestWaiting(); t != 0 {
		s.QueueOldestAge = max(now.Sub(time.Unix(0, t)), 0)
	}
	if p.settings.Queue.persisted() {
		s.QueueType = "persisted"
		s.QueueOldestAge = 0
		if q := p.pqView.Load(); q != nil {
			s.QueueEvents, s.QueueBytes = q.Len() // Len is safe after Close too
			if t, ok := q.OldestAppend(); ok {
				s.QueueOldestAge = max(now.Sub(t), 0)
			}
		}
		s.QueueMaxBytes = cmp.Or(p.settings.Queue.MaxBytes, DefaultQueueMaxBytes)
	}
	for _, u := range p.inputs {
		s.Inputs = append(s.Inputs, PluginSnapshot{ID: u.id, Type: u.plugin, Out: u.out.Load(), Duration: time.Duration(u.pushNanos.Load()),
			Counters: counted(u.in), Details: detailed(u.in)})
	}
	for _, f := range p.filterList {
		ps := f.counters.snapshot(f.id, f.typ)
		ps.Counters = counted(f.f)
		ps.Details = detailed(f.f)
		ps.FailureTags = f.failureTags()
		ps.FailureExamples = f.failureExamples()
		s.Filters = append(s.Filters, ps)
	}
	s.Health.Status = HealthGreen
	if s.QueueFailing {
		s.Health.raise(HealthRed, "persisted queue writes are failing; the inputs wait")
	} else if s.QueueType == "persisted" && s.QueueMaxBytes > 0 && s.QueueBytes >= s.QueueMaxBytes {
		s.Health.raise(HealthYellow, "persisted queue is full; the inputs wait")
	}
	for _, o := range p.outputs {
		ps := o.counters.snapshot(o.id, o.typ)
		ps.Counters = counted(o.out)
		ps.Details = detailed(o.out)
		ps.InFlight = max(o.inFlight.Load(), 0)
		if t := o.busySince.Load(); t != 0 {
			ps.BatchAge = now.Sub(time.Unix(0, t))
		}
		if t := o.failingSince.Load(); t != 0 {
			ps.FailingFor = now.Sub(time.Unix(0, t))
			if e := o.lastErr.Load(); e != nil {
				ps.LastError = *e
			}
			name := "output " + o.typ + " (id " + o.id + ")"
			if ps.FailingFor >= p.settings.StallAfter {
				s.Health.raise(HealthRed, name+" stalled: failing for "+ps.FailingFor.Round(time.Second).String())
			} else {
				s.Health.raise(HealthYellow, name+" is retrying")
			}
		}
		s.Outputs = append(s.Outputs, ps)
	}
	return s
}

func (c *counters) snapshot(id, typ string) PluginSnapshot {
	d, estimated := c.duration()
	return PluginSnapshot{ID: id, Type: typ, In: c.in.Load(), Out: c.out.Load(), Dropped: c.dropped.Load(),
		Failed: c.failed.Load(), DeadLettered: c.deadLettered.Load(), Duration: d, DurationEstimated: estimated}
}

// duration is the measured time plus the sampled calls' time scaled to all
// the calls made while sampling (in float: nanoseconds × calls overflows an
// int64 after a few days of a busy filter).
func (c *counters) duration() (time.Duration, bool) {
	d := c.nanos.Load()
	calls, timed := c.sampledCalls.Load(), c.sampledTimed.Load()
	if calls == 0 {
		return time.Duration(d), false
	}
	if timed > 0 {
		d += int64(float64(c.sampledNanos.Load()) * float64(calls) / float64(timed))
	}
	return time.Duration(d), true
}
