package csv_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/filters/csv"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// Filters run on several workers at once: with autodetect_column_names
// exactly one event (whichever comes first) becomes the header and is
// dropped, and every other row is stored under those names.
func TestAutodetectConcurrent(t *testing.T) {
	f := plugintest.MustNew(t, csv.New, `autodetect_column_names = true`, engine.Resources{})
	var dropped atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				e := event.NewMessage("x,y")
				out, err := f.Filter(context.Background(), e, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if len(out) == 0 {
					dropped.Add(1)
					continue
				}
				if v, _ := out[0].Get(event.MustRef("x")); v != "x" {
					t.Errorf("column x = %v", v)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := dropped.Load(); n != 1 {
		t.Fatalf("%d events dropped as the header, want 1", n)
	}
}
