package engine

import (
	"context"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine/event"
)

type ECSGroup struct {
	ECS string `hcl:"ecs_compatibility,optional"`
}

type ecsOptions struct {
	Field string `hcl:"field,optional"`
	ECSGroup
}

func (o *ecsOptions) Defaults() { o.ECS = "v8" }

type passFilter struct{}

func (passFilter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	return append(out, e), nil
}

type noECSOptions struct {
	Mode string `hcl:"mode,optional"`
}

// TestPipelineECSCompatibility: pipeline.ecs_compatibility replaces the
// default ecs_compatibility of every plugin that has the option (embedded
// in an option group or not); a value the plugin sets wins, as in Logstash;
// plugins without the option are untouched; without the setting each plugin
// keeps its own default.
func TestPipelineECSCompatibility(t *testing.T) {
	got := map[string]string{}
	reg := NewRegistry()
	reg.Add(newFactory(ir.Filter, "ecsprobe", func(o ecsOptions, _ Resources) (Filter, error) {
		got[o.Field] = o.ECS
		return passFilter{}, nil
	}, nil))
	reg.Add(newFactory(ir.Filter, "noecs", func(o noECSOptions, _ Resources) (Filter, error) {
		got["noecs"] = o.Mode
		return passFilter{}, nil
	}, nil))
	for _, tc := range []struct {
		settings string
		want     map[string]string
	}{
		{"", map[string]string{"a": "v8", "b": "v1", "noecs": ""}},
		{"pipeline.ecs_compatibility: disabled", map[string]string{"a": "disabled", "b": "v1", "noecs": ""}},
	} {
		clear(got)
		p := &ir.Pipeline{Name: "main"}
		for _, f := range []struct{ typ, body string }{
			{"ecsprobe", `field = "a"`}, {"ecsprobe", "field = \"b\"\necs_compatibility = \"v1\""}, {"noecs", ``},
		} {
			file, diags := hclsyntax.ParseConfig([]byte(f.body), "ecs.hcl", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			p.Filters = append(p.Filters, &ir.Plugin{Kind: ir.Filter, Type: f.typ, ID: f.typ, Body: file.Body})
		}
		if tc.settings != "" {
			if ok, _, err := p.Settings.SetSetting("pipeline.ecs_compatibility", "disabled"); !ok || err != nil {
				t.Fatalf("SetSetting: %v, %v", ok, err)
			}
		}
		_, diags := Build(p, reg, Settings{Workers: 1})
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: plugin %s built with ecs_compatibility %q; want %q", tc.settings, k, got[k], v)
			}
		}
	}
}
