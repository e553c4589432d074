package engine

import (
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine/cond"
	"github.com/pipelined/pipeline/engine/event"
)

// Defaults for the runtime settings, as in Logstash's logstash.yml.
const (
	DefaultBatchSize  = 125
	DefaultBatchDelay = 50 * time.Millisecond
	// DefaultStallAfter: see Settings.StallAfter.
	DefaultStallAfter = 30 * time.Second
)

// Settings tune a pipeline run. Zero fields take the pipeline file's settings,
// then the defaults. Workers and BatchSize given here (from -w / -b) win over
// the file.
type Settings struct {
	Workers    int           // filter workers; default runtime.NumCPU()
	BatchSize  int           // max events a worker takes at once; default 125
	BatchDelay time.Duration // how long a worker waits to fill a batch; default 50ms
	// RetryInitial and RetryMax bound the exponential backoff of output retries
	// (defaults 100ms and 30s).
	RetryInitial, RetryMax time.Duration
	// StallAfter is how long an output may keep failing before the pipeline's
	// health turns red and the failure is logged again (at most once per
	// StallAfter while it lasts); default 30s.
	StallAfter time.Duration
	Logger     *slog.Logger
	// DeadLetter, when set, keeps the events outputs refuse for good (an error
	// marked Permanent, for the whole batch or one item of a BatchError) instead
	// of acknowledging them as failed.
	DeadLetter DeadLetterQueue
	// HoldPermanentFailures retries events an output refuses for good, when
	// no dead letter queue takes them, until the output takes them (the
	// pipeline stalls) instead of acknowledging them as failed
	// (pipeline.on_permanent_failure: hold).
	HoldPermanentFailures bool
	// Queue selects the memory (default) or persisted queue.
	Queue QueueSettings
	// DataDir is path.data, where plugins keep state (Resources.DataDir).
	DataDir string
	// Bus connects this pipeline to the other pipelines of the process
	// (the pipeline input and output). nil: a bus of its own.
	Bus *Bus
	// FlushInterval is how often filters that flush (Flusher) are called;
	// default DefaultFlushInterval.
	FlushInterval time.Duration
	// Check builds the pipeline for `pipeline check` (logstash -t) only:
	// errors plugins mark with AtStart are warnings, and a plugin they stop
	// is left out of the pipeline, which must then not be run.
	Check bool
	// Now, when set, is the clock plugins get as Resources.Now.
	Now func() time.Time
}

func (s Settings) resolve(file ir.Settings, diags *hcl.Diagnostics, rng hcl.Range) Settings {
	if s.Workers <= 0 {
		s.Workers = file.Workers
	}
	if s.Workers <= 0 {
		s.Workers = runtime.NumCPU()
	}
	if s.BatchSize <= 0 {
		s.BatchSize = file.BatchSize
	}
	if s.BatchSize <= 0 {
		s.BatchSize = DefaultBatchSize
	}
	if s.BatchDelay <= 0 {
		s.BatchDelay = file.BatchDelay
	}
	if s.BatchDelay <= 0 {
		s.BatchDelay = DefaultBatchDelay
	}
	if file.OnPermanentFailure == "hold" {
		s.HoldPermanentFailures = true
	}
	if s.RetryInitial <= 0 {
		s.RetryInitial = 100 * time.Millisecond
	}
	if s.RetryMax <= 0 {
		s.RetryMax = 30 * time.Second
	}
	if s.StallAfter <= 0 {
		s.StallAfter = DefaultStallAfter
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.FlushInterval <= 0 {
		s.FlushInterval = DefaultFlushInterval
	}
	if s.Bus == nil {
		s.Bus = NewBus()
	}
	if err := s.Queue.validate(); err != nil {
		*diags = append(*diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid queue settings",
			Detail: err.Error() + ".", Subject: &rng})
	}
	return s
}

// Build compiles a pipeline: it looks up every plugin, decodes and validates its
// options, constructs it and compiles every condition. It opens nothing, so
// `pipeline check` can run it; every mistake found is returned together.
func Build(p *ir.Pipeline, reg *Registry, s Settings) (*Pipeline, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	workersSet := s.Workers > 0 || p.Settings.Workers > 0
	s = s.resolve(p.Settings, &diags, p.Range)
	b := &builder{reg: reg, pl: &Pipeline{name: p.Name, settings: s, abort: make(chan struct{})}, log: s.Logger.With("pipeline", p.Name),
		ecs: p.Settings.ECSCompatibility}
	b.pl.log = b.log
	for _, in := range p.Inputs {
		u, d := b.input(in)
		if u != nil {
			b.pl.inputs = append(b.pl.inputs, u)
		}
		diags = append(diags, d...)
	}
	var d hcl.Diagnostics
	b.pl.filters, d = b.nodes(p.Filters, ir.Filter)
	diags = append(diags, d...)
	b.pl.routes, d = b.nodes(p.Outputs, ir.Output)
	diags = append(diags, d...)
	// Logstash runs a pipeline without inputs or outputs: neither its
	// compiler nor JavaPipeline checks for them. With no inputs,
	// JavaPipeline#monitor_inputs_and_workers returns at once ("break if
	// @input_threads.empty?") and the pipeline shuts down, as Run does here
	// when every input has returned; with no outputs, events end after the
	// filters (counted as unrouted here).
	if len(p.Inputs) == 0 && !b.deferred {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Pipeline has no inputs",
			Detail: fmt.Sprintf("Pipeline %q has no input plugin, so it stops as soon as it has started, as in Logstash; add one, e.g. input { stdin { } }, to give it events.", p.Name), Subject: &p.Range})
	}
	if len(b.pl.outputs) == 0 && !b.deferred && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Pipeline has no outputs",
			Detail: fmt.Sprintf("Pipeline %q has no output plugin: events end after its filters, as in Logstash.", p.Name), Subject: &p.Range})
	}
	if diags.HasErrors() {
		return nil, diags
	}
	b.pl.flushers = findFlushers(b.pl.filters, nil, nil)
	diags = append(diags, b.threadsafety(workersSet, p.Range)...)
	return b.pl, diags
}

// threadsafety gives a pipeline holding a NotThreadsafe filter one worker
// when its workers were not set, and warns when they were set above one, as
// Logstash's safe_pipeline_worker_count.
func (b *builder) threadsafety(workersSet bool, rng hcl.Range) hcl.Diagnostics {
	var names []string
	for _, n := range b.pl.filterList {
		if _, ok := n.f.(NotThreadsafe); ok {
			names = append(names, n.typ)
		}
	}
	w := b.pl.settings.Workers
	if len(names) == 0 || w <= 1 {
		return nil
	}
	if !workersSet {
		b.log.Warn("Defaulting pipeline worker threads to 1 because there are some filters that might not work with multiple worker threads",
			"count_was", w, "filters", names)
		b.pl.settings.Workers = 1
		return nil
	}
	return hcl.Diagnostics{{Severity: hcl.DiagWarning,
		Summary: "Warning: Manual override - there are filters that might not work with multiple worker threads",
		Detail: fmt.Sprintf("Pipeline %q runs %d workers (pipeline.workers) and has filters that need one (%s): events of one task may be processed out of order. Set pipeline.workers: 1 (-w 1), or leave it unset and the pipeline runs one worker.",
			b.pl.name, w, strings.Join(names, ", ")),
		Subject: rng.Ptr()}}
}

type builder struct {
	reg    *Registry
	pl     *Pipeline
	log    *slog.Logger
	shared map[string]any // Resources.Shared
	// ecs is pipeline.ecs_compatibility: the ecs_compatibility default of
	// the plugins that have the option ("": their own).
	ecs string
	// deferred: a plugin was left out because its errors are found at start
	// (Settings.Check only).
	deferred bool
	// follows is Resources.Follows of the filter being built.
	follows any
}

func (b *builder) share(key string, mk func() any) any {
	if v, ok := b.shared[key]; ok {
		return v
	}
	if b.shared == nil {
		b.shared = map[string]any{}
	}
	v := mk()
	b.shared[key] = v
	return v
}

func (b *builder) lookup(pl *ir.Plugin) (*Factory, hcl.Diagnostics) {
	f, ok := b.reg.Lookup(pl.Kind, pl.Type)
	if ok {
		return f, checkIDAttribute(pl)
	}
	return nil, hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Unknown %s type %q", pl.Kind, pl.Type),
		Detail: fmt.Sprintf("There is no %s plugin named %q.%s Run `pipeline plugins` to list them.",
			pl.Kind, pl.Type, suggest(pl.Type, b.reg.Names(pl.Kind))),
		Subject: &pl.TypeRange,
	}}
}

func (b *builder) resources(pl *ir.Plugin) Resources {
	log := b.log.With("plugin", pl.Kind.String()+"/"+pl.Type, "id", pl.ID)
	return Resources{
		ID:        pl.ID,
		Pipeline:  b.pl.name,
		Logger:    log,
		BatchSize: b.pl.settings.BatchSize,
		DataDir:   b.pl.settings.DataDir,
		Bus:       &BusPort{pl: b.pl, body: pl.Body, log: log},
		Shared:    b.share,
		Now:       b.pl.settings.Now,
		Follows:   b.follows,
	}
}

// codec builds the codec for an input or output: the configured one or the
// plugin's default.
func (b *builder) codec(f *Factory, pl *ir.Plugin, blk *codecBlock) (Codec, hcl.Diagnostics) {
	if blk == nil && f.DefaultCodec == "" {
		return nil, nil
	}
	name, body, rng := f.DefaultCodec, hcl.Body(hcl.EmptyBody()), pl.Range
	if blk != nil {
		name, body, rng = blk.Type, blk.Body, blk.TypeRange
	}
	if to, ok := streamingCodecs[name]; ok && f.Streaming {
		// The replacement takes every option of the codec it replaces.
		b.log.Info("automatically switching from "+name+" to "+to+" codec", "plugin", pl.Type, "id", pl.ID)
		name = to
	}
	cf, ok := b.reg.Lookup(ir.Codec, name)
	if !ok {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: fmt.Sprintf("Unknown codec type %q", name),
			Detail:  fmt.Sprintf("There is no codec named %q.%s", name, suggest(name, b.reg.Names(ir.Codec))),
			Subject: &rng}}
	}
	o, diags := decodeOptions(cf, body, rng, b.ecs)
	if diags.HasErrors() {
		return nil, diags
	}
	res := b.resources(pl)
	res.Logger = res.Logger.With("codec", name)
	c, err := cf.build(o, res)
	if err != nil {
		return nil, hcl.Diagnostics{errDiag(body, rng, fmt.Sprintf("codec %q", name), err)}
	}
	if f.DefaultCodec == "" && !f.OptionalCodec {
		// Every Logstash input and output declares `codec` (in their base
		// classes), so configurations give one where it does nothing, e.g.
		// on an elasticsearch output. It is checked and then left out.
		return nil, hcl.Diagnostics{{Severity: hcl.DiagWarning, Summary: "Codec not used",
			Detail:  fmt.Sprintf("The %s plugin %q does not use a codec, so this codec has no effect; it is accepted because Logstash accepts a codec on every %s.", pl.Kind, pl.Type, pl.Kind),
			Subject: &blk.DefRange}}
	}
	return c.(Codec), nil
}

// construct decodes a plugin's own options from rest (what the common options
// left), builds its codec if it takes one, and calls its constructor.
func (b *builder) construct(f *Factory, pl *ir.Plugin, rest hcl.Body, codec *codecBlock) (any, Resources, hcl.Diagnostics) {
	res := b.resources(pl)
	var diags hcl.Diagnostics
	if pl.Kind != ir.Filter {
		var d hcl.Diagnostics
		res.Codec, d = b.codec(f, pl, codec)
		diags = append(diags, d...)
		if res.Codec != nil {
			res.CodecName = f.DefaultCodec
			if codec != nil {
				res.CodecName = codec.Type
			}
		}
	}
	o, d := decodeOptions(f, rest, pl.Range, b.ecs)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, res, b.atStart(diags)
	}
	p, err := f.build(o, res)
	if err != nil {
		return nil, res, b.atStart(append(diags, errDiag(rest, pl.Range, fmt.Sprintf("%s %q", pl.Kind, pl.Type), err)))
	}
	return p, res, diags
}

// atStart is construct's last step when the plugin was not built: for
// `pipeline check`, errors marked AtStart become warnings, and the plugin is
// left out of a pipeline that is never run (b.deferred).
func (b *builder) atStart(diags hcl.Diagnostics) hcl.Diagnostics {
	if b.pl.settings.Check && deferAtStart(diags) && !diags.HasErrors() {
		b.deferred = true
	}
	return diags
}

func (b *builder) input(pl *ir.Plugin) (*inputUnit, hcl.Diagnostics) {
	f, diags := b.lookup(pl)
	if diags.HasErrors() {
		return nil, diags
	}
	var com commonInputOptions
	if diags = DecodeOptions(pl.Body, &com); diags.HasErrors() {
		return nil, diags
	}
	u := &inputUnit{id: pl.ID, typ: com.Type, plugin: pl.Type, tags: com.Tags, pl: b.pl}
	var d hcl.Diagnostics
	u.addFields, d = parseAddFields(com.AddField, pl.Body)
	diags = append(diags, d...)
	in, res, d := b.construct(f, pl, com.Rest, com.Codec)
	diags = append(diags, d...)
	if diags.HasErrors() || in == nil {
		return nil, diags
	}
	u.in, u.log = in.(Input), res.Logger
	return u, diags
}

func (b *builder) filter(pl *ir.Plugin) (*filterNode, hcl.Diagnostics) {
	f, diags := b.lookup(pl)
	if diags.HasErrors() {
		return nil, diags
	}
	var com commonFilterOptions
	if diags = DecodeOptions(pl.Body, &com); diags.HasErrors() {
		return nil, diags
	}
	n := &filterNode{id: pl.ID, typ: pl.Type}
	var d hcl.Diagnostics
	n.addFields, d = parseAddFields(com.AddField, pl.Body)
	diags = append(diags, d...)
	n.addTags, d = parseTemplates(com.AddTag, pl.Body, "add_tag")
	diags = append(diags, d...)
	n.removeFields, d = parseFieldNames(com.RemoveField, pl.Body, "remove_field")
	diags = append(diags, d...)
	n.removeTags, d = parseTemplates(com.RemoveTag, pl.Body, "remove_tag")
	diags = append(diags, d...)
	n.hasCommon = len(n.addFields)+len(n.addTags)+len(n.removeFields)+len(n.removeTags) > 0
	fl, res, d := b.construct(f, pl, com.Rest, nil)
	diags = append(diags, d...)
	if diags.HasErrors() || fl == nil {
		return nil, diags
	}
	n.f, n.log, n.pl = fl.(Filter), res.Logger, b.pl
	if bf, ok := fl.(BatchFilter); ok {
		n.batch = bf
		n.resultsDone, _ = fl.(BatchResultsDone)
		b.pl.staged = true
	}
	if _, ok := fl.(NewEventsUnmatched); ok {
		n.ownOnly = true
	}
	n.index = len(b.pl.filterList)
	b.pl.filterList = append(b.pl.filterList, n)
	return n, diags
}

func (b *builder) output(pl *ir.Plugin) (*outputUnit, hcl.Diagnostics) {
	f, diags := b.lookup(pl)
	if diags.HasErrors() {
		return nil, diags
	}
	var com commonOutputOptions
	if diags = DecodeOptions(pl.Body, &com); diags.HasErrors() {
		return nil, diags
	}
	if com.Workers != nil && *com.Workers != 1 {
		diags = append(diags, workersIgnored(pl.Body))
	}
	out, res, d := b.construct(f, pl, com.Rest, com.Codec)
	if d.HasErrors() || out == nil {
		return nil, append(diags, d...)
	}
	return &outputUnit{id: pl.ID, typ: pl.Type, out: out.(Output), log: res.Logger, pl: b.pl}, append(diags, d...)
}

// nodes builds the filter or output tree, keeping source order and conditions.
func (b *builder) nodes(in []ir.Node, kind ir.Kind) ([]node, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	out := make([]node, 0, len(in))
	var follows any // the filter just before, if the engine passes its output on unchanged
	for _, n := range in {
		prev := follows
		follows = nil
		switch n := n.(type) {
		case *ir.Plugin:
			if n.Kind != kind {
				r := n.Range
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("Unexpected %s block", n.Kind),
					Detail: fmt.Sprintf("A %s block cannot appear among %ss.", n.Kind, kind), Subject: &r})
				continue
			}
			if kind == ir.Filter {
				b.follows = prev
				f, d := b.filter(n)
				b.follows = nil
				diags = append(diags, d...)
				if f != nil {
					out = append(out, f)
					if !f.hasCommon {
						follows = f.f
					}
				}
				continue
			}
			o, d := b.output(n)
			diags = append(diags, d...)
			if o != nil {
				o.index = len(b.pl.outputs)
				b.pl.outputs = append(b.pl.outputs, o)
				out = append(out, &routeNode{index: o.index})
			}
		case *ir.If:
			c := &ifNode{pl: b.pl}
			for _, br := range n.Branches {
				// A nil condition was already reported by the front-end.
				eval := func(*event.Event) bool { return false }
				text := "(none)"
				if br.Cond != nil {
					var d hcl.Diagnostics
					eval, d = cond.Compile(br.Cond)
					diags = append(diags, d...)
					text = ir.FormatCondition(br.Cond)
				}
				body, d := b.nodes(br.Body, kind)
				diags = append(diags, d...)
				c.branches = append(c.branches, branch{cond: eval, body: body, text: text})
			}
			var d hcl.Diagnostics
			c.els, d = b.nodes(n.Else, kind)
			diags = append(diags, d...)
			c.staged = hasBatch(c.els)
			for _, br := range c.branches {
				c.staged = c.staged || hasBatch(br.body)
			}
			out = append(out, c)
		}
	}
	return out, diags
}

// node is a compiled filter, route (output leaf) or conditional.
type node interface{ isNode() }

type branch struct {
	cond func(*event.Event) bool
	body []node
	text string // the condition as written back, for reports
}

type ifNode struct {
	branches []branch
	els      []node
	pl       *Pipeline
	// staged: a BatchFilter is inside, so runStaged splits the batch.
	staged bool
}

// hasBatch reports whether a BatchFilter is among nodes, at any depth.
func hasBatch(nodes []node) bool {
	for _, nd := range nodes {
		switch n := nd.(type) {
		case *filterNode:
			if n.batch != nil {
				return true
			}
		case *ifNode:
			if n.staged {
				return true
			}
		}
	}
	return false
}

type routeNode struct{ index int }

func (*filterNode) isNode() {}
func (*ifNode) isNode()     {}
func (*routeNode) isNode()  {}

// workersIgnored warns about an output's workers option: every output here
// is called from the pipeline's workers concurrently (Logstash's shared
// concurrency), so a per-output worker count has nothing to set.
func workersIgnored(body hcl.Body) *hcl.Diagnostic {
	d := &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Ignored option \"workers\"",
		Detail: "Outputs run concurrently on the pipeline's workers (pipeline.workers, -w); a per-output workers count is ignored, as Logstash ignores it for every output it ships."}
	if c, _, _ := body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "workers"}}}); c != nil {
		if a, ok := c.Attributes["workers"]; ok {
			d.Subject = &a.NameRange
		}
	}
	return d
}
