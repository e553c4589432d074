package correlate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// TestFilterBatchAsFilter: FilterBatch, over batches of random sizes, makes
// for every event exactly what Filter makes called event by event (the
// same events out, alerts alike field by field, the same marking), for
// every rule type, with windows ending, late events and eviction.
func TestFilterBatchAsFilter(t *testing.T) {
	rules := map[string]func(o *Options){
		"Single":              func(o *Options) { o.RuleType, o.Pattern = "Single", "^Accepted" },
		"SingleWithThreshold": func(o *Options) { o.RuleType, o.Window, o.Thresh = "SingleWithThreshold", 30, 3 },
		"SingleWithSuppress":  func(o *Options) { o.RuleType, o.Window = "SingleWithSuppress", 20 },
		"PairWithWindow": func(o *Options) {
			o.RuleType, o.Pattern, o.Pattern2, o.Window, o.CopyFields = "PairWithWindow", "^Failed", "^Accepted", 25, []string{"[user]"}
		},
		"Absence": func(o *Options) { o.RuleType, o.Window = "Absence", 15 },
	}
	msgs := []string{"Failed password for root", "Accepted password", "session opened"}
	for name, set := range rules {
		t.Run(name, func(t *testing.T) {
			mkRule := func() *Filter {
				return mk(t, func(o *Options) {
					set(o)
					o.Key = "%{[user][name]}-%{[source][ip]}"
					o.MaxKeys = 20
				})
			}
			one, batched := mkRule(), mkRule()
			r := rand.New(rand.NewPCG(7, uint64(len(name))))
			var events [2][]*event.Event
			at := 0.0
			for range 3000 {
				at += r.Float64() * 2
				ts := at
				if r.IntN(20) == 0 {
					ts -= 30 // late
				}
				e := event.NewAt(t0.Add(time.Duration(ts * float64(time.Second))))
				_ = e.Set(event.MustRef("message"), msgs[r.IntN(len(msgs))])
				_ = e.Set(event.MustRef("[user][name]"), fmt.Sprint("u", r.IntN(40)))
				_ = e.Set(event.MustRef("[source][ip]"), "10.0.0.1")
				events[0] = append(events[0], e)
				events[1] = append(events[1], e.Copy())
			}
			show := func(out []*event.Event, err error) string {
				s := fmt.Sprint(errors.Is(err, engine.ErrNotApplied), err == nil)
				for _, e := range out {
					s += fmt.Sprintf(" | %v", e.Fields())
				}
				return s
			}
			alerts := 0
			for j := 0; j < len(events[1]); {
				n := min(1+r.IntN(40), len(events[1])-j)
				res := batched.FilterBatch(context.Background(), events[1][j:j+n])
				if len(res) != n {
					t.Fatalf("%d results for %d events", len(res), n)
				}
				for i, x := range res {
					if x.Err != nil && len(x.Out) == 0 {
						x.Out = []*event.Event{events[1][j+i]} // passed on by the engine (engine.Filter)
					}
					out, err := one.Filter(context.Background(), events[0][j+i], nil)
					if got, want := show(x.Out, x.Err), show(out, err); got != want {
						t.Fatalf("event %d: batched %s\none by one %s", j+i, got, want)
					}
					alerts += len(out) - 1
				}
				batched.ResultsDone(res) // reused by the next batch
				j += n
			}
			if alerts == 0 {
				t.Error("no alerts: the comparison proves little")
			}
		})
	}
}

// TestHandoffKeys: rules with one key template, each following the one
// before (Resources.Follows, as the engine builds adjacent filters without
// common options), take over the keys the rule before rendered for a
// batch's events; the events and alerts that come out of the chain are
// those of the same rules rendering every key themselves, with alert
// events (new events the rules before did not see) between the events,
// windows ending and eviction.
func TestHandoffKeys(t *testing.T) {
	rules := []func(o *Options){
		func(o *Options) { o.RuleType, o.Pattern = "Single", "^Accepted" },
		func(o *Options) { o.RuleType, o.Window, o.Thresh = "SingleWithThreshold", 30, 3 },
		func(o *Options) { o.RuleType, o.Window = "SingleWithSuppress", 20 },
		func(o *Options) {
			o.RuleType, o.Pattern, o.Pattern2, o.Window, o.CopyFields = "PairWithWindow", "^Failed", "^Accepted", 25, []string{"[user]"}
		},
		func(o *Options) { o.RuleType, o.Window = "Absence", 15 },
		func(o *Options) { o.RuleType, o.Pattern = "Single", "^session" },
	}
	chain := func(follow bool) []*Filter {
		shared := map[string]any{}
		res := engine.Resources{ID: "rule", Logger: slog.New(slog.DiscardHandler), Shared: func(k string, mk func() any) any {
			if v, ok := shared[k]; ok {
				return v
			}
			shared[k] = mk()
			return shared[k]
		}}
		var fs []*Filter
		for _, set := range rules {
			var o Options
			o.Defaults()
			set(&o)
			o.Key = "%{[user][name]}-%{[source][ip]}"
			o.MaxKeys = 20
			if err := o.Validate(); err != nil {
				t.Fatal(err)
			}
			if follow && len(fs) > 0 {
				res.Follows = fs[len(fs)-1]
			}
			f, err := New(o, res)
			if err != nil {
				t.Fatal(err)
			}
			if follow != (f.prev != nil) && len(fs) > 0 {
				t.Fatalf("rule %d: prev %v", len(fs), f.prev)
			}
			fs = append(fs, f)
		}
		return fs
	}
	fs := [2][]*Filter{chain(false), chain(true)}
	msgs := []string{"Failed password for root", "Accepted password", "session opened"}
	r := rand.New(rand.NewPCG(7, 21))
	var events [2][]*event.Event
	at := 0.0
	for range 3000 {
		at += r.Float64() * 2
		e := event.NewAt(t0.Add(time.Duration(at * float64(time.Second))))
		_ = e.Set(event.MustRef("message"), msgs[r.IntN(len(msgs))])
		_ = e.Set(event.MustRef("[user][name]"), fmt.Sprint("u", r.IntN(40)))
		_ = e.Set(event.MustRef("[source][ip]"), "10.0.0.1")
		events[0] = append(events[0], e)
		events[1] = append(events[1], e.Copy())
	}
	show := func(out []*event.Event) string {
		s := ""
		for _, e := range out {
			s += fmt.Sprintf(" | %v", e.Fields())
		}
		return s
	}
	alerts, taken := 0, 0
	for j := 0; j < len(events[0]); {
		n := min(1+r.IntN(40), len(events[0])-j)
		var outs [2][]*event.Event
		for c := range 2 {
			batch := events[c][j : j+n]
			for i, f := range fs[c] {
				res := f.FilterBatch(context.Background(), batch)
				var next []*event.Event
				for k, x := range res {
					if x.Err != nil && len(x.Out) == 0 {
						next = append(next, batch[k]) // passed on by the engine
					} else {
						next = append(next, x.Out...)
					}
				}
				f.ResultsDone(res)
				if c == 1 && i > 0 {
					if p := len(fs[c][i-1].handoff.pending); p != 0 {
						t.Fatalf("rule %d left %d batches of the rule before untaken", i, p)
					}
					taken++
				}
				batch = next
			}
			outs[c] = batch
		}
		if got, want := show(outs[1]), show(outs[0]); got != want {
			t.Fatalf("batch at %d: keys taken over %s\nrendered %s", j, got, want)
		}
		alerts += len(outs[0]) - n
		j += n
	}
	if alerts == 0 || taken == 0 {
		t.Errorf("%d alerts, %d batches taken over: the comparison proves little", alerts, taken)
	}
	if p := len(fs[1][len(fs[1])-1].handoff.pending); p != 0 || fs[1][len(fs[1])-1].handoff.on {
		t.Errorf("the last rule keeps batches (%d) for no rule", p)
	}
}
