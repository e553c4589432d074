package cond_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine/cond"
	"github.com/pipelined/pipeline/engine/event"
)

// parsed maps each condition of testdata/cases.txt to its IR, read from
// testdata/cases.ir.json: dsl/logstash's tests write that file with the
// parser, which the engine does not import, not even in tests.
var parsed = sync.OnceValues(func() (map[string]condIR, error) {
	b, err := os.ReadFile("testdata/cases.ir.json")
	if err != nil {
		return nil, err
	}
	m := map[string]condIR{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var c condIR
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			return nil, fmt.Errorf("cases.ir.json: %v", err)
		}
		m[c.Cond] = c
	}
	return m, nil
})

// condIR is one line of cases.ir.json: a condition and its IR, or the parse
// error.
type condIR struct {
	Cond  string          `json:"cond"`
	Expr  json.RawMessage `json:"expr"`
	Error string          `json:"error"`
}

// compile compiles a condition of cases.txt from its parsed form.
func compile(t testing.TB, src string) (func(*event.Event) bool, hcl.Diagnostics) {
	t.Helper()
	m, err := parsed()
	if err != nil {
		t.Fatal(err)
	}
	c, ok := m[src]
	if !ok {
		t.Fatalf("%q is not in testdata/cases.ir.json; add it to cases.txt and run go test ./dsl/logstash -run TestConditionCasesIR -update", src)
	}
	if c.Error != "" {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid condition", Detail: c.Error}}
	}
	e, err := ir.UnmarshalExprJSON(c.Expr)
	if err != nil {
		t.Fatalf("%q: %v", src, err)
	}
	return cond.Compile(e)
}

// decodeJSON decodes an event object, keeping integers as int64.
func decodeJSON(s string) (map[string]any, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	return convertNumbers(m).(map[string]any), nil
}

func convertNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if !strings.ContainsAny(string(x), ".eE") {
			if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
				return n
			}
		}
		f, _ := strconv.ParseFloat(string(x), 64)
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = convertNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = convertNumbers(e)
		}
	}
	return v
}

type testCase struct {
	line      int
	condition string
	event     string // JSON
	want      string // "true", "false" or "error: …"
}

func loadCases(t *testing.T, path string) []testCase {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	named := map[string]string{}
	var cases []testCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, "\t")
		if parts[0] == "@event" {
			if len(parts) != 3 {
				t.Fatalf("%s:%d: want @event<TAB>name<TAB>json", path, n)
			}
			named["@"+parts[1]] = parts[2]
			continue
		}
		if len(parts) != 3 {
			t.Fatalf("%s:%d: want 3 tab-separated fields, got %d", path, n, len(parts))
		}
		ev := parts[1]
		if strings.HasPrefix(ev, "@") {
			j, ok := named[ev]
			if !ok {
				t.Fatalf("%s:%d: unknown event %s", path, n, ev)
			}
			ev = j
		}
		want := strings.TrimSpace(parts[2])
		if want != "true" && want != "false" && !strings.HasPrefix(want, "error:") {
			t.Fatalf("%s:%d: want must be true, false or error: …, got %q", path, n, want)
		}
		cases = append(cases, testCase{line: n, condition: parts[0], event: ev, want: want})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

func TestCases(t *testing.T) {
	const path = "testdata/cases.txt"
	cases := loadCases(t, path)
	if len(cases) < 100 {
		t.Fatalf("only %d cases loaded", len(cases))
	}
	for _, tc := range cases {
		name := fmt.Sprintf("%d:%s", tc.line, tc.condition)
		t.Run(name, func(t *testing.T) {
			pred, diags := compile(t, tc.condition)
			if wantErr, ok := strings.CutPrefix(tc.want, "error:"); ok {
				wantErr = strings.TrimSpace(wantErr)
				if !diags.HasErrors() {
					t.Fatalf("%s:%d: want an error containing %q, got none", path, tc.line, wantErr)
				}
				if !strings.Contains(diags.Error(), wantErr) {
					t.Fatalf("%s:%d: error %q does not contain %q", path, tc.line, diags.Error(), wantErr)
				}
				if pred != nil {
					t.Errorf("%s:%d: non-nil predicate with errors", path, tc.line)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatalf("%s:%d: %v", path, tc.line, diags)
			}
			m, err := decodeJSON(tc.event)
			if err != nil {
				t.Fatalf("%s:%d: event: %v", path, tc.line, err)
			}
			ev, err := event.FromMap(m)
			if err != nil {
				t.Fatalf("%s:%d: event: %v", path, tc.line, err)
			}
			got := pred(ev)
			if strconv.FormatBool(got) != tc.want {
				t.Errorf("%s:%d: %s => %v, want %s", path, tc.line, tc.condition, got, tc.want)
			}
		})
	}
}

// Diagnostics from Compile point at the offending node.
func TestCompileDiagnostics(t *testing.T) {
	rng := func(col, endCol int) hcl.Range {
		return hcl.Range{Filename: "d.conf", Start: hcl.Pos{Line: 2, Column: col, Byte: col}, End: hcl.Pos{Line: 2, Column: endCol, Byte: endCol}}
	}
	tests := []struct {
		name   string
		expr   ir.Expr
		col    int
		detail string
	}{
		{"bad regexp", &ir.Match{Left: &ir.FieldRef{Path: "[a]", Range: rng(1, 4)}, Right: &ir.Regexp{Pattern: "a(?=b)", Range: rng(8, 16)}, Range: rng(1, 16)}, 8, "look-around"},
		{"bad string regexp", &ir.Match{Left: &ir.FieldRef{Path: "[a]", Range: rng(1, 4)}, Right: &ir.Literal{Value: "[", Range: rng(8, 11)}, Range: rng(1, 11)}, 8, "missing closing ]"},
		{"bad field ref", &ir.Compare{Op: "==", Left: &ir.FieldRef{Path: "[a][", Range: rng(3, 7)}, Right: &ir.Literal{Value: "x", Range: rng(11, 14)}, Range: rng(3, 14)}, 3, "missing ']'"},
		{"bad field ref in truthiness", &ir.Not{X: &ir.FieldRef{Path: "a]", Range: rng(2, 4)}, Range: rng(1, 4)}, 2, "Invalid field reference"},
		{"regexp as condition", &ir.Regexp{Pattern: "x", Range: rng(5, 8)}, 5, "cannot be used as a condition"},
		{"regexp as operand", &ir.Compare{Op: "==", Left: &ir.FieldRef{Path: "[a]", Range: rng(1, 4)}, Right: &ir.Regexp{Pattern: "x", Range: rng(8, 11)}, Range: rng(1, 11)}, 8, "only be used on the right of =~"},
		{"condition as operand", &ir.Compare{Op: "==", Left: &ir.Not{X: &ir.FieldRef{Path: "[a]", Range: rng(2, 5)}, Range: rng(1, 5)}, Right: &ir.Literal{Value: int64(1), Range: rng(9, 10)}, Range: rng(1, 10)}, 1, "not a condition"},
		{"bad compare op", &ir.Compare{Op: "===", Left: &ir.FieldRef{Path: "[a]", Range: rng(1, 4)}, Right: &ir.Literal{Value: "x", Range: rng(9, 12)}, Range: rng(1, 12)}, 1, `"==="`},
		{"bad bool op", &ir.BoolOp{Op: "andalso", Left: &ir.FieldRef{Path: "[a]", Range: rng(1, 4)}, Right: &ir.FieldRef{Path: "[b]", Range: rng(13, 16)}, Range: rng(1, 16)}, 1, `"andalso"`},
		{"bad literal", &ir.Literal{Value: true, Range: rng(4, 8)}, 4, ""},
		{"bad match right", &ir.Match{Left: &ir.FieldRef{Path: "[a]", Range: rng(1, 4)}, Right: &ir.FieldRef{Path: "[b]", Range: rng(8, 11)}, Range: rng(1, 11)}, 8, "regexp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, diags := cond.Compile(tt.expr)
			if !diags.HasErrors() {
				if _, isLit := tt.expr.(*ir.Literal); isLit {
					return // a bool literal is not produced by the parser; truthiness is fine
				}
				t.Fatalf("no error")
			}
			if p != nil {
				t.Error("predicate returned with errors")
			}
			d := diags[0]
			if d.Subject == nil || d.Subject.Start.Column != tt.col || d.Subject.Start.Line != 2 || d.Subject.Filename != "d.conf" {
				t.Errorf("subject %v, want column %d", d.Subject, tt.col)
			}
			if !strings.Contains(d.Detail, tt.detail) {
				t.Errorf("detail %q does not contain %q", d.Detail, tt.detail)
			}
		})
	}
	if _, diags := cond.Compile(nil); !diags.HasErrors() {
		t.Error("Compile(nil): no error")
	}
}

// The predicate may be shared by pipeline workers.
func TestConcurrentEval(t *testing.T) {
	pred, diags := compile(t, `[type] == "syslog" and "x" in [tags] and [m] =~ /^a+$/`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ev, err := event.FromMap(map[string]any{"type": "syslog", "tags": []any{"x"}, "m": "aaa"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	for range 8 {
		go func() {
			ok := true
			for range 1000 {
				ok = ok && pred(ev)
			}
			done <- ok
		}()
	}
	for range 8 {
		if !<-done {
			t.Error("concurrent evaluation failed")
		}
	}
}

func TestZeroAllocs(t *testing.T) {
	ev, err := event.FromMap(map[string]any{
		"type": "syslog", "tags": []any{"a", "x"}, "code": int64(404), "f": 2.5,
		"message": "hello world", "nested": map[string]any{"n": int64(3)},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{
		`[type] == "syslog" and "x" in [tags]`,
		`[code] in [200, 404]`,
		`[f] in [1.5, 2.5]`,
		`[code] in [1, 2, 3, 4, 5, 6, 7, 8, 9, 404]`,
		`[nested][n] >= 3 and [message] =~ /world$/`,
		`[type] in ["syslog", "x"] or ![missing]`,
		`[code] != 200 and [code] == 404.0`,
	} {
		pred, diags := compile(t, src)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if !pred(ev) {
			t.Errorf("%s: false", src)
		}
		if raceEnabled && strings.Contains(src, "=~") {
			continue // regexp's pooled state is dropped at random under -race
		}
		if n := testing.AllocsPerRun(100, func() { pred(ev) }); n != 0 {
			t.Errorf("%s: %v allocs per evaluation", src, n)
		}
	}
}

func BenchmarkEval(b *testing.B) {
	pred, diags := compile(b, `[type] == "syslog" and "x" in [tags]`)
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	ev, err := event.FromMap(map[string]any{"type": "syslog", "tags": []any{"a", "b", "x"}, "message": "m"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !pred(ev) {
			b.Fatal("false")
		}
	}
}

func BenchmarkEvalInList(b *testing.B) {
	pred, diags := compile(b, `[code] in [200, 201, 204, 301, 302, 304, 400, 401, 403, 404]`)
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	ev, err := event.FromMap(map[string]any{"code": int64(404)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !pred(ev) {
			b.Fatal("false")
		}
	}
}

// Compiling and evaluating any condition must not panic. The fuzzer picks a
// condition of cases.txt and writes its text into one of the condition's
// field references or regexps and into its string literals (parsing
// arbitrary text is dsl/logstash's fuzz test).
func FuzzEval(f *testing.F) {
	for i, s := range []string{"[a]", "a(b|c", "[@metadata][x]", "", "[a][", "(?=x)", "[tags][0]"} {
		f.Add(uint(i), uint(i*7), s)
	}
	m, err := decodeJSON(`{"type":"syslog","tags":["x"],"n":2,"m":"abc","a":[1,"2"],"map":{"k":[1]},"arr":[],"nested":{"n":1.5},"@metadata":{"x":"y"}}`)
	if err != nil {
		f.Fatal(err)
	}
	ev, err := event.FromMap(m)
	if err != nil {
		f.Fatal(err)
	}
	all, err := parsed()
	if err != nil {
		f.Fatal(err)
	}
	var exprs []json.RawMessage
	for _, c := range all {
		if c.Error == "" {
			exprs = append(exprs, c.Expr)
		}
	}
	slices.SortFunc(exprs, func(a, b json.RawMessage) int { return strings.Compare(string(a), string(b)) })
	f.Fuzz(func(t *testing.T, which, leaf uint, text string) {
		e, err := ir.UnmarshalExprJSON(exprs[which%uint(len(exprs))])
		if err != nil {
			t.Fatal(err)
		}
		var leaves []*string
		var walk func(ir.Expr)
		walk = func(e ir.Expr) {
			switch x := e.(type) {
			case *ir.BoolOp:
				walk(x.Left)
				walk(x.Right)
			case *ir.Compare:
				walk(x.Left)
				walk(x.Right)
			case *ir.Match:
				walk(x.Left)
				walk(x.Right)
			case *ir.In:
				walk(x.Left)
				walk(x.Right)
			case *ir.Not:
				walk(x.X)
			case *ir.List:
				for _, it := range x.Items {
					walk(it)
				}
			case *ir.FieldRef:
				leaves = append(leaves, &x.Path)
			case *ir.Regexp:
				leaves = append(leaves, &x.Pattern)
			case *ir.Literal:
				if _, ok := x.Value.(string); ok {
					x.Value = text
				}
			}
		}
		walk(e)
		if len(leaves) > 0 {
			*leaves[leaf%uint(len(leaves))] = text
		}
		pred, diags := cond.Compile(e)
		if diags.HasErrors() {
			return
		}
		pred(ev)
		pred(event.New())
	})
}
