package redis

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/testkit/redistest"
)

// panicOn is a go-redis hook that panics, in the goroutine sending it, on
// every run of one Lua script (EVALSHA or EVAL): a bug in code the input's
// background goroutines call.
type panicOn struct {
	script *goredis.Script
	hits   atomic.Int64
}

func (h *panicOn) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *panicOn) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

func (h *panicOn) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if args := cmd.Args(); len(args) > 1 {
			s, _ := args[1].(string)
			sum := sha1.Sum([]byte(s))
			if (cmd.Name() == "evalsha" && s == h.script.Hash()) || (cmd.Name() == "eval" && hex.EncodeToString(sum[:]) == h.script.Hash()) {
				h.hits.Add(1)
				panic("injected panic in " + cmd.Name())
			}
		}
		return next(ctx, cmd)
	}
}

// A panic in the lease renewer, a goroutine of the input's own, is recovered,
// counted and logged; the reader stops with it as its error, and nothing is
// lost or taken as acknowledged: what was read stays in Redis and the next
// run reads it all.
func TestLeaseRenewerPanicRecovered(t *testing.T) {
	defer func(ttl time.Duration) { leaseTTL = ttl }(leaseTTL)
	leaseTTL = 600 * time.Millisecond // renewed every 200 ms
	for _, mode := range []struct{ name, opts, processing string }{
		{"processing_list", "consumer_id = \"c1\"", "q:processing:c1"},
		{"exclusive", "list_mode = \"exclusive\"", ""},
	} {
		t.Run(mode.name, func(t *testing.T) {
			srv := redistest.Start(t)
			rc := client(t, srv)
			fill(t, rc, "q", 0, 300)
			opts := "key = \"q\"\ndata_type = \"list\"\nbatch_count = 100\n" + mode.opts
			in := newInput(t, srv, opts)
			in.ackWait = 100 * time.Millisecond
			hook := &panicOn{script: renewScript}
			in.testHook = hook
			first := newCollector()
			first.noAck = true
			before := engine.PanicsRecovered()
			done := make(chan error, 1)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { done <- in.Run(ctx, first.emit) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("the reader kept running 20 s after its lease renewer panicked")
			}
			var perr *engine.PanicError
			if !errors.As(err, &perr) || hook.hits.Load() == 0 {
				t.Fatalf("Run = %v after %d renewer panics; want the recovered panic", err, hook.hits.Load())
			}
			if n := engine.PanicsRecovered() - before; n < 1 {
				t.Errorf("%d panics counted; want the renewer's", n)
			}
			held := llen(t, rc, "q")
			if mode.processing != "" {
				held += llen(t, rc, mode.processing)
			}
			if held != 300 {
				t.Fatalf("Redis holds %d of the 300 elements after the panic; nothing was acknowledged", held)
			}
			second := newCollector()
			run(t, newInput(t, srv, opts), second, 300)
			if got := seqs(t, second.events); len(got) != 300 || got[0] != 0 || got[299] != 299 {
				t.Fatalf("the next run got %d events; want all 300 in order", len(got))
			}
		})
	}
}

// A panic in the processing list's trimmer, which runs acknowledgements'
// trims on a goroutine of its own, is recovered, counted and logged, and
// fails safe as a failed trim does: the reader keeps running, and the
// acknowledged elements stay in the processing list (emitted again after a
// restart, never lost).
func TestTrimmerPanicRecovered(t *testing.T) {
	srv := redistest.Start(t)
	rc := client(t, srv)
	fill(t, rc, "q", 0, 300)
	in := newInput(t, srv, "key = \"q\"\ndata_type = \"list\"\nbatch_count = 100\nconsumer_id = \"c1\"")
	in.ackWait = 500 * time.Millisecond
	hook := &panicOn{script: trimScript}
	in.testHook = hook
	before := engine.PanicsRecovered()
	c := newCollector()
	run(t, in, c, 300) // fails if Run returns an error
	if hook.hits.Load() == 0 {
		t.Fatal("no trim was attempted")
	}
	if n := engine.PanicsRecovered() - before; n < hook.hits.Load() {
		t.Errorf("%d panics counted; want the trimmer's %d", n, hook.hits.Load())
	}
	if held := llen(t, rc, "q") + llen(t, rc, "q:processing:c1"); held != 300 {
		t.Fatalf("Redis holds %d of the 300 elements; a trim that panicked removed some", held)
	}
}
