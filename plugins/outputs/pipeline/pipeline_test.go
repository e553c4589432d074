package pipeline

import (
	"strings"
	"testing"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// TestOptions: send_to is required, a string or a list of non-empty
// strings; ensure_delivery defaults to true. What the output does is shown
// by the engine's bus tests and plugins/e2e (TestPipelineToPipeline*).
func TestOptions(t *testing.T) {
	for _, tc := range []struct{ opts, want string }{
		{``, `Invalid value for "send_to"; list at least one address`},
		{`send_to = []`, `Invalid value for "send_to"; list at least one address`},
		{`send_to = ["a", ""]`, `Invalid value for "send_to"; an address must not be empty`},
		{"send_to = [\"a\"]\nensure_delivery = \"maybe\"", `want true or false; got "maybe"`},
	} {
		diags := plugintest.BuildDiags(t, ir.Output, "pipeline", tc.opts)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s: diags %v; want %q", tc.opts, diags, tc.want)
		}
	}
	for _, ok := range []string{`send_to = "one"`, `send_to = ["a", "b", "a"]`, "send_to = [\"a\"]\nensure_delivery = false"} {
		if diags := plugintest.BuildDiags(t, ir.Output, "pipeline", ok); diags.HasErrors() {
			t.Errorf("%s: %v", ok, diags)
		}
	}
	o := plugintest.NewOptions[Options](t, `send_to = "one"`)
	if !o.EnsureDelivery || len(o.SendTo) != 1 || o.SendTo[0] != "one" {
		t.Errorf("options %+v; want send_to [one], ensure_delivery true", o)
	}
}
