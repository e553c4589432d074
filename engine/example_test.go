package engine_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/enginetest"
	"github.com/pipelined/pipeline/engine/event"
)

// A complete filter plugin: options with defaults and validation, everything
// parsed once in the constructor, a Filter method that appends what passes on.

// UpperOptions configures the example "upper" filter.
type UpperOptions struct {
	// Fields are the fields to upper-case.
	Fields []string `hcl:"fields"`
	// TagOnFailure is added when a field is not a string.
	TagOnFailure []string `hcl:"tag_on_failure,optional"`
}

// Defaults sets the options a config leaves out.
func (o *UpperOptions) Defaults() { o.TagOnFailure = []string{"_upperfailure"} }

// Validate checks the options without I/O; `pipeline check` runs it.
func (o *UpperOptions) Validate() error {
	if len(o.Fields) == 0 {
		return &engine.FieldError{Field: "fields", Err: fmt.Errorf("list at least one field")}
	}
	return nil
}

// Upper is the built filter.
type Upper struct {
	refs []event.Ref
	tags []string
}

var _ engine.Filter = (*Upper)(nil)

// NewUpper compiles the options: field references are parsed here, never per event.
func NewUpper(o UpperOptions, _ engine.Resources) (*Upper, error) {
	u := &Upper{tags: o.TagOnFailure}
	for _, f := range o.Fields {
		r, err := event.ParseRef(f)
		if err != nil {
			return nil, &engine.FieldError{Field: "fields", Err: err}
		}
		u.refs = append(u.refs, r)
	}
	return u, nil
}

// Filter upper-cases the fields; a non-string field tags the event and fails.
func (u *Upper) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	for _, r := range u.refs {
		v, ok := e.Get(r)
		if !ok {
			continue
		}
		s, ok := v.(string)
		if !ok {
			e.AddTag(u.tags...)
			return append(out, e), fmt.Errorf("upper: %s is a %T, not a string", r, v)
		}
		if err := e.Set(r, strings.ToUpper(s)); err != nil {
			return append(out, e), err
		}
	}
	return append(out, e), nil
}

func init() { engine.RegisterFilter("example_upper", NewUpper) }

func Example_filterPlugin() {
	t := &testing.T{}
	in := event.NewMessage("hello")
	_ = in.Set(event.MustRef("[user][name]"), "ada")
	out := enginetest.Filter(t, "example_upper", `
fields  = ["message", "[user][name]"]
add_tag = ["shouted"]
`, in)
	for _, e := range out {
		name, _ := e.GetString(event.MustRef("[user][name]"))
		msg, _ := e.Message()
		fmt.Println(msg, name, e.Tags())
	}
	// Output: HELLO ADA [shouted]
}

func TestExampleFilterValidation(t *testing.T) {
	diags := enginetest.BuildDiags(t, ir.Filter, "example_upper", "fields = []\n")
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "list at least one field") {
		t.Fatalf("diags = %v; want the Validate error", diags)
	}
	if r := diags[0].Subject; r == nil || r.Start.Line != 2 || r.Start.Column != 1 {
		t.Fatalf("subject = %v; want the fields attribute at 2:1", r)
	}
}

// A complete output plugin: the engine batches, retries and acknowledges; the
// plugin connects, writes a batch, and says what an error means.

// LinesOptions configures the example "lines" output.
type LinesOptions struct {
	// Field is the field written, one line per event.
	Field string `hcl:"field,optional"`
	// Prefix starts every line.
	Prefix string `hcl:"prefix,optional"`
}

// Defaults sets the options a config leaves out.
func (o *LinesOptions) Defaults() { o.Field = "message" }

// Lines is the built output: it writes one line per event to w.
type Lines struct {
	field  event.Ref
	prefix string
	w      io.Writer
}

var _ engine.Output = (*Lines)(nil)

// NewLines parses the field reference once; it opens nothing (Connect does).
func NewLines(o LinesOptions, _ engine.Resources) (*Lines, error) {
	r, err := event.ParseRef(o.Field)
	if err != nil {
		return nil, &engine.FieldError{Field: "field", Err: err}
	}
	return &Lines{field: r, prefix: o.Prefix, w: os.Stdout}, nil
}

// Connect dials the destination; an error is retried with backoff. Standard
// output needs no connection.
func (l *Lines) Connect(context.Context) error { return nil }

// Write returns nil only once the whole batch is written. Any error makes the
// engine retry the batch (ErrNotConnected: after Connect again), holding the
// pipeline; engine.Permanent(err) gives the batch up to the dead letter queue.
func (l *Lines) Write(_ context.Context, events []*event.Event) error {
	var b []byte
	for _, e := range events {
		v, _ := e.GetString(l.field)
		b = append(append(append(b, l.prefix...), v...), '\n')
	}
	_, err := l.w.Write(b)
	return err
}

// Close runs once, after the last Write.
func (l *Lines) Close(context.Context) error { return nil }

func init() { engine.RegisterOutput("example_lines", NewLines) }

func Example_outputPlugin() {
	t := &testing.T{}
	enginetest.Output(t, "example_lines", `prefix = "> "`, event.NewMessage("hello"), event.NewMessage("bye"))
	// Output:
	// > hello
	// > bye
}

// A complete input plugin: Run pushes batches with emit (which blocks while
// the pipeline is full) and returns when its source ends or ctx is cancelled.

// CountOptions configures the example "count" input.
type CountOptions struct {
	// Count is how many events to emit; 0 emits until the pipeline stops.
	Count int `hcl:"count,optional"`
}

// Count is the built input.
type Count struct {
	n, batch int
}

var _ engine.Input = (*Count)(nil)

// NewCount keeps the pipeline's batch size: an input emits batches of up to
// that many events.
func NewCount(o CountOptions, r engine.Resources) (*Count, error) {
	return &Count{n: o.Count, batch: r.BatchSize}, nil
}

var seqRef = event.MustRef("[seq]")

// Run emits numbered events. A source that can acknowledge (a broker) would
// set Batch.Ack; the engine calls it once every event of the batch is
// delivered.
func (c *Count) Run(ctx context.Context, emit engine.EmitFunc) error {
	for i := 0; c.n == 0 || i < c.n; {
		var b engine.Batch
		for ; (c.n == 0 || i < c.n) && len(b.Events) < c.batch; i++ {
			e := event.NewMessage("tick")
			_ = e.Set(seqRef, int64(i))
			b.Events = append(b.Events, e)
		}
		if err := emit(b); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil // stopping: what was emitted is delivered by the drain
		}
	}
	return nil
}

func init() { engine.RegisterInput("example_count", NewCount) }

func Example_inputPlugin() {
	t := &testing.T{}
	out := enginetest.Input(t, "example_count", "count = 3\nadd_field = { from = \"count\" }", 10*time.Second)
	for _, e := range out {
		seq, _ := e.Get(seqRef)
		from, _ := e.GetString(event.MustRef("from"))
		fmt.Println(seq, from)
	}
	// Output:
	// 0 count
	// 1 count
	// 2 count
}
