package plain

import (
	"errors"
	"testing"
	"testing/iotest"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/plugintest"
)

func TestGolden(t *testing.T) {
	plugintest.RunCodecGolden(t, func(opts []byte) (engine.Codec, error) {
		var o Options
		o.Defaults()
		if err := plugintest.DecodeOptions(&o, opts); err != nil {
			return nil, err
		}
		if err := o.Validate(); err != nil {
			return nil, err
		}
		return New(o, engine.Resources{})
	})
}

func TestDecodeReadError(t *testing.T) {
	c, err := New(plugintest.NewOptions[Options](t, ""), engine.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if _, err := c.NewDecoder(iotest.ErrReader(boom)).Decode(); !errors.Is(err, boom) {
		t.Errorf("Decode error = %v; want %v", err, boom)
	}
}
