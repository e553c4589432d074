package immudb

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	_ "github.com/pipelined/pipeline/plugins/codecs/json"
	_ "github.com/pipelined/pipeline/plugins/inputs/redis"
	"github.com/pipelined/pipeline/plugins/internal/testkit/redistest"
)

// TestAuditTrailExample runs examples/audit-trail/audit-trail.hcl against a
// real redis-server (its port and the store path changed for the test): the
// events on redis-queue-immudb, written as the Logstash redis output writes
// them, end up as rows whose keys are the ones the Python consumer computed.
func TestAuditTrailExample(t *testing.T) {
	srv := redistest.Start(t)
	src, err := os.ReadFile("../../../examples/audit-trail/audit-trail.hcl")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "immudb")
	conf := strings.Replace(string(src), "6379", fmt.Sprint(srv.Port()), 1)
	conf = strings.Replace(conf, "/var/lib/pipeline/immudb", path, 1)
	if conf == string(src) || !strings.Contains(conf, path) {
		t.Fatal("the example no longer has the port and path this test replaces")
	}

	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), Protocol: 2})
	defer rc.Close()
	ctx := context.Background()
	vectors := loadVectors(t)
	var want []string // the keys
	var vals []any
	for _, v := range vectors {
		vals = append(vals, v.Input)
		want = append(want, v.Key)
	}
	for _, e := range testEvents(t, 5000, "redis") {
		vals = append(vals, string(e.AppendJSON(nil)))
		want = append(want, Key(AppendPython(nil, e)))
	}
	if err := rc.RPush(ctx, "redis-queue-immudb", vals...).Err(); err != nil {
		t.Fatal(err)
	}

	cfg, diags := dsl.LoadSource("audit-trail.hcl", []byte(conf))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	p, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{BatchSize: 1000, Logger: slog.New(slog.DiscardHandler)})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		n, err := rc.LLen(ctx, "redis-queue-immudb").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 && p.Stats().Out.Load() >= int64(len(want)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: %d events still queued, %d written", n, p.Stats().Out.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("pipeline did not stop")
	}

	var o Options
	o.Defaults()
	o.Path = path
	out, err := New(o, engine.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	rows := allRows(t, out)
	_ = out.Close(ctx)
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for i, k := range want {
		v, ok := rows[k]
		if !ok {
			t.Fatalf("event %d: no row with key %s", i, k)
		}
		if i < len(vectors) && v != vectors[i].Text {
			t.Fatalf("vector %d: stored %s, Python stored %s", i, v, vectors[i].Text)
		}
	}
	var vo VerifyOptions
	vo.Options = o
	rep, err := Verify(ctx, vo, os.Stderr)
	if err != nil || len(rep.Mismatches) > 0 || rep.Rows != len(want) {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}
