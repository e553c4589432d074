package all

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
)

// TestScaleOutExample: the shippers and indexers of examples/scale-out (NATS
// JetStream and Redis Cluster) load
// and build (no server is contacted: outputs connect when they run).
func TestScaleOutExample(t *testing.T) {
	for _, name := range []string{"shipper.hcl", "indexer.hcl", "shipper-redis-cluster.hcl", "indexer-redis-cluster.hcl"} {
		path := filepath.Join("..", "..", "examples", "scale-out", name)
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		cfg, diags := dsl.LoadSource(name, src)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", name, diags.Error())
		}
		if _, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{}); diags.HasErrors() {
			t.Fatalf("%s: %s", name, diags.Error())
		}
	}
}
