package redistest

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
)

// Cluster is a Redis Cluster of redis-server processes on loopback.
type Cluster struct {
	Nodes []*Server
}

// Seeds are the nodes' addresses.
func (c *Cluster) Seeds() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.Addr())
	}
	return out
}

// StartCluster starts masters × (1 + replicas) redis-server processes in
// cluster mode (node timeout 1 s, so a killed master fails over fast),
// joins them with redis-cli --cluster create and waits until every node
// reports cluster_state:ok.
func StartCluster(t testing.TB, masters, replicas int) *Cluster {
	t.Helper()
	cli := servertest.Require(t, "redis-cli", "", "/usr/bin/redis-cli", "redis-cli")
	c := &Cluster{}
	for range masters * (1 + replicas) {
		c.Nodes = append(c.Nodes, Start(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "1000", "--appendonly", "no"))
	}
	args := append([]string{"--cluster", "create"}, c.Seeds()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range c.Nodes {
		rc := goredis.NewClient(&goredis.Options{Addr: n.Addr(), Protocol: 2, DisableIdentity: true})
		for {
			info, err := rc.ClusterInfo(context.Background()).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				// cluster_state:ok says nothing of replication: a replica
				// still in its first sync (slow on a loaded machine) has
				// none of its master's data, and its master counts no
				// replica, so a test killing a master would lose what it
				// wrote. Ready is: every replica linked and synced, every
				// master with all its replicas online.
				info, err = rc.Info(context.Background(), "replication").Result()
				if err == nil && replicationReady(info, replicas) {
					break
				}
			}
			if time.Now().After(deadline) {
				rc.Close()
				t.Fatalf("redis cluster node %s not ready (cluster ok, replication in sync) within 30 s: %v %s", n.Addr(), err, info)
			}
			time.Sleep(100 * time.Millisecond)
		}
		rc.Close()
	}
	return c
}

// MasterOf returns the node that is master for key's slot now.
func (c *Cluster) MasterOf(t testing.TB, key string) *Server {
	t.Helper()
	rc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: c.Seeds(), Protocol: 2, DisableIdentity: true})
	defer rc.Close()
	ctx := context.Background()
	slot, err := rc.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	slots, err := rc.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slots {
		if int64(s.Start) <= slot && slot <= int64(s.End) && len(s.Nodes) > 0 {
			for _, n := range c.Nodes {
				if n.Addr() == s.Nodes[0].Addr {
					return n
				}
			}
		}
	}
	t.Fatalf("no master found for slot %d of %q", slot, key)
	return nil
}

// replicationReady: INFO replication of a replica linked to its master with
// no sync in progress, or of a master with at least replicas replicas online.
func replicationReady(info string, replicas int) bool {
	if strings.Contains(info, "role:slave") {
		return strings.Contains(info, "master_link_status:up") && strings.Contains(info, "master_sync_in_progress:0")
	}
	online := 0
	for _, l := range strings.Split(info, "\n") {
		if strings.HasPrefix(l, "slave") && strings.Contains(l, "state=online") {
			online++
		}
	}
	return strings.Contains(info, "role:master") && online >= replicas
}
