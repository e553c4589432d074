package json

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
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
		if _, err := plugintest.New(New, o, engine.Resources{}); err == nil {
			t.Errorf("New(%s) = nil error; want one", hcl)
		}
	}
}

// TestDepthBudget: with a target, a text nested deeper than
// event.MaxDecodeDepth is refused at decode time (kept as message, tagged
// _jsonparsefailure, the reason logged); issue #19 saw 9,999 levels
// accepted. The deepest text admitted decodes.
func TestDepthBudget(t *testing.T) {
	nested := func(n int) string { return strings.Repeat("[", n-1) + `{"a":1}` + strings.Repeat("]", n-1) }
	c := plugintest.MustNew(t, New, `target = "[doc][body]"`, engine.Resources{})
	for _, tc := range []struct {
		depth int
		ok    bool
	}{{event.MaxDecodeDepth, true}, {event.MaxDecodeDepth + 1, false}, {9999, false}} {
		text := `{"x":` + nested(tc.depth-1) + `}`
		dec := c.NewDecoder(strings.NewReader(text))
		e, err := dec.Decode()
		if err != nil {
			t.Fatalf("%d: %v", tc.depth, err)
		}
		failed := e.HasTag("_jsonparsefailure")
		if failed == tc.ok {
			t.Errorf("%d levels: _jsonparsefailure %v; want %v", tc.depth, failed, !tc.ok)
		}
		if m, _ := e.Message(); !tc.ok && m != text {
			t.Errorf("%d levels: the refused text is not kept as message", tc.depth)
		}
	}
}

// TestAppendDecoded: decoding a string in place gives the events a decoder of
// the same text gives, for objects, arrays, invalid JSON and blank text, with
// and without [event][original], and in another charset.
func TestAppendDecoded(t *testing.T) {
	for _, opts := range []string{``, `ecs_compatibility = "disabled"`, `charset = "ISO-8859-1"`, `target = "doc"`} {
		c, err := plugintest.CodecBuilder(New)([]byte(opts))
		if err != nil {
			t.Fatal(err)
		}
		for _, text := range []string{`{"a":1,"b":{"c":"d"}}`, `[{"a":1},{"a":2}]`, `not json`, `{"b":`, `  `, "{\"m\":\"caf\xe9\"}", `"str"`} {
			var want []string
			dec := c.NewDecoder(strings.NewReader(text))
			for {
				e, err := dec.Decode()
				if err != nil {
					break
				}
				e.SetTimestamp(time.Unix(0, 0))
				want = append(want, fmt.Sprint(e.Fields()))
			}
			var got []string
			for _, e := range c.(*Codec).AppendDecoded(nil, text) {
				e.SetTimestamp(time.Unix(0, 0))
				got = append(got, fmt.Sprint(e.Fields()))
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s: AppendDecoded(%q) = %v; want %v", opts, text, got, want)
			}
		}
	}
}
