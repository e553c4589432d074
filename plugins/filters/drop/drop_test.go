package drop

import (
	"context"
	"testing"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

func TestDrop(t *testing.T) {
	tests := []struct {
		opts     string
		min, max int // events kept out of 10000
	}{
		{"", 0, 0},
		{"percentage = 100", 0, 0},
		{"percentage = 0", 10000, 10000},
		{"percentage = 50", 4500, 5500},
		{"percentage = 12.5", 8450, 9050},
	}
	for _, tc := range tests {
		t.Run(tc.opts, func(t *testing.T) {
			f, err := New(plugintest.NewOptions[Options](t, tc.opts), engine.Resources{})
			if err != nil {
				t.Fatal(err)
			}
			kept := 0
			out := make([]*event.Event, 0, 1)
			for range 10000 {
				e := event.NewMessage("m")
				got, err := f.Filter(context.Background(), e, out[:0])
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case len(got) == 1 && got[0] == e:
					kept++
				case len(got) != 0:
					t.Fatalf("Filter returned %d events", len(got))
				}
			}
			if kept < tc.min || kept > tc.max {
				t.Errorf("kept %d of 10000; want %d..%d", kept, tc.min, tc.max)
			}
		})
	}
}

func TestFilterAppends(t *testing.T) {
	f, _ := New(Options{Percentage: 0}, engine.Resources{})
	prev := event.NewMessage("earlier")
	e := event.NewMessage("m")
	got, _ := f.Filter(context.Background(), e, []*event.Event{prev})
	if len(got) != 2 || got[0] != prev || got[1] != e {
		t.Errorf("Filter did not append to out: %v", got)
	}
}

func TestValidate(t *testing.T) {
	for _, p := range []float64{-1, 100.5} {
		o := Options{Percentage: p}
		if err := o.Validate(); err == nil {
			t.Errorf("percentage %v accepted", p)
		}
	}
}

// Through the real engine: dropped events are acknowledged and the pipeline
// completes.
func TestEngine(t *testing.T) {
	in := []*event.Event{event.NewMessage("a"), event.NewMessage("b")}
	if out := plugintest.Filter(t, "drop", "", in...); len(out) != 0 {
		t.Errorf("drop passed on %d events", len(out))
	}
	in = []*event.Event{event.NewMessage("a"), event.NewMessage("b")}
	if out := plugintest.Filter(t, "drop", "percentage = 0", in...); len(out) != 2 {
		t.Errorf("drop with percentage 0 passed on %d events; want 2", len(out))
	}
}
