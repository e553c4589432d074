package plain

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
	if _, err := c.NewDecoder(iotest.ErrReader(boom)).Decode(); !errors.Is(err, boom) {
		t.Errorf("Decode error = %v; want %v", err, boom)
	}
}
