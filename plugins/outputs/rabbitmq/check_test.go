package rabbitmq

import (
	"strings"
	"testing"

	"github.com/pipelined/pipeline/dsl/ir"
	rabbitmqin "github.com/pipelined/pipeline/plugins/inputs/rabbitmq"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// TestCheckDiagnostics: `pipeline check` points at the option at fault, for
// the output and the input, and accepts typical Logstash configurations.
func TestCheckDiagnostics(t *testing.T) {
	for _, tc := range []struct {
		kind       ir.Kind
		opts, want string
		line       int
	}{
		{ir.Output, "host = \"mq\"\nexchange = \"logs\"\nexchange_type = \"headers\"", `unsupported value "headers"`, 3},
		{ir.Output, "host = \"mq\"\nexchange = \"logs\"", `"exchange_type" is required`, 0},
		{ir.Output, "host = \"mq\"\nexchange = \"logs\"\nexchange_type = \"topic\"\nmessage_properties = { headers = \"x\" }", "headers are not supported", 4},
		{ir.Output, "host = \"mq\"\nexchange = \"logs\"\nexchange_type = \"topic\"\nport = 0", "from 1 to 65535", 4},
		{ir.Output, "host = \"mq\"\nexchange = \"logs\"\nexchange_type = \"topic\"\nssl = true\nssl_version = \"SSLv3\"", `"TLSv1.1", "TLSv1.2" or "TLSv1.3"`, 5},
		{ir.Output, "host = \"mq\"\nexchange = \"logs\"\nexchange_type = \"topic\"\nssl = true\nssl_certificate_path = \"/etc/c.p12\"", "must be set together", 5},
		{ir.Output, "host = \"mq\"\nexchange = \"logs\"\nexchange_type = \"topic\"\nssl_certificate_path = \"/etc/c.p12\"\nssl_certificate_password = \"pw\"", "TLS is off", 4},
		{ir.Output, "host = \"amqp://mq\"\nexchange = \"logs\"\nexchange_type = \"topic\"", "not a URL", 1},
		{ir.Input, "host = \"mq\"\nmetadata_enabled = \"all\"", `"none", "basic" or "extended"`, 2},
		{ir.Input, "host = \"mq\"\nexchange_type = \"topic\"", "exchange, which is not set", 2},
		{ir.Input, "host = \"mq\"\nprefetch_count = 70000", "from 0 to 65535", 2},
		{ir.Input, "host = \"mq\"\nconnect_retry_interval = 0", "must be positive", 2},
	} {
		diags := plugintest.BuildDiags(t, tc.kind, "rabbitmq", tc.opts)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s: diags %v; want %q", tc.opts, diags, tc.want)
			continue
		}
		if tc.line > 0 && diags[0].Subject != nil && diags[0].Subject.Start.Line != tc.line+1 { // the options start on line 2 of the file BuildDiags writes
			t.Errorf("%s: diagnostic at line %d; want %d", tc.opts, diags[0].Subject.Start.Line, tc.line+1)
		}
	}
	// Typical Logstash configurations, validated directly (BuildDiags of an
	// input also reports its test output's missing token).
	in := plugintest.NewOptions[rabbitmqin.Options](t, "host = [\"mq1\", \"mq2:5673\"]\nqueue = \"logs\"\ndurable = true\nexchange = \"logs\"\nexchange_type = \"topic\"\nkey = \"app.#\"\nprefetch_count = 500\nmetadata_enabled = true\narguments = { \"x-queue-type\" = \"quorum\" }\nuser = \"ls\"\npassword = \"secret\"\nvhost = \"prod\"\nheartbeat = 30\nssl = true\nssl_version = \"TLSv1.2\"\nthreads = 2")
	if err := in.Validate(); err != nil {
		t.Errorf("input: %v", err)
	}
	if diags := plugintest.BuildDiags(t, ir.Output, "rabbitmq", "host = \"mq\"\nexchange = \"logs\"\nexchange_type = \"direct\"\nkey = \"%%{[app]}\"\npersistent = false\nmessage_properties = {\n  content_type = \"application/json\"\n  priority = 1\n}"); diags.HasErrors() {
		t.Errorf("output: %v", diags)
	}
}
