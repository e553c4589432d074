package immudb

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	_ "github.com/pipelined/pipeline/plugins/codecs/plain"
	_ "github.com/pipelined/pipeline/plugins/inputs/generator"
)

type memDLQ struct {
	mu      sync.Mutex
	events  []*event.Event
	reasons []string
}

func (d *memDLQ) Put(e *event.Event, from engine.DeadLetterSource, reason string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.events = append(d.events, e)
	d.reasons = append(d.reasons, from.PluginType+": "+reason)
	return nil
}

// TestOverlongToDeadLetterQueue: through the engine, an event longer than
// value_max_length lands in the dead letter queue, counted, and the others
// are stored.
func TestOverlongToDeadLetterQueue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store")
	src := fmt.Sprintf(`
input "generator" {
  count = 10
  lines = ["short audit line", %q]
  ecs_compatibility = "disabled"
}
output "immudb" {
  path             = %q
  value_max_length = 500
}
`, strings.Repeat("long ", 200), path)
	cfg, diags := dsl.LoadSource("dlq.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	dlq := &memDLQ{}
	p, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Logger: slog.New(slog.DiscardHandler), DeadLetter: dlq})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if got := p.Stats().DeadLettered.Load(); got != 10 {
		t.Fatalf("dead-lettered %d, want 10", got)
	}
	if len(dlq.events) != 10 || !strings.Contains(dlq.reasons[0], "value_max_length 500") {
		t.Fatalf("dlq: %d events, reasons %v", len(dlq.events), dlq.reasons[:min(1, len(dlq.reasons))])
	}
	for _, e := range dlq.events {
		if m, _ := e.Message(); !strings.HasPrefix(m, "long long") {
			t.Fatalf("dead-lettered %q", m)
		}
	}
	out := newOutput(t, map[string]any{"path": path})
	rows := allRows(t, out)
	if len(rows) != 10 {
		t.Fatalf("%d rows, want the 10 short events", len(rows))
	}
	for _, v := range rows {
		if !strings.Contains(v, "short audit line") {
			t.Fatalf("stored %s", v)
		}
	}
}
