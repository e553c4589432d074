package engine_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// An input that decodes JSON texts as the json codec with a target does
// (ParseJSON, then Set under [a][b][c]), or keeps the text as message when
// the decoder refuses it, and an output that collects the events.

type deepOptions struct {
	Key string `hcl:"key"`
}

type deepIn struct{ key string }

// deepTexts are the JSON texts each deep input decodes, by key.
var deepTexts sync.Map // key → []string

func (d *deepIn) Run(ctx context.Context, emit engine.EmitFunc) error {
	v, _ := deepTexts.Load(d.key)
	var evs []*event.Event
	target := event.MustRef("[a][b][c]")
	for _, text := range v.([]string) {
		parsed, err := event.ParseJSON([]byte(text))
		if err != nil {
			e := event.NewMessage(text)
			e.AddTag("_jsonparsefailure")
			evs = append(evs, e)
			continue
		}
		e := event.New()
		if err := e.Set(target, parsed); err != nil {
			return err
		}
		evs = append(evs, e)
	}
	return emit(engine.Batch{Events: evs, Ack: func(error) {}})
}

type collectOut struct{ key string }

var collected sync.Map // key → *[]*event.Event

func (o *collectOut) Connect(context.Context) error { return nil }
func (o *collectOut) Close(context.Context) error   { return nil }
func (o *collectOut) Write(_ context.Context, evs []*event.Event) error {
	v, _ := collected.LoadOrStore(o.key, &collectedEvents{})
	c := v.(*collectedEvents)
	c.mu.Lock()
	c.evs = append(c.evs, evs...)
	c.mu.Unlock()
	return nil
}

type collectedEvents struct {
	mu  sync.Mutex
	evs []*event.Event
}

func init() {
	engine.RegisterInput("test_deep", func(o deepOptions, _ engine.Resources) (*deepIn, error) { return &deepIn{key: o.Key}, nil })
	engine.RegisterOutput("test_collect", func(o deepOptions, _ engine.Resources) (*collectOut, error) {
		return &collectOut{key: o.Key}, nil
	})
}

func nested(depth int) string {
	return strings.Repeat(`{"x":`, depth-1) + `{"leaf":1}` + strings.Repeat("}", depth-1)
}

// depthOf is the nesting of objects and arrays in v.
func depthOf(v any) int {
	switch x := v.(type) {
	case map[string]any:
		d := 0
		for _, y := range x {
			d = max(d, depthOf(y))
		}
		return d + 1
	case []any:
		d := 0
		for _, y := range x {
			d = max(d, depthOf(y))
		}
		return d + 1
	}
	return 0
}

// TestDecodedDepthSurvivesPersistedQueue is issue #19's reproduction: a
// decoder with a target accepted 9,999 levels, the queue record became
// deeper than the queue's reader allowed, and the reader deleted the
// acknowledged record as unreadable. Now decoders refuse what is deeper
// than MaxDecodeDepth (the text is kept, tagged), and the deepest event they
// admit, under a target, is read back from the queue intact.
func TestDecodedDepthSurvivesPersistedQueue(t *testing.T) {
	key := t.Name()
	deepTexts.Store(key, []string{nested(1000), nested(9999)})
	k := "key = \"" + key + "\"\n"
	p := &ir.Pipeline{
		Inputs:  []*ir.Plugin{plugin(t, ir.Input, "test_deep", "deep", k)},
		Outputs: []ir.Node{plugin(t, ir.Output, "test_collect", "out", k)},
	}
	pl := build(t, p, engine.Settings{Workers: 1, BatchSize: 10, Queue: persisted(t.TempDir(), 0)})
	if err := run(t, pl, context.Background()); err != nil {
		t.Fatal(err)
	}
	if f := pl.Stats().Failed.Load(); f != 0 {
		t.Errorf("%d events failed (deleted from the queue as unreadable)", f)
	}
	v, _ := collected.Load(key)
	if v == nil {
		t.Fatal("nothing delivered")
	}
	evs := v.(*collectedEvents).evs
	if len(evs) != 2 {
		t.Fatalf("%d events delivered; want 2", len(evs))
	}
	a, _ := evs[0].Get(event.MustRef("[a]"))
	if d := depthOf(a); d != 1000+2 {
		t.Errorf("first event: [a] is %d deep; want 1002 (1000 under [b][c])", d)
	}
	if m, _ := evs[1].Message(); m != nested(9999) || !evs[1].HasTag("_jsonparsefailure") {
		t.Errorf("second event: want the refused text as message, tagged")
	}
	if _, err := event.ParseJSON([]byte(nested(event.MaxDecodeDepth + 1))); err == nil || !strings.Contains(err.Error(), "nesting deeper than 1000 levels") {
		t.Errorf("ParseJSON of %d levels: %v; want a clear refusal", event.MaxDecodeDepth+1, err)
	}
}
