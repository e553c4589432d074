package all

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
)

// TestScaleOutExample: the shipper and indexer of examples/scale-out load
// and build (no server is contacted: outputs connect when they run).
func TestScaleOutExample(t *testing.T) {
	for _, name := range []string{"shipper.hcl", "indexer.hcl"} {
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
