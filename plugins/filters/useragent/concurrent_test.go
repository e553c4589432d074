package useragent_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/filters/useragent"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// Workers share the LRU cache: with a cache smaller than the texts in use,
// entries are evicted while others read them, and every event still gets
// its own text's result.
func TestCacheConcurrent(t *testing.T) {
	f := plugintest.MustNew(t, useragent.New, `source = "message"
lru_cache_size = 3
ecs_compatibility = "disabled"`, engine.Resources{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				v := strconv.Itoa((w + i) % 6)
				out, err := f.Filter(context.Background(), event.NewMessage("curl/"+v+".1.2"), nil)
				if err != nil {
					t.Error(err)
					return
				}
				if got, _ := out[0].Get(event.MustRef("major")); got != v {
					t.Errorf("major = %v, want %s", got, v)
					return
				}
			}
		}(w)
	}
	wg.Wait()
}
