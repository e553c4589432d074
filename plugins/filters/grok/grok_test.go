package grok

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

func newFilter(t testing.TB, opts string) *Filter {
	t.Helper()
	return plugintest.MustNew(t, New, hclOpts(opts), engine.Resources{})
}

// hclOpts escapes %{ for plain HCL: pipeline files do not need it (the dsl
// pre-processor does it), plugintest's decoder does.
func hclOpts(s string) string { return strings.ReplaceAll(s, "%{", "%%{") }

func shipped() map[string]string {
	all := map[string]string{}
	for k, v := range legacyLibrary() {
		all[k] = v
	}
	return all
}

// Every pattern of both shipped libraries expands and compiles, with and
// without named_captures_only; every capture name is a valid field
// reference. A pattern that needs the backtracking engine must have a
// relaxed RE2 prefilter unless it uses a backreference, and the list of
// patterns that need it is pinned, so a silent change in translation shows.
func TestLibraryCompiles(t *testing.T) {
	for _, lib := range []struct {
		name string
		defs map[string]string
		min  int
	}{{"legacy", legacyLibrary(), 300}, {"ecs-v1", ecsLibrary(), 340}} {
		if len(lib.defs) < lib.min {
			t.Errorf("%s: %d patterns; want at least %d", lib.name, len(lib.defs), lib.min)
		}
		names := make([]string, 0, len(lib.defs))
		for k := range lib.defs {
			names = append(names, k)
		}
		sort.Strings(names)
		var bt, unverified []string
		for _, name := range names {
			for _, namedOnly := range []bool{true, false} {
				c, err := compilePattern("%{"+name+"}", lib.defs, namedOnly, "", nil, 0)
				if err != nil {
					t.Errorf("%s: %%{%s} (named_captures_only %v): %v", lib.name, name, namedOnly, err)
					continue
				}
				if !namedOnly && len(c.captures) == 0 {
					t.Errorf("%s: %%{%s}: no capture with named_captures_only false", lib.name, name)
				}
				if c.re == nil {
					t.Errorf("%s: %%{%s}: no RE2 prefilter", lib.name, name)
				}
				if namedOnly && c.bt != nil {
					bt = append(bt, name)
					if !c.verifiable {
						unverified = append(unverified, name)
					}
				}
			}
		}
		t.Logf("%s: %d patterns, %d need backtracking, %d of them on every match: %v", lib.name, len(names), len(bt), len(unverified), unverified)
		for _, n := range unverified {
			c, _ := compilePattern("%{"+n+"}", lib.defs, true, "", nil, 0)
			t.Logf("  %s: %v", n, c.tr.why)
		}
	}
}

// Positive and negative samples for the syslog names shipped here.
func TestSyslogPatterns(t *testing.T) {
	tests := []struct {
		pattern, line string
		want          map[string]any // nil: no match
	}{
		{"^%{SYSLOGLINE}$", "Oct 11 22:14:15 mymachine su[230]: 'su root' failed",
			map[string]any{"timestamp": "Oct 11 22:14:15", "logsource": "mymachine", "program": "su", "pid": "230", "message": "'su root' failed"}},
		{"^%{SYSLOGLINE}$", "2026-11-24T10:00:00Z web01 cron: ok",
			map[string]any{"timestamp8601": "2026-11-24T10:00:00Z", "logsource": "web01", "program": "cron", "message": "ok"}},
		{"^%{SYSLOGLINE}$", "not a syslog line", nil},
		{"^%{SYSLOG5424LINE}$", `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"] An application event`,
			map[string]any{"syslog5424_pri": "165", "syslog5424_ver": "1", "syslog5424_ts": "2003-10-11T22:14:15.003Z", "syslog5424_host": "mymachine.example.com",
				"syslog5424_app": "evntslog", "syslog5424_msgid": "ID47", "syslog5424_sd": `[exampleSDID@32473 iut="3"]`, "syslog5424_msg": "An application event"}},
		{"^%{SYSLOG5424LINE}$", "<165> 2003-10-11 nope", nil},
		{"^%{CRONLOG}$", "Nov 24 10:00:01 host CRON[123]: (root) CMD (run-parts /etc/cron.hourly)",
			map[string]any{"timestamp": "Nov 24 10:00:01", "logsource": "host", "program": "CRON", "pid": "123", "user": "root", "action": "CMD", "message": "run-parts /etc/cron.hourly"}},
		{"^%{CRONLOG}$", "Nov 24 10:00:01 host CRON[123]: root CMD", nil},
	}
	for _, tc := range tests {
		f := newFilter(t, `match = { message = "`+strings.ReplaceAll(tc.pattern, `\`, `\\`)+`" }`+"\noverwrite = [\"message\"]\necs_compatibility = \"disabled\"")
		e := event.NewMessage(tc.line)
		_, err := f.Filter(context.Background(), e, nil)
		if tc.want == nil {
			if err == nil {
				t.Errorf("%s matched %q: %v", tc.pattern, tc.line, e.Fields())
			}
			continue
		}
		if err != nil {
			t.Errorf("%s did not match %q", tc.pattern, tc.line)
			continue
		}
		for k, v := range tc.want {
			if got, _ := e.Get(event.MustRef(k)); got != v {
				t.Errorf("%s on %q: %s = %#v; want %#v", tc.pattern, tc.line, k, got, v)
			}
		}
		extra := len(tc.want)
		if _, ok := tc.want["message"]; ok {
			extra--
		}
		if n := len(e.Fields()) - 3; n != extra { // @timestamp, @version, message
			t.Errorf("%s on %q: fields %v; want only %v", tc.pattern, tc.line, e.Fields(), tc.want)
		}
	}
}

func TestRubyConversions(t *testing.T) {
	ints := map[string]any{"12": int64(12), "-3": int64(-3), "+7": int64(7), "12abc": int64(12), "abc": int64(0), "": int64(0),
		" 4": int64(4), "1_000": int64(1000), "1__0": int64(1), "_1": int64(0), "3.9": int64(3),
		"99999999999999999999": float64(1e20)}
	for in, want := range ints {
		if got := rubyToI(in); got != want {
			t.Errorf("rubyToI(%q) = %#v; want %#v", in, got, want)
		}
	}
	floats := map[string]float64{"1.5": 1.5, "1e3": 1000, "1e": 1, ".5": 0.5, "-2.5x": -2.5, "abc": 0, "": 0, "1_000.5": 1000.5,
		"Infinity": 0, "0x10": 0, "1.": 1, "+": 0}
	for in, want := range floats {
		if got := rubyToF(in); got != want {
			t.Errorf("rubyToF(%q) = %v; want %v", in, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	bad := map[string]string{
		`match = "message"`:                                                "match",
		`match = ["message"]`:                                              "match",
		`match = { message = [] }`:                                         "match",
		`match = { message = "%{NOPE}" }`:                                  "match",
		`match = { message = "a++" }`:                                      "match",
		`match = { message = "(?~x)" }`:                                    "match",
		"match = { m = \"x\" }\necs_compatibility = \"v2\"":                "ecs_compatibility",
		"match = { m = \"x\" }\ntimeout_scope = \"x\"":                     "timeout_scope",
		"match = { m = \"x\" }\ntimeout_millis = -1":                       "timeout_millis",
		`match = { "[bad" = "x" }`:                                         "match",
		"match = { m = \"x\" }\ntarget = \"[a\"":                           "target",
		"match = { m = \"x\" }\npattern_definitions = { \"a-b\" = \"x\" }": "pattern_definitions",
	}
	// Through the engine: a shape that does not decode is refused before
	// Validate, a pattern that does not compile by New; all blame the option.
	for src, field := range bad {
		diags := plugintest.BuildDiags(t, ir.Filter, "grok", src)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), fmt.Sprintf("Invalid value for %q", field)) {
			t.Errorf("%s: Build = %v; want a FieldError on %s", src, diags, field)
		}
	}
}

// A pattern Go's regexp refuses is blamed on the innermost pattern name.
func TestBlame(t *testing.T) {
	o := plugintest.NewOptions[Options](t, hclOpts("match = { message = \"%{OUTER}\" }\npattern_definitions = { OUTER = \"%{WORD} %{INNER}\", INNER = \"a*+\" }"))
	err := o.Validate()
	if err == nil {
		_, err = New(o, engine.Resources{})
	}
	if err == nil || !strings.Contains(err.Error(), "pattern %{INNER} cannot be compiled") {
		t.Errorf("Validate = %v; want it to blame %%{INNER}", err)
	}
}

// Filter is safe for concurrent use (run with -race).
func TestConcurrent(t *testing.T) {
	f := newFilter(t, `match = { message = ["<%{NONNEGINT:priority:int}>%{SYSLOGLINE}", "%{COMBINEDAPACHELOG}"] }`)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				e := event.NewMessage(syslogLine)
				if _, err := f.Filter(context.Background(), e, nil); err != nil {
					t.Error(err)
					return
				}
				if v, _ := e.Get(event.MustRef("priority")); v != int64(34) {
					t.Errorf("priority = %#v", v)
					return
				}
			}
		}()
	}
	wg.Wait()
}

const (
	syslogLine   = "<34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed for lonvick on /dev/pts/8"
	syslogOpts   = `match = { message = "<%{NONNEGINT:priority}>%{SYSLOGLINE}" }`
	nonMatchLine = "Oct 11 22:14:15 mymachine su[230]: this line has no priority and does not match at all, long enough to scan"
	// badLine has priorities but no timestamp: the expensive failure.
	badLine = "<34>this is not a timestamp: <35>'su root' failed <36>for lonvick on /dev/pts/8"
)

func benchFilter(b *testing.B, opts, line string, wantErr bool) {
	f := newFilter(b, opts)
	ctx := context.Background()
	out := make([]*event.Event, 0, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := event.NewMessage(line)
		b.StartTimer()
		var err error
		out, err = f.Filter(ctx, e, out[:0])
		if (err != nil) != wantErr {
			b.Fatalf("err = %v", err)
		}
	}
}

// BenchmarkSyslogLine is W2's pattern on one of its lines (ECS library, the
// default).
func BenchmarkSyslogLine(b *testing.B) { benchFilter(b, syslogOpts, syslogLine, false) }

func BenchmarkSyslogNoMatch(b *testing.B) { benchFilter(b, syslogOpts, nonMatchLine, true) }

func BenchmarkSyslogNoMatchPriority(b *testing.B) { benchFilter(b, syslogOpts, badLine, true) }

// FuzzGrok: arbitrary lines against the syslog pattern and
// COMBINEDAPACHELOG, in legacy and ECS mode, never panic; every event comes
// back, tagged when nothing matched, and a syslog match stores a priority.
func FuzzGrok(f *testing.F) {
	var filters []*Filter
	for _, mode := range []string{"disabled", "v8"} {
		filters = append(filters,
			// A short timeout: a line that makes a pattern backtrack for
			// long must end tagged _groktimeout, well inside the fuzz
			// engine's per-input budget (30 s, Logstash's default, per
			// filter would stall the run without finding anything).
			newFilter(f, syslogOpts+"\nbreak_on_match = false\nkeep_empty_captures = true\necs_compatibility = \""+mode+"\"\ntimeout_millis = 100"),
			newFilter(f, `match = { message = "%{COMBINEDAPACHELOG}" }`+"\necs_compatibility = \""+mode+"\"\ntimeout_millis = 100"))
	}
	for _, s := range []string{syslogLine, nonMatchLine, badLine, apacheLine, "", "<1>", "<1>Jan  1 00:00:00 h p: m", "<1>2026-01-01T00:00:00Z h p[1]: m\n<2>x", "\xff<9>",
		`::1 - a@b.c [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 - "\"" "-"`, `1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "-" 400 0 "-" "-"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		for i, flt := range filters {
			e := event.NewMessage(line)
			out, err := flt.Filter(context.Background(), e, nil)
			if len(out) != 1 || out[0] != e {
				t.Fatalf("Filter returned %v", out)
			}
			switch {
			case err == nil && i%2 == 0:
				if _, ok := e.Get(event.MustRef("priority")); !ok {
					t.Fatalf("matched %q without a priority", line)
				}
			case errors.Is(err, errNoMatch):
				if !e.HasTag("_grokparsefailure") {
					t.Fatalf("failed on %q without the tag", line)
				}
			case errors.Is(err, errTimeout):
				if !e.HasTag("_groktimeout") {
					t.Fatalf("timed out on %q without the tag", line)
				}
			}
		}
	})
}

const apacheLine = `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"`

func BenchmarkCombinedApache(b *testing.B) {
	benchFilter(b, `match = { message = "%{COMBINEDAPACHELOG}" }`, apacheLine, false)
}

func BenchmarkCombinedApacheLegacy(b *testing.B) {
	benchFilter(b, `match = { message = "%{COMBINEDAPACHELOG}" }`+"\necs_compatibility = \"disabled\"", apacheLine, false)
}

// A line that fails to match, found only after many candidate positions:
// the expensive case.
func BenchmarkCombinedApacheNoMatch(b *testing.B) {
	benchFilter(b, `match = { message = "%{COMBINEDAPACHELOG}" }`, apacheLine[:len(apacheLine)-1], true)
}

// The W2 pattern with the legacy library (the default above is ECS).
func BenchmarkSyslogLineLegacy(b *testing.B) {
	benchFilter(b, syslogOpts+"\necs_compatibility = \"disabled\"", syslogLine, false)
}

// FuzzPattern: arbitrary patterns (and pattern definitions) are compiled or
// refused with an error, never a panic.
func FuzzPattern(f *testing.F) {
	for _, s := range []string{"%{WORD:w}", "(?<x>a)", "(?P<y>b)", "(?<=x)", "(?<", "(?P<", "%{", "%{A", "%{WORD:", "%{WORD:[a][b]:int}", `\%{WORD}`, "%{SELF}", "(?<>x)", "%{WORD:a:b:c}"} {
		f.Add(s, "x")
	}
	f.Fuzz(func(t *testing.T, pattern, def string) {
		watchdog := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("FuzzPattern stuck on %q, %q", pattern, def)) })
		defer watchdog.Stop()
		defs := shipped()
		defs["SELF"] = "%{SELF}"
		defs["USERDEF"] = def
		for _, namedOnly := range []bool{true, false} {
			c, err := compilePattern(pattern, defs, namedOnly, "[t]", map[string]bool{"w": true}, time.Second)
			if err == nil && c.re != nil {
				c.re.FindStringSubmatchIndex(pattern)
			}
		}
	})
}

// TestRubySemantics: two differences issue #19 found by running
// logstash-patterns-core's spec: Logstash compiles with Ruby's
// Regexp::MULTILINE, so . matches a newline (a stack trace stays in
// %{GREEDYDATA} whole, here through the backtracking engine too, which a
// look-ahead forces); and POSIX bracket classes are Unicode-aware on UTF-8
// text, so UNIXPATH takes /opt/Čierný_Peter/ whole.
func TestRubySemantics(t *testing.T) {
	trace := "java.lang.NullPointerException: boom\n\tat com.example.A.run(A.java:10)\n\tat java.lang.Thread.run(Thread.java:750)"
	for _, tc := range []struct {
		name, match, message, field, want string
	}{
		{"greedydata", `%{LOGLEVEL:level} %{GREEDYDATA:rest}`, "ERROR " + trace, "rest", trace},
		{"dot", `^(?<all>.+)$`, "a\nb", "all", "a\nb"},
		{"backtracking", `(?<x>.+)(?=\z)`, "a\nb", "x", "a\nb"},
		{"unixpath", `%{UNIXPATH:path}`, "/opt/Čierný_Peter/bin", "path", "/opt/Čierný_Peter/bin"},
		{"alpha", `(?<w>[[:alpha:]]+)`, "Ďábelské", "w", "Ďábelské"},
		{"upper", `(?<w>[[:upper:]]+)`, "abcÉÜX", "w", "ÉÜX"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFilter(t, fmt.Sprintf("match = { message = %q }", tc.match))
			e := event.NewMessage(tc.message)
			if _, err := f.Filter(context.Background(), e, nil); err != nil {
				t.Fatalf("no match: %v", err)
			}
			if got, _ := e.GetString(event.MustRef(tc.field)); got != tc.want {
				t.Errorf("%s = %q; want %q", tc.field, got, tc.want)
			}
		})
	}
}

// patterns_dir entries are globbed as Logstash globs them: a directory
// missing here reads nothing (no error), a glob reads what it matches, and
// the files of LOGSTASH_HOME/patterns come first.
func TestPatternsDirGlob(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.pat"), []byte("MYNUM \\d+\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.txt"), []byte("MYNUM [a-z]+\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LOGSTASH_HOME", "")
	// A missing directory next to a glob that matches a.pat only.
	f := newFilter(t, fmt.Sprintf("match = { message = \"%%{MYNUM:n}\" }\npatterns_dir = [\"/nonexistent\", %q]", filepath.Join(dir, "*.pat")))
	e := event.NewMessage("abc 42")
	if _, err := f.Filter(context.Background(), e, nil); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.Get(event.MustRef("n")); v != "42" {
		t.Errorf("n = %v; want 42 (from a.pat)", v)
	}

	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "patterns"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "patterns", "extra"), []byte("HOMEPAT [a-z]+\nMYNUM x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LOGSTASH_HOME", home)
	// LOGSTASH_HOME/patterns defines HOMEPAT; patterns_dir, read after it,
	// overrides its MYNUM.
	f = newFilter(t, fmt.Sprintf("match = { message = \"%%{HOMEPAT:h} %%{MYNUM:n}\" }\npatterns_dir = [%q]\npatterns_files_glob = \"*.pat\"", dir))
	e = event.NewMessage("abc 42")
	if _, err := f.Filter(context.Background(), e, nil); err != nil {
		t.Fatal(err)
	}
	h, _ := e.Get(event.MustRef("h"))
	n, _ := e.Get(event.MustRef("n"))
	if h != "abc" || n != "42" {
		t.Errorf("h, n = %v, %v; want abc, 42", h, n)
	}
}

// An unknown pattern is found when the pipeline starts, as in Logstash:
// an error of `pipeline run` naming the pattern and the patterns_dir that
// matched nothing, a warning of `pipeline check`.
func TestUnknownPatternAtStart(t *testing.T) {
	t.Setenv("LOGSTASH_HOME", "")
	opts := hclOpts("match = { message = \"%{NGINXACCESS}\" }\npatterns_dir = [\"/nonexistent/patterns\"]")
	run := plugintest.BuildDiags(t, ir.Filter, "grok", opts)
	if !run.HasErrors() || !strings.Contains(run.Error(), `unknown pattern %{NGINXACCESS} (patterns_dir "/nonexistent/patterns" matches no file here)`) {
		t.Errorf("run: %v; want an error naming the pattern and patterns_dir", run)
	}
	// (BuildDiags pipelines also hold an output that refuses to build.)
	warned := false
	for _, d := range plugintest.CheckDiags(t, ir.Filter, "grok", opts) {
		if strings.Contains(d.Summary, `"match"`) {
			warned = d.Severity == hcl.DiagWarning && strings.Contains(d.Detail, engine.StartRefusal)
			if !warned {
				t.Errorf("check: %s %s; want a warning saying run refuses it", d.Summary, d.Detail)
			}
		}
	}
	if !warned {
		t.Error("check: no warning about match")
	}
	// A pattern Go cannot compile is not a start-time error.
	refused := false
	for _, d := range plugintest.CheckDiags(t, ir.Filter, "grok", `match = { message = "a++" }`) {
		refused = refused || d.Severity == hcl.DiagError && strings.Contains(d.Summary, `"match"`)
	}
	if !refused {
		t.Error("check of a++: no error about match")
	}
}
