package json

import (
	"errors"
	"testing"
	"testing/iotest"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

func TestGolden(t *testing.T) {
	plugintest.RunCodecGolden(t, plugintest.CodecBuilder(New))
}

func TestDecodeReadError(t *testing.T) {
	c := plugintest.MustNew(t, New, "", engine.Resources{})
	boom := errors.New("boom")
	dec := c.NewDecoder(iotest.ErrReader(boom))
	if _, err := dec.Decode(); !errors.Is(err, boom) {
		t.Errorf("Decode error = %v; want %v", err, boom)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, hcl := range []string{`charset = "nope"`, `target = "[a"`, `ecs_compatibility = "v9"`} {
		o := plugintest.NewOptions[Options](t, hcl)
		if err := o.Validate(); err == nil {
			t.Errorf("Validate(%s) = nil; want an error", hcl)
		}
		if _, err := New(o, engine.Resources{}); err == nil {
			t.Errorf("New(%s) = nil error; want one", hcl)
		}
	}
}
