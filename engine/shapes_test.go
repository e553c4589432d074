package engine_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine/enginetest"
	"github.com/pipelined/pipeline/engine/event"
)

// Logstash's looser value shapes decode through the typed path: a hash given as
// a flat array, and a single value where a list is expected.
func TestLogstashValueShapes(t *testing.T) {
	out := enginetest.Filter(t, "test_drop_odd", `
add_field = ["[a][b]", "1", "c", "%%{message}-x"]
add_tag   = "one"
remove_tag = "zero"
`, event.NewMessage("2"))
	if len(out) != 1 {
		t.Fatalf("got %d events; want 1", len(out))
	}
	e := out[0]
	if v, _ := e.GetString(event.MustRef("[a][b]")); v != "1" {
		t.Errorf("[a][b] = %q; want 1", v)
	}
	if v, _ := e.GetString(event.MustRef("c")); v != "2-x" {
		t.Errorf("c = %q; want 2-x", v)
	}
	if tags := e.Tags(); len(tags) != 1 || tags[0] != "one" {
		t.Errorf("tags = %v; want [one]", tags)
	}
}

// A field name that is not a valid reference is a configuration error, found
// at build time, not skipped per event.
func TestBadFieldNameIsADiagnostic(t *testing.T) {
	diags := enginetest.BuildDiags(t, ir.Filter, "test_drop_odd", "remove_field = [\"[a\"]\n")
	if !diags.HasErrors() || !strings.Contains(diags.Error(), `Invalid value for "remove_field"`) {
		t.Fatalf("diags = %v; want an invalid remove_field", diags)
	}
	if r := diags[0].Subject; r == nil || r.Start.Line != 2 {
		t.Fatalf("subject = %v; want line 2", r)
	}
}

// add_field takes a list of values per field, in written order, as
// Logstash's Decorators.add_fields: each value is added in turn, so one
// value sets a string and two make an array.
func TestAddFieldListValues(t *testing.T) {
	out := enginetest.Filter(t, "test_drop_odd", `
add_field = { ips = ["%%{message}"], pair = ["a", "b"], one = 1 }
`, event.NewMessage("2"))
	if len(out) != 1 {
		t.Fatalf("got %d events; want 1", len(out))
	}
	e := out[0]
	if v, _ := e.Get(event.MustRef("ips")); v != "2" {
		t.Errorf("ips = %#v; want \"2\"", v)
	}
	if v, _ := e.Get(event.MustRef("pair")); fmt.Sprint(v) != "[a b]" {
		t.Errorf("pair = %#v; want [a b]", v)
	}
	if v, _ := e.Get(event.MustRef("one")); v != "1" {
		t.Errorf("one = %#v; want \"1\"", v)
	}
}
