package geoip_test

import (
	"context"
	"os"
	"testing"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/filters/cidr"
	"github.com/pipelined/pipeline/plugins/filters/geoip"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

func benchIP(b *testing.B, f engine.Filter) {
	ctx := context.Background()
	ref := event.MustRef("clientip")
	out := make([]*event.Event, 0, 1)
	b.ReportAllocs()
	for b.Loop() {
		e := event.New()
		_ = e.Set(ref, "216.160.83.58")
		out, _ = f.Filter(ctx, e, out[:0])
	}
}

// BenchmarkCity looks an address up in the test City database and stores the
// default fields; BenchmarkCIDRPeer checks the same address against two
// networks with cidr, the other IP filter, for a ratio.
func BenchmarkCity(b *testing.B) {
	benchIP(b, plugintest.MustNew(b, geoip.New, `source = "clientip"
ecs_compatibility = "disabled"
database = "`+os.Getenv("GEOIP_TESTDATA")+`/city.mmdb"`, engine.Resources{}))
}

func BenchmarkCIDRPeer(b *testing.B) {
	benchIP(b, plugintest.MustNew(b, cidr.New, `address = ["%%{clientip}"]
network = ["10.0.0.0/8", "216.160.0.0/16"]`, engine.Resources{}))
}
