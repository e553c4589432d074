// Package plugintest runs the golden test files of the plugins in this module.
//
// A codec golden file, testdata/<category>_<case>.txtar, holds:
//
//   - options.hcl: the codec options in HCL (optional), decoded over the
//     defaults as the engine does;
//   - want.err: a substring of the error New must return (and nothing else);
//   - input or input.go: bytes to decode, raw or as a Go string literal (for
//     "\r", a missing final newline, invalid UTF-8); the events decoded until
//     io.EOF are compared with want.jsonl, one JSON object per line (an
//     "@metadata" key shows the metadata; @timestamp is left out when the codec
//     set it to the current time; a Decode error ends the list with a line
//     "error: <message>");
//   - events.jsonl: events to encode, one JSON object per line, compared with the
//     bytes in want or want.go.
//
// Run the tests with -update to rewrite the want sections from the results.
package plugintest

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/tools/txtar"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/enginetest"
	"github.com/pipelined/pipeline/engine/event"
)

var update = flag.Bool("update", false, "rewrite the want sections of testdata/*.txtar")

// DecodeOptions decodes HCL attributes in src into o, a pointer to a plugin's
// Options with the defaults already set.
func DecodeOptions(o any, src []byte) error {
	if len(bytes.TrimSpace(src)) == 0 {
		return nil
	}
	return enginetest.DecodeOptions(o, src)
}

// NewOptions returns a new *O with Defaults applied and src decoded over it.
func NewOptions[O any](t testing.TB, src string) O {
	t.Helper()
	var o O
	if d, ok := any(&o).(engine.Defaulter); ok {
		d.Defaults()
	}
	if err := DecodeOptions(&o, []byte(src)); err != nil {
		t.Fatalf("options %q: %v", src, err)
	}
	return o
}

// MustNew builds a plugin with its constructor newFn from the options HCL src,
// decoded over the defaults (NewOptions), and the resources r, as Build does
// (see New); an error fails t.
func MustNew[O, P any](t testing.TB, newFn func(O, engine.Resources) (P, error), src string, r engine.Resources) P {
	t.Helper()
	p, err := New(newFn, NewOptions[O](t, src), r)
	if err != nil {
		t.Fatalf("New(%s): %v", src, err)
	}
	return p
}

// New runs o's Validate, then the constructor newFn, as the engine's Build
// does: constructors trust their options to be valid, so a test that builds
// a plugin from Go values goes through here to get Validate's error for bad
// options.
func New[O, P any](newFn func(O, engine.Resources) (P, error), o O, r engine.Resources) (P, error) {
	if v, ok := any(&o).(engine.Validator); ok {
		if err := v.Validate(); err != nil {
			var zero P
			return zero, err
		}
	}
	return newFn(o, r)
}

// MustCodec builds the codec of newFn with its default options, or fails t:
// for plugin tests that need a codec in their Resources.
func MustCodec[O any, C engine.Codec](t testing.TB, newFn func(O, engine.Resources) (C, error)) engine.Codec {
	t.Helper()
	c, err := CodecBuilder(newFn)(nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// CodecBuilder returns the build function RunCodecGolden wants for a codec
// constructor: the options HCL is decoded over the defaults and validated, as
// the engine does, and passed to newFn with empty resources.
func CodecBuilder[O any, C engine.Codec](newFn func(O, engine.Resources) (C, error)) func(options []byte) (engine.Codec, error) {
	return func(options []byte) (engine.Codec, error) {
		var o O
		if d, ok := any(&o).(engine.Defaulter); ok {
			d.Defaults()
		}
		if err := DecodeOptions(&o, options); err != nil {
			return nil, err
		}
		c, err := New(newFn, o, engine.Resources{})
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

// RunCodecGolden runs every testdata/*.txtar of the calling package against the
// codec that build makes from the options HCL.
func RunCodecGolden(t *testing.T, build func(options []byte) (engine.Codec, error)) {
	goldens(t, func(t *testing.T, file string, ar *txtar.Archive, sec map[string]*txtar.File) {
		var opts []byte
		if f := sec["options.hcl"]; f != nil {
			opts = f.Data
		}
		codec, err := build(opts)
		if f := sec["want.err"]; f != nil {
			want := strings.TrimSpace(string(f.Data))
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("New(%s) error = %v; want one containing %q", opts, err, want)
			}
			return
		}
		if err != nil {
			t.Fatalf("New(%s): %v", opts, err)
		}
		changed := false
		if in, ok := bytesOf(t, sec, "input"); ok {
			got := DecodeAll(codec, bytes.NewReader(in))
			changed = compare(t, ar, sec, "want.jsonl", []byte(got)) || changed
		}
		if f := sec["events.jsonl"]; f != nil {
			var buf bytes.Buffer
			enc := codec.NewEncoder(&buf)
			for _, line := range strings.Split(strings.TrimSpace(string(f.Data)), "\n") {
				e, err := event.FromJSON([]byte(line))
				if err != nil {
					t.Fatalf("events.jsonl: %s: %v", line, err)
				}
				if err := enc.Encode(e); err != nil {
					t.Fatalf("Encode(%s): %v", line, err)
				}
			}
			name := "want"
			if sec["want.go"] != nil || (sec["want"] == nil && needsQuoting(buf.Bytes())) {
				name = "want.go"
			}
			changed = compare(t, ar, sec, name, buf.Bytes()) || changed
		}
		if changed && *update {
			if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// bytesOf returns section name raw, or name+".go" unquoted.
func bytesOf(t *testing.T, sec map[string]*txtar.File, name string) ([]byte, bool) {
	if f := sec[name]; f != nil {
		return f.Data, true
	}
	if f := sec[name+".go"]; f != nil {
		s, err := strconv.Unquote(strings.TrimSpace(string(f.Data)))
		if err != nil {
			t.Fatalf("%s.go: %v", name, err)
		}
		return []byte(s), true
	}
	return nil, false
}

func needsQuoting(b []byte) bool {
	return len(b) == 0 || b[len(b)-1] != '\n' || bytes.ContainsAny(b, "\r\x00") || !isUTF8(b)
}

func isUTF8(b []byte) bool { return strings.ToValidUTF8(string(b), "\uFFFD") == string(b) }

// compare checks got against section name (raw; or a Go string literal for a
// name ending in .go), and with -update stores got in it. It reports whether
// the archive changed.
func compare(t *testing.T, ar *txtar.Archive, sec map[string]*txtar.File, name string, got []byte) bool {
	t.Helper()
	quoted := strings.HasSuffix(name, ".go")
	stored := got
	if quoted {
		stored = []byte(strconv.Quote(string(got)) + "\n")
	}
	f := sec[name]
	if f == nil {
		if !*update {
			t.Errorf("no %s section; got:\n%s", name, stored)
			return false
		}
		ar.Files = append(ar.Files, txtar.File{Name: name, Data: stored})
		return true
	}
	want := f.Data
	if quoted && len(bytes.TrimSpace(f.Data)) == 0 {
		want = nil // a placeholder, to fill with -update
		if len(got) == 0 {
			want = []byte{}
		}
	} else if quoted {
		s, err := strconv.Unquote(strings.TrimSpace(string(f.Data)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want = []byte(s)
	}
	if bytes.Equal(got, want) {
		return false
	}
	if *update {
		f.Data = stored
		return true
	}
	t.Errorf("%s mismatch:\n got:\n%s\nwant:\n%s", name, stored, f.Data)
	return false
}

// DecodeAll decodes r to its end and returns the events as JSON lines, for
// comparison: @timestamp is left out when it was set to the current time, an
// "@metadata" key shows the metadata, and a Decode error ends the list with a
// line "error: <message>".
func DecodeAll(c engine.Codec, r io.Reader) string {
	start := time.Now().Add(-time.Second)
	dec := c.NewDecoder(r)
	var out strings.Builder
	for {
		e, err := dec.Decode()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintf(&out, "error: %v\n", err)
			break
		}
		out.WriteString(EventJSON(e, start))
		out.WriteByte('\n')
	}
	return out.String()
}

// EventJSON renders e as JSON for comparison: @timestamp is left out when it is
// not before now (set by the code under test), and metadata, if any, is shown
// under "@metadata".
func EventJSON(e *event.Event, now time.Time) string {
	fields := map[string]any{}
	for k, v := range e.Fields() {
		fields[k] = v
	}
	if ts := e.Timestamp(); !ts.Before(now) {
		delete(fields, event.TimestampField)
	}
	if m := e.Metadata(); len(m) > 0 {
		fields[event.MetadataField] = m
	}
	return string(event.AppendJSONValue(nil, fields))
}

// goldens runs fn as a subtest for every testdata/*.txtar of the calling
// package, with the archive and its files by name.
func goldens(t *testing.T, fn func(t *testing.T, file string, ar *txtar.Archive, sec map[string]*txtar.File)) {
	t.Helper()
	files, err := filepath.Glob("testdata/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.txtar")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			sec := map[string]*txtar.File{}
			for i := range ar.Files {
				sec[ar.Files[i].Name] = &ar.Files[i]
			}
			fn(t, file, ar, sec)
		})
	}
}
