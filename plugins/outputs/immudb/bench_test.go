package immudb

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/immudbtest"
)

// benchEvents are audit-like events of about 250 bytes, distinct across
// benchmark runs so no row is a replay.
func benchEvents(n int) []*event.Event {
	base := time.Now()
	evs := make([]*event.Event, n)
	for i := range evs {
		e, _ := event.FromMap(map[string]any{
			"@timestamp": base,
			"message":    fmt.Sprintf("user alice logged in from 10.0.%d.%d via sshd[%d]", i/256%256, i%256, 4000+i),
			"host":       map[string]any{"name": "web-1"},
			"event":      map[string]any{"action": "login", "outcome": "success", "seq": int64(i)},
			"nonce":      base.UnixNano(),
		})
		evs[i] = e
	}
	return evs
}

// benchWrite writes b.N events in Writes of batch events and reports rows/s.
// batch 1 is the Python consumer's approach: one INSERT, one transaction,
// one fsync per event.
func benchWrite(b *testing.B, out *Output, batch int) {
	evs := benchEvents(b.N)
	b.ResetTimer()
	for i := 0; i < len(evs); i += batch {
		if err := out.Write(context.Background(), evs[i:min(i+batch, len(evs))]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkEmbedded: the embedded store with fsync per transaction (synced,
// the default). Run: go test -run - -bench . ./plugins/outputs/immudb
func BenchmarkEmbedded(b *testing.B) {
	for _, batch := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			out := newOutput(b, map[string]any{"path": filepath.Join(b.TempDir(), "store")})
			benchWrite(b, out, batch)
		})
	}
}

// BenchmarkServer: through the gRPC client to an in-process immudb server.
func BenchmarkServer(b *testing.B) {
	srv := immudbtest.Start(b)
	for _, batch := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			out := newOutput(b, map[string]any{"mode": "server", "host": srv.Host, "port": srv.Port})
			benchWrite(b, out, batch)
		})
	}
}

// BenchmarkRowOverhead is the output's own work per event, outside immudb:
// the Python serialisation, its SHA-256 and the INSERT text and parameters.
func BenchmarkRowOverhead(b *testing.B) {
	evs := benchEvents(1000)
	var buf []byte
	rows := make([]row, len(evs))
	b.ResetTimer()
	for i := 0; i < b.N; i += len(evs) {
		for j, e := range evs {
			buf = AppendPython(buf[:0], e)
			rows[j] = row{key: Key(buf), value: string(buf)}
		}
		_ = insertSQL("logs", len(rows))
		_ = insertParams(rows)
	}
}

// BenchmarkRawImmudb is the peer of BenchmarkEmbedded/batch=1000: immudb's
// SQL engine alone, synced, with 1000-row INSERTs of ready-made keys and
// values of the same size, without events, serialisation or hashing.
func BenchmarkRawImmudb(b *testing.B) {
	var o Options
	o.Defaults()
	o.Path = filepath.Join(b.TempDir(), "store")
	db, err := openEmbedded(o, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer db.close()
	ctx := context.Background()
	if err := db.exec(ctx, createTableSQL("logs", o.ValueMaxLength), nil); err != nil {
		b.Fatal(err)
	}
	rows := make([]row, b.N)
	nonce := time.Now().UnixNano()
	for i, e := range benchEvents(b.N) {
		v := string(AppendPython(nil, e))
		rows[i] = row{key: Key([]byte(fmt.Sprint(nonce, i))), value: v}
	}
	b.ResetTimer()
	for i := 0; i < len(rows); i += 1000 {
		chunk := rows[i:min(i+1000, len(rows))]
		if err := db.exec(ctx, insertSQL("logs", len(chunk)), insertParams(chunk)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
