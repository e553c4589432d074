package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLayering keeps the package structure docs/architecture.md describes:
// nothing under engine/ imports a configuration front-end (dsl, dsl/logstash),
// test packages included; no production package under plugins/ imports the
// HCL syntax, cty or a front-end (plugins see typed options only); the root
// package is main.go and its tests.
func TestLayering(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	goList := func(args ...string) []string {
		t.Helper()
		out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
		if err != nil {
			t.Fatalf("go list %v: %v", args, err)
		}
		return strings.Fields(string(out))
	}
	const mod = "github.com/pipelined/pipeline/"
	front := func(p string) bool { return p == mod+"dsl" || p == mod+"dsl/logstash" }
	for _, dep := range goList("-test", "-deps", "./engine/...") {
		if front(dep) {
			t.Errorf("a package under engine/ depends on %s", dep)
		}
	}
	for _, line := range goList("-f", "{{.ImportPath}}|{{join .Imports \"|\"}}", "./plugins/...") {
		parts := strings.Split(line, "|")
		if strings.Contains(parts[0], "/testkit/") || strings.HasSuffix(parts[0], "/e2e") {
			continue
		}
		for _, imp := range parts[1:] {
			if front(imp) || strings.HasSuffix(imp, "hcl/v2/hclsyntax") || strings.HasPrefix(imp, "github.com/zclconf/go-cty") {
				t.Errorf("%s imports %s", parts[0], imp)
			}
		}
	}
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if f != "main.go" && !strings.HasSuffix(f, "_test.go") {
			t.Errorf("the root package holds %s; logic belongs in a package", f)
		}
	}
	if _, err := os.Stat("main.go"); err != nil {
		t.Fatal(err)
	}
}
