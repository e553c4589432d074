// Package enginetest runs plugins through the real engine in tests: options are
// decoded from an HCL snippet, and the engine's common options,
// acknowledgements and routing apply.
//
// Filter, Output, Input and BuildDiags read the options as plain HCL (so
// "%{…}" must be written "%%{…}"), and engine never needs
// a configuration front-end (it never imports dsl). To read them as a
// pipeline file does ("%{…}" and invalid escapes literal, "${VAR}"
// substituted), give With the front-end's loader, e.g. With(dsl.LoadSource);
// plugins/internal/testkit/plugintest does that for the plugins of this
// module.
//
// Subpackage logwatch runs a pipeline process and waits for lines of its log.
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
// error. It is plain HCL: write "%%{" for a literal "%{".
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

// Loader turns the source of one configuration file into IR; filename picks
// the front-end and names the file in diagnostics (dsl.LoadSource is one).
type Loader func(filename string, src []byte) (*ir.Config, hcl.Diagnostics)

// Runner builds and runs one-plugin pipelines; its zero value reads options as
// plain HCL.
type Runner struct{ load Loader }

// With returns a Runner that writes each test pipeline as a pipeline file and
// loads it with load, so options mean what they mean in a pipeline file.
func With(load Loader) Runner { return Runner{load: load} }

// pipeline makes a one-plugin pipeline whose plugin options start on line 2
// of the file named after the test.
func (r Runner) pipeline(t testing.TB, kind ir.Kind, typ, options, token string) (*ir.Pipeline, hcl.Diagnostics) {
	t.Helper()
	if r.load == nil {
		return plainPipeline(t, kind, typ, options, token)
	}
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
	cfg, diags := r.load(t.Name()+".hcl", []byte(src))
	if diags.HasErrors() || cfg == nil || len(cfg.Pipelines) != 1 {
		return nil, diags
	}
	return cfg.Pipelines[0], diags
}

// plainPipeline builds the IR of pipeline's file by hand, with options parsed
// as plain HCL (a leading newline keeps them on line 2, as in the file).
func plainPipeline(t testing.TB, kind ir.Kind, typ, options, token string) (*ir.Pipeline, hcl.Diagnostics) {
	t.Helper()
	name := t.Name() + ".hcl"
	f, diags := hclsyntax.ParseConfig([]byte("\n"+options), name, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	rng := hcl.Range{Filename: name, Start: hcl.InitialPos, End: hcl.InitialPos}
	plugin := func(kind ir.Kind, typ string, body hcl.Body) *ir.Plugin {
		return &ir.Plugin{Kind: kind, Type: typ, ID: typ, Body: body, Range: rng, TypeRange: rng}
	}
	tokenBody := func(typ string) hcl.Body {
		b, _ := hclsyntax.ParseConfig([]byte(fmt.Sprintf("token = %q\n", token)), typ+".hcl", hcl.InitialPos)
		return b.Body
	}
	p := &ir.Pipeline{Name: "main", Range: rng}
	feed := plugin(ir.Input, "enginetest_feed", tokenBody("enginetest_feed"))
	collect := plugin(ir.Output, "enginetest_collect", tokenBody("enginetest_collect"))
	self := plugin(kind, typ, f.Body)
	switch kind {
	case ir.Input:
		p.Inputs, p.Outputs = []*ir.Plugin{self}, []ir.Node{collect}
	case ir.Output:
		p.Inputs, p.Outputs = []*ir.Plugin{feed}, []ir.Node{self}
	default:
		p.Inputs, p.Filters, p.Outputs = []*ir.Plugin{feed}, []ir.Node{self}, []ir.Node{collect}
	}
	return p, diags
}

// BuildDiags builds a pipeline holding one plugin of kind and typ with the
// options (plain HCL; they start on line 2) and returns the diagnostics: for
// testing option validation.
func BuildDiags(t testing.TB, kind ir.Kind, typ, options string) hcl.Diagnostics {
	t.Helper()
	return Runner{}.BuildDiags(t, kind, typ, options)
}

// BuildDiags is like the package function BuildDiags, with options read as r
// reads them.
func (r Runner) BuildDiags(t testing.TB, kind ir.Kind, typ, options string) hcl.Diagnostics {
	t.Helper()
	p, diags := r.pipeline(t, kind, typ, options, "none")
	if p == nil {
		return diags
	}
	_, d := engine.Build(p, engine.Default, engine.Settings{Workers: 1})
	return append(diags, d...)
}

// CheckDiags is like BuildDiags, built as `pipeline check` builds
// (Settings.Check): errors marked engine.AtStart are warnings.
func (r Runner) CheckDiags(t testing.TB, kind ir.Kind, typ, options string) hcl.Diagnostics {
	t.Helper()
	p, diags := r.pipeline(t, kind, typ, options, "none")
	if p == nil {
		return diags
	}
	_, d := engine.Build(p, engine.Default, engine.Settings{Workers: 1, Check: true})
	return append(diags, d...)
}

// Filter runs events through the filter typ configured by options (plain HCL)
// and returns what comes out, in input order, after the engine's common
// options.
func Filter(t testing.TB, typ, options string, in ...*event.Event) []*event.Event {
	t.Helper()
	return Runner{}.Filter(t, typ, options, in...)
}

// Filter is like the package function Filter, with options read as r reads
// them.
func (r Runner) Filter(t testing.TB, typ, options string, in ...*event.Event) []*event.Event {
	t.Helper()
	return r.run(t, ir.Filter, typ, options, in, 30*time.Second)
}

// Output sends events through the output typ configured by options and
// returns once the pipeline has drained: every event was written, or failed
// for good.
func Output(t testing.TB, typ, options string, in ...*event.Event) {
	t.Helper()
	Runner{}.Output(t, typ, options, in...)
}

// Output is like the package function Output, with options read as r reads
// them.
func (r Runner) Output(t testing.TB, typ, options string, in ...*event.Event) {
	t.Helper()
	r.run(t, ir.Output, typ, options, in, 30*time.Second)
}

// Input runs the input typ configured by options until it returns (a finite
// input) or d passes (then it is stopped and the pipeline drains), and returns
// the events it emitted, in order, after the engine's common options.
func Input(t testing.TB, typ, options string, d time.Duration) []*event.Event {
	t.Helper()
	return Runner{}.Input(t, typ, options, d)
}

// Input is like the package function Input, with options read as r reads
// them.
func (r Runner) Input(t testing.TB, typ, options string, d time.Duration) []*event.Event {
	t.Helper()
	return r.run(t, ir.Input, typ, options, nil, d)
}

// run builds the one-plugin pipeline of kind, feeds it in, runs it until it
// has drained or d passes, and returns what reached the collecting output.
func (r Runner) run(t testing.TB, kind ir.Kind, typ, options string, in []*event.Event, d time.Duration) []*event.Event {
	t.Helper()
	token := fmt.Sprintf("t%d", tokens.Add(1))
	feeds.Store(token, in)
	col := &collector{}
	collects.Store(token, col)
	defer feeds.Delete(token)
	defer collects.Delete(token)
	p, diags := r.pipeline(t, kind, typ, options, token)
	if p == nil {
		t.Fatalf("load %s: %v", typ, diags)
	}
	// One worker and a batch holding every event keep the output in input order.
	pl, dg := engine.Build(p, engine.Default, engine.Settings{Workers: 1, BatchSize: max(len(in), 1)})
	if dg.HasErrors() {
		t.Fatalf("build %s: %v", typ, dg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := pl.Run(ctx); err != nil {
		t.Fatalf("run %s: %v", typ, err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	return col.got
}
