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
// error.
func Body(t testing.TB, src string) hcl.Body {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), t.Name()+".hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("options: %v", diags)
	}
	return f.Body
}

// BuildDiags builds a pipeline of one plugin of kind and typ with the options
// snippet, and returns the diagnostics: for testing option validation.
func BuildDiags(t testing.TB, kind ir.Kind, typ, options string) hcl.Diagnostics {
	t.Helper()
	p := &ir.Pipeline{Name: "enginetest"}
	pl := &ir.Plugin{Kind: kind, Type: typ, ID: typ, Body: Body(t, options)}
	in := &ir.Plugin{Kind: ir.Input, Type: "enginetest_feed", ID: "feed", Body: Body(t, `token = "none"`)}
	switch kind {
	case ir.Input:
		p.Inputs = []*ir.Plugin{pl}
	default:
		p.Inputs = []*ir.Plugin{in}
		p.Filters = []ir.Node{pl}
		if kind == ir.Output {
			p.Filters = nil
			p.Outputs = []ir.Node{pl}
		}
	}
	_, diags := engine.Build(p, engine.Default, engine.Settings{Workers: 1})
	return diags
}

// Filter runs events through the filter typ configured by options (an HCL body
// as in a pipeline file) and returns what comes out, in input order. Options are
// parsed by HCL directly, so write "%%{" where a pipeline file would say "%{".
func Filter(t testing.TB, typ, options string, in ...*event.Event) []*event.Event {
	t.Helper()
	token := fmt.Sprintf("t%d", tokens.Add(1))
	feeds.Store(token, in)
	col := &collector{}
	collects.Store(token, col)
	defer feeds.Delete(token)
	defer collects.Delete(token)
	tok := fmt.Sprintf("token = %q\n", token)
	p := &ir.Pipeline{
		Name:    "enginetest",
		Inputs:  []*ir.Plugin{{Kind: ir.Input, Type: "enginetest_feed", ID: "feed", Body: Body(t, tok)}},
		Filters: []ir.Node{&ir.Plugin{Kind: ir.Filter, Type: typ, ID: typ, Body: Body(t, options)}},
		Outputs: []ir.Node{&ir.Plugin{Kind: ir.Output, Type: "enginetest_collect", ID: "collect", Body: Body(t, tok)}},
	}
	// One worker and a batch holding every event keep the output in input order.
	pl, diags := engine.Build(p, engine.Default, engine.Settings{Workers: 1, BatchSize: max(len(in), 1)})
	if diags.HasErrors() {
		t.Fatalf("build %s: %v", typ, diags)
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
