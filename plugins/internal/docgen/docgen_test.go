package docgen

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	_ "github.com/pipelined/pipeline/plugins/all"
)

var update = flag.Bool("update", false, "rewrite docs/plugins from the code")

// root is the module root, seen from this package's directory.
const root = "../../.."

func generate(t *testing.T) *Result {
	t.Helper()
	res, err := Generate(engine.Default, root)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestDocsUpToDate regenerates docs/plugins in memory and compares it with the
// files on disk; with -update it writes them (and removes stale pages).
func TestDocsUpToDate(t *testing.T) {
	res := generate(t)
	onDisk := map[string]bool{}
	dir := filepath.Join(root, filepath.FromSlash(DocsDir))
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".md") {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		onDisk[filepath.ToSlash(rel)] = true
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if *update {
		for name, b := range res.Files {
			p := filepath.Join(root, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for name := range onDisk {
			if _, ok := res.Files[name]; !ok {
				if err := os.Remove(filepath.Join(root, filepath.FromSlash(name))); err != nil {
					t.Fatal(err)
				}
				t.Logf("removed stale %s", name)
			}
		}
		return
	}
	const hint = "run `go test ./plugins/internal/docgen -update`"
	var stale []string
	for _, name := range sortedKeys(res.Files) {
		got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		switch {
		case err != nil:
			stale = append(stale, name+" is missing")
		case !bytes.Equal(got, res.Files[name]):
			stale = append(stale, name+" is out of date")
		}
	}
	for name := range onDisk {
		if _, ok := res.Files[name]; !ok {
			stale = append(stale, name+" documents no registered plugin")
		}
	}
	sort.Strings(stale)
	for _, s := range stale {
		t.Errorf("%s; %s", s, hint)
	}
}

// TestSharedOptionGroups: every ssl_* option on every page is a row of a
// "### TLS…" section rendered from a tlsopt group, so no plugin keeps its own
// text for them; ecs_compatibility (every plugin) and charset (codecs) come
// from their groups the same way.
func TestSharedOptionGroups(t *testing.T) {
	res := generate(t)
	row := regexp.MustCompile("^\\| `([a-z_0-9]+)` \\|")
	pages := 0
	for _, name := range sortedKeys(res.Files) {
		section := ""
		seen := map[string]bool{}
		for _, line := range strings.Split(string(res.Files[name]), "\n") {
			if h, ok := strings.CutPrefix(line, "#"); ok {
				section = strings.TrimLeft(h, "# ")
				continue
			}
			m := row.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			opt := m[1]
			if seen[opt] {
				t.Errorf("%s: option %s listed twice", name, opt)
			}
			seen[opt] = true
			// ssl_server_name is immudb's own (no Logstash plugin has it).
			tlsOpt := (strings.HasPrefix(opt, "ssl") || opt == "cacert") && opt != "ssl_server_name"
			if tlsOpt && !strings.HasPrefix(section, "TLS") {
				t.Errorf("%s: %s is in section %q, not in a TLS group's", name, opt, section)
			}
			if tlsOpt && section == "TLS" {
				pages++
			}
			if opt == "ecs_compatibility" && section != "ECS compatibility" || strings.Contains(name, "/codec/") && opt == "charset" && section != "Charset" {
				t.Errorf("%s: %s is in section %q, not in its group's", name, opt, section)
			}
		}
	}
	if pages == 0 {
		t.Error("no page has a TLS section")
	}
}

// TestConstructorsTrustValidate: the engine runs Validate before a
// constructor, so no plugin's New runs it again on its options (Validate
// stays the one check, New compiles once).
func TestConstructorsTrustValidate(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range engine.Default.All() {
		ip := f.Options.PkgPath()
		if seen[ip] || TestOnly(f.Name) {
			continue
		}
		seen[ip] = true
		rel, ok := strings.CutPrefix(ip, "github.com/pipelined/pipeline/")
		if !ok {
			continue
		}
		dir := filepath.Join(root, filepath.FromSlash(rel))
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range af.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Recv != nil || fd.Body == nil || len(fd.Type.Params.List) == 0 || len(fd.Type.Params.List[0].Names) == 0 {
					continue
				}
				if id, ok := fd.Type.Params.List[0].Type.(*ast.Ident); !ok || id.Name != f.Options.Name() {
					continue
				}
				param := fd.Type.Params.List[0].Names[0].Name
				ast.Inspect(fd.Body, func(n ast.Node) bool {
					if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "Validate" {
						if x, ok := sel.X.(*ast.Ident); ok && x.Name == param {
							t.Errorf("%s: %s calls %s.Validate(): the engine ran it before the constructor", rel, fd.Name.Name, param)
						}
					}
					return true
				})
			}
		}
	}
}

// TestPluginDocComments fails when a plugin package or one of its options
// has no doc comment: those comments are the user documentation.
func TestPluginDocComments(t *testing.T) {
	for _, p := range generate(t).Problems {
		t.Error(p)
	}
}

// TestEveryPluginDocumented checks that every registered plugin (test-only
// ones aside) has a page and an index row.
func TestEveryPluginDocumented(t *testing.T) {
	res := generate(t)
	index := string(res.Files[path.Join(DocsDir, "README.md")])
	n := 0
	for _, f := range engine.Default.All() {
		if TestOnly(f.Name) {
			continue
		}
		n++
		rel := path.Join(f.Kind.String(), f.Name+".md")
		if _, ok := res.Files[path.Join(DocsDir, rel)]; !ok {
			t.Errorf("%s %q has no page", f.Kind, f.Name)
		}
		if !strings.Contains(index, "]("+rel+")") {
			t.Errorf("%s %q is not in the index", f.Kind, f.Name)
		}
	}
	if n == 0 {
		t.Fatal("no plugins registered")
	}
}

var hclFence = regexp.MustCompile("(?s)## Usage\n\n```hcl\n(.*?)```")

// TestUsageSnippets loads every page's Usage snippet (codec snippets inside
// an output block) and fails on any error diagnostic from the front-end.
func TestUsageSnippets(t *testing.T) {
	res := generate(t)
	for _, name := range sortedKeys(res.Files) {
		if strings.HasSuffix(name, "/README.md") {
			continue
		}
		m := hclFence.FindSubmatch(res.Files[name])
		if m == nil {
			t.Errorf("%s: no Usage snippet", name)
			continue
		}
		src := string(m[1])
		if strings.Contains(name, "/codec/") {
			src = "output \"null\" {\n" + src + "}\n"
		}
		if _, diags := dsl.LoadSource("usage.hcl", []byte(src)); diags.HasErrors() {
			t.Errorf("%s: Usage snippet does not load:\n%s\n%s", name, src, diags.Error())
		}
	}
}

// TestLinks checks every relative link in the generated pages and in
// docs/pipeline-language.md: the target file exists (on disk or generated)
// and a #fragment names a heading of the target.
func TestLinks(t *testing.T) {
	res := generate(t)
	files := map[string][]byte{}
	for k, v := range res.Files {
		files[k] = v
	}
	lang, err := os.ReadFile(filepath.Join(root, LanguageDoc))
	if err != nil {
		t.Fatal(err)
	}
	files[LanguageDoc] = lang
	read := func(name string) ([]byte, bool) {
		if b, ok := files[name]; ok {
			return b, true
		}
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		return b, err == nil
	}
	for _, name := range sortedKeys(files) {
		for _, link := range markdownLinks(files[name]) {
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			target, frag, _ := strings.Cut(link, "#")
			if target == "" {
				target = name
			} else {
				target = path.Clean(path.Join(path.Dir(name), target))
			}
			if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(target))); err != nil {
				if _, ok := files[target]; !ok {
					t.Errorf("%s: link %q: %s does not exist", name, link, target)
					continue
				}
			}
			if frag == "" {
				continue
			}
			b, ok := read(target)
			if !ok || !anchors(b)[frag] {
				t.Errorf("%s: link %q: %s has no heading with the anchor #%s", name, link, target, frag)
			}
		}
	}
}

var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// markdownLinks returns the link targets of b outside fenced code blocks.
func markdownLinks(b []byte) []string {
	var out []string
	for _, line := range proseLines(b) {
		for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
			out = append(out, m[1])
		}
	}
	return out
}

// proseLines returns the lines of b that are not inside fenced code blocks.
func proseLines(b []byte) []string {
	var out []string
	fence := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fence = !fence
			continue
		}
		if !fence {
			out = append(out, line)
		}
	}
	return out
}

// anchors returns the anchors GitHub gives the headings of a Markdown file:
// lower case, punctuation other than - and _ removed, spaces as -, and -1,
// -2… for repeats.
func anchors(b []byte) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, line := range proseLines(b) {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		text := strings.TrimLeft(line, "#")
		if text == "" || text[0] != ' ' {
			continue
		}
		var s strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(text)) {
			switch {
			case r == ' ':
				s.WriteByte('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				s.WriteRune(r)
			}
		}
		a := s.String()
		if n := seen[a]; n > 0 {
			out[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestHCLValue(t *testing.T) {
	s := "a\"b\\c\n${x}%{y}\x01"
	var nilSlice []string
	tests := []struct {
		v    any
		want string
	}{
		{&s, `"a\"b\\c\n$${x}%{y}\u0001"`},
		{nilSlice, `[]`},
		{[]string{"_a", "b"}, `["_a", "b"]`},
		{map[string]string{"b": "2", "[a][b]": "1", "c d": "3"}, `{ "[a][b]" = "1", "c d" = "3", b = "2" }`},
		{float64(100), `100`},
		{1.5, `1.5`},
		{int64(-1), `-1`},
		{true, `true`},
	}
	for _, tt := range tests {
		if got := hclValue(reflect.ValueOf(tt.v)); got != tt.want {
			t.Errorf("hclValue(%#v) = %s, want %s", tt.v, got, tt.want)
		}
	}
}

func TestOptionDoc(t *testing.T) {
	tests := []struct{ field, name, text, want string }{
		{"Path", "path", "Path is the file.", "`path` is the file."},
		{"Lines", "lines", "Lines, when set,\nare emitted.", "`lines`, when set, are emitted."},
		{"Path", "path", "Paths are many.", "Paths are many."},
		{"Gzip", "gzip", "Compresses the output.", "Compresses the output."},
	}
	for _, tt := range tests {
		if got := optionDoc(tt.field, tt.name, tt.text); got != tt.want {
			t.Errorf("optionDoc(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestCells(t *testing.T) {
	if got, want := textCell("a | b <c> `<d|e>`"), "a \\| b &lt;c&gt; `<d\\|e>`"; got != want {
		t.Errorf("textCell = %q, want %q", got, want)
	}
	if got, want := codeCell(`"a|b"`), "`\"a\\|b\"`"; got != want {
		t.Errorf("codeCell = %q, want %q", got, want)
	}
}

// TestKindDirs pins the directory names of the pages.
func TestKindDirs(t *testing.T) {
	for _, k := range []ir.Kind{ir.Input, ir.Filter, ir.Output, ir.Codec} {
		if s := k.String(); s == "unknown" || strings.ContainsAny(s, "/ ") {
			t.Errorf("kind %d has no usable name: %q", k, s)
		}
	}
}

// testOptions exercises every kind of option the generator handles.
type testOptions struct {
	Name   string             `hcl:"name"`
	Hosts  []string           `hcl:"hosts"`
	Labels map[string]string  `hcl:"labels,optional"`
	Ratio  *float64           `hcl:"ratio"`
	Match  engine.HashOfLists `hcl:"match,optional"`
	testGroup
	Expr     hcl.Expression `hcl:"expr"`
	Nested   testBlock      `hcl:"nested,block"`
	Extra    *testBlock     `hcl:"extra,block"`
	Many     []testBlock    `hcl:"many,block"`
	Rest     hcl.Body       `hcl:",remain"`
	internal int
}

// testGroup is an option group, as a plugin embeds one.
type testGroup struct {
	// Level is documented here, for every embedder.
	Level string `hcl:"level,optional"`
}

type testBlock struct {
	Kind string `hcl:"kind,label"`
}

func (o *testOptions) Defaults() {
	o.Labels = map[string]string{"env": "prod"}
	o.Match = engine.HashOfLists{{Key: "message", Values: []string{"%{WORD}"}}, {Key: "n", Values: []string{"1.5", "true"}}}
	o.Level = "info"
}

type testFilter struct{}

func (testFilter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	return append(out, e), nil
}

func init() {
	engine.RegisterFilter("test_docgen", func(testOptions, engine.Resources) (testFilter, error) { return testFilter{}, nil })
}

func TestOptions(t *testing.T) {
	f, ok := engine.Default.Lookup(ir.Filter, "test_docgen")
	if !ok {
		t.Fatal("test_docgen is not registered")
	}
	opts, err := options(f)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range opts {
		got = append(got, fmt.Sprintf("%s %s def=%s req=%v field=%s", o.name, o.typ, o.def, o.required, o.field))
	}
	want := []string{
		`name string def="" req=true field=Name`,
		`hosts list(string) def=[] req=true field=Hosts`,
		`labels map(string) def={ env = "prod" } req=false field=Labels`,
		`ratio number def= req=false field=Ratio`,
		`match hash(string or list(string)) def={ message = ["%{WORD}"], n = ["1.5", "true"] } req=false field=Match`,
		`level string def="info" req=false field=Level`,
		`expr any def= req=false field=Expr`,
		`nested block def= req=true field=Nested`,
		`extra block def= req=false field=Extra`,
		`many blocks def= req=false field=Many`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("options:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	wantUsage := `filter "test_docgen" {
  name  = "..."
  hosts = ["..."]
  nested {
  }
}
`
	if u := usage(f, opts); u != wantUsage {
		t.Errorf("usage:\n%s\nwant:\n%s", u, wantUsage)
	}
}
