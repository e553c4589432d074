package e2e_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// benchShipperHCL is a shipper engine publishing count generated log lines
// to subject, each with its [uid] as Nats-Msg-Id, into a stream the
// benchmark created.
func benchShipperHCL(servers, subject string, count int) string {
	return strings.NewReplacer("SERVERS", servers, "SUBJECT", subject, "COUNT", strconv.Itoa(count), "LINE", scaleLogLine).Replace(`
input "generator" {
  message   = "LINE"
  count     = COUNT
  add_field = { shipper = "s1" }
}
filter "mutate" {
  add_field = { uid = "%%{shipper}-%%{[event][sequence]}" }
}
output "nats" {
  servers = SERVERS
  subject = "SUBJECT"
  msg_id  = "%%{uid}"
}
`)
}

// BenchmarkScaleOutJetStream measures, on a real 3-node JetStream cluster
// on loopback (natsnode processes, streams with replicas 3 on file
// storage), in one run and interleaved per iteration:
//
//   - publish: one shipper engine process (generator → mutate → nats output,
//     JSON, msg_id, every batch's acks awaited) against a bare nats.go
//     JetStream async publisher of the same bodies (taken from the
//     shipper's messages) in batches of 250, every batch's acks awaited
//     (bare: the output's semantics), and the same publisher with up to
//     4,000 acks outstanding, awaited only at the end (barewin: as nats
//     bench publishes);
//   - drain: 1, 2 and 3 indexer engine processes (nats input, one durable
//     each round → grok, date, mutate → file) draining the shipper's
//     stream, events/s from the first tenth of the events out to the last
//     (process start-up left out).
//
// Reported: each rate, pub/bare, pub/barewin and idxN/idx1. Events per round:
// SCALE_BENCH_EVENTS (default 60,000). Run with -benchtime=2x or more (the
// shipper and the bare publisher alternate in going first) and without
// -race (the bare publisher runs in the test binary, the engines do not).
func BenchmarkScaleOutJetStream(b *testing.B) {
	bin, err := builtBinary()
	if err != nil {
		b.Fatal(err)
	}
	n := scaleEnvInt(b, "SCALE_BENCH_EVENTS", 60_000)
	cl := natsCluster(b, 3)
	servers := natsServers(cl.URLs())
	nc, err := nats.Connect(strings.Join(cl.URLs(), ","))
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4000))
	ctx := context.Background()
	var pubD, bareD, windowD time.Duration
	var body []byte // a message of the shipper, the bare publisher's body
	idxD := make([]time.Duration, 4)
	for it := range b.N {
		dir := b.TempDir()
		pfx := fmt.Sprintf("b%d", it)
		for _, name := range []string{pfx + "ship", pfx + "bare"} {
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, err := js.CreateStream(cctx, jetstream.StreamConfig{Name: strings.ToUpper(name), Subjects: []string{name + ".>"}, Replicas: 3, Storage: jetstream.FileStorage})
			cancel()
			if err != nil {
				b.Fatal(err)
			}
		}
		shipStream, bareStream := strings.ToUpper(pfx+"ship"), strings.ToUpper(pfx+"bare")

		count := func(name string) uint64 {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			s, err := js.Stream(cctx, name)
			if err != nil {
				b.Fatal(err)
			}
			info, err := s.Info(cctx)
			if err != nil {
				b.Fatal(err)
			}
			return info.State.Msgs
		}

		// The shipper engine: from the first message stored to the last.
		runShipper := func() {
			sh := startEngine(b, bin, dir, "shipper", benchShipperHCL(servers, pfx+"ship.s1", n), 250)
			var first time.Time
			deadline := time.Now().Add(5 * time.Minute)
			for {
				m := count(shipStream)
				if m > 0 && first.IsZero() {
					first = time.Now()
				}
				if m >= uint64(n) {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("the shipper stored %d of %d in 5 min", m, n)
				}
				time.Sleep(10 * time.Millisecond)
			}
			pubD += time.Since(first)
			select {
			case <-sh.p.Exited():
			case <-time.After(30 * time.Second):
				b.Fatal("the shipper did not exit after publishing its events")
			}
		}
		// The bare publisher, with a message of the shipper as body.
		runBare := func() {
			publish := func(subject string, window bool) time.Duration {
				t0 := time.Now()
				for i := 0; i < n; i += 250 {
					for j := i; j < i+250 && j < n; j++ {
						m := &nats.Msg{Subject: subject, Data: body, Header: nats.Header{jetstream.MsgIDHeader: []string{subject + "-" + strconv.Itoa(j)}}}
						if _, err := js.PublishMsgAsync(m, jetstream.WithStallWait(30*time.Second)); err != nil {
							b.Fatal(err)
						}
					}
					if window && i+250 < n {
						continue
					}
					select {
					case <-js.PublishAsyncComplete():
					case <-time.After(30 * time.Second):
						b.Fatal("bare publisher: acks missing after 30 s")
					}
				}
				return time.Since(t0)
			}
			bareD += publish(pfx+"bare.s1", false)
			windowD += publish(pfx+"bare.w", true)
			if m := count(bareStream); m != uint64(2*n) {
				b.Fatalf("bare stream holds %d; want %d", m, 2*n)
			}
		}
		// Alternate which goes first, so that neither always meets the
		// cluster fresher.
		if it%2 == 1 && body != nil {
			runBare()
			runShipper()
		} else {
			runShipper()
			if body == nil {
				st, err := js.Stream(ctx, shipStream)
				if err != nil {
					b.Fatal(err)
				}
				raw, err := st.GetMsg(ctx, 1)
				if err != nil {
					b.Fatal(err)
				}
				body = raw.Data
			}
			runBare()
		}

		// 1, 2, 3 indexers, each round on its own durable of the shipper's
		// stream.
		for k := 1; k <= 3; k++ {
			sink := newIDSink()
			var procs []*engineProc
			for i := range k {
				out := filepath.Join(dir, fmt.Sprintf("idx%d-%d.ids", k, i))
				sink.add(out)
				procs = append(procs, startEngine(b, bin, dir, fmt.Sprintf("idx%d-%d", k, i), jsIndexerDurableHCL(servers, shipStream, fmt.Sprintf("d%d", k), 5000, out), 250))
			}
			sink.waitFor(b, 5*time.Minute, "indexers starting", nil, func(d, _ int) bool { return d >= n/10 })
			t0 := time.Now()
			sink.waitFor(b, 5*time.Minute, fmt.Sprintf("%d indexers draining", k), nil, func(d, _ int) bool { return d >= n })
			idxD[k] += time.Since(t0)
			for _, p := range procs {
				p.p.Stop(syscall.SIGTERM, 30*time.Second)
			}
		}
		for _, name := range []string{shipStream, bareStream} {
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_ = js.DeleteStream(cctx, name)
			cancel()
		}
	}
	total := float64(n * b.N)
	rate := func(d time.Duration) float64 { return total / d.Seconds() }
	b.ReportMetric(rate(pubD), "pub-ev/s")
	b.ReportMetric(rate(bareD), "bare-ev/s")
	b.ReportMetric(bareD.Seconds()/pubD.Seconds(), "pub/bare")
	b.ReportMetric(rate(windowD), "barewin-ev/s")
	b.ReportMetric(windowD.Seconds()/pubD.Seconds(), "pub/barewin")
	drained := 0.9 * total // from the first tenth out to the last
	for k := 1; k <= 3; k++ {
		b.ReportMetric(drained/idxD[k].Seconds(), fmt.Sprintf("idx%d-ev/s", k))
	}
	b.ReportMetric(idxD[1].Seconds()/idxD[2].Seconds(), "idx2/idx1")
	b.ReportMetric(idxD[1].Seconds()/idxD[3].Seconds(), "idx3/idx1")
}
