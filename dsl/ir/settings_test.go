package ir_test

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"golang.org/x/tools/txtar"

	"github.com/pipelined/pipeline/dsl/ir"
)

var update = flag.Bool("update", false, "rewrite the want sections of testdata/hcl/*.txtar")

// showSettings prints the settings s sets, one per line, as an HCL pipeline
// block writes them: "block.argument = value".
func showSettings(s ir.Settings) []string {
	var out []string
	for _, st := range ir.SettingsHCL(s) {
		name := st.Name
		if st.Block != "" {
			name = st.Block + "." + name
		}
		v := fmt.Sprint(st.Value)
		if str, ok := st.Value.(string); ok {
			v = fmt.Sprintf("%q", str)
		}
		out = append(out, name+" = "+v)
	}
	return out
}

// TestSetSetting runs testdata/settings_text.txt: each pipeline setting by
// its Logstash name, from text, good and bad, shown as HCL writes it.
func TestSetSetting(t *testing.T) {
	textCases(t, "testdata/settings_text.txt", ir.LogstashSettingNames(), func(name, text string) (bool, string, error, string) {
		var s ir.Settings
		known, detail, err := s.SetSetting(name, text)
		return known, detail, err, strings.Join(showSettings(s), "; ")
	})
}

// TestProcessSetSetting runs testdata/process_text.txt: the process's
// settings by their Logstash names, and the pipelines' through them.
func TestProcessSetSetting(t *testing.T) {
	names := slices.DeleteFunc(ir.ProcessSettingNames(), func(n string) bool { return slices.Contains(ir.LogstashSettingNames(), n) })
	textCases(t, "testdata/process_text.txt", names, func(name, text string) (bool, string, error, string) {
		var s ir.ProcessSettings
		known, detail, err := s.SetSetting(name, text)
		return known, detail, err, strings.Join(fieldsSet("", reflect.ValueOf(s)), "; ")
	})
}

// fieldsSet lists the non-zero fields of v as "Path=value".
func fieldsSet(prefix string, v reflect.Value) []string {
	ptr := v.Kind() == reflect.Pointer
	if ptr {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		if v.IsZero() && !ptr {
			return nil
		}
		return []string{fmt.Sprintf("%s=%v", prefix, v.Interface())}
	}
	var out []string
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		if prefix != "" {
			name = prefix + "." + name
		}
		out = append(out, fieldsSet(name, v.Field(i))...)
	}
	return out
}

// textCases runs a file of name<TAB>text<TAB>want lines through set, which
// returns what SetSetting did and the settings shown; every name of names
// needs a good and a bad case.
func textCases(t *testing.T, path string, names []string, set func(name, text string) (bool, string, error, string)) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	good, bad := map[string]int{}, map[string]int{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, "\t")
		if len(parts) != 3 {
			t.Fatalf("%s:%d: want name<TAB>text<TAB>want", path, n)
		}
		name, text, want := parts[0], parts[1], parts[2]
		known, detail, err, got := set(name, text)
		if !known {
			t.Errorf("%s:%d: %s is not a known setting", path, n, name)
			continue
		}
		if got == "" {
			got = "-"
		}
		if err != nil {
			got = "error: " + detail + " | " + err.Error()
			bad[name]++
		} else {
			good[name]++
		}
		if got != want {
			t.Errorf("%s:%d: %s %q:\n got %s\nwant %s", path, n, name, text, got, want)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		// A setting that takes any text has no bad case: two good ones.
		if good[name] == 0 || bad[name] == 0 && good[name] < 2 {
			t.Errorf("%s needs a good and a bad case of %s", path, name)
		}
	}
	if known, _, _, _ := set("queue.maxbytes", "1mb"); known {
		t.Error("an unknown name was taken")
	}
}

// TestDecodeSettingsHCL runs testdata/hcl/*.txtar: a pipeline block in
// pipeline.hcl, and in want the settings it sets, the other blocks it holds
// and the diagnostics (line:col: summary: detail). Cases without
// diagnostics must also print back (SettingsHCL) to the same settings.
func TestDecodeSettingsHCL(t *testing.T) {
	files, err := filepath.Glob("testdata/hcl/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var src []byte
			var want *txtar.File
			for i := range ar.Files {
				switch ar.Files[i].Name {
				case "pipeline.hcl":
					src = ar.Files[i].Data
				case "want":
					want = &ar.Files[i]
				}
			}
			if src == nil || want == nil {
				t.Fatal("want pipeline.hcl and want sections")
			}
			s, diags := decode(t, src)
			got := strings.Join(append(s, diags...), "\n") + "\n"
			if *update {
				want.Data = []byte(got)
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != string(want.Data) {
				t.Errorf("got:\n%swant:\n%s", got, want.Data)
			}
			if len(diags) > 0 {
				return
			}
			settings, _, _ := ir.DecodeSettingsHCL(parse(t, src))
			back, diags := decode(t, []byte(formatHCL(settings)))
			if len(diags) > 0 || strings.Join(back, "\n") != strings.Join(showSettings(settings), "\n") {
				t.Errorf("printed back:\n%s\ndecodes to %v %v", formatHCL(settings), back, diags)
			}
		})
	}
}

func parse(t *testing.T, src []byte) *hclsyntax.Body {
	t.Helper()
	f, diags := hclsyntax.ParseConfig(src, "pipeline.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	body := f.Body.(*hclsyntax.Body)
	if len(body.Blocks) != 1 {
		t.Fatal("want one pipeline block")
	}
	return body.Blocks[0].Body
}

// decode decodes the settings of the pipeline block in src and shows them,
// the other blocks and the diagnostics.
func decode(t *testing.T, src []byte) (settings, diags []string) {
	s, rest, d := ir.DecodeSettingsHCL(parse(t, src))
	settings = showSettings(s)
	if len(rest) > 0 {
		var types []string
		for _, b := range rest {
			types = append(types, b.Type)
		}
		settings = append(settings, "blocks: "+strings.Join(types, " "))
	}
	for _, x := range d {
		diags = append(diags, fmt.Sprintf("%d:%d: %s: %s", x.Subject.Start.Line, x.Subject.Start.Column, x.Summary, x.Detail))
	}
	return settings, diags
}

// formatHCL writes settings as a pipeline block.
func formatHCL(s ir.Settings) string {
	var b strings.Builder
	b.WriteString("pipeline \"p\" {\n")
	for _, block := range []string{"", "queue", "dead_letter_queue"} {
		if block != "" {
			fmt.Fprintf(&b, "%s {\n", block)
		}
		for _, st := range ir.SettingsHCL(s) {
			if st.Block == block {
				v := fmt.Sprint(st.Value)
				if str, ok := st.Value.(string); ok {
					v = fmt.Sprintf("%q", str)
				}
				fmt.Fprintf(&b, "%s = %s\n", st.Name, v)
			}
		}
		if block != "" {
			b.WriteString("}\n")
		}
	}
	return b.String() + "}\n"
}

// A pipeline's own settings win; what it leaves unset comes from the
// defaults, field by field.
func TestSettingsOr(t *testing.T) {
	no, yes := false, true
	own := ir.Settings{Workers: 2, Queue: ir.QueueSettings{MaxBytes: 10, Drain: &no},
		DeadLetterQueue: ir.DeadLetterQueueSettings{RetainAge: time.Hour}}
	defaults := ir.Settings{Workers: 8, BatchSize: 50, BatchDelay: time.Second,
		Queue:           ir.QueueSettings{Type: "persisted", MaxBytes: 20, Drain: &yes, CheckpointWrites: 3},
		DeadLetterQueue: ir.DeadLetterQueueSettings{Enable: &yes, StoragePolicy: "drop_older", RetainAge: 2 * time.Hour}}
	got := strings.Join(showSettings(own.Or(defaults)), "; ")
	want := `workers = 2; batch_size = 50; batch_delay = "1s"; queue.type = "persisted"; queue.max_bytes = "10b"; ` +
		`queue.checkpoint_writes = 3; queue.drain = false; dead_letter_queue.enable = true; ` +
		`dead_letter_queue.storage_policy = "drop_older"; dead_letter_queue.retain_age = "1h"`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestFormatAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		72 * time.Hour: "3d", 36 * time.Hour: "36h", 90 * time.Minute: "90m", 61 * time.Second: "61s", 0: "0d",
	} {
		if got := ir.FormatAge(d); got != want {
			t.Errorf("FormatAge(%v) = %q, want %q", d, got, want)
		}
		if d > 0 {
			if back, err := ir.ParseAge(want); err != nil || back != d {
				t.Errorf("ParseAge(%q) = %v, %v; want %v", want, back, err, d)
			}
		}
	}
}
