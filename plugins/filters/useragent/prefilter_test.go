package useragent

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ua-parser/uap-go/uaparser"
)

// TestPrefilterSkipsOnlyNonMatches parses texts with and without the
// prefilters: the results must be the same. The texts are those of the golden
// inputs and testdata/agents.txt (browsers, phones, bots, tools).
func TestPrefilterSkipsOnlyNonMatches(t *testing.T) {
	filtered, err := newParser(uaparser.DefinitionYaml)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := newParser(uaparser.DefinitionYaml)
	for i := range plain.ua {
		plain.ua[i].pre = prefilter{}
	}
	for i := range plain.os {
		plain.os[i].pre = prefilter{}
	}
	for i := range plain.device {
		plain.device[i].pre = prefilter{}
	}
	texts := agents(t)
	if len(texts) < 40 {
		t.Fatalf("only %d texts", len(texts))
	}
	for _, s := range texts {
		variants := []string{s, strings.ToUpper(s), strings.ToLower(s)}
		if raceEnabled {
			variants = variants[:1]
		}
		for _, v := range variants {
			got, want := filtered.parse(v), plain.parse(v)
			if !sameClient(got, want) {
				t.Errorf("%q: with prefilters %+v, without %+v", v, got, want)
			}
		}
	}
}

func sameClient(a, b client) bool {
	same := func(x, y agent) bool {
		if x.family != y.family {
			return false
		}
		for i := range x.v {
			if (x.v[i] == nil) != (y.v[i] == nil) || x.v[i] != nil && *x.v[i] != *y.v[i] {
				return false
			}
		}
		return true
	}
	return same(a.ua, b.ua) && same(a.os, b.os) && a.device == b.device
}

func agents(t *testing.T) []string {
	var out []string
	f, err := os.Open("testdata/agents.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	files, _ := filepath.Glob("testdata/*.txtar")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		for _, line := range strings.Split(string(b), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil {
				if s, ok := m["message"].(string); ok && s != "" {
					out = append(out, s)
				}
			}
		}
	}
	return out
}
