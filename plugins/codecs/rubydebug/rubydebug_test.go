package rubydebug

import (
	"errors"
	"strings"
	"testing"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/plugintest"
)

func TestGolden(t *testing.T) {
	plugintest.RunCodecGolden(t, func(opts []byte) (engine.Codec, error) {
		var o Options
		if err := plugintest.DecodeOptions(&o, opts); err != nil {
			return nil, err
		}
		return New(o, engine.Resources{})
	})
}

func TestDecodeUnsupported(t *testing.T) {
	c, _ := New(Options{}, engine.Resources{})
	if _, err := c.NewDecoder(strings.NewReader("x")).Decode(); !errors.Is(err, ErrDecodeUnsupported) {
		t.Errorf("Decode error = %v; want ErrDecodeUnsupported", err)
	}
}

func TestRubyFloat(t *testing.T) {
	for f, want := range map[float64]string{
		1: "1.0", 1.5: "1.5", 0.0001: "0.0001", 0.00001: "1.0e-05", 1e15: "1000000000000000.0",
		1e16: "1.0e+16", 1.25e20: "1.25e+20", -2: "-2.0", 0: "0.0",
	} {
		if got := string(appendRubyFloat(nil, f)); got != want {
			t.Errorf("appendRubyFloat(%v) = %s; want %s", f, got, want)
		}
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
