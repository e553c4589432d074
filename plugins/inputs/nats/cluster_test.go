package nats

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pipelined/pipeline/plugins/internal/testkit/natstest"
)

// clusterEvents is the number of events the cluster test publishes: the
// issue's 300,000 scaled down to 30,000 (10,000 under -race) to keep the
// test under a minute on a loaded 2-CPU machine; the mechanisms are the
// same at any size.
const clusterEvents = 30_000 / raceScale

// clusterMaxAckPending is the indexers' max_ack_pending in the cluster test.
const clusterMaxAckPending = 1000

// TestClusterNodeAndIndexerKilled: on a real 3-node JetStream cluster on
// loopback (three nats-server processes, the stream replicated 3 times), 2
// shipper engines publish through the nats output and 3 indexer engines
// drain through the nats input. A third of the way through, one server is
// SIGKILLed and one indexer aborted (its batches in flight never
// acknowledged). Every event must arrive at least once; the stream holds
// each exactly once (Nats-Msg-Id dedup of the shippers' retries), and the
// duplicates the indexers see are counted, bounded by max_ack_pending per
// failure.
func TestClusterNodeAndIndexerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-node JetStream cluster")
	}
	cl := natstest.NewCluster(t, 3)
	servers := quoted(cl.URLs()...)
	const perShipper = clusterEvents / 2
	t0 := time.Now()
	shippers := []*running{
		start(t, "shipper1", shipperSrc(servers, "s1", perShipper, 3), 250),
		start(t, "shipper2", shipperSrc(servers, "s2", perShipper, 3), 250),
	}
	c := newCollector()
	extra := fmt.Sprintf("max_ack_pending = %d", clusterMaxAckPending)
	var indexers []*running
	for i := range 3 {
		indexers = append(indexers, start(t, fmt.Sprintf("indexer%d", i+1), indexerSrc(t, servers, c, extra), 250))
	}
	waitFor(t, 60*time.Second, func() string { return fmt.Sprintf("%d of %d events before the failures", c.unique(), clusterEvents) },
		func() bool { return c.unique() >= clusterEvents/3 })
	cl.Nodes[1].Kill()
	indexers[0].pl.Abort()
	killedAt := c.unique()
	t.Logf("SIGKILLed server %s and aborted indexer1 after %d events (%s)", cl.Nodes[1].Name, killedAt, time.Since(t0).Round(time.Millisecond))
	waitFor(t, 90*time.Second, func() string {
		u, total := c.counts()
		return fmt.Sprintf("%d of %d events (%d deliveries) after the failures", u, clusterEvents, total)
	}, func() bool { return c.unique() == clusterEvents })
	for i, s := range shippers {
		if err := s.wait(30 * time.Second); err != nil {
			t.Errorf("shipper%d: %v", i+1, err)
		}
	}
	elapsed := time.Since(t0)
	u, total := c.counts()
	for _, s := range []string{"s1", "s2"} {
		for i := range perShipper {
			if _, ok := c.seen[fmt.Sprintf("%s-%d", s, i)]; !ok {
				t.Fatalf("event %s-%d lost", s, i)
			}
		}
	}
	dups := total - u
	t.Logf("%d events delivered at least once in %s (%.0f events/s end to end): %d deliveries, %d duplicates (%d flagged redelivered)",
		u, elapsed.Round(time.Millisecond), float64(u)/elapsed.Seconds(), total, dups, c.redelivered.Load())
	if dups > 2*clusterMaxAckPending {
		t.Errorf("%d duplicates; want at most %d (max_ack_pending per failure)", dups, 2*clusterMaxAckPending)
	}
	// The stream holds every event exactly once: the shippers' retries
	// after the server died were deduplicated by Nats-Msg-Id.
	live := []string{cl.Nodes[0].URL, cl.Nodes[2].URL}
	nc, err := nats.Connect(strings.Join(live, ","))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "LOGS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != clusterEvents {
		t.Errorf("the stream holds %d messages; want %d (each event once)", info.State.Msgs, clusterEvents)
	}
}
