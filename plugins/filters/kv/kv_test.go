package kv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

func TestFilterAppends(t *testing.T) {
	f := plugintest.MustNew(t, New, "", engine.Resources{})
	prev, e := event.NewMessage("earlier"), event.NewMessage("a=1")
	got, err := f.Filter(context.Background(), e, []*event.Event{prev})
	if err != nil || len(got) != 2 || got[0] != prev || got[1] != e {
		t.Errorf("Filter = %v, %v", got, err)
	}
}

// The pairs of one text, as a table: the scan expression is the heart of
// the filter.
func TestScan(t *testing.T) {
	for _, tc := range []struct {
		opts, text string
		want       map[string]any
	}{
		{"", `a=1 b="x y" c='p q' d=(1 2) e=[3 4] f=<5 6>`, map[string]any{"a": "1", "b": "x y", "c": "p q", "d": "1 2", "e": "3 4", "f": "5 6"}},
		{"", `k=v\ w x=y`, map[string]any{"k": `v\ w`, "x": "y"}},
		{"", `a="unterminated b=c`, map[string]any{"a": `"unterminated`, "b": "c"}},
		{"", "a=1\nb=2", map[string]any{"a": "1\nb=2"}},
		{`field_split = "&"`, "a=1&b=&c=3", map[string]any{"a": "1", "c": "3"}},
		{`value_split = ":="`, "a:1 b=2", map[string]any{"a": "1", "b": "2"}},
		{`whitespace = "strict"`, "a = 1 b=2", map[string]any{"b": "2"}},
		{"", "no pairs here", map[string]any{}},
	} {
		f := plugintest.MustNew(t, New, tc.opts+"\ntarget = \"t\"", engine.Resources{})
		e := event.NewMessage(tc.text)
		_, _ = f.Filter(context.Background(), e, nil)
		got, _ := e.Get(event.MustRef("t"))
		m, _ := got.(map[string]any)
		if len(m) != len(tc.want) {
			t.Errorf("%s %q: got %v; want %v", tc.opts, tc.text, got, tc.want)
			continue
		}
		for k, v := range tc.want {
			if m[k] != v {
				t.Errorf("%s %q: [%s] = %#v; want %#v", tc.opts, tc.text, k, m[k], v)
			}
		}
	}
}

func TestConcurrent(t *testing.T) {
	f := plugintest.MustNew(t, New, `prefix = "%%{p}"`+"\ninclude_keys = [\"a\", \"%%{k}\"]", engine.Resources{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := string(rune('a' + i))
			for range 200 {
				e := event.NewMessage("a=1 b=2 c=3")
				_ = e.Set(event.MustRef("p"), p)
				_ = e.Set(event.MustRef("k"), "b")
				if _, err := f.Filter(context.Background(), e, nil); err != nil {
					t.Error(err)
					return
				}
				if v, _ := e.GetString(event.MustRef(p + "b")); v != "2" {
					t.Errorf("%sb = %q", p, v)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkKV(b *testing.B) {
	f := plugintest.MustNew(b, New, "", engine.Resources{})
	b.ReportAllocs()
	for range b.N {
		e := event.NewMessage(`src=10.0.0.1 dst=10.0.0.2 proto=tcp action="allow all" bytes=1234`)
		if _, err := f.Filter(context.Background(), e, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// The hand-run pattern scanner agrees with the one-expression scan when the
// patterns say what the character classes say, escapes and oddities included.
func TestPatternScannerMatchesClassScan(t *testing.T) {
	texts := []string{
		`a=1 b=2`,
		`a\=b=c d=e`,
		`k\ ey=v\ al x=y`,
		`a="q q" b='r r' c=(s s) d=[t t] e=<u u>`,
		`a="unterminated b=c`,
		`a="x"y b=2`,
		"a=1\nb=2 c=3\n",
		`=x a== b=`,
		`\\=1 a\=`,
		`a= b=2`,
		`über=grün ä\ö=1`,
		`trailing\`,
		"a=\\\nb",
	}
	for _, ws := range []string{"lenient", "strict"} {
		class := plugintest.MustNew(t, New, `target = "t"`+"\nwhitespace = \""+ws+"\"", engine.Resources{})
		pattern := plugintest.MustNew(t, New, `target = "t"`+"\nwhitespace = \""+ws+"\"\nfield_split_pattern = \" \"\nvalue_split_pattern = \"=\"", engine.Resources{})
		onlyValue := plugintest.MustNew(t, New, `target = "t"`+"\nwhitespace = \""+ws+"\"\nvalue_split_pattern = \"=\"", engine.Resources{})
		for _, text := range texts {
			want := fmt.Sprint(class.pairs(text))
			if got := fmt.Sprint(pattern.pairs(text)); got != want && !strings.Contains(text, "\n") {
				t.Errorf("%s %q: patterns give %s; classes %s", ws, text, got, want)
			}
			if got := fmt.Sprint(onlyValue.pairs(text)); got != want {
				t.Errorf("%s %q: value_split_pattern gives %s; classes %s", ws, text, got, want)
			}
		}
	}
	// Ruby's . stops at a newline where a negated class does not: with
	// patterns, keys and values end at line ends.
	pattern := plugintest.MustNew(t, New, "target = \"t\"\nfield_split_pattern = \" \"", engine.Resources{})
	for text, want := range map[string]string{
		"a=1\nb=2 c=3\n": "[{a 1} {b 2} {c 3}]",
		"a=\\\nb":        `[{a \}]`,
	} {
		if got := fmt.Sprint(pattern.pairs(text)); got != want {
			t.Errorf("%q: pairs = %s; want %s", text, got, want)
		}
	}
}

func TestNoPairsNotApplied(t *testing.T) {
	f := plugintest.MustNew(t, New, "", engine.Resources{})
	if _, err := f.Filter(context.Background(), event.NewMessage("no pairs"), nil); !errors.Is(err, engine.ErrNotApplied) {
		t.Errorf("err = %v; want ErrNotApplied", err)
	}
}
