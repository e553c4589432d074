package redis

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/redislog"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// TestPubSubDropWarned: go-redis drops a pub/sub message its subscriber did
// not take for a minute, and says so on its logger; that line was sent to
// debug. It is a warning now, and counted in the channel input's counters.
func TestPubSubDropWarned(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil))) // info and above
	t.Cleanup(func() { slog.SetDefault(old) })
	in := plugintest.MustNew(t, New, "data_type = \"channel\"\nkey = \"k\"", engine.Resources{Codec: jsonCodec(t)})
	before := in.Counters()[0].Value
	// go-redis's own words (pubsub.go).
	redislog.Logger{}.Printf(context.Background(), "redis: %v channel is full for %s (message is dropped)", "x", "1m0s")
	redislog.Logger{}.Printf(context.Background(), "redis: discarding bad PubSub connection: %s", "EOF")
	if c := in.Counters()[0]; c.Name != "pubsub_messages_dropped" || c.Value != before+1 {
		t.Errorf("counter %+v; want pubsub_messages_dropped = %d", c, before+1)
	}
	if l := buf.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "pub/sub message dropped") || strings.Contains(l, "discarding") {
		t.Errorf("log:\n%s\nwant the drop at warn, the rest at debug", l)
	}
	list := plugintest.MustNew(t, New, "data_type = \"list\"\nkey = \"k\"", engine.Resources{Codec: jsonCodec(t)})
	if c := list.Counters(); c != nil {
		t.Errorf("list input counters %v; want none", c)
	}
}
