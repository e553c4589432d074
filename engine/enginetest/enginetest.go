// Package enginetest runs plugins through the real engine in tests: options are
// decoded from an HCL snippet exactly as in a pipeline file, and the engine's
// common options, acknowledgements and routing apply.
package enginetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// Feed and collect plugins, keyed by a per-call token so tests can run in
// parallel.
var (
	feeds    sync.Map // token → []*event.Event
	collects sync.Map // token → *collector
	tokens   atomic.Int64
)

type feedOptions struct {
	Token string `hcl:"token"`
}

type feed struct{ token string }

func (f *feed) Run(ctx context.Context, emit engine.EmitFunc) error {
	v, _ := feeds.Load(f.token)
	evs := v.([]*event.Event)
	if len(evs) == 0 {
		return nil
	}
	return emit(engine.Batch{Events: evs})
}

type collector struct {
	mu  sync.Mutex
	got []*event.Event
}

type collectOptions struct {
	Token string `hcl:"token"`
}

type collect struct{ c *collector }

func (c *collect) Connect(context.Context) error { return nil }
func (c *collect) Close(context.Context) error   { return nil }
func (c *collect) Write(_ context.Context, evs []*event.Event) error {
	c.c.mu.Lock()
	defer c.c.mu.Unlock()
	c.c.got = append(c.c.got, evs...)
	return nil
}

func init() {
	engine.RegisterInput("enginetest_feed", func(o feedOptions, _ engine.Resources) (*feed, error) {
		return &feed{token: o.Token}, nil
	})
	engine.RegisterOutput("enginetest_collect", func(o collectOptions, _ engine.Resources) (*collect, error) {
		v, ok := collects.Load(o.Token)
		if !ok {
			return nil, fmt.Errorf("enginetest: unknown token %q", o.Token)
		}
		return &collect{c: v.(*collector)}, nil
	})
}

// Body parses an HCL snippet into a plugin body, failing the test on a syntax
// error. It is plain HCL: write "%%{" for a literal "%{" (Filter and BuildDiags
// read pipeline-file syntax instead).
func Body(t testing.TB, src string) hcl.Body {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), t.Name()+".hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("options: %v", diags)
	}
	return f.Body
}

// DecodeOptions decodes the plain-HCL snippet src into o, a pointer to a
// plugin's Options with its defaults set, as Build does (without Validate).
func DecodeOptions(o any, src []byte) error {
	f, diags := hclsyntax.ParseConfig(src, "options.hcl", hcl.InitialPos)
	if !diags.HasErrors() {
		diags = engine.DecodeOptions(f.Body, o)
	}
	if diags.HasErrors() {
		return diags
	}
	return nil
}

// pipeline loads a one-plugin pipeline written as a pipeline file would be
// (so "%{…}" and "${VAR}" mean what they mean there). The plugin's options
// start on line 2 of the file.
func pipeline(t testing.TB, kind ir.Kind, typ, options, token string) (*ir.Pipeline, hcl.Diagnostics) {
	t.Helper()
	block := fmt.Sprintf("%s %q %q {\n%s\n}\n", kind, typ, typ, options)
	feed := fmt.Sprintf("input \"enginetest_feed\" \"feed\" {\n  token = %q\n}\n", token)
	collect := fmt.Sprintf("output \"enginetest_collect\" \"collect\" {\n  token = %q\n}\n", token)
	var src string
	switch kind {
	case ir.Input:
		src = block + collect
	case ir.Output:
		src = block + feed
	default:
		src = block + feed + collect
	}
	cfg, diags := dsl.LoadSource(t.Name()+".hcl", []byte(src))
	if diags.HasErrors() || len(cfg.Pipelines) != 1 {
		return nil, diags
	}
	return cfg.Pipelines[0], diags
}

// BuildDiags builds a pipeline holding one plugin of kind and typ with the
// options (pipeline-file syntax; they start on line 2) and returns the
// diagnostics: for testing option validation.
func BuildDiags(t testing.TB, kind ir.Kind, typ, options string) hcl.Diagnostics {
	t.Helper()
	p, diags := pipeline(t, kind, typ, options, "none")
	if p == nil {
		return diags
	}
	_, d := engine.Build(p, engine.Default, engine.Settings{Workers: 1})
	return append(diags, d...)
}

// Filter runs events through the filter typ configured by options (written as
// in a pipeline file) and returns what comes out, in input order, after the
// engine's common options.
func Filter(t testing.TB, typ, options string, in ...*event.Event) []*event.Event {
	t.Helper()
	token := fmt.Sprintf("t%d", tokens.Add(1))
	feeds.Store(token, in)
	col := &collector{}
	collects.Store(token, col)
	defer feeds.Delete(token)
	defer collects.Delete(token)
	p, diags := pipeline(t, ir.Filter, typ, options, token)
	if p == nil {
		t.Fatalf("load %s: %v", typ, diags)
	}
	// One worker and a batch holding every event keep the output in input order.
	pl, d := engine.Build(p, engine.Default, engine.Settings{Workers: 1, BatchSize: max(len(in), 1)})
	if d.HasErrors() {
		t.Fatalf("build %s: %v", typ, d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pl.Run(ctx); err != nil {
		t.Fatalf("run %s: %v", typ, err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	return col.got
}
