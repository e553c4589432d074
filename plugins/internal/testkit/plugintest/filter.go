package plugintest

import (
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/tools/txtar"

	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine/enginetest"
	"github.com/pipelined/pipeline/engine/event"
)

// pipelineFile reads plugin options as a pipeline file does, through the
// front-end (enginetest itself never imports dsl).
var pipelineFile = enginetest.With(dsl.LoadSource)

// Filter runs events through the filter typ configured by options (written as
// in a pipeline file, so "%{…}" is literal) and returns what comes out, in
// input order, after the engine's common options.
func Filter(t testing.TB, typ, options string, in ...*event.Event) []*event.Event {
	t.Helper()
	return pipelineFile.Filter(t, typ, options, in...)
}

// Output sends events through the output typ configured by options (written
// as in a pipeline file) and returns once the pipeline has drained.
func Output(t testing.TB, typ, options string, in ...*event.Event) {
	t.Helper()
	pipelineFile.Output(t, typ, options, in...)
}

// BuildDiags builds a pipeline holding one plugin of kind and typ with the
// options (pipeline-file syntax; they start on line 2) and returns the
// diagnostics: for testing option validation.
func BuildDiags(t testing.TB, kind ir.Kind, typ, options string) hcl.Diagnostics {
	t.Helper()
	return pipelineFile.BuildDiags(t, kind, typ, options)
}

// CheckDiags is BuildDiags as `pipeline check` builds (engine.Settings.Check):
// errors marked engine.AtStart are warnings.
func CheckDiags(t testing.TB, kind ir.Kind, typ, options string) hcl.Diagnostics {
	t.Helper()
	return pipelineFile.CheckDiags(t, kind, typ, options)
}

// RunFilterGolden runs every testdata/*.txtar of the calling package through
// the filter typ, built and run by the real engine (enginetest). A file holds:
//
//   - options.hcl: the filter's options, written as in a pipeline file (so
//     "%{…}" is literal), common options included;
//   - input.jsonl: the events fed in, one JSON object per line (an "@metadata"
//     key sets the metadata; events without @timestamp get a fixed one,
//     2026-01-02T03:04:05.000Z, so outputs are reproducible);
//   - want.jsonl: the events that come out, in order, as EventJSON renders them;
//   - or want.err: a substring of the configuration error instead.
//
// Run the tests with -update to rewrite want.jsonl from the results.
func RunFilterGolden(t *testing.T, typ string) {
	goldens(t, func(t *testing.T, file string, ar *txtar.Archive, sec map[string]*txtar.File) {
		var opts string
		if f := sec["options.hcl"]; f != nil {
			opts = string(f.Data)
		}
		if f := sec["want.err"]; f != nil {
			want := strings.TrimSpace(string(f.Data))
			diags := BuildDiags(t, ir.Filter, typ, opts)
			if !hasError(diags, want) {
				t.Fatalf("build error = %v; want one containing %q", diags, want)
			}
			return
		}
		in := InputEvents(t, sec["input.jsonl"])
		out := Filter(t, typ, opts, in...)
		var got strings.Builder
		for _, e := range out {
			got.WriteString(EventJSON(e, time.Now().Add(time.Hour)))
			got.WriteByte('\n')
		}
		if compare(t, ar, sec, "want.jsonl", []byte(got.String())) && *update {
			if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FixedTime is the @timestamp given to golden input events that have none.
var FixedTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// InputEvents parses one event per line of f (nil: no events).
func InputEvents(t testing.TB, f *txtar.File) []*event.Event {
	t.Helper()
	if f == nil {
		return nil
	}
	var out []*event.Event
	for _, line := range strings.Split(string(f.Data), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		hasTS := strings.Contains(line, `"@timestamp"`)
		e, err := event.FromJSON([]byte(line))
		if err != nil {
			t.Fatalf("input.jsonl: %s: %v", line, err)
		}
		if !hasTS {
			e.SetTimestamp(FixedTime)
		}
		out = append(out, e)
	}
	return out
}

// hasError reports whether one of the errors among diags (warnings aside)
// contains want.
func hasError(diags hcl.Diagnostics, want string) bool {
	for _, err := range diags.Errs() {
		if strings.Contains(err.Error(), want) {
			return true
		}
	}
	return false
}
