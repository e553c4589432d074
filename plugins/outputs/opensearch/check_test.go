package opensearch

import (
	"os"
	"strings"
	"testing"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"

	_ "github.com/pipelined/pipeline/plugins/codecs/plain"
	_ "github.com/pipelined/pipeline/plugins/inputs/generator"
)

// TestCheckCorpusStyle: pipeline check (load and build, nothing connects)
// accepts the options as real configurations write them.
func TestCheckCorpusStyle(t *testing.T) {
	src, err := os.ReadFile("testdata/corpus-style.conf")
	if err != nil {
		t.Fatal(err)
	}
	cfg, diags := dsl.LoadSource("corpus-style.conf", src)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if _, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{}); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
}

// TestMapping: OpenSearch's defaults and names become the elasticsearch
// output's options: a daily index (no ILM, no data stream), legacy
// templates, no gzip, 9 MiB bulks, TLS from ssl/cacert/tls_*.
func TestMapping(t *testing.T) {
	o := plugintest.NewOptions[Options](t, "")
	es, err := o.es()
	if err != nil {
		t.Fatal(err)
	}
	if es.Index != "" || es.ILMEnabled != "false" || es.DataStream != "false" || es.TemplateAPI != "legacy" ||
		es.CompressionLevel != 0 || es.TargetBulkBytes != 9<<20 || es.ManageTemplate == nil || !*es.ManageTemplate {
		t.Errorf("defaults map to %+v", es)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}

	o = plugintest.NewOptions[Options](t, `
hosts = ["os1:9200"]
ssl = true
ssl_certificate_verification = false
cacert = "/etc/ca.pem"
tls_certificate = "/etc/c.pem"
tls_key = "/etc/k.pem"
legacy_template = false
http_compression = true
auth_type = { type = "basic", user = "u", password = "p" }
failure_type_logging_whitelist = ["x"]
`)
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	es, _ = o.es()
	if es.SSLEnabled == nil || !*es.SSLEnabled || es.SSLVerificationMode != "none" ||
		len(es.SSLCertificateAuthorities) != 1 || es.SSLCertificate != "/etc/c.pem" || es.SSLKey != "/etc/k.pem" ||
		es.TemplateAPI != "composable" || es.CompressionLevel != 1 || es.User != "u" || es.Password != "p" ||
		len(es.SilenceErrorsInLog) != 1 {
		t.Errorf("options map to %+v", es)
	}
}

// TestOptionErrors: check's diagnostics name the OpenSearch option and say
// what to do.
func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct{ opts, want string }{
		{`auth_type = { type = "aws_iam", region = "us-west-2" }`, `"auth_type"; type "aws_iam" (AWS SigV4 request signing) is not supported`},
		{`auth_type = { type = "digest" }`, `unsupported type "digest"`},
		{`auth_type = { type = "basic", user = "u" }`, "needs user and password"},
		{`auth_type = { type = "basic", user = "u", password = "p" }
user = "v"`, "not both"},
		{`truststore = "/etc/ts.jks"`, `"truststore"; Java keystores are not supported`},
		{`keystore = "/etc/ks.p12"`, `"keystore"; Java keystores are not supported`},
		{`hosts = ["http://os:9200"]
ssl = true`, `"hosts"; ssl_enabled => true but host "http://os:9200" is http://`},
		{`tls_certificate = "/etc/c.pem"
hosts = ["https://os:9200"]`, `"tls_key"`},
		{`action = "upsert"`, `unsupported action "upsert"`},
		{`action = "update"`, `"document_id"; required with action => "update"`},
		{`version_type = "newer"`, `unsupported value "newer"`},
		{`hosts = ["ftp://os"]`, `unsupported scheme "ftp"`},
		{`timeout = 0`, "must be at least 1"},
		{`password = "p"`, "user is required with password"},
		{`template = "testdata/missing.json"`, `"template"; the file "testdata/missing.json" does not exist`},
	} {
		diags := plugintest.BuildDiags(t, ir.Output, "opensearch", tc.opts)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s:\n  diags %v\n  want %q", tc.opts, diags, tc.want)
		}
	}
}
