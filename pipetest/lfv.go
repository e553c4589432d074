// Package pipetest runs pipeline unit tests without sockets or servers
// (`pipeline test`): test case files of logstash-filter-verifier (LFV), as
// they are, run against a configuration whose inputs and outputs are
// replaced by in-memory ones while the filters run for real.
//
// # LFV's format
//
// A test case file is JSON or YAML (by extension) holding one object:
// `codec` (the codec of the input, default "line"; ignored when
// `input_plugin` is given), `fields` (set on every input event, "[a][b]"
// keys nest), `ignore` (fields removed from the actual events before the
// comparison; "@version" always is), `input_plugin` (the id of the input the
// lines enter at: its codec, type, tags and add_field apply),
// `export_metadata` (compare [@metadata] too), `export_outputs` (each actual
// event gets `_lfv_out_passed`, the id of the output it left by), and
// `testcases`, each with `input` (lines), `expected` (events), `fields`
// (added to the file's) and `description`. As LFV's daemon mode, an event
// that leaves by two outputs is expected twice, events are ordered by the
// input line they came from (then by output id), an event no output takes
// is not expected at all, and a test case without input sends one event
// without a message. Plugin mocks (LFV's --plugin-mock YAML: a list of
// `id` and `mock`, a plugin in Logstash syntax, or nothing to remove the
// plugin) replace plugins by id.
package pipetest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// Budgets for what is read from test files.
const (
	// maxTestFileBytes bounds one test case or mock file.
	maxTestFileBytes = 16 << 20
	// maxTestFiles bounds the test case files one run reads.
	maxTestFiles = 10000
)

// Suite is one LFV test case file.
type Suite struct {
	File           string
	Codec          string
	Fields         map[string]any
	Ignore         []string
	InputPlugin    string
	ExportMetadata bool
	ExportOutputs  bool
	Cases          []*Case
}

// Case is one entry of `testcases`.
type Case struct {
	Suite       *Suite
	Index       int // 1-based, in the file
	Line        int // where the entry starts
	Description string
	Input       []string
	Fields      map[string]any
	Expected    []Expected
	// Events, when not nil, are the events sent in (an HCL test's
	// `events`), as they are, instead of Input's lines through a codec.
	Events []map[string]any
}

// Expected is one expected event and where it is written.
type Expected struct {
	Line  int
	Event map[string]any
}

// Name is what --run matches: the file's base name, a slash and the
// description (or "#N" when the case has none).
func (c *Case) Name() string {
	d := c.Description
	if d == "" {
		d = fmt.Sprintf("#%d", c.Index)
	}
	return filepath.Base(c.Suite.File) + "/" + d
}

type suiteFile struct {
	Codec          *string        `yaml:"codec"`
	Fields         map[string]any `yaml:"fields"`
	Ignore         []string       `yaml:"ignore"`
	InputPlugin    string         `yaml:"input_plugin"`
	ExportMetadata bool           `yaml:"export_metadata"`
	ExportOutputs  bool           `yaml:"export_outputs"`
	Testcases      yaml.Node      `yaml:"testcases"`
	// The format before testcases, which LFV refuses.
	LegacyInput    any `yaml:"input"`
	LegacyExpected any `yaml:"expected"`
}

type caseFile struct {
	Input       []string       `yaml:"input"`
	Fields      map[string]any `yaml:"fields"`
	Expected    yaml.Node      `yaml:"expected"`
	Description string         `yaml:"description"`
}

// ParseSuite reads one LFV test case file. JSON is read as YAML (of which
// it is a subset), which gives every test case and expected event its line.
func ParseSuite(path string) (*Suite, error) {
	src, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		if strings.EqualFold(filepath.Ext(path), ".json") {
			// Not every JSON text is YAML (tabs in odd places): read it as
			// JSON for the error, or for a file YAML could not take.
			var v any
			if jerr := json.Unmarshal(src, &v); jerr != nil {
				return nil, fmt.Errorf("%s: %v", path, jerr)
			}
			var n yaml.Node
			if n2, err2 := jsonToNode(v); err2 == nil {
				n = *n2
				doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{&n}}
			} else {
				return nil, fmt.Errorf("%s: %v", path, err2)
			}
		} else {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: empty test case file", path)
	}
	var sf suiteFile
	if err := doc.Content[0].Decode(&sf); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if sf.LegacyInput != nil || sf.LegacyExpected != nil {
		return nil, fmt.Errorf(`%s: "input" and "expected" belong in the objects of "testcases" (the format before LFV 1.0); move them there`, path)
	}
	s := &Suite{File: path, Codec: "line", Fields: sf.Fields, Ignore: append(sf.Ignore, "@version"),
		InputPlugin: sf.InputPlugin, ExportMetadata: sf.ExportMetadata, ExportOutputs: sf.ExportOutputs}
	if sf.Codec != nil && *sf.Codec != "" {
		s.Codec = *sf.Codec
	}
	if sf.Testcases.Kind != 0 && sf.Testcases.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s:%d: testcases must be a list", path, sf.Testcases.Line)
	}
	for i, n := range sf.Testcases.Content {
		var cf caseFile
		if err := n.Decode(&cf); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n.Line, err)
		}
		c := &Case{Suite: s, Index: i + 1, Line: n.Line, Description: cf.Description, Input: cf.Input, Fields: cf.Fields}
		if cf.Expected.Kind != 0 && cf.Expected.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("%s:%d: expected must be a list of events", path, cf.Expected.Line)
		}
		for _, en := range cf.Expected.Content {
			var m map[string]any
			if err := en.Decode(&m); err != nil {
				return nil, fmt.Errorf("%s:%d: an expected event must be an object: %v", path, en.Line, err)
			}
			c.Expected = append(c.Expected, Expected{Line: en.Line, Event: nestBrackets(m)})
		}
		s.Cases = append(s.Cases, c)
	}
	return s, nil
}

// jsonToNode turns a decoded JSON value into a YAML node (without lines).
func jsonToNode(v any) (*yaml.Node, error) {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return nil, err
	}
	return &n, nil
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > maxTestFileBytes {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d a test file may have", path, st.Size(), maxTestFileBytes)
	}
	buf := make([]byte, st.Size())
	n, err := f.ReadAt(buf, 0)
	if err != nil && n != len(buf) {
		return nil, err
	}
	return buf, nil
}

// nestBrackets turns top-level keys written as field references
// ("[log][file][path]") into nested objects, as LFV does for fields and
// expected events.
func nestBrackets(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		path := splitRef(k)
		if len(path) <= 1 {
			if len(path) == 1 {
				k = path[0]
			}
			mergeAt(out, []string{k}, v)
			continue
		}
		mergeAt(out, path, v)
	}
	return out
}

func mergeAt(m map[string]any, path []string, v any) {
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	last := path[len(path)-1]
	if vm, ok := v.(map[string]any); ok {
		if cur, ok := m[last].(map[string]any); ok {
			for k, x := range vm {
				mergeAt(cur, []string{k}, x)
			}
			return
		}
	}
	m[last] = v
}

// splitRef splits "[a][b]" into a, b; a name without brackets is itself.
func splitRef(s string) []string {
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return []string{s}
	}
	parts := strings.Split(s[1:len(s)-1], "][")
	for _, p := range parts {
		if p == "" || strings.ContainsAny(p, "[]") {
			return []string{s}
		}
	}
	return parts
}

// Mock replaces the plugin with the id ID by Mock (a plugin in Logstash
// syntax), or removes it when Mock is empty.
type Mock struct {
	ID   string `yaml:"id"`
	Mock string `yaml:"mock"`
}

// ParseMocks reads LFV's plugin mock file.
func ParseMocks(path string) ([]Mock, error) {
	src, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	var ms []Mock
	if err := yaml.Unmarshal(src, &ms); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	for i, m := range ms {
		if m.ID == "" {
			return nil, fmt.Errorf("%s: mock %d has no id", path, i+1)
		}
	}
	return ms, nil
}

// FindSuites lists the test case files of path: path itself, or the .json,
// .yml and .yaml files under it, in lexical order.
func FindSuites(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	var out []string
	err = filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".json", ".yml", ".yaml":
			if len(out) >= maxTestFiles {
				return fmt.Errorf("%s: more than %d test case files", path, maxTestFiles)
			}
			out = append(out, p)
		}
		return nil
	})
	return out, err
}
