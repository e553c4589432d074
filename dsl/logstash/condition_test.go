package logstash

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl/ir"
)

// exprString prints an IR condition compactly: (op left right), (not x),
// [field], "string", 5, 1.5f, ["a" 1], /re/.
func exprString(e ir.Expr) string {
	switch x := e.(type) {
	case *ir.BoolOp:
		return fmt.Sprintf("(%s %s %s)", x.Op, exprString(x.Left), exprString(x.Right))
	case *ir.Not:
		return fmt.Sprintf("(not %s)", exprString(x.X))
	case *ir.Compare:
		return fmt.Sprintf("(%s %s %s)", x.Op, exprString(x.Left), exprString(x.Right))
	case *ir.Match:
		op := "=~"
		if x.Negate {
			op = "!~"
		}
		return fmt.Sprintf("(%s %s %s)", op, exprString(x.Left), exprString(x.Right))
	case *ir.In:
		op := "in"
		if x.Negate {
			op = "not-in"
		}
		return fmt.Sprintf("(%s %s %s)", op, exprString(x.Left), exprString(x.Right))
	case *ir.FieldRef:
		return x.Path
	case *ir.Literal:
		switch v := x.Value.(type) {
		case string:
			return strconv.Quote(v)
		case int64:
			return strconv.FormatInt(v, 10)
		case float64:
			return strconv.FormatFloat(v, 'g', -1, 64) + "f"
		}
		return fmt.Sprintf("?%T", x.Value)
	case *ir.List:
		parts := make([]string, len(x.Items))
		for i, it := range x.Items {
			parts[i] = exprString(it)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case *ir.Regexp:
		return "/" + x.Pattern + "/"
	case nil:
		return "<nil>"
	}
	return fmt.Sprintf("?%T", e)
}

func TestParseCondition(t *testing.T) {
	tests := []struct{ src, want string }{
		// operands / truthiness
		{`[a]`, `[a]`},
		{`[a][b]`, `[a][b]`},
		{`[@metadata][x]`, `[@metadata][x]`},
		{`[field with space]`, `[field with space]`},
		{`[nested field][with space]`, `[nested field][with space]`},
		{`"str"`, `"str"`},
		{`'str'`, `"str"`},
		{`5`, `5`},
		{`-5`, `-5`},
		{`1.5`, `1.5f`},
		{`-0.25`, `-0.25f`},
		{`010`, `8`}, // octal, as Ruby's Integer()
		{`0`, `0`},
		{`["a", 'b', 1, 2.5, -3]`, `["a" "b" 1 2.5f -3]`},
		{`[foo, bar_1]`, `["foo" "bar_1"]`}, // barewords are strings
		{`[]`, `[]`},
		{`[ "a" , [ "b", "c" ] ]`, `["a" ["b" "c"]]`},
		{`  [a]  `, `[a]`},
		{"# leading comment\n[a] # trailing\n", `[a]`},

		// comparisons
		{`[a] == "x"`, `(== [a] "x")`},
		{`[a]=="x"`, `(== [a] "x")`},
		{`[a] != 'x'`, `(!= [a] "x")`},
		{`[a] < 5`, `(< [a] 5)`},
		{`[a] > -5`, `(> [a] -5)`},
		{`[a] <= 1.5`, `(<= [a] 1.5f)`},
		{`[a] >= [b]`, `(>= [a] [b])`},
		{`"x" == [a]`, `(== "x" [a])`},
		{`5 == 7`, `(== 5 7)`},
		{`[a] == ["x", "y"]`, `(== [a] ["x" "y"])`},

		// regexps
		{`[a] =~ /foo/`, `(=~ [a] /foo/)`},
		{`[a] !~ /foo/`, `(!~ [a] /foo/)`},
		{`[a] =~ /a\/b/`, `(=~ [a] /a\/b/)`},
		{`[a] =~ /^\d+ (x|y)$/`, `(=~ [a] /^\d+ (x|y)$/)`},
		{`[a] =~ "^foo"`, `(=~ [a] "^foo")`},
		{`[a]=~/x/`, `(=~ [a] /x/)`},
		{`"lit" =~ /l/`, `(=~ "lit" /l/)`},

		// in / not in
		{`"x" in [tags]`, `(in "x" [tags])`},
		{`[a] in ["x", "y"]`, `(in [a] ["x" "y"])`},
		{`[a] in "foobar"`, `(in [a] "foobar")`},
		{`[a] in [b]`, `(in [a] [b])`},
		{`"x" not in [tags]`, `(not-in "x" [tags])`},
		{`"x" not   in [tags]`, `(not-in "x" [tags])`},
		{"\"x\" not\n in [tags]", `(not-in "x" [tags])`},
		{`[a] not in [1, 2]`, `(not-in [a] [1 2])`},
		{`"x"in[tags]`, `(in "x" [tags])`},

		// boolean operators and negation
		{`[a] and [b]`, `(and [a] [b])`},
		{`[a] or [b]`, `(or [a] [b])`},
		{`[a] xor [b]`, `(xor [a] [b])`},
		{`[a] nand [b]`, `(nand [a] [b])`},
		{`![a]`, `(not [a])`},
		{`! [a][b]`, `(not [a][b])`},
		{`!([a] == 1)`, `(not (== [a] 1))`},
		{`! ( [a] )`, `(not [a])`},
		{`!(!([a]))`, `(not (not [a]))`},
		{`[a] == "b" and ![c]`, `(and (== [a] "b") (not [c]))`},
		{`([a])`, `[a]`},
		{`(([a] == 1))`, `(== [a] 1)`},
		{`[a]and[b]`, `(and [a] [b])`},

		// precedence, exactly as lscl.rb's join_conditions
		{`[a] and [b] or [c]`, `(or (and [a] [b]) [c])`},
		{`[a] or [b] and [c]`, `(or [a] (and [b] [c]))`},
		{`[a] or [b] or [c]`, `(or [a] (or [b] [c]))`},
		{`[a] and [b] and [c]`, `(and [a] (and [b] [c]))`},
		{`[a] and [b] or [c] and [d]`, `(or (and [a] [b]) (and [c] [d]))`},
		{`[a] or [b] and [c] or [d]`, `(or [a] (or (and [b] [c]) [d]))`},
		// Logstash's quirk: only one "and" is popped when "or" arrives.
		{`[a] and [b] and [c] or [d]`, `(and [a] (or (and [b] [c]) [d]))`},
		// compiler_spec.rb "a complex nested expression"
		{`1 > 2 and (1 > 2 and 3 > 4 or 6 > 7 and 8 > 9) or 6 > 7 and 8 > 9`,
			`(or (and (> 1 2) (or (and (> 1 2) (> 3 4)) (and (> 6 7) (> 8 9)))) (and (> 6 7) (> 8 9)))`},
		{`([a] xor [b]) and [c]`, `(and (xor [a] [b]) [c])`},
		{`[a] nand ([b] or [c])`, `(nand [a] (or [b] [c]))`},
		{`!([a] or [b]) and [c] in [d]`, `(and (not (or [a] [b])) (in [c] [d]))`},

		// strings and escapes
		{`[a] == "a\"b"`, `(== [a] "a\"b")`},
		{`[a] == 'a\'b'`, `(== [a] "a'b")`},
		{`[a] == "a\\b"`, `(== [a] "a\\b")`},
		{`[a] == "tab\there\n"`, `(== [a] "tab\there\n")`},
		{`[a] == "\d \q"`, `(== [a] "\\d \\q")`},
		{`[a] == "it's"`, `(== [a] "it's")`},
		{`[a] == 'say "hi"'`, `(== [a] "say \"hi\"")`},
		{`[a] == "é ü"`, `(== [a] "é ü")`},
		{`[a] == "multi
line"`, `(== [a] "multi\nline")`},

		// multi-line
		{"[a] == 1\n  and\n  [b] == 2", `(and (== [a] 1) (== [b] 2))`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, diags := ParseCondition(tt.src, hcl.Pos{Line: 1, Column: 1}, "test.conf")
			if diags.HasErrors() {
				t.Fatalf("unexpected diagnostics: %v", diags)
			}
			if got := exprString(e); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestParseConditionRawStrings(t *testing.T) {
	e, diags := ParseConditionWith(`[a] == "a\"b\\c\n"`, hcl.Pos{}, "x.conf", ConditionOptions{RawStrings: true})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got, want := exprString(e), `(== [a] "a\\\"b\\\\c\\n")`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestParseConditionWarnings(t *testing.T) {
	tests := []struct {
		src, want, warn string
		line, col       int
	}{
		{`[a] in ["x"]`, `(in [a] ["x"])`, `read as a reference to a field named "x"`, 1, 8},
		{`[a] in [ 'x' ]`, `(in [a] [ 'x' ])`, `field named 'x'`, 1, 8},
		{`[a] == 017`, `(== [a] 15)`, `octal number 15`, 1, 8},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, diags := ParseCondition(tt.src, hcl.Pos{Line: 1, Column: 1}, "w.conf")
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if got := exprString(e); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if len(diags) != 1 || diags[0].Severity != hcl.DiagWarning {
				t.Fatalf("want one warning, got %v", diags)
			}
			d := diags[0]
			if !strings.Contains(d.Detail, tt.warn) {
				t.Errorf("detail %q does not contain %q", d.Detail, tt.warn)
			}
			if d.Subject.Start.Line != tt.line || d.Subject.Start.Column != tt.col {
				t.Errorf("subject at %d:%d, want %d:%d", d.Subject.Start.Line, d.Subject.Start.Column, tt.line, tt.col)
			}
		})
	}
}

func TestParseConditionErrors(t *testing.T) {
	tests := []struct {
		src    string
		start  hcl.Pos
		line   int
		col    int
		endCol int    // 0: not checked
		detail string // substring of Detail
	}{
		{``, hcl.Pos{}, 1, 1, 0, "condition is empty"},
		{`   `, hcl.Pos{}, 1, 4, 0, "condition is empty"},
		{`[a] = "b"`, hcl.Pos{}, 1, 5, 6, `did you mean "=="?`},
		{`[a] => "b"`, hcl.Pos{}, 1, 5, 7, `did you mean "=="?`},
		{`[a] == "b`, hcl.Pos{}, 1, 8, 10, "Unterminated string"},
		{`[a] == 'b\'`, hcl.Pos{}, 1, 8, 0, "cannot end with a backslash"},
		{`[a] == "b\\"`, hcl.Pos{}, 1, 8, 0, "cannot end with a backslash"},
		{`[a] and`, hcl.Pos{}, 1, 5, 8, `Expected an operand after "and"`},
		{`[a] or `, hcl.Pos{}, 1, 5, 7, `after "or"`},
		{`[a] ==`, hcl.Pos{}, 1, 5, 7, `after "=="`},
		{`[a] and or [b]`, hcl.Pos{}, 1, 9, 11, `found the operator "or"`},
		{`[a`, hcl.Pos{}, 1, 1, 3, `Invalid field reference "[a": missing the closing "]"`},
		{`[a][b`, hcl.Pos{}, 1, 1, 6, `missing the closing "]"`},
		{`[a][]`, hcl.Pos{}, 1, 1, 6, `empty path element`},
		{`[a[b]]`, hcl.Pos{}, 1, 1, 4, `cannot appear inside a path element`},
		{`[a] == [b`, hcl.Pos{}, 1, 8, 10, `missing the closing "]"`},
		{`[a]]`, hcl.Pos{}, 1, 4, 5, `Unexpected "]"`},
		{`[a] && [b]`, hcl.Pos{}, 1, 5, 7, `use the word "and"`},
		{`[a] || [b]`, hcl.Pos{}, 1, 5, 7, `use the word "or"`},
		{`[a] AND [b]`, hcl.Pos{}, 1, 5, 8, `did you mean "and"?`},
		{`([a] == 1`, hcl.Pos{}, 1, 1, 2, `never closed`},
		{`(`, hcl.Pos{}, 1, 1, 2, `never closed`},
		{`()`, hcl.Pos{}, 1, 2, 3, `Unexpected ")" after "("`},
		{`[a] == 1)`, hcl.Pos{}, 1, 9, 10, `without a matching "("`},
		{`([a] == 1 [b])`, hcl.Pos{}, 1, 11, 12, `or ")"`},
		{`type == "x"`, hcl.Pos{}, 1, 1, 5, `need brackets, as in [type]`},
		{`[a] == foo`, hcl.Pos{}, 1, 8, 11, `need brackets`},
		{`[a] == true`, hcl.Pos{}, 1, 8, 12, `no boolean or null literals`},
		{`foo([a])`, hcl.Pos{}, 1, 1, 4, `Method calls`},
		{`![a] == 1`, hcl.Pos{}, 1, 6, 8, `write !([field] == …)`},
		{`!"x"`, hcl.Pos{}, 1, 2, 5, `negates only a field reference`},
		{`!`, hcl.Pos{}, 1, 1, 2, `after "!"`},
		{`1 < [a] < 3`, hcl.Pos{}, 1, 9, 10, `cannot be chained`},
		{`[a] == 1 == 2`, hcl.Pos{}, 1, 10, 12, `cannot be chained`},
		{`([a]) == 1`, hcl.Pos{}, 1, 7, 9, `parenthesised condition cannot be compared`},
		{`([a] == 1) == 2`, hcl.Pos{}, 1, 12, 14, `parenthesised condition cannot be compared`},
		{`!([a]) in [b]`, hcl.Pos{}, 1, 8, 10, `after a negation`},
		{`[a] =~ [b]`, hcl.Pos{}, 1, 8, 11, `must be a regexp literal`},
		{`[a] =~ 5`, hcl.Pos{}, 1, 8, 9, `must be a regexp literal`},
		{`[a] == /x/`, hcl.Pos{}, 1, 8, 11, `only allowed on the right of =~`},
		{`/x/`, hcl.Pos{}, 1, 1, 4, `only allowed on the right of =~`},
		{`[a] =~ /x`, hcl.Pos{}, 1, 8, 10, `Unterminated regexp`},
		{`[a] not [b]`, hcl.Pos{}, 1, 5, 8, `"not in"`},
		{`[a] == 1.`, hcl.Pos{}, 1, 8, 10, `digits after the decimal point`},
		{`[a] == 08`, hcl.Pos{}, 1, 8, 10, `octal`},
		{`[a] == 99999999999999999999`, hcl.Pos{}, 1, 8, 28, `out of range`},
		{`[a] in ["x", ]`, hcl.Pos{}, 1, 12, 13, `trailing ","`},
		{`[a] in ["x", "y" "z"]`, hcl.Pos{}, 1, 18, 21, `separate array items with ","`},
		{`[a] in ["x", {}]`, hcl.Pos{}, 1, 14, 15, `Hashes are not supported`},
		{`[a] in ["x",`, hcl.Pos{}, 1, 8, 9, `never closed`},
		{`[a] == 1 and [b] == 2 xor [c]`, hcl.Pos{}, 1, 23, 26, `"xor" cannot be combined with "and"`},
		{`[a] xor [b] or [c]`, hcl.Pos{}, 1, 5, 8, `"xor" cannot be combined with "or"`},
		{`[a] nand [b] nand [c]`, hcl.Pos{}, 1, 5, 9, `"nand" cannot be combined with "nand"`},
		{`[a] == "x" [b]`, hcl.Pos{}, 1, 12, 13, `Expected a boolean operator`},
		{`[a] == "é" 🙂`, hcl.Pos{}, 1, 12, 13, `Unexpected "🙂"`},
		{`== 1`, hcl.Pos{}, 1, 1, 3, `at the start of a condition`},
		{`not [a]`, hcl.Pos{}, 1, 1, 4, `to negate use "!"`},
		{`[a] and not [b]`, hcl.Pos{}, 1, 9, 12, `to negate use "!"`},
		{`and [a]`, hcl.Pos{}, 1, 1, 4, `operator "and" at the start`},
		{`([a] or)`, hcl.Pos{}, 1, 8, 9, `Unexpected ")" after "or"`},

		// multi-line condition: line and column count from the start of src.
		{"[a] == 1 and\n  [b] = 2", hcl.Pos{}, 2, 7, 8, `did you mean "=="?`},
		{"[a] == 1 and\n  [b] == 2\n  and", hcl.Pos{}, 3, 3, 6, `after "and"`},
		{"[a] == 1 # comment with \"quote\n  and [b] =", hcl.Pos{}, 2, 11, 12, `did you mean "=="?`},
		// non-zero start: the first line is shifted by start.Column, later
		// lines are not.
		{`[a] = 1`, hcl.Pos{Line: 10, Column: 7, Byte: 200}, 10, 11, 12, `did you mean "=="?`},
		{"[a] == 1 or\n[b] == \"x", hcl.Pos{Line: 4, Column: 9, Byte: 50}, 5, 8, 10, `Unterminated string`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, diags := ParseCondition(tt.src, tt.start, "bad.conf")
			if !diags.HasErrors() {
				t.Fatalf("expected an error, got %s (%v)", exprString(e), diags)
			}
			if e != nil {
				t.Errorf("expected a nil expression on error, got %s", exprString(e))
			}
			var errs []*hcl.Diagnostic
			for _, d := range diags {
				if d.Severity == hcl.DiagError {
					errs = append(errs, d)
				}
			}
			if len(errs) != 1 {
				t.Fatalf("want exactly one error, got %v", diags)
			}
			d := errs[0]
			if d.Summary != "Invalid condition" {
				t.Errorf("summary %q", d.Summary)
			}
			if !strings.Contains(d.Detail, tt.detail) {
				t.Errorf("detail %q does not contain %q", d.Detail, tt.detail)
			}
			if !strings.HasSuffix(d.Detail, ".") && !strings.HasSuffix(d.Detail, "?") {
				t.Errorf("detail %q is not a full sentence", d.Detail)
			}
			if d.Subject == nil {
				t.Fatal("no subject")
			}
			s := d.Subject
			if s.Filename != "bad.conf" {
				t.Errorf("filename %q", s.Filename)
			}
			if s.Start.Line != tt.line || s.Start.Column != tt.col {
				t.Errorf("subject starts at %d:%d, want %d:%d (%s)", s.Start.Line, s.Start.Column, tt.line, tt.col, d.Detail)
			}
			if tt.endCol != 0 && s.End.Column != tt.endCol {
				t.Errorf("subject ends at column %d, want %d (%s)", s.End.Column, tt.endCol, d.Detail)
			}
			// Byte offsets must agree with the position in src.
			off := s.Start.Byte - tt.start.Byte
			if off < 0 || off > len(tt.src) {
				t.Fatalf("subject byte %d outside src", s.Start.Byte)
			}
			if got := strings.Count(tt.src[:off], "\n") + max(tt.start.Line, 1); got != s.Start.Line {
				t.Errorf("byte offset %d is on line %d, subject says %d", off, got, s.Start.Line)
			}
		})
	}
}

func TestParseConditionRanges(t *testing.T) {
	src := "[a] == \"x\"\n   and !([b] =~ /y/)"
	start := hcl.Pos{Line: 3, Column: 9, Byte: 40}
	e, diags := ParseCondition(src, start, "r.conf")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	type want struct {
		sl, sc, sb, el, ec, eb int
	}
	check := func(name string, r hcl.Range, w want) {
		t.Helper()
		got := want{r.Start.Line, r.Start.Column, r.Start.Byte, r.End.Line, r.End.Column, r.End.Byte}
		if got != w {
			t.Errorf("%s: range %+v, want %+v", name, got, w)
		}
		if r.Filename != "r.conf" {
			t.Errorf("%s: filename %q", name, r.Filename)
		}
		if text := src[r.Start.Byte-start.Byte : r.End.Byte-start.Byte]; text == "" {
			t.Errorf("%s: empty range", name)
		}
	}
	and := e.(*ir.BoolOp)
	check("and", and.Range, want{3, 9, 40, 4, 21, 71})
	cmp := and.Left.(*ir.Compare)
	check("==", cmp.Range, want{3, 9, 40, 3, 19, 50})
	check("[a]", cmp.Left.SrcRange(), want{3, 9, 40, 3, 12, 43})
	check(`"x"`, cmp.Right.SrcRange(), want{3, 16, 47, 3, 19, 50})
	not := and.Right.(*ir.Not)
	check("!", not.Range, want{4, 8, 58, 4, 21, 71})
	m := not.X.(*ir.Match)
	check("=~", m.Range, want{4, 10, 60, 4, 20, 70})
	check("/y/", m.Right.SrcRange(), want{4, 17, 67, 4, 20, 70})
}

func TestParseConditionListRanges(t *testing.T) {
	e, diags := ParseCondition(`[a] in ["é", 2]`, hcl.Pos{Line: 1, Column: 1}, "l.conf")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	l := e.(*ir.In).Right.(*ir.List)
	if r := l.Range; r.Start.Column != 8 || r.End.Column != 16 || r.Start.Byte != 7 || r.End.Byte != 16 {
		t.Errorf("list range %v (bytes %d-%d)", r, r.Start.Byte, r.End.Byte)
	}
	if r := l.Items[1].SrcRange(); r.Start.Column != 14 || r.Start.Byte != 14 {
		t.Errorf("item range %v (byte %d)", r, r.Start.Byte)
	}
}

// walk calls f for e and every node below it.
func walk(e ir.Expr, f func(ir.Expr)) {
	f(e)
	switch x := e.(type) {
	case *ir.BoolOp:
		walk(x.Left, f)
		walk(x.Right, f)
	case *ir.Not:
		walk(x.X, f)
	case *ir.Compare:
		walk(x.Left, f)
		walk(x.Right, f)
	case *ir.Match:
		walk(x.Left, f)
		walk(x.Right, f)
	case *ir.In:
		walk(x.Left, f)
		walk(x.Right, f)
	case *ir.List:
		for _, it := range x.Items {
			walk(it, f)
		}
	}
}

func FuzzParseCondition(f *testing.F) {
	for _, s := range []string{
		`[a] == "b" and ![c]`, `"x" in [tags] or [n] >= -1.5`, `[a] =~ /x\/y/`,
		`([a] xor [b]) nand !([c] not in ["d", 'e', 1])`, "[a] # c\n and [b]",
		`[a`, `[a] = 1`, `"unterminated`, `[a][b] in [[1, 2], foo]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		start := hcl.Pos{Line: 2, Column: 3, Byte: 10}
		e, diags := ParseCondition(src, start, "f.conf")
		for _, d := range diags {
			if d.Subject == nil {
				t.Fatalf("diagnostic without subject: %v", d)
			}
			if b := d.Subject.Start.Byte - start.Byte; b < 0 || b > len(src) || d.Subject.End.Byte < d.Subject.Start.Byte || d.Subject.End.Byte-start.Byte > len(src) {
				t.Fatalf("subject %v outside src %q", d.Subject, src)
			}
		}
		if diags.HasErrors() {
			if e != nil {
				t.Fatalf("expression with errors")
			}
			return
		}
		if e == nil {
			t.Fatalf("nil expression without errors for %q", src)
		}
		walk(e, func(n ir.Expr) {
			r := n.SrcRange()
			if r.Start.Byte < start.Byte || r.End.Byte > start.Byte+len(src) || r.End.Byte <= r.Start.Byte {
				t.Fatalf("%T range %v outside src %q", n, r, src)
			}
		})
	})
}

// TestConditionDepthBudget: issue #19 crashed the process (stack overflow)
// with a condition of about a million nested parentheses; it is refused with
// a clear error, as are arrays nested as deep. The budget itself is
// accepted.
func TestConditionDepthBudget(t *testing.T) {
	nestParens := func(n int) string { return strings.Repeat("(", n) + `[a] == 1` + strings.Repeat(")", n) }
	nestArrays := func(n int) string { return `[a] in ` + strings.Repeat("[", n) + "1" + strings.Repeat("]", n) }
	for _, tc := range []struct {
		src  string
		want string // "" accepted
	}{
		{nestParens(MaxConditionDepth), ""},
		{nestArrays(MaxConditionDepth), ""},
		{nestParens(MaxConditionDepth + 1), "Parentheses nest deeper than 256 levels"},
		{nestParens(1 << 20), "Parentheses nest deeper than 256 levels"},
		{"!" + nestParens(1<<20), "Parentheses nest deeper than 256 levels"},
		{nestArrays(1 << 20), "Arrays nest deeper than 256 levels"},
	} {
		_, diags := ParseCondition(tc.src, hcl.InitialPos, "test.conf")
		switch {
		case tc.want == "" && diags.HasErrors():
			t.Errorf("%.40q…: %v", tc.src, diags)
		case tc.want != "" && (!diags.HasErrors() || !strings.Contains(diags.Error(), tc.want)):
			t.Errorf("%.40q…: %v; want %q", tc.src, diags, tc.want)
		}
	}
	// A chain of a million operands became a tree a million deep, which
	// overflowed the stack where the condition is compiled: refused.
	chain := func(n int) string { return strings.Repeat("[a] == 1 and ", n) + "[b] == 2" }
	if _, diags := ParseCondition(chain(1<<20), hcl.InitialPos, "test.conf"); !diags.HasErrors() || !strings.Contains(diags.Error(), "more than 10000 boolean operators") {
		t.Errorf("a chain of a million operands: %v", diags)
	}
	if _, diags := ParseCondition(chain(MaxConditionOperators), hcl.InitialPos, "test.conf"); diags.HasErrors() {
		t.Errorf("a chain of %d operators: %v", MaxConditionOperators, diags)
	}
	// A long chain is parsed in linear time (positions were counted from
	// the line start for every node: 25 s for 20,000 operands).
	start := time.Now()
	if _, diags := ParseCondition(chain(MaxConditionOperators), hcl.InitialPos, "test.conf"); diags.HasErrors() {
		t.Errorf("chain of %d: %v", MaxConditionOperators, diags)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a chain of %d operators took %v to parse", MaxConditionOperators, d)
	}
}
