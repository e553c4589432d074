package dots

import (
	"errors"
	"strings"
	"testing"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

func TestGolden(t *testing.T) {
	plugintest.RunCodecGolden(t, plugintest.CodecBuilder(New))
}

func TestDecodeUnsupported(t *testing.T) {
	c, _ := New(Options{}, engine.Resources{})
	if _, err := c.NewDecoder(strings.NewReader("x")).Decode(); !errors.Is(err, ErrDecodeUnsupported) {
		t.Errorf("Decode error = %v; want ErrDecodeUnsupported", err)
	}
}
