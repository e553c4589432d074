package elasticsearch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	_ "github.com/pipelined/pipeline/plugins/codecs/json"
	_ "github.com/pipelined/pipeline/plugins/codecs/rubydebug"
	_ "github.com/pipelined/pipeline/plugins/outputs/stdout"
)

// TestCheckLogstashExamples: pipeline check accepts the documented
// configurations in testdata/logstash-docs.conf.
func TestCheckLogstashExamples(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "logstash-docs.conf"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, diags := dsl.LoadSource("logstash-docs.conf", src)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if _, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{}); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
}

// TestCheckRefused: each input of testdata/refused.conf gets an error on its
// own line, saying why.
func TestCheckRefused(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "refused.conf"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{
		4:  "ES|QL queries are not supported",
		5:  "tracking_field",
		6:  "ssl was removed in Logstash 9.0; use ssl_enabled instead",
		7:  "ca_file was removed",
		8:  "query cannot specify a slice",
		9:  "api_key authentication requires TLS",
		10: "several authentications are set",
		11: "schedule",
		12: `unsupported value "pit"`,
		13: "Java trust stores cannot be read",
	}
	cfg, diags := dsl.LoadSource("refused.conf", src)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	_, diags = engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{})
	got := map[int]string{}
	for _, d := range diags {
		if d.Subject != nil {
			got[d.Subject.Start.Line] += d.Summary + "; " + d.Detail + "\n"
		}
	}
	for line, w := range want {
		if !strings.Contains(got[line], w) {
			t.Errorf("line %d: diagnostics %q; want %q", line, got[line], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("diagnostics on lines %v; want one per input", got)
	}
}
