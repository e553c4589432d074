package all

import (
	"testing"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
)

func TestRegistered(t *testing.T) {
	want := map[ir.Kind][]string{
		ir.Codec:  {"json", "json_lines", "line", "plain", "rubydebug"},
		ir.Filter: {"drop"},
		ir.Input:  {"generator", "stdin"},
		ir.Output: {"file", "null", "stdout"},
	}
	defaultCodec := map[string]string{
		"stdin": "line", "generator": "plain", "stdout": "rubydebug", "file": "json_lines", "null": "plain",
	}
	for kind, names := range want {
		for _, name := range names {
			f, ok := engine.Default.Lookup(kind, name)
			if !ok {
				t.Errorf("%s plugin %q is not registered", kind, name)
				continue
			}
			if got := f.DefaultCodec; got != defaultCodec[name] {
				t.Errorf("%s %q: default codec %q; want %q", kind, name, got, defaultCodec[name])
			}
			// Defaults must pass validation.
			if v, ok := f.NewOptions().(engine.Validator); ok {
				if err := v.Validate(); err != nil && name != "file" {
					t.Errorf("%s %q: defaults do not validate: %v", kind, name, err)
				}
			}
		}
	}
}
