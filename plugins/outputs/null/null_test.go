package null

import (
	"context"
	"testing"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

func TestNull(t *testing.T) {
	o, err := New(Options{}, engine.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, err := range []error{
		o.Connect(ctx),
		o.Write(ctx, []*event.Event{event.NewMessage("x")}),
		o.Write(ctx, nil),
		o.Close(ctx),
	} {
		if err != nil {
			t.Error(err)
		}
	}
}
