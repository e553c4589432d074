package pipetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// Budgets of one test case run.
const (
	// maxEventsPerLine bounds the events a codec may make of one input line.
	maxEventsPerLine = 100000
	// maxActualEvents bounds the events the outputs of one run collect.
	maxActualEvents = 1000000
	// DefaultCaseTimeout bounds one test case's run.
	DefaultCaseTimeout = 30 * time.Second
)

// Names of the replacement plugins and of LFV's own fields.
const (
	memInputPrefix = "pipeline_test_input_"
	memOutput      = "pipeline_test_output"
	lfvInputID     = "__lfv_input"
	lfvIDKey       = "__lfv_id"
	lfvOutPassed   = "_lfv_out_passed"
)

// Runner runs test cases against one configuration.
type Runner struct {
	cfg     *ir.Config
	mocks   []Mock
	reg     *engine.Registry
	timeout time.Duration
	clock   time.Time             // when set, "now" for filters and new events' @timestamp
	codecs  map[string]*ir.Plugin // LFV `codec` → a parsed stdin input carrying it

	mu  sync.Mutex
	cur *caseRun // the case being run (cases run one at a time)
}

// ConfigError is a configuration that does not load or build; Cfg (may be
// nil) holds the files for printing Diags.
type ConfigError struct {
	Cfg   *ir.Config
	Diags hcl.Diagnostics
	Err   error
}

func (e *ConfigError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return e.Diags.Error()
}

// NewRunner loads the configuration at path: a pipeline file (.hcl or
// Logstash .conf), a directory of them, or a pipelines.yml.
func NewRunner(path string, mocks []Mock, timeout time.Duration) (*Runner, error) {
	var cfg *ir.Config
	var diags hcl.Diagnostics
	if ext := strings.ToLower(path); strings.HasSuffix(ext, ".yml") || strings.HasSuffix(ext, ".yaml") {
		cfg, diags = dsl.LoadPipelinesYML(path)
	} else {
		cfg, diags = dsl.Load(path)
	}
	if diags.HasErrors() {
		return nil, &ConfigError{Cfg: cfg, Diags: diags}
	}
	if timeout <= 0 {
		timeout = DefaultCaseTimeout
	}
	r := &Runner{cfg: cfg, mocks: mocks, timeout: timeout, codecs: map[string]*ir.Plugin{}}
	ids := map[string]bool{}
	for _, p := range cfg.Pipelines {
		for _, pl := range allPlugins(p) {
			ids[pl.ID] = true
		}
	}
	for _, m := range mocks {
		if !ids[m.ID] {
			return nil, fmt.Errorf("plugin mock: no plugin has the id %q", m.ID)
		}
	}
	r.reg = engine.NewRegistry()
	for _, f := range engine.Default.All() {
		r.reg.Add(f)
		if f.Kind != ir.Input {
			continue
		}
		// An in-memory twin of every input: same default codec, so the
		// lines are decoded as that input would decode them.
		twin := engine.NewInputFactory(memInputPrefix+f.Name, func(o restOptions, res engine.Resources) (*memInput, error) {
			return &memInput{r: r, id: res.ID, codec: res.Codec}, nil
		})
		twin.DefaultCodec, twin.Streaming = f.DefaultCodec, f.Streaming
		r.reg.Add(twin)
	}
	r.reg.Add(engine.NewOutputFactory(memOutput, func(o restOptions, res engine.Resources) (*memOut, error) {
		return &memOut{r: r, id: res.ID}, nil
	}))
	return r, nil
}

// Config is the loaded configuration (for printing diagnostics).
func (r *Runner) Config() *ir.Config { return r.cfg }

// restOptions takes every option of the plugin it replaces and uses none.
type restOptions struct {
	Rest hcl.Body `hcl:",remain"`
}

// caseRun is the state of one test case's run.
type caseRun struct {
	c       *Case
	clock   time.Time
	inputID string
	mu      sync.Mutex
	got     []record
	err     error
}

// record is one event an output took.
type record struct {
	in     int // index of the input line it came from (MaxInt: none)
	out    string
	fields []byte
	meta   map[string]any
}

type memInput struct {
	r     *Runner
	id    string
	codec engine.Codec
}

func (m *memInput) Run(ctx context.Context, emit engine.EmitFunc) error {
	cr := m.r.current()
	if cr == nil || cr.inputID != m.id {
		return nil
	}
	evs, err := cr.events(m.codec)
	if err != nil {
		return err
	}
	if len(evs) == 0 {
		return nil
	}
	// With an Ack, the last chunk is flagged so the worker does not wait
	// batch_delay for more.
	return emit(engine.Batch{Events: evs, Ack: func(error) {}})
}

type memOut struct {
	r  *Runner
	id string
}

func (o *memOut) Connect(context.Context) error { return nil }
func (o *memOut) Close(context.Context) error   { return nil }
func (o *memOut) Write(_ context.Context, evs []*event.Event) error {
	cr := o.r.current()
	if cr == nil {
		return nil
	}
	cr.mu.Lock()
	defer cr.mu.Unlock()
	for _, e := range evs {
		if len(cr.got) >= maxActualEvents {
			cr.err = fmt.Errorf("more than %d events reached the outputs", maxActualEvents)
			return nil
		}
		rec := record{in: math.MaxInt, out: o.id, fields: e.AppendJSON(nil)}
		meta := e.Metadata()
		if v, ok := meta[lfvIDKey].(int64); ok {
			rec.in = int(v)
		}
		if len(meta) > 0 {
			// Outputs must not change events: keep a copy of what is
			// compared.
			rec.meta = map[string]any{}
			for k, v := range meta {
				if !strings.HasPrefix(k, "__lfv_") && !strings.HasPrefix(k, "__tmp_") {
					rec.meta[k] = v
				}
			}
			b, _ := json.Marshal(rec.meta)
			rec.meta = nil
			_ = json.Unmarshal(b, &rec.meta)
		}
		cr.got = append(cr.got, rec)
	}
	return nil
}

func (r *Runner) current() *caseRun {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
}

// events decodes the case's input lines with codec and sets the fields.
func (cr *caseRun) events(codec engine.Codec) ([]*event.Event, error) {
	lines := cr.c.Input
	dummy := len(lines) == 0
	if cr.c.Events != nil {
		lines, dummy = make([]string, len(cr.c.Events)), false
	}
	if dummy {
		// LFV sends one event without a message for a case without input.
		lines = []string{""}
	}
	var out []*event.Event
	for i, line := range lines {
		var evs []*event.Event
		made := time.Now()
		switch {
		case cr.c.Events != nil:
			e, err := event.FromMap(nestBrackets(cr.c.Events[i]))
			if err != nil {
				return nil, fmt.Errorf("event %d: %v", i+1, err)
			}
			evs = []*event.Event{e}
		case dummy:
			evs = []*event.Event{event.New()}
		case codec == nil:
			evs = []*event.Event{event.NewMessage(line)}
		default:
			dec := codec.NewDecoder(strings.NewReader(line))
			for n := 0; ; n++ {
				if n >= maxEventsPerLine {
					return nil, fmt.Errorf("input line %d: the codec made more than %d events of it", i+1, maxEventsPerLine)
				}
				e, err := dec.Decode()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					return nil, fmt.Errorf("input line %d: %v", i+1, err)
				}
				evs = append(evs, e)
			}
		}
		done := time.Now()
		for _, e := range evs {
			if clock := cr.clock; !clock.IsZero() {
				// An event the codec (or FromMap) stamped with the time it
				// was made gets the fixed clock instead.
				if ts := e.Timestamp(); !ts.Before(made.Truncate(time.Millisecond)) && !ts.After(done) {
					e.SetTimestamp(clock)
				}
			}
			nestEventBrackets(e)
			for _, fs := range []map[string]any{cr.c.Suite.Fields, cr.c.Fields} {
				if err := setFields(e, fs); err != nil {
					return nil, err
				}
			}
			if err := e.Set(event.MustRef("[@metadata]["+lfvIDKey+"]"), int64(i)); err != nil {
				return nil, err
			}
		}
		out = append(out, evs...)
	}
	return out, nil
}

// nestEventBrackets moves top-level keys written as field references
// ("[log][file][path]", as LFV allows in json_lines input) to where they
// refer.
func nestEventBrackets(e *event.Event) {
	var keys []string
	for k := range e.Fields() {
		if len(splitRef(k)) > 1 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := e.Fields()[k]
		delete(e.Fields(), k)
		if ref, err := event.ParseRef(k); err == nil {
			_ = e.Set(ref, v)
		}
	}
}

func setFields(e *event.Event, fs map[string]any) error {
	keys := make([]string, 0, len(fs))
	for k := range fs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ref, err := event.ParseRef(k)
		if err != nil {
			return fmt.Errorf("fields: %q: %v", k, err)
		}
		if k == event.TimestampField {
			// LFV's fields go through Logstash's event.set, which parses a
			// timestamp string for @timestamp.
			if str, ok := fs[k].(string); ok {
				t, err := time.Parse(time.RFC3339Nano, str)
				if err != nil {
					return fmt.Errorf("fields: @timestamp: %v", err)
				}
				e.SetTimestamp(t)
				continue
			}
		}
		v, err := event.Normalize(fs[k])
		if err != nil {
			return fmt.Errorf("fields: %q: %v", k, err)
		}
		if err := e.Set(ref, v); err != nil {
			return fmt.Errorf("fields: %q: %v", k, err)
		}
	}
	return nil
}

// Result is the outcome of one test case.
type Result struct {
	Case *Case
	// Failure is empty when the case passed; otherwise what differs, with
	// unified diffs of pretty JSON.
	Failure string
	// Err is set when the case could not run (a configuration problem).
	Err error
}

// Run runs one test case.
func (r *Runner) Run(c *Case) Result {
	got, err := r.run(c)
	if err != nil {
		return Result{Case: c, Err: err}
	}
	return Result{Case: c, Failure: compare(c, got)}
}

func (r *Runner) run(c *Case) ([]map[string]any, error) {
	acts, err := r.collect(c)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, len(acts))
	for i, a := range acts {
		if c.Suite.ExportMetadata && len(a.meta) > 0 {
			a.fields[event.MetadataField] = a.meta
		}
		if c.Suite.ExportOutputs {
			a.fields[lfvOutPassed] = a.out
		}
		for _, f := range c.Suite.Ignore {
			deletePath(a.fields, splitRef(f))
		}
		out[i] = a.fields
	}
	return out, nil
}

// actual is one event an output took, as compared.
type actual struct {
	out    string         // the output's id
	fields map[string]any // the event as JSON, without the runner's tags
	meta   map[string]any // its [@metadata], without the runner's keys
}

// collect runs c and returns the events the outputs took, ordered by the
// input line (or event) they came from, then by output id.
func (r *Runner) collect(c *Case) ([]actual, error) {
	cr := &caseRun{c: c, clock: r.clock}
	pipelines, err := r.prepare(cr)
	if err != nil {
		return nil, err
	}
	dataDir, err := os.MkdirTemp("", "pipeline-test-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dataDir)
	bus := engine.NewBus()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var now func() time.Time
	if !r.clock.IsZero() {
		clock := r.clock
		now = func() time.Time { return clock }
	}
	var built []*engine.Pipeline
	var diags hcl.Diagnostics
	for _, p := range pipelines {
		pl, d := engine.Build(p, r.reg, engine.Settings{Workers: 1, BatchDelay: time.Millisecond, Logger: logger,
			Bus: bus, DataDir: dataDir, Now: now})
		diags = append(diags, d...)
		if pl != nil {
			built = append(built, pl)
		}
	}
	if !diags.HasErrors() {
		diags = append(diags, engine.CheckBus(built)...)
	}
	if diags.HasErrors() {
		return nil, &ConfigError{Cfg: r.cfg, Diags: errorsOnly(diags)}
	}
	r.mu.Lock()
	r.cur = cr
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.cur = nil
		r.mu.Unlock()
	}()
	if err := runAll(built, pipelines, bus, r.timeout); err != nil {
		return nil, err
	}
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.err != nil {
		return nil, cr.err
	}
	sort.SliceStable(cr.got, func(i, j int) bool {
		a, b := cr.got[i], cr.got[j]
		if a.in != b.in {
			return a.in < b.in
		}
		return a.out < b.out
	})
	var out []actual
	for _, rec := range cr.got {
		var m map[string]any
		if err := json.Unmarshal(rec.fields, &m); err != nil {
			return nil, err
		}
		if tags, ok := m["tags"].([]any); ok {
			kept := tags[:0]
			for _, t := range tags {
				if s, ok := t.(string); !ok || !strings.HasPrefix(s, "__lfv_") {
					kept = append(kept, t)
				}
			}
			if len(kept) == 0 {
				delete(m, "tags")
			} else {
				m["tags"] = kept
			}
		}
		out = append(out, actual{out: rec.out, fields: m, meta: rec.meta})
	}
	return out, nil
}

func errorsOnly(diags hcl.Diagnostics) hcl.Diagnostics {
	var out hcl.Diagnostics
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			out = append(out, d)
		}
	}
	return out
}

// runAll runs the pipelines until everything fed in has gone through: the
// pipelines with no `pipeline` input end by themselves when their inputs
// have emitted; then the others are stopped, each after what its upstream
// pipelines sent (the bus's shutdown order).
func runAll(built []*engine.Pipeline, irs []*ir.Pipeline, bus *engine.Bus, timeout time.Duration) error {
	bus.Shutdown()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	type done struct {
		i   int
		err error
	}
	results := make(chan done, len(built))
	cancels := make([]context.CancelFunc, len(built))
	source := make([]bool, len(built))
	sources := 0
	for i, pl := range built {
		ctx, cancel := context.WithCancel(context.Background())
		cancels[i] = cancel
		source[i] = !listens(irs[i])
		if source[i] {
			sources++
		}
		go func() { results <- done{i, pl.Run(ctx)} }()
	}
	var errs []error
	finished := 0
	stopped := false
	for finished < len(built) {
		if !stopped && sources == 0 {
			stopped = true
			for _, c := range cancels {
				c()
			}
		}
		select {
		case d := <-results:
			finished++
			if source[d.i] {
				sources--
			}
			if d.err != nil {
				errs = append(errs, fmt.Errorf("pipeline %q: %w", built[d.i].Name(), d.err))
			}
		case <-deadline.C:
			for _, pl := range built {
				pl.Abort()
			}
			for _, c := range cancels {
				c()
			}
			for finished < len(built) {
				<-results
				finished++
			}
			return fmt.Errorf("the test case did not finish within %s", timeout)
		}
	}
	for _, c := range cancels {
		c()
	}
	return errors.Join(errs...)
}

// listens reports whether p has a `pipeline` input (events from another
// pipeline).
func listens(p *ir.Pipeline) bool {
	for _, in := range p.Inputs {
		if in.Type == "pipeline" {
			return true
		}
	}
	return false
}

// prepare makes the pipelines of one case: mocks applied, inputs and
// outputs replaced, and the input the lines enter at chosen.
func (r *Runner) prepare(cr *caseRun) ([]*ir.Pipeline, error) {
	s := cr.c.Suite
	var out []*ir.Pipeline
	var inputIDs []string
	found := 0
	for _, p := range r.cfg.Pipelines {
		q := *p
		q.Inputs = nil
		for _, in := range p.Inputs {
			pl := r.mocked(in)
			if pl == nil {
				continue
			}
			if pl.Type != "pipeline" {
				cp := *pl
				cp.Type = memInputPrefix + pl.Type
				pl = &cp
			}
			if pl.ID == s.InputPlugin && s.InputPlugin != "" {
				found++
			}
			inputIDs = append(inputIDs, pl.ID)
			q.Inputs = append(q.Inputs, pl)
		}
		q.Filters = r.mockNodes(p.Filters, false)
		q.Outputs = r.mockNodes(p.Outputs, true)
		out = append(out, &q)
	}
	switch {
	case s.InputPlugin != "" && found == 0:
		return nil, fmt.Errorf("input_plugin %q: no input has that id (inputs: %s)", s.InputPlugin, strings.Join(inputIDs, ", "))
	case s.InputPlugin != "" && found > 1:
		return nil, fmt.Errorf("input_plugin %q: %d inputs have that id, in different pipelines; give them ids of their own", s.InputPlugin, found)
	case s.InputPlugin != "":
		cr.inputID = s.InputPlugin
	default:
		if len(out) != 1 {
			return nil, fmt.Errorf("the configuration has %d pipelines: name the input the test lines enter at with input_plugin", len(out))
		}
		in, err := r.codecInput(s.Codec)
		if err != nil {
			return nil, err
		}
		out[0].Inputs = append(out[0].Inputs, in)
		cr.inputID = lfvInputID
	}
	return out, nil
}

// codecInput is LFV's standalone input: stdin with the test file's codec.
func (r *Runner) codecInput(codec string) (*ir.Plugin, error) {
	if pl, ok := r.codecs[codec]; ok {
		return pl, nil
	}
	src := fmt.Sprintf("input {\n  stdin {\n    id => %q\n    codec => %s\n  }\n}\n", lfvInputID, codec)
	cfg, diags := dsl.LoadSource("codec.conf", []byte(src))
	if diags.HasErrors() || cfg == nil || len(cfg.Pipelines) != 1 || len(cfg.Pipelines[0].Inputs) != 1 {
		return nil, fmt.Errorf("codec %q: not a codec in Logstash syntax: %v", codec, diags)
	}
	pl := *cfg.Pipelines[0].Inputs[0]
	pl.Type = memInputPrefix + pl.Type
	r.codecs[codec] = &pl
	return &pl, nil
}

// mocked returns the plugin that stands for pl: pl, its mock, or nil when
// the mock removes it.
func (r *Runner) mocked(pl *ir.Plugin) *ir.Plugin {
	for _, m := range r.mocks {
		if m.ID != pl.ID {
			continue
		}
		if strings.TrimSpace(m.Mock) == "" {
			return nil
		}
		src := fmt.Sprintf("%s {\n%s\n}\n", pl.Kind, m.Mock)
		cfg, diags := dsl.LoadSource("mock-"+m.ID+".conf", []byte(src))
		if diags.HasErrors() || cfg == nil || len(cfg.Pipelines) != 1 {
			// Reported when the pipeline is built: keep a plugin that
			// cannot be built, naming the mock.
			return &ir.Plugin{Kind: pl.Kind, Type: "invalid mock for " + m.ID, ID: pl.ID, Body: pl.Body, Range: pl.Range, TypeRange: pl.TypeRange}
		}
		var got []*ir.Plugin
		if pl.Kind == ir.Input {
			got = cfg.Pipelines[0].Inputs
		} else {
			got = allPlugins(cfg.Pipelines[0])
		}
		if len(got) != 1 {
			return &ir.Plugin{Kind: pl.Kind, Type: "invalid mock for " + m.ID, ID: pl.ID, Body: pl.Body, Range: pl.Range, TypeRange: pl.TypeRange}
		}
		cp := *got[0]
		cp.ID = pl.ID
		return &cp
	}
	return pl
}

// mockNodes copies a filter or output tree with mocks applied; outputs
// other than `pipeline` become in-memory ones.
func (r *Runner) mockNodes(nodes []ir.Node, outputs bool) []ir.Node {
	var out []ir.Node
	for _, n := range nodes {
		switch n := n.(type) {
		case *ir.Plugin:
			pl := r.mocked(n)
			if pl == nil {
				continue
			}
			if outputs && pl.Type != "pipeline" {
				cp := *pl
				cp.Type = memOutput
				pl = &cp
			}
			out = append(out, pl)
		case *ir.If:
			cp := &ir.If{Range: n.Range, Else: r.mockNodes(n.Else, outputs)}
			if n.Else != nil && cp.Else == nil {
				cp.Else = []ir.Node{}
			}
			for _, br := range n.Branches {
				cp.Branches = append(cp.Branches, ir.Branch{Cond: br.Cond, Range: br.Range, Body: r.mockNodes(br.Body, outputs)})
			}
			out = append(out, cp)
		}
	}
	return out
}

func allPlugins(p *ir.Pipeline) []*ir.Plugin {
	out := append([]*ir.Plugin(nil), p.Inputs...)
	var walk func([]ir.Node)
	walk = func(ns []ir.Node) {
		for _, n := range ns {
			switch n := n.(type) {
			case *ir.Plugin:
				out = append(out, n)
			case *ir.If:
				for _, br := range n.Branches {
					walk(br.Body)
				}
				walk(n.Else)
			}
		}
	}
	walk(p.Filters)
	walk(p.Outputs)
	return out
}

// deletePath removes the field at path, and the objects it leaves empty
// (as LFV's ignore does).
func deletePath(m map[string]any, path []string) {
	if len(path) == 1 {
		delete(m, path[0])
		return
	}
	next, ok := m[path[0]].(map[string]any)
	if !ok {
		return
	}
	deletePath(next, path[1:])
	if len(next) == 0 {
		delete(m, path[0])
	}
}

// compare returns "" when got is what c expects, or what differs.
func compare(c *Case, got []map[string]any) string {
	file := c.Suite.File
	var b strings.Builder
	if len(got) != len(c.Expected) {
		exp := make([]any, len(c.Expected))
		for i, e := range c.Expected {
			exp[i] = normalizeExpected(e.Event)
		}
		act := make([]any, len(got))
		for i, g := range got {
			act[i] = g
		}
		fmt.Fprintf(&b, "expected %d event(s), got %d\n", len(c.Expected), len(got))
		b.WriteString(unifiedDiff(fmt.Sprintf("expected (%s:%d)", file, c.Line), "actual", pretty(exp), pretty(act)))
		return b.String()
	}
	for i, g := range got {
		e := c.Expected[i]
		d := unifiedDiff(fmt.Sprintf("expected (%s:%d)", file, e.Line), "actual", pretty(normalizeExpected(e.Event)), pretty(g))
		if d != "" {
			fmt.Fprintf(&b, "event %d of %d differs:\n%s", i+1, len(got), d)
		}
	}
	return b.String()
}

// pretty is the JSON LFV diffs: indented, keys sorted, "<" as is.
func pretty(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("<%v>\n", err)
	}
	return b.String()
}

// normalizeExpected makes YAML's values compare as JSON's: timestamps
// written unquoted become Logstash's text form.
func normalizeExpected(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = normalizeExpected(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = normalizeExpected(x)
		}
		return out
	case time.Time:
		return v.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	return v
}
