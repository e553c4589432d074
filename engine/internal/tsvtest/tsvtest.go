// Package tsvtest reads the tab-separated case files under the engine
// packages' testdata directories (templates, references, Joda patterns), so
// that the expectations stay data beside the code they test.
package tsvtest

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Case is one line of a case file.
type Case struct {
	Pos    string // file:line, for failure messages
	Fields []string
}

// Read reads path, skipping blank lines and lines starting with '#'. Every
// case must have between min and max fields, and there must be one.
func Read(t testing.TB, path string, min, max int) []Case {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []Case
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) < min || len(f) > max {
			t.Fatalf("%s:%d: %d tab-separated fields; want %d to %d", path, n, len(f), min, max)
		}
		out = append(out, Case{Pos: path + ":" + strconv.Itoa(n), Fields: f})
	}
	if len(out) == 0 {
		t.Fatalf("%s: no cases", path)
	}
	return out
}
