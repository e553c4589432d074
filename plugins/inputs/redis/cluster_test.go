package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/testkit/redistest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
)

// TestClusterIndexersMasterKilled: on a real Redis Cluster of 3 masters and
// 3 replicas (redis-server processes on loopback), 2 indexer pipelines
// (redis input with cluster_nodes, each its own consumer_id → redis output
// with cluster and wait_replicas 1) drain 10,000 elements of a list. A third
// of the way through, the master holding the source list is SIGKILLed and
// its replica takes over. Every element must reach the destination list
// (none lost); duplicates are counted.
func TestClusterIndexersMasterKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 6-node Redis Cluster")
	}
	cl := redistest.StartCluster(t, 3, 1)
	const n = 10_000
	rc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Seeds(), Protocol: 2, DisableIdentity: true, PoolSize: 1, MaxRedirects: 8})
	defer rc.Close()
	ctx := context.Background()
	for i := 0; i < n; i += 1000 {
		vals := make([]any, 0, 1000)
		for j := i; j < i+1000; j++ {
			vals = append(vals, fmt.Sprintf(`{"message":"m","seq":%d}`, j))
		}
		if err := rc.RPush(ctx, "src", vals...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Every master's replica has the list before a master dies: WAIT's
	// answer is the number of replicas that have it, not an error.
	if err := rc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
		n, err := c.Wait(ctx, 1, 10*time.Second).Result()
		if err == nil && n < 1 {
			err = fmt.Errorf("master %s: no replica has the writes after 10 s", c.Options().Addr)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	seeds := `["` + strings.Join(cl.Seeds(), `", "`) + `"]`
	master := cl.MasterOf(t, "src")
	var stops []func()
	logs := &servertest.Output{Limit: 1 << 20}
	defer func() {
		if t.Failed() {
			t.Logf("pipeline logs:\n%s", servertest.Tail(logs.String(), 6000))
		}
	}()
	for i := range 2 {
		src := fmt.Sprintf(`
input "redis" "in" {
  cluster_nodes = %s
  key           = "src"
  data_type     = "list"
  consumer_id   = "idx%d"
  timeout       = 2
}
output "redis" "out" {
  host          = %s
  cluster       = true
  wait_replicas = 1
  key           = "{dst}"
  data_type     = "list"
  timeout       = 2
}
`, seeds, i, seeds)
		cfg, diags := dsl.LoadSource("redis.hcl", []byte(src))
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		p, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Workers: 1, BatchSize: 250,
			RetryInitial: 50 * time.Millisecond, RetryMax: time.Second, Logger: slog.New(slog.NewTextHandler(logs, nil))})
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		pctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(pctx) }()
		stops = append(stops, func() {
			cancel()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				p.Abort()
			}
		})
	}
	defer func() {
		for _, s := range stops {
			s()
		}
	}()
	dstLen := func() int64 {
		c, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		l, _ := rc.LLen(c, "{dst}").Result()
		return l
	}
	deadline := time.Now().Add(60 * time.Second)
	for dstLen() < n/3 {
		if time.Now().After(deadline) {
			t.Fatalf("{dst} has %d elements after 60 s", dstLen())
		}
		time.Sleep(20 * time.Millisecond)
	}
	master.Signal(syscall.SIGKILL)
	killed := time.Now()
	t.Logf("SIGKILLed master %s of src with {dst} at %d", master.Addr(), dstLen())
	seen := map[int]int{}
	total := 0
	deadline = time.Now().Add(90 * time.Second)
	for {
		if dstLen() >= n {
			c, cancel := context.WithTimeout(ctx, 5*time.Second)
			got, err := rc.LRange(c, "{dst}", 0, -1).Result()
			cancel()
			if err == nil {
				clear(seen)
				total = len(got)
				for _, s := range got {
					var seq int
					if _, err := fmt.Sscanf(s[strings.Index(s, `"seq":`)+6:], "%d", &seq); err != nil {
						t.Fatalf("element %q: %v", s, err)
					}
					seen[seq]++
				}
				if len(seen) == n {
					break
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 90 s {dst} holds %d elements, %d of %d distinct", total, len(seen), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("all %d elements delivered %s after the failover: %d in {dst}, %d duplicates", n, time.Since(killed).Round(time.Millisecond), total, total-n)
}
