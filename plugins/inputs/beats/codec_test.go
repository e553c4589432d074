package beats

import (
	"strings"
	"testing"
	"time"

	lumberclient "github.com/elastic/go-lumber/client/v2"

	"github.com/pipelined/pipeline/engine/event"
	_ "github.com/pipelined/pipeline/plugins/codecs/json"
)

func get(e *event.Event, field string) any {
	v, _ := e.Get(event.MustRef(field))
	return v
}

// With a codec the beats input decodes message (or, from a lumberjack
// sender, line) and sets the beat's other fields over the decoded event,
// maps merged, the beat's @timestamp kept, as Logstash's beats input does;
// without one, line becomes message (its default plain codec).
func TestCodecDecodesTarget(t *testing.T) {
	h := start(t, "codec \"json\" {}", nil, "")
	c, err := lumberclient.SyncDial(h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	docs := []any{
		map[string]any{"@timestamp": "2026-11-24T03:28:57.512Z", "message": `{"user":"ann","host":{"ip":"10.0.0.1"},"level":"warn"}`,
			"host": map[string]any{"name": "web-1"}, "@metadata": map[string]any{"beat": "filebeat"}},
		map[string]any{"line": `{"from":"logstash","message":"forwarded"}`},
		map[string]any{"other": 1},
	}
	if _, err := c.Send(docs); err != nil {
		t.Fatal(err)
	}
	evs := h.sink.Events()
	if len(evs) != 3 {
		t.Fatalf("%d events", len(evs))
	}
	a := evs[0]
	if get(a, "user") != "ann" || get(a, "[host][ip]") != "10.0.0.1" || get(a, "[host][name]") != "web-1" ||
		get(a, "message") != nil || get(a, "[@metadata][beat]") != "filebeat" ||
		!a.Timestamp().Equal(time.Date(2026, 11, 24, 3, 28, 57, 512e6, time.UTC)) || !a.HasTag("beats_input_codec_json_applied") {
		t.Errorf("decoded message: %v meta %v ts %v", a.Fields(), a.Metadata(), a.Timestamp())
	}
	b := evs[1]
	if get(b, "from") != "logstash" || get(b, "message") != "forwarded" || get(b, "line") != nil {
		t.Errorf("decoded line: %v", b.Fields())
	}
	if x := evs[2]; get(x, "other") != int64(1) || len(x.Tags()) != 0 {
		t.Errorf("event without a target: %v", x.Fields())
	}

	plain := start(t, "", nil, "")
	pc, err := lumberclient.SyncDial(plain.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.Send([]any{map[string]any{"line": "from a forwarder"}}); err != nil {
		t.Fatal(err)
	}
	p := plain.sink.Events()[0]
	if get(p, "message") != "from a forwarder" || get(p, "line") != nil || strings.Join(p.Tags(), ",") != CodecTag {
		t.Errorf("line without a codec: %v", p.Fields())
	}
}
