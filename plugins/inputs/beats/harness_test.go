package beats

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/pipelined/pipeline/engine"
	_ "github.com/pipelined/pipeline/plugins/codecs/plain" // the null output's default codec
	"github.com/pipelined/pipeline/plugins/internal/testkit/inputtest"
	_ "github.com/pipelined/pipeline/plugins/outputs/null"
)

// listenAddrs is told the bound address of an input run outside a pipeline,
// keyed by its id.
var listenAddrs sync.Map // input id → chan net.Addr

// The pipeline harness is inputtest's; beats reports its bound address to
// inputtest through netserver.ListenHook itself.
func init() {
	onListen = func(in *Input, a net.Addr) {
		inputs.Store(a.String(), in)
		if ch, ok := listenAddrs.Load(in.id); ok {
			ch.(chan net.Addr) <- a
		}
	}
}

// harness is one running pipeline: a beats input on 127.0.0.1 and an output.
type harness struct {
	addr string
	sink *inputtest.Sink
	logs *inputtest.LogBuffer
	h    *inputtest.Harness
}

func (h *harness) stop() error { return h.h.Stop() }

// start builds and runs `input "beats"` with the given extra options and the
// sink s (a new one when nil), or output when not empty, through dsl and
// engine.Build as a pipeline file would be.
func start(t testing.TB, inputOpts string, s *inputtest.Sink, output string) *harness {
	t.Helper()
	h := inputtest.Start(t, "beats", inputOpts, inputtest.Options{Sink: s, Workers: 2, Output: output})
	return &harness{addr: h.TCP, sink: h.Sink, logs: h.Logs, h: h}
}

var waitFor = inputtest.WaitFor

// beatEvent is an event as Filebeat sends it.
func beatEvent(seq int) map[string]any {
	return map[string]any{
		"@metadata":  map[string]any{"beat": "filebeat", "type": "_doc", "version": "7.17.28"},
		"@timestamp": "2026-11-24T03:28:57.512Z",
		"message":    fmt.Sprintf("line %d", seq),
		"seq":        seq,
		"log":        map[string]any{"offset": seq * 10, "file": map[string]any{"path": "/var/log/app.log"}},
		"agent":      map[string]any{"type": "filebeat", "version": "7.17.28"},
		"tags":       []any{"realfb"},
	}
}

func beatEvents(from, n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = beatEvent(from + i)
	}
	return out
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// fieldOf returns the option an *engine.FieldError names.
func fieldOf(err error) string {
	var fe *engine.FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return "?"
}
