package csv

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

func ev(fields map[string]any) *event.Event {
	e := event.NewMessageAt("m", time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC))
	for k, v := range fields {
		_ = e.Set(event.MustRef(k), v)
	}
	return e
}

// Rows as Ruby's CSV writes them, through the engine, into files chosen by
// the file output's sprintf path.
func TestRowsThroughEngine(t *testing.T) {
	dir := t.TempDir()
	plugintest.Output(t, "csv", `path = "`+dir+`/%{app}/out-%{+YYYY.MM.dd}.csv"
fields = ["a", "[n][x]", "missing", "empty", "h", "f", "arr"]`,
		ev(map[string]any{"app": "web", "a": "plain", "[n][x]": int64(7), "empty": "", "h": map[string]any{"k": "v"}, "f": 1.0, "arr": []any{"x", int64(1)}}),
		ev(map[string]any{"app": "web", "a": "has,comma", "[n][x]": "quote\"d", "empty": "line\nbreak", "f": true}),
		ev(map[string]any{"app": "db", "a": "=SUM(A1)", "[n][x]": "-1", "empty": "@x"}),
	)
	web, err := os.ReadFile(filepath.Join(dir, "web", "out-2026.12.07.csv"))
	if err != nil {
		t.Fatal(err)
	}
	want := "plain,7,,\"\",\"{\"\"k\"\":\"\"v\"\"}\",1.0,\"[\"\"x\"\", 1]\"\n" +
		"\"has,comma\",\"quote\"\"d\",,\"line\nbreak\",,true,\n"
	if string(web) != want {
		t.Errorf("web:\n%q\nwant\n%q", web, want)
	}
	db, err := os.ReadFile(filepath.Join(dir, "db", "out-2026.12.07.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "'=SUM(A1),'-1,,'@x,,,\n"; string(db) != want {
		t.Errorf("db: %q, want %q", db, want)
	}
}

// csv_options change the separators and quoting; spreadsheet_safe off
// leaves formulas alone.
func TestCSVOptions(t *testing.T) {
	dir := t.TempDir()
	plugintest.Output(t, "csv", `path = "`+dir+`/out.tsv"
fields = ["a", "b"]
spreadsheet_safe = false
csv_options = { col_sep = "\t", row_sep = "\r\n", force_quotes = "true" }`,
		ev(map[string]any{"a": "=1", "b": "x\ty"}))
	got, err := os.ReadFile(filepath.Join(dir, "out.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "\"=1\"\t\"x\ty\"\r\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A field reaching outside the file root goes to filename_failure, as in
// the file output.
func TestPathOutsideRoot(t *testing.T) {
	dir := t.TempDir()
	o := plugintest.MustNew(t, New, `path = "`+dir+`/logs/%%{f}.csv"
fields = ["f"]`, engineResources())
	defer o.Close(context.Background())
	if err := o.Write(context.Background(), []*event.Event{ev(map[string]any{"f": "../../escape"})}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "logs", "_filepath_failures"))
	if err != nil || string(got) != "../../escape\n" {
		t.Errorf("failure file: %q %v", got, err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct{ opts, want string }{
		{`path = "/tmp/x.csv"`, "fields"},
		{"path = \"/tmp/x.csv\"\nfields = []", "fields"},
		{"path = \"/tmp/x.csv\"\nfields = [\"a\"]\ncsv_options = { converters = \"all\" }", "converters"},
		{"path = \"/tmp/x.csv\"\nfields = [\"a\"]\ncsv_options = { quote_char = \"ab\" }", "quote_char"},
		{"fields = [\"a\"]", "path"},
	} {
		diags := plugintest.BuildDiags(t, ir.Output, "csv", tc.opts)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s: diags %v; want %q", tc.opts, diags, tc.want)
		}
	}
}

func engineResources() engine.Resources { return engine.Resources{} }
