package redis

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/testkit/redistest"
	_ "github.com/pipelined/pipeline/plugins/outputs/redis"
)

// TestPipelineListToList runs redis (list, two threads) → redis (list) through
// the engine, in both list modes: every element arrives exactly once, and the
// engine's acknowledgements empty the processing lists and the list.
func TestPipelineListToList(t *testing.T) {
	for _, mode := range []string{"processing_list", "exclusive"} {
		t.Run(mode, func(t *testing.T) { testPipelineListToList(t, mode) })
	}
}

func testPipelineListToList(t *testing.T, mode string) {
	srv := redistest.Start(t)
	rc := client(t, srv)
	const n = 5000
	fill(t, rc, "src", 0, n)
	src := fmt.Sprintf(`
input "redis" "in" {
  host        = "127.0.0.1"
  port        = %d
  key         = "src"
  data_type   = "list"
  threads     = 2
  consumer_id = "t"
  list_mode   = %q
}

output "redis" "out" {
  host      = %q
  key       = "dst"
  data_type = "list"
}
`, srv.Port(), mode, srv.Addr())
	cfg, diags := dsl.LoadSource("redis.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	p, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Workers: 2, Logger: slog.New(slog.DiscardHandler)})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for llen(t, rc, "dst") < n {
		if time.Now().After(deadline) {
			t.Fatalf("dst has %d elements after 30 s; want %d", llen(t, rc, "dst"), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("pipeline did not stop")
	}
	got := rc.LRange(context.Background(), "dst", 0, -1).Val()
	if len(got) != n {
		t.Fatalf("dst has %d elements; want %d", len(got), n)
	}
	var seen []int
	for _, s := range got {
		var seq int
		if _, err := fmt.Sscanf(s[strings.Index(s, `"seq":`)+6:], "%d", &seq); err != nil {
			t.Fatalf("element %q: %v", s, err)
		}
		seen = append(seen, seq)
	}
	sort.Ints(seen)
	for i, s := range seen {
		if s != i {
			t.Fatalf("seq %d missing or duplicated (sorted position %d has %d)", i, i, s)
		}
	}
	for _, pk := range []string{ProcessingKey("src", "t", 0, 2), ProcessingKey("src", "t", 1, 2), "src"} {
		if l := llen(t, rc, pk); l != 0 {
			t.Errorf("%s has %d elements", pk, l)
		}
	}
}
