package engine_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/pipelined/pipeline/engine"
)

type lifecycleGroup struct {
	SSL *bool `hcl:"ssl,optional" deprecated:"ssl_enabled"`
}

type lifecycleOptions struct {
	Hosts        []string       `hcl:"hosts,optional"`
	DocumentType string         `hcl:"document_type,optional" deprecated:"there is no replacement: Elasticsearch 8 has no mapping types"`
	FlushSize    engine.Removed `hcl:"flush_size,optional" removed:"7.0" use:"pipeline.batch.size"`
	Workers      engine.Removed `hcl:"workers,optional" removed:"6.0"`
	lifecycleGroup
}

// Deprecated options decode with one warning each, naming the replacement;
// removed ones are refused with the version and the replacement; both in
// option groups too.
func TestDeprecatedAndRemovedOptions(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`hosts = ["a"]`, ``},
		{`ssl = true`, `warning Deprecated option "ssl": Logstash has deprecated ssl; it still works, but use ssl_enabled instead. [1:1]`},
		{`document_type = "doc"`, `warning Deprecated option "document_type": Logstash has deprecated document_type; it still works, but there is no replacement: Elasticsearch 8 has no mapping types. [1:1]`},
		{"hosts = [\"a\"]\nflush_size = 500", `error Removed option "flush_size": flush_size was removed in Logstash 7.0; use pipeline.batch.size instead. [2:1]`},
		{`workers = 2`, `error Removed option "workers": workers was removed in Logstash 6.0. [1:1]`},
	} {
		f, diags := hclsyntax.ParseConfig([]byte(tc.src), "t.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		var o lifecycleOptions
		diags = engine.DecodeOptions(f.Body, &o)
		var got []string
		for _, d := range diags {
			sev := "error"
			if d.Severity == hcl.DiagWarning {
				sev = "warning"
			}
			got = append(got, sev+" "+d.Summary+": "+d.Detail+" ["+fmt.Sprintf("%d:%d", d.Subject.Start.Line, d.Subject.Start.Column)+"]")
		}
		if g := strings.Join(got, "\n"); g != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.src, g, tc.want)
		}
		if tc.src == `ssl = true` && (o.SSL == nil || !*o.SSL) {
			t.Errorf("ssl = true decoded as %v", o.SSL)
		}
	}
}
