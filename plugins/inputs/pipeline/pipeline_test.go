package pipeline

import (
	"strings"
	"testing"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// TestOptions: address is required and not empty; any other string is an
// address, as in Logstash. What the input does is shown by the engine's bus
// tests and plugins/e2e (TestPipelineToPipeline*).
func TestOptions(t *testing.T) {
	for _, tc := range []struct{ opts, want string }{
		{``, `"address" is required`},
		{`address = ""`, `Invalid value for "address"; must not be empty`},
		{`address = ["a", "b"]`, `want one string; got a list of 2 values`},
	} {
		diags := plugintest.BuildDiags(t, ir.Input, "pipeline", tc.opts)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s: diags %v; want %q", tc.opts, diags, tc.want)
		}
	}
	for _, ok := range []string{`address = "myVirtualAddress"`, `address = "partner-s3"`, `address = "with space"`} {
		// The test pipeline's collecting output has no token here: only
		// the input's own diagnostics count.
		for _, d := range plugintest.BuildDiags(t, ir.Input, "pipeline", ok) {
			if !strings.Contains(d.Summary, "enginetest_collect") {
				t.Errorf("%s: %v", ok, d)
			}
		}
	}
}
