package elasticsearch

import (
	"os"
	"strings"
	"testing"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"

	"github.com/pipelined/pipeline/dsl/ir"
)

// TestCheckAllOptions: pipeline check (load and build, nothing connects)
// accepts testdata/all-options.conf, which uses every option family of the
// output: templates, ILM, data streams, actions and their parameters.
func TestCheckAllOptions(t *testing.T) {
	src, err := os.ReadFile("testdata/all-options.conf")
	if err != nil {
		t.Fatal(err)
	}
	// The input is this package's test source.
	sources.Store("check", &source{})
	defer sources.Delete("check")
	cfg, diags := dsl.LoadSource("all-options.conf", src)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if _, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{}); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if n := strings.Count(string(src), "elasticsearch {"); n < 9 {
		t.Fatalf("%d outputs; the file lost some", n)
	}
}

// TestHTTPCompression: the deprecated http_compression maps to
// compression_level as in Logstash (true is 1, false is 0: no gzip).
func TestHTTPCompression(t *testing.T) {
	for _, tc := range []struct {
		set  *bool
		want int
	}{{nil, 1}, {new(bool), 0}, {func() *bool { b := true; return &b }(), 1}} {
		var o Options
		o.Defaults()
		o.HTTPCompression = tc.set
		if got := o.compressionLevel(); got != tc.want {
			t.Errorf("http_compression %v: level %d; want %d", tc.set, got, tc.want)
		}
	}
}

// TestIndexingOptionErrors: Logstash's checks of the indexing options are
// diagnostics on the option, saying why and what to do.
func TestIndexingOptionErrors(t *testing.T) {
	for _, tc := range []struct{ opts, want string }{
		{`data_stream = true
index = "x"`, `"index"; data_stream => true does not go with index`},
		{`data_stream = true
action = "index"`, "does not go with action"},
		{`data_stream = true
document_id = "%{id}"`, "does not go with document_id"},
		{`data_stream = true
ecs_compatibility = "disabled"`, "data_stream => true needs ECS compatibility"},
		{`data_stream = false
data_stream_dataset = "x"`, "ambiguous configuration: data_stream => false, but data_stream_dataset is set"},
		{`index = "x"
data_stream_type = "metrics"`, "data streams are off because of index"},
		{`ecs_compatibility = "disabled"
data_stream_namespace = "x"`, "data streams are off with ecs_compatibility => disabled"},
		{`data_stream = "yes"`, `unsupported value "yes"`},
		{`data_stream_type = "events"`, `unsupported value "events"`},
		{`data_stream_dataset = "a b"`, `holds " "`},
		{`data_stream_namespace = ""`, "must not be empty"},
		{`ilm_enabled = "maybe"`, `"ilm_enabled"; unsupported value "maybe"`},
		{`ilm_rollover_alias = "logs-%{app}"`, "cannot be a sprintf template"},
		{`template_api = "v2"`, `unsupported value "v2"`},
		{`version_type = "newer"`, `unsupported value "newer"`},
		{`script_type = "stored"`, `unsupported value "stored"`},
		{`index = "x"
action = "index"
script = "ctx.x = 1"`, `is only used by the update action, and action is "index"`},
		{`index = "x"
action = "update"
document_id = "a"
scripted_upsert = true`, "needs script"},
		{`index = "x"
action = "update"
document_id = "a"
upsert = "{nope"`, "is not JSON"},
		{`ecs_compatibility = "v2"`, `unsupported value "v2"`},
		{`retry_on_conflict = -1`, "must not be negative"},
		{`http_compression = true
compression_level = 5`, "set compression_level only"},
		{`template = "testdata/templates/missing.json"`, `"template"; the file "testdata/templates/missing.json" does not exist`},
	} {
		diags := plugintest.BuildDiags(t, ir.Output, "elasticsearch", tc.opts)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s:\n  diags %v\n  want %q", tc.opts, diags, tc.want)
		}
	}
}
