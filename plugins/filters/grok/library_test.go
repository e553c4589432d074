package grok

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/pipelined/pipeline/engine/event"
)

// libraryCase is one line of testdata/library/cases.jsonl: a pattern, a line
// and, in mode "disabled", "v1" or "both", the fields the match must include
// (Logstash's specs use include too), or null when it must not match. The
// values of the big formats come from logstash-patterns-core's spec files.
type libraryCase struct {
	Pattern string         `json:"pattern"`
	Mode    string         `json:"mode"`
	Line    string         `json:"line"`
	Want    map[string]any `json:"want"`
	Note    string         `json:"note"`
}

func loadLibraryCases(t testing.TB) []libraryCase {
	f, err := os.Open("testdata/library/cases.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []libraryCase
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		var c libraryCase
		d := json.NewDecoder(strings.NewReader(sc.Text()))
		d.UseNumber()
		if err := d.Decode(&c); err != nil {
			t.Fatalf("cases.jsonl:%d: %v", n, err)
		}
		out = append(out, c)
	}
	return out
}

func (c libraryCase) modes() []string {
	if c.Mode == "both" {
		return []string{"disabled", "v1"}
	}
	return []string{c.Mode}
}

func libraryFilter(t testing.TB, pattern, mode string) *Filter {
	t.Helper()
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(pattern)
	return newFilter(t, fmt.Sprintf("match = { message = \"%s\" }\necs_compatibility = %q", esc, mode))
}

var libraryName = regexp.MustCompile(`%\{(\w+)`)

// TestLibraryCases runs the table, and requires a positive and a negative
// case in both modes for at least 60 library patterns, the named ones among
// them.
func TestLibraryCases(t *testing.T) {
	covered := map[string]map[string]bool{} // pattern → "pos/disabled" …
	for _, c := range loadLibraryCases(t) {
		for _, mode := range c.modes() {
			f := libraryFilter(t, c.Pattern, mode)
			e := event.NewMessage(c.Line)
			_, err := f.Filter(context.Background(), e, nil)
			kind := "pos"
			if c.Want == nil {
				kind = "neg"
				if err == nil {
					t.Errorf("%s (%s) matched %q: %v", c.Pattern, mode, c.Line, e.Fields())
				}
			} else if err != nil {
				t.Errorf("%s (%s) did not match %q", c.Pattern, mode, c.Line)
			} else if diff := includes(e.Fields(), c.Want, ""); diff != "" {
				t.Errorf("%s (%s) on %q: %s\n  got %v", c.Pattern, mode, c.Line, diff, e.Fields())
			}
			name := libraryName.FindStringSubmatch(c.Pattern)[1]
			if covered[name] == nil {
				covered[name] = map[string]bool{}
			}
			covered[name][kind+"/"+mode] = true
		}
	}
	var full []string
	for name, k := range covered {
		if k["pos/disabled"] && k["pos/v1"] && k["neg/disabled"] && k["neg/v1"] {
			full = append(full, name)
		}
	}
	sort.Strings(full)
	if len(full) < 60 {
		t.Errorf("%d patterns have positive and negative cases in both modes; want at least 60: %v", len(full), full)
	}
	for _, must := range []string{"SYSLOGLINE", "SYSLOG5424LINE", "COMBINEDAPACHELOG", "HTTPD_ERRORLOG", "IPV6", "URI", "TIMESTAMP_ISO8601", "HAPROXYHTTP", "CISCOFW106001", "NAGIOSLOGLINE"} {
		if i := sort.SearchStrings(full, must); i == len(full) || full[i] != must {
			t.Errorf("%s lacks a positive or negative case in one of the modes", must)
		}
	}
	t.Logf("%d patterns covered in both modes", len(full))
}

// includes reports how got fails to include want ("" when it does).
func includes(got, want map[string]any, path string) string {
	for k, w := range want {
		g, ok := got[k]
		p := path + "[" + k + "]"
		if !ok {
			return p + " is missing"
		}
		if wm, isMap := w.(map[string]any); isMap {
			gm, ok := g.(map[string]any)
			if !ok {
				return fmt.Sprintf("%s = %#v; want an object", p, g)
			}
			if d := includes(gm, wm, p); d != "" {
				return d
			}
			continue
		}
		if !sameValue(g, w) {
			return fmt.Sprintf("%s = %#v; want %#v", p, g, w)
		}
	}
	return ""
}

func sameValue(got, want any) bool {
	switch w := want.(type) {
	case json.Number:
		if i, err := w.Int64(); err == nil {
			return got == i
		}
		f, _ := w.Float64()
		return got == f
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !sameValue(g[i], w[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(got, want)
}
