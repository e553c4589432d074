package dsl_test

import (
	"testing"

	"github.com/pipelined/pipeline/dsl"
)

// FuzzLoadHCL: any bytes as an HCL pipeline file are loaded or refused with
// diagnostics, never a panic.
func FuzzLoadHCL(f *testing.F) {
	f.Add([]byte("input \"generator\" { count = 1 }\noutput \"stdout\" {}\n"))
	f.Add([]byte("pipeline \"main\" { workers = 2\n queue { type = \"persisted\" path = \"/tmp/q\" } }\n"))
	f.Add([]byte("filter \"mutate\" { add_field = { \"a\" = \"%{b}\" } }\nfilter \"if\" {}"))
	f.Add([]byte("input \"beats\" { port = ${PORT} }"))
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, diags := dsl.LoadSource("fuzz.hcl", src)
		if !diags.HasErrors() && cfg == nil {
			t.Fatal("no config and no error")
		}
	})
}
