package logstash

import (
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl/ir"
)

// conditionCases returns the conditions of engine/cond/testdata/cases.txt
// (the first field of each case line).
func conditionCases(t testing.TB) []string {
	b, err := os.ReadFile("../../engine/cond/testdata/cases.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "@event\t") {
			continue
		}
		cond, _, _ := strings.Cut(line, "\t")
		out = append(out, cond)
	}
	return out
}

// formatRoundTrip checks that src, if it parses, formats to a condition
// that parses to the same IR. It reports whether src parsed.
func formatRoundTrip(t testing.TB, src string, opts ConditionOptions) bool {
	t.Helper()
	e, diags := ParseConditionWith(src, hcl.InitialPos, "a.conf", opts)
	if e == nil || diags.HasErrors() {
		return false
	}
	f := ir.FormatCondition(e)
	e2, diags := ParseCondition(f, hcl.InitialPos, "b.conf")
	if diags.HasErrors() {
		t.Fatalf("%q formats as %q, which does not parse: %v", src, f, diags)
	}
	if got, want := exprString(e2), exprString(e); got != want {
		t.Fatalf("%q formats as %q, which parses differently:\n got %s\nwant %s", src, f, got, want)
	}
	return true
}

func TestFormatConditionCases(t *testing.T) {
	n := 0
	for _, src := range conditionCases(t) {
		if formatRoundTrip(t, src, ConditionOptions{}) {
			n++
		}
	}
	if n < 100 {
		t.Errorf("only %d conditions of cases.txt parsed", n)
	}
}

func TestFormatCondition(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`[a] == "b"`, `[a] == 'b'`},
		{`[a] and [b] and [c]`, `[a] and [b] and [c]`},
		{`[a] or [b] or [c]`, `[a] or [b] or [c]`},
		{`[a] and [b] or [c]`, `([a] and [b]) or [c]`},
		{`[a] or [b] and [c]`, `[a] or ([b] and [c])`},
		{`[a] and [b] and [c] or [d]`, `[a] and (([b] and [c]) or [d])`},
		{`([a] xor [b]) nand [c]`, `([a] xor [b]) nand [c]`},
		{`!([a] == 1) and ![b]`, `!([a] == 1) and ![b]`},
		{`"it's" in [msg] or [n] >= -1.5`, `'it\'s' in [msg] or [n] >= -1.5`},
		{`[n] == 010`, `[n] == 8`},
		{`[n] == 2.`, ``},
		{`[f] == 2.0`, `[f] == 2.0`},
		{`[a] =~ /x\/y/ and [b] !~ "z\\d"`, `[a] =~ /x\/y/ and [b] !~ 'z\d'`},
		{`[a] == "\\\\d \\n \\' \\x"`, `[a] == '\\\\d \\n \\\' \x'`},
		{`[a] not in ["x", y, 1, [2, 3]]`, `[a] not in ['x', 'y', 1, [2, 3]]`},
		{`"a" in ["b,c"]`, `'a' in ['b,c']`},
	} {
		e, diags := ParseCondition(tc.src, hcl.InitialPos, "a.conf")
		if tc.want == "" {
			if !diags.HasErrors() {
				t.Errorf("%q: want an error", tc.src)
			}
			continue
		}
		if diags.HasErrors() {
			t.Errorf("%q: %v", tc.src, diags)
			continue
		}
		if got := ir.FormatCondition(e); got != tc.want {
			t.Errorf("ir.FormatCondition(%q) = %q, want %q", tc.src, got, tc.want)
		}
		formatRoundTrip(t, tc.src, ConditionOptions{})
	}
}

// TestFormatConditionRawStrings: conditions of .conf files (strings kept as
// written) format for HCL labels (escapes processed) without change of
// meaning.
func TestFormatConditionRawStrings(t *testing.T) {
	for _, src := range []string{
		`[a] == "C:\temp\x" and [b] == 'it\'s'`,
		`[a] == "x\\y" or [b] =~ "\d+"`,
		`[path] in ['\\server\share', "a\nb"]`,
	} {
		e, diags := ParseConditionWith(src, hcl.InitialPos, "a.conf", ConditionOptions{RawStrings: true})
		if diags.HasErrors() {
			t.Fatalf("%q: %v", src, diags)
		}
		e2, diags := ParseCondition(ir.FormatCondition(e), hcl.InitialPos, "b.hcl")
		if diags.HasErrors() {
			t.Fatalf("%q: %v", ir.FormatCondition(e), diags)
		}
		if got, want := exprString(e2), exprString(e); got != want {
			t.Errorf("%q → %q:\n got %s\nwant %s", src, ir.FormatCondition(e), got, want)
		}
	}
}

// FuzzFormatCondition: every condition that parses formats to one that
// parses to the same IR, in both string modes.
func FuzzFormatCondition(f *testing.F) {
	for _, s := range conditionCases(f) {
		f.Add(s)
	}
	f.Add(`[a] and [b] and [c] or [d] and [e] or [f]`)
	f.Add(`"x\\" in [a] or 'y\'' == [b]`)
	f.Fuzz(func(t *testing.T, src string) {
		formatRoundTrip(t, src, ConditionOptions{})
		formatRoundTrip(t, src, ConditionOptions{RawStrings: true})
	})
}
