package immudb

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/immudbtest"
)

// testEvents makes n distinct events with nested objects, non-ASCII text,
// floats, integers, booleans and nulls.
func testEvents(t testing.TB, n int, tag string) []*event.Event {
	t.Helper()
	base := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	evs := make([]*event.Event, n)
	for i := range n {
		e, err := event.FromMap(map[string]any{
			"@timestamp": base.Add(time.Duration(i) * time.Millisecond),
			"message":    fmt.Sprintf("%s audit évènement %d 🚀 \"quoted\" \\ \t", tag, i),
			"seq":        int64(i),
			"ratio":      float64(i) / 7,
			"whole":      float64(i % 3),
			"ok":         i%2 == 0,
			"nothing":    nil,
			"user":       map[string]any{"name": fmt.Sprintf("Jürgen-%d", i%10), "roles": []any{"admin", int64(i % 5), 1e-7}},
		})
		if err != nil {
			t.Fatal(err)
		}
		evs[i] = e
	}
	return evs
}

func newOutput(t testing.TB, hcl map[string]any) *Output {
	t.Helper()
	var o Options
	o.Defaults()
	for k, v := range hcl {
		switch k {
		case "mode":
			o.Mode = v.(string)
		case "path":
			o.Path = v.(string)
		case "host":
			o.Host = v.(string)
		case "port":
			o.Port = v.(int)
		case "database":
			o.Database = v.(string)
		case "value_max_length":
			o.ValueMaxLength = v.(int)
		case "batch_size":
			o.BatchSize = v.(int)
		default:
			t.Fatalf("option %s", k)
		}
	}
	out, err := New(o, engine.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = out.Close(context.Background()) })
	return out
}

// writeAll writes evs in slices of size, as the engine would.
func writeAll(t testing.TB, out *Output, evs []*event.Event, size int) {
	t.Helper()
	for i := 0; i < len(evs); i += size {
		if err := out.Write(context.Background(), evs[i:min(i+size, len(evs))]); err != nil {
			t.Fatalf("write at %d: %v", i, err)
		}
	}
}

// allRows reads the whole table.
func allRows(t testing.TB, out *Output) map[string]string {
	t.Helper()
	rows := map[string]string{}
	after := ""
	for {
		n, err := out.db.scan(context.Background(), out.o.Table, after, 1000, func(k, v string) error {
			if _, dup := rows[k]; dup {
				return fmt.Errorf("key %s twice", k)
			}
			rows[k] = v
			after = k
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n < 1000 {
			return rows
		}
	}
}

// checkRows checks that the table holds exactly one row per event, keyed by
// the SHA-256 of its Python serialisation.
func checkRows(t testing.TB, rows map[string]string, evs []*event.Event) {
	t.Helper()
	if len(rows) != len(evs) {
		t.Fatalf("%d rows, want %d", len(rows), len(evs))
	}
	for i, e := range evs {
		want := string(AppendPython(nil, e))
		k := Key([]byte(want))
		got, ok := rows[k]
		if !ok {
			t.Fatalf("event %d: no row with key %s", i, k)
		}
		if got != want {
			t.Fatalf("event %d: value %s, want %s", i, got, want)
		}
	}
	for k, v := range rows {
		if Key([]byte(v)) != k {
			t.Fatalf("row %s: key is not the SHA-256 of its value", k)
		}
		if strings.ContainsFunc(v, func(r rune) bool { return r > 0x7e }) {
			t.Fatalf("row %s: non-ASCII in a python-format value", k)
		}
	}
}

func TestEmbedded100k(t *testing.T) {
	t.Parallel() // fsync-bound, like TestServer100k: they overlap well
	evs := testEvents(t, 100_000, "emb")
	out := newOutput(t, map[string]any{"path": filepath.Join(t.TempDir(), "store")})
	writeAll(t, out, evs, 1000)
	checkRows(t, allRows(t, out), evs)
}

func TestServer100k(t *testing.T) {
	t.Parallel()
	srv := immudbtest.Start(t)
	evs := testEvents(t, 100_000, "srv")
	out := newOutput(t, map[string]any{"mode": "server", "host": srv.Host, "port": srv.Port})
	writeAll(t, out, evs, 1000)
	checkRows(t, allRows(t, out), evs)

	// The database was created with a 24h retention period.
	s := out.db.(*server)
	res, err := s.c.GetDatabaseSettingsV2(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ts := res.GetSettings().GetTruncationSettings()
	if got := time.Duration(ts.GetRetentionPeriod().GetValue()) * time.Millisecond; got != 24*time.Hour {
		t.Fatalf("retention period %s, want 24h", got)
	}
	if res.Database != DefaultDatabase {
		t.Fatalf("database %s", res.Database)
	}
}

func TestReplay(t *testing.T) {
	evs := testEvents(t, 10_000, "replay")
	out := newOutput(t, map[string]any{"path": filepath.Join(t.TempDir(), "store")})
	writeAll(t, out, evs, 1000)
	// At-least-once: everything again, in other slices, and a slice that
	// mixes old and new events, and a slice with one event twice.
	writeAll(t, out, evs, 700)
	extra := testEvents(t, 10_010, "replay")[10_000:]
	mixed := append(append([]*event.Event{}, evs[:5]...), extra...)
	mixed = append(mixed, extra[0])
	if err := out.Write(context.Background(), mixed); err != nil {
		t.Fatal(err)
	}
	checkRows(t, allRows(t, out), append(evs, extra...))
}

func TestServerReplay(t *testing.T) {
	srv := immudbtest.Start(t)
	evs := testEvents(t, 2_000, "replay")
	out := newOutput(t, map[string]any{"mode": "server", "host": srv.Host, "port": srv.Port})
	writeAll(t, out, evs, 1000)
	writeAll(t, out, evs, 300)
	checkRows(t, allRows(t, out), evs)
}

func TestValueTooLong(t *testing.T) {
	out := newOutput(t, map[string]any{"path": filepath.Join(t.TempDir(), "store"), "value_max_length": 300})
	evs := testEvents(t, 5, "long")
	msg, _ := event.ParseRef("message")
	_ = evs[2].Set(msg, strings.Repeat("x", 400))
	err := out.Write(context.Background(), evs)
	var be *engine.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 1 || !engine.IsPermanent(be.Failed[2]) {
		t.Fatalf("want a BatchError with event 2 permanent, got %v", err)
	}
	if !strings.Contains(be.Failed[2].Error(), "value_max_length 300") {
		t.Fatalf("error does not name the limit: %v", be.Failed[2])
	}
	rows := allRows(t, out)
	checkRows(t, rows, []*event.Event{evs[0], evs[1], evs[3], evs[4]})
}

func TestSameKeyDifferentValue(t *testing.T) {
	out := newOutput(t, map[string]any{"path": filepath.Join(t.TempDir(), "store")})
	evs := testEvents(t, 3, "conflict")
	text := AppendPython(nil, evs[1])
	// Another writer put a different value under evs[1]'s key.
	if err := out.db.exec(context.Background(), insertSQL("logs", 1), map[string]any{"k0": Key(text), "v0": "forged"}); err != nil {
		t.Fatal(err)
	}
	err := out.Write(context.Background(), evs)
	var be *engine.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 1 || !engine.IsPermanent(be.Failed[1]) {
		t.Fatalf("want a BatchError with event 1 permanent, got %v", err)
	}
	if !strings.Contains(be.Failed[1].Error(), Key(text)) {
		t.Fatalf("error does not name the key: %v", be.Failed[1])
	}
	if n := len(allRows(t, out)); n != 3 {
		t.Fatalf("%d rows", n)
	}
}

func TestServerUnreachable(t *testing.T) {
	var o Options
	o.Defaults()
	o.Mode = "server"
	o.Port = 1 // nothing listens on port 1 of loopback
	o.Timeout = 2
	out, err := New(o, engine.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	err = out.Connect(context.Background())
	if err == nil {
		t.Fatal("connected to nothing")
	}
	if !errors.Is(err, engine.ErrNotConnected) {
		t.Fatalf("connect error does not wrap ErrNotConnected: %v", err)
	}
	if err := out.Write(context.Background(), testEvents(t, 1, "x")); !errors.Is(err, engine.ErrNotConnected) {
		t.Fatalf("write without a connection: %v", err)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		set   func(*Options)
		field string
	}{
		{func(o *Options) { o.Mode = "cloud" }, "mode"},
		{func(o *Options) { o.Table = "logs; DROP" }, "table"},
		{func(o *Options) { o.RetentionPeriod = "1h" }, "retention_period"},
		{func(o *Options) { o.RetentionPeriod = "soon" }, "retention_period"},
		{func(o *Options) { o.TruncationFrequency = "1m" }, "truncation_frequency"},
		{func(o *Options) { o.KeyFormat = "yaml" }, "key_format"},
		{func(o *Options) { o.ValueMaxLength = 0 }, "value_max_length"},
		{func(o *Options) { o.BatchSize = 0 }, "batch_size"},
		{func(o *Options) { o.SSLCertificate = "c.pem" }, "ssl_key"},
		{func(o *Options) { o.Mode = "server"; o.Database = "a-b" }, "database"},
	} {
		var o Options
		o.Defaults()
		c.set(&o)
		var fe *engine.FieldError
		if err := o.Validate(); !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("want a FieldError on %s, got %v", c.field, err)
		}
	}
	var o Options
	o.Defaults()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestServerLost(t *testing.T) {
	srv := immudbtest.Start(t)
	out := newOutput(t, map[string]any{"mode": "server", "host": srv.Host, "port": srv.Port})
	writeAll(t, out, testEvents(t, 10, "lost"), 10)
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := out.Write(ctx, testEvents(t, 20, "lost"))
	if !errors.Is(err, engine.ErrNotConnected) {
		t.Fatalf("write to a stopped server: %v", err)
	}
	if err := out.Connect(ctx); err == nil {
		t.Fatal("reconnected to a stopped server")
	}
}

// TestServerSmallerTxLimit: a server accepting fewer entries per transaction
// than batch_size gets smaller transactions, and nothing is lost.
func TestServerSmallerTxLimit(t *testing.T) {
	srv := immudbtest.Start(t)
	out := newOutput(t, map[string]any{"mode": "server", "host": srv.Host, "port": srv.Port, "batch_size": 3000})
	evs := testEvents(t, 3000, "big")
	writeAll(t, out, evs, 3000)
	if out.batch >= 1024 {
		t.Fatalf("rows per transaction still %d", out.batch)
	}
	checkRows(t, allRows(t, out), evs)
}
