package correlate

import (
	"context"
	"errors"
	"fmt"
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
