package elasticsearch

import (
	"testing"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// BenchmarkAppendAction measures encoding one event's bulk lines for the
// main option shapes (index, data stream with synced fields, scripted
// update), to compare the data stream path with the plain one.
func BenchmarkAppendAction(b *testing.B) {
	e := event.New()
	_ = e.Set(event.MustRef("message"), "Dec  7 12:00:00 host sshd[123]: Accepted publickey for alice from 10.0.0.1 port 22 ssh2")
	_ = e.Set(event.MustRef("[host][name]"), "web-1")
	_ = e.Set(event.MustRef("[log][level]"), "info")
	_ = e.Set(event.MustRef("count"), int64(3))
	_ = e.Set(event.MustRef("id"), "abc")
	for _, c := range []struct {
		name string
		mod  func(*Options)
	}{
		{"index", func(o *Options) { o.Index = "logs-%{+YYYY.MM.dd}" }},
		{"data_stream", func(o *Options) {}},
		{"update_script", func(o *Options) {
			o.Index, o.Action, o.DocumentID, o.Script, o.ScriptedUpsert = "c", "update", "%{id}", "ctx._source.n++", true
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var o Options
			o.Defaults()
			c.mod(&o)
			out, err := New(o, engine.Resources{})
			if err != nil {
				b.Fatal(err)
			}
			out.major = 8
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				buf, _, err = out.appendAction(buf[:0], e)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
			b.ReportMetric(float64(len(buf)), "bytes/event")
		})
	}
}

// TestAppendSyncedMatchesEncoder: the hand-written top level of a data
// stream document is what the event encoder writes for the same fields,
// whatever the keys (escaped, non-ASCII, sorting around "data_stream").
func TestAppendSyncedMatchesEncoder(t *testing.T) {
	var o Options
	o.Defaults()
	out, err := New(o, engine.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ds := range []any{nil, "text", map[string]any{"dataset": "x", "extra": int64(1)}} {
		e := event.New()
		for _, k := range []string{"a\"b", "zé", "data_streamer", "data", "Z", "tab\there"} {
			_ = e.Set(event.MustRef("["+k+"]"), k)
		}
		if ds != nil {
			_ = e.Set(event.MustRef("data_stream"), ds)
		}
		fields := map[string]any{}
		for k, v := range e.Fields() {
			fields[k] = v
		}
		old, _ := fields["data_stream"].(map[string]any)
		fields["data_stream"] = out.syncedDataStream(old)
		want := string(event.AppendJSONValue(nil, fields))
		if got := string(out.appendSynced(nil, e)); got != want {
			t.Errorf("data_stream %v:\n got %s\nwant %s", ds, got, want)
		}
	}
}
