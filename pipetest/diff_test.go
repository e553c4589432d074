package pipetest

import "testing"

func TestUnifiedDiff(t *testing.T) {
	if d := unifiedDiff("a", "b", "x\ny\n", "x\ny\n"); d != "" {
		t.Fatalf("equal texts: %q", d)
	}
	a := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n"
	b := "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n11\n12\n13\n"
	want := "--- a\n+++ b\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n@@ -10,3 +10,4 @@\n 10\n 11\n 12\n+13\n"
	if d := unifiedDiff("a", "b", a, b); d != want {
		t.Fatalf("got\n%s\nwant\n%s", d, want)
	}
}

func TestNestBrackets(t *testing.T) {
	got := nestBrackets(map[string]any{"[log][file][path]": "/x", "log": map[string]any{"level": "info"}, "[a]": 1})
	log, _ := got["log"].(map[string]any)
	file, _ := log["file"].(map[string]any)
	if file["path"] != "/x" || log["level"] != "info" || got["a"] != 1 {
		t.Fatalf("%v", got)
	}
}
