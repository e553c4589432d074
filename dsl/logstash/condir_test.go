package logstash

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl/ir"
)

var updateIR = flag.Bool("update", false, "rewrite engine/cond/testdata/cases.ir.json")

// condIRPath holds the IR of every condition of cases.txt, as this parser
// produces it: engine/cond's tests compile and evaluate it there, because the
// engine does not import the front-ends, not even in tests.
const condIRPath = "../../engine/cond/testdata/cases.ir.json"

// condIR is one line of cases.ir.json.
type condIR struct {
	Cond  string          `json:"cond"`
	Expr  json.RawMessage `json:"expr,omitempty"`
	Error string          `json:"error,omitempty"` // the parse error, when it does not parse
}

// TestConditionCasesIR keeps cases.ir.json in step with cases.txt and this
// parser; run with -update after changing either.
func TestConditionCasesIR(t *testing.T) {
	var b bytes.Buffer
	seen := map[string]bool{}
	for _, src := range conditionCases(t) {
		if seen[src] {
			continue
		}
		seen[src] = true
		c := condIR{Cond: src}
		e, diags := ParseCondition(src, hcl.InitialPos, "cond.conf")
		if diags.HasErrors() {
			c.Error = diags.Error()
		} else {
			j, err := ir.MarshalExprJSON(e)
			if err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			c.Expr = j
		}
		line, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	if *updateIR {
		if err := os.WriteFile(condIRPath, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	old, err := os.ReadFile(condIRPath)
	if err != nil || !bytes.Equal(old, b.Bytes()) {
		t.Fatalf("%s is out of date (%v); run go test ./dsl/logstash -run TestConditionCasesIR -update", condIRPath, err)
	}
}

// The JSON form reads back to the same IR (positions aside).
func TestExprJSONRoundTrip(t *testing.T) {
	for _, src := range conditionCases(t) {
		e, diags := ParseCondition(src, hcl.InitialPos, "cond.conf")
		if diags.HasErrors() {
			continue
		}
		j, err := ir.MarshalExprJSON(e)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		back, err := ir.UnmarshalExprJSON(j)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if got, want := exprString(back), exprString(e); got != want {
			t.Errorf("%s: read back as %s, want %s", src, got, want)
		}
	}
}
