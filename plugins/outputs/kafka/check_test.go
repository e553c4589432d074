package kafka

import (
	"strings"
	"testing"

	"github.com/pipelined/pipeline/dsl/ir"
	kafkain "github.com/pipelined/pipeline/plugins/inputs/kafka"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// TestCheckDiagnostics: `pipeline check` points at the option at fault, for
// the output and the input, and accepts a typical Logstash configuration.
func TestCheckDiagnostics(t *testing.T) {
	for _, tc := range []struct {
		kind       ir.Kind
		opts, want string
		line       int
	}{
		{ir.Output, "topic_id = \"t\"\nacks = \"2\"", `unsupported value "2"`, 2},
		{ir.Output, "topic_id = \"t\"\ncompression_type = \"brotli\"", "compression_type", 2},
		{ir.Output, "topic_id = \"t\"\nsecurity_protocol = \"SASL_SSL\"", "GSSAPI", 0},
		{ir.Input, "topics = [\"a\"]\nauto_offset_reset = \"smallest\"", `"earliest", "latest" or "none"`, 2},
		{ir.Input, "decorate_events = \"all\"", `"none", "basic" or "extended"`, 1},
		{ir.Input, "ssl_truststore_location = \"/etc/k.jks\"", "only PEM trust stores", 0},
	} {
		diags := plugintest.BuildDiags(t, tc.kind, "kafka", tc.opts)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s: diags %v; want %q", tc.opts, diags, tc.want)
			continue
		}
		if tc.line > 0 && diags[0].Subject != nil && diags[0].Subject.Start.Line != tc.line+1 { // the options start on line 2 of the file BuildDiags writes
			t.Errorf("%s: diagnostic at line %d; want %d", tc.opts, diags[0].Subject.Start.Line, tc.line+1)
		}
	}
	// A typical Logstash input, validated directly: BuildDiags of an input
	// also reports its test output's missing token.
	in := plugintest.NewOptions[kafkain.Options](t, "bootstrap_servers = \"k1:9092,k2:9092\"\ntopics = [\"app\"]\ngroup_id = \"ls\"\nconsumer_threads = 3\ndecorate_events = true\nauto_offset_reset = \"earliest\"\nsecurity_protocol = \"SASL_SSL\"\nsasl_mechanism = \"SCRAM-SHA-512\"\nsasl_jaas_config = \"org.apache.kafka.common.security.scram.ScramLoginModule required username='u' password='p';\"")
	if err := in.Validate(); err != nil {
		t.Errorf("input: %v", err)
	}
	for _, tc := range []struct {
		kind ir.Kind
		opts string
	}{
		{ir.Output, "bootstrap_servers = \"k1:9092\"\ntopic_id = \"%{[@metadata][topic]}\"\nmessage_key = \"%{host}\"\nacks = \"all\"\ncompression_type = \"lz4\"\nlinger_ms = 5\nbatch_size = 65536"},
	} {
		if diags := plugintest.BuildDiags(t, tc.kind, "kafka", tc.opts); diags.HasErrors() {
			t.Errorf("%s: %v", tc.opts, diags)
		}
	}
}
