package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/redistest"
)

// TestClusterMasterKilled: on a real Redis Cluster of 3 masters and 3
// replicas (redis-server processes on loopback), the output with
// cluster => true and wait_replicas => 1 pushes 30,000 events to a
// hash-tagged list, driven as the engine drives it (reconnect on
// ErrNotConnected, retry on other errors). A third of the way through, the
// master holding the list is SIGKILLed; its replica takes over. Every event
// must be in the list afterwards (none lost); duplicates from batches
// pushed again are counted.
func TestClusterMasterKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 6-node Redis Cluster")
	}
	cl := redistest.StartCluster(t, 3, 1)
	const key, batch, n = "{logs}:events", 250, 30_000
	hosts := `["` + strings.Join(cl.Seeds(), `", "`) + `"]`
	out := plugintest.MustNew(t, New, fmt.Sprintf("host = %s\ncluster = true\nwait_replicas = 1\nkey = %q\ndata_type = \"list\"\ntimeout = 2", hosts, key),
		engine.Resources{Codec: jsonCodec(t), Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { _ = out.Close(context.Background()) })
	connect(t, out)
	master := cl.MasterOf(t, key)
	deadline := time.Now().Add(90 * time.Second)
	retries, reconnects := 0, 0
	for b := 0; b < n/batch; b++ {
		if b == n/batch/3 {
			master.Signal(syscall.SIGKILL)
			t.Logf("SIGKILLed master %s of %s after %d events", master.Addr(), key, b*batch)
		}
		evs := events(batch, func(i int, e *event.Event) { _ = e.Set(event.MustRef("[uid]"), fmt.Sprintf("u%d", b*batch+i)) })
		for {
			err := out.Write(context.Background(), evs)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("batch %d still failing after 90 s: %v", b, err)
			}
			retries++
			if errors.Is(err, engine.ErrNotConnected) {
				for out.Connect(context.Background()) != nil && time.Now().Before(deadline) {
					time.Sleep(100 * time.Millisecond)
				}
				reconnects++
			} else {
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	rc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Seeds(), Protocol: 2, DisableIdentity: true})
	defer rc.Close()
	got, err := rc.LRange(context.Background(), key, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, v := range got {
		e, err := event.FromJSON([]byte(v))
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := e.GetString(event.MustRef("[uid]"))
		seen[uid]++
	}
	for i := range n {
		if seen[fmt.Sprintf("u%d", i)] == 0 {
			t.Fatalf("event u%d lost (list holds %d elements, %d unique)", i, len(got), len(seen))
		}
	}
	t.Logf("%d events all in the list after the failover: %d elements, %d duplicates; %d batch retries, %d reconnects",
		n, len(got), len(got)-n, retries, reconnects)
	if retries == 0 {
		t.Error("no batch was retried: the master's death went unnoticed")
	}
}

// TestClusterOptions: db and wait_replicas are checked against cluster.
func TestClusterOptions(t *testing.T) {
	for _, tc := range []struct{ opts, want string }{
		{"key = \"k\"\ndata_type = \"list\"\ncluster = true\ndb = 2", "must be 0 with cluster"},
		{"key = \"k\"\ndata_type = \"list\"\nwait_replicas = 1", "is for cluster"},
	} {
		diags := plugintest.BuildDiags(t, ir.Output, "redis", tc.opts)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", tc.opts, diags, tc.want)
		}
	}
}
