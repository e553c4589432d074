package rubydebug

import (
	"errors"
	"strings"
	"testing"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/plugintest"
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

func TestInspect(t *testing.T) {
	for in, want := range map[string]string{
		`plain`: `"plain"`, `a"b`: `"a\"b"`, `a\b`: `"a\\b"`, "#{x}": `"\#{x}"`, "#$x #@y #z": `"\#$x \#@y #z"`,
		"\x00\x1b\x7f": `"\u0000\e\u007F"`, "\xff": `"\xFF"`, "\u0085": `"\u0085"`, "é☃": `"é☃"`,
	} {
		if got := string(appendInspect(nil, in)); got != want {
			t.Errorf("appendInspect(%q) = %s; want %s", in, got, want)
		}
	}
}
