package xml

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

var msg = event.MustRef("message")

// TestBudgets: a document nested deeper than MaxDepth, or longer than
// MaxDocumentBytes, is refused (tagged), in recovering and strict parsing;
// the deepest document admitted is stored.
func TestBudgets(t *testing.T) {
	nested := func(n int) string { return strings.Repeat("<a>", n) + "x" + strings.Repeat("</a>", n) }
	big := "<a>" + strings.Repeat("x", MaxDocumentBytes) + "</a>"
	for _, opts := range []string{`source = "message"
target = "doc"`, `source = "message"
store_xml = false
xpath = { "/a" = "x" }`} {
		f := plugintest.MustNew(t, New, opts, engine.Resources{})
		for _, tc := range []struct {
			name string
			text string
			ok   bool
		}{{"max depth", nested(MaxDepth), true}, {"too deep", nested(MaxDepth + 1), false}, {"too big", big, false}} {
			e := event.NewMessage(tc.text)
			if _, err := f.Filter(context.Background(), e, nil); (err == nil) != tc.ok && tc.ok {
				t.Errorf("%s: %v", tc.name, err)
			}
			if e.HasTag(FailureTag) == tc.ok {
				t.Errorf("%s (%s): tagged %v; want %v", tc.name, opts, e.HasTag(FailureTag), !tc.ok)
			}
		}
	}
}

// TestConcurrent: compiled expressions are not shared between concurrent
// calls (run with -race).
func TestConcurrent(t *testing.T) {
	f := plugintest.MustNew(t, New, `source = "message"
store_xml = false
xpath = { "//b[@n>1]/text()" = "b" }`, engine.Resources{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				e := event.NewMessage(`<a><b n="1">x</b><b n="2">y</b><b n="3">z</b></a>`)
				if _, err := f.Filter(context.Background(), e, nil); err != nil {
					t.Error(err)
					return
				}
				v, _ := e.Get(event.MustRef("b"))
				if l, ok := v.([]any); !ok || len(l) != 2 || l[0] != "y" || l[1] != "z" {
					t.Errorf("b = %v; want [y z]", v)
					return
				}
			}
		}()
	}
	wg.Wait()
	_ = msg
}
