package json

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

func msg(t *testing.T, m string) *event.Event {
	t.Helper()
	e := event.NewMessage(m)
	e.SetTimestamp(plugintest.FixedTime)
	return e
}

// A bad @timestamp gives the event the current time, the tag and the
// original value as Ruby's to_s prints it; the merge itself succeeds.
func TestBadTimestamp(t *testing.T) {
	f := plugintest.MustNew(t, New, `source = "message"`, engine.Resources{})
	for _, tc := range []struct{ json, want string }{
		{`"foobar"`, "foobar"},
		{`123`, "123"},
		{`1.5`, "1.5"},
		{`1e20`, "1.0e+20"},
		{`true`, "true"},
		{`"2013-13-01T00:00:00Z"`, "2013-13-01T00:00:00Z"},
		{`[1, "a", null]`, `[1, "a", nil]`},
		{`{"b": 1, "a": [2.0]}`, `{"a"=>[2.0], "b"=>1}`},
	} {
		e := msg(t, `{"foo":"bar", "@timestamp":`+tc.json+`}`)
		before := time.Now().Add(-time.Second)
		out, err := f.Filter(context.Background(), e, nil)
		if err != nil || len(out) != 1 || out[0] != e {
			t.Fatalf("%s: Filter = %v, %v", tc.json, out, err)
		}
		if ts := e.Timestamp(); ts.Before(before) || ts.After(time.Now()) {
			t.Errorf("%s: @timestamp = %v; want now", tc.json, ts)
		}
		if !e.HasTag(event.TimestampFailureTag) {
			t.Errorf("%s: tags = %v", tc.json, e.Tags())
		}
		if got, _ := e.Get(event.MustRef("_@timestamp")); got != tc.want {
			t.Errorf("%s: _@timestamp = %#v; want %q", tc.json, got, tc.want)
		}
		if got, _ := e.GetString(event.MustRef("foo")); got != "bar" {
			t.Errorf("%s: foo = %q", tc.json, got)
		}
	}
}

// Invalid JSON is logged as a warning, unless skip_on_invalid_json is set.
func TestWarnings(t *testing.T) {
	for _, tc := range []struct {
		opts    string
		warn    bool
		tag     bool
		message string
	}{
		{`source = "message"`, true, true, "not json"},
		{`source = "message"` + "\nskip_on_invalid_json = true", false, false, "not json"},
		{`source = "message"` + "\nskip_on_invalid_json = true", true, true, "[1]"},
		{`source = "message"`, false, false, `{"a":1}`},
	} {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, nil))
		f := plugintest.MustNew(t, New, tc.opts, engine.Resources{Logger: log})
		e := msg(t, tc.message)
		_, err := f.Filter(context.Background(), e, nil)
		if (err != nil) != (tc.message != `{"a":1}`) {
			t.Errorf("%q %q: err = %v", tc.opts, tc.message, err)
		}
		if got := strings.Contains(buf.String(), "level=WARN"); got != tc.warn {
			t.Errorf("%q %q: warned = %v; want %v (%s)", tc.opts, tc.message, got, tc.warn, buf.String())
		}
		if got := e.HasTag("_jsonparsefailure"); got != tc.tag {
			t.Errorf("%q %q: tagged = %v; want %v", tc.opts, tc.message, got, tc.tag)
		}
	}
}

// ECS mode without a target logs Logstash's notice once, at build time.
func TestECSNotice(t *testing.T) {
	for _, tc := range []struct {
		opts string
		want bool
	}{
		{`source = "message"`, true},
		{"source = \"message\"\necs_compatibility = \"disabled\"", false},
		{"source = \"message\"\ntarget = \"t\"", false},
	} {
		var buf bytes.Buffer
		plugintest.MustNew(t, New, tc.opts, engine.Resources{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
		if got := strings.Contains(buf.String(), "target"); got != tc.want {
			t.Errorf("%q: notice = %v; want %v", tc.opts, got, tc.want)
		}
	}
}

func TestFilterAppends(t *testing.T) {
	f := plugintest.MustNew(t, New, `source = "message"`, engine.Resources{})
	prev := msg(t, "earlier")
	e := msg(t, `{"a":1}`)
	got, err := f.Filter(context.Background(), e, []*event.Event{prev})
	if err != nil || len(got) != 2 || got[0] != prev || got[1] != e {
		t.Errorf("Filter = %v, %v", got, err)
	}
}

func TestConcurrent(t *testing.T) {
	f := plugintest.MustNew(t, New, `source = "message"`, engine.Resources{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				e := msg(t, `{"a":{"b":[1,2]},"@timestamp":"2020-01-01T00:00:00Z","tags":["x"]}`)
				if _, err := f.Filter(context.Background(), e, nil); err != nil {
					t.Error(err)
					return
				}
				if !e.Timestamp().Equal(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)) {
					t.Error("bad timestamp")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkMerge(b *testing.B) {
	f := plugintest.MustNew(b, New, `source = "message"`, engine.Resources{})
	const m = `{"@timestamp":"2020-01-01T00:00:00.123Z","level":"info","user":{"id":42,"name":"ann"},"msg":"hello world","took_ms":1.25}`
	b.ReportAllocs()
	for range b.N {
		e := event.NewMessage(m)
		if _, err := f.Filter(context.Background(), e, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// Events the filter leaves alone report engine.ErrNotApplied, so that the
// engine skips the common options without logging a failure.
func TestNotApplied(t *testing.T) {
	for _, tc := range []struct {
		opts, message string
		want          bool
	}{
		{`source = "missing"`, "x", true},
		{"source = \"message\"\nskip_on_invalid_json = true", "not json", true},
		{`source = "message"`, "not json", false},
	} {
		f := plugintest.MustNew(t, New, tc.opts, engine.Resources{})
		_, err := f.Filter(context.Background(), msg(t, tc.message), nil)
		if got := errors.Is(err, engine.ErrNotApplied); got != tc.want {
			t.Errorf("%q %q: err = %v; ErrNotApplied %v, want %v", tc.opts, tc.message, err, got, tc.want)
		}
	}
}

// TestDepthBudget: a source nested deeper than event.MaxDecodeDepth is
// refused with a clear reason (the event tagged _jsonparsefailure, left
// otherwise unchanged), not parsed into the event.
func TestDepthBudget(t *testing.T) {
	f := plugintest.MustNew(t, New, "source = \"message\"\ntarget = \"[doc]\"", engine.Resources{})
	for _, depth := range []int{event.MaxDecodeDepth, event.MaxDecodeDepth + 1} {
		e := msg(t, strings.Repeat("[", depth)+strings.Repeat("]", depth))
		_, err := f.Filter(context.Background(), e, nil)
		_, parsed := e.Get(event.MustRef("[doc]"))
		if depth <= event.MaxDecodeDepth {
			if err != nil || !parsed {
				t.Errorf("%d levels: %v, parsed %v; want parsed", depth, err, parsed)
			}
			continue
		}
		if parsed || !e.HasTag("_jsonparsefailure") || err == nil || !strings.Contains(err.Error(), "nesting deeper than 1000 levels") {
			t.Errorf("%d levels: err %v, parsed %v, tags %v; want refused", depth, err, parsed, e.Tags())
		}
	}
}
