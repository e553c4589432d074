// Package docgen generates the plugin reference, docs/plugins/<kind>/<name>.md
// and the index docs/plugins/README.md, from the code, so that the reference
// cannot drift from what the engine accepts:
//
//   - the description is the plugin package's doc comment (go/parser and
//     go/doc on the package directory, found from the Options type's package
//     path);
//   - the options table comes from reflection over Factory.Options: the name
//     from the hcl tag, the type from the Go type, the default from
//     Factory.NewOptions() (after Defaults), required unless the tag says
//     optional; the description is the field's doc comment (go/ast);
//   - the default codec and the engine's common options for the kind
//     (engine.CommonOptionNames) come from the registration and the engine.
//
// The test TestDocsUpToDate regenerates the pages in memory and fails when the
// files in docs/plugins differ; `go test ./plugins/internal/docgen -update`
// (or `go generate ./plugins/...`) rewrites them.
package docgen

//go:generate go test -run TestDocsUpToDate -update .

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/doc"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
)

// DocsDir is where the plugin reference goes, relative to the module root.
const DocsDir = "docs/plugins"

// LanguageDoc is the pipeline language reference, relative to the module root;
// the common options link to its sections.
const LanguageDoc = "docs/pipeline-language.md"

// TestOnly reports whether a plugin name marks a plugin registered only by
// tests, which gets no page.
func TestOnly(name string) bool {
	for _, p := range []string{"enginetest_", "test_", "example_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Result is the generated reference.
type Result struct {
	// Files maps slash-separated paths relative to the module root
	// (docs/plugins/…) to their contents.
	Files map[string][]byte
	// Problems lists gaps in the code's documentation: a plugin package
	// without a package doc comment, an option without a doc comment.
	Problems []string
}

// Generate builds the reference for every plugin in reg, except test-only ones
// (TestOnly). root is the module root: the directory holding go.mod, under
// which plugin packages are found by import path.
func Generate(reg *engine.Registry, root string) (*Result, error) {
	modPath, err := modulePath(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, err
	}
	g := &generator{root: root, modPath: modPath, pkgs: map[string]*pkgInfo{}}
	res := &Result{Files: map[string][]byte{}}
	var index []indexEntry
	for _, f := range reg.All() {
		if TestOnly(f.Name) {
			continue
		}
		pg, err := g.page(f)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", f.Kind, f.Name, err)
		}
		res.Files[pg.file] = pg.text
		res.Problems = append(res.Problems, pg.problems...)
		index = append(index, indexEntry{kind: f.Kind, name: f.Name, file: pg.file, summary: pg.summary})
	}
	res.Files[path.Join(DocsDir, "README.md")] = indexPage(index)
	sort.Strings(res.Problems)
	return res, nil
}

// modulePath reads the module line of a go.mod file.
func modulePath(gomod string) (string, error) {
	b, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`), nil
		}
	}
	return "", fmt.Errorf("%s: no module line", gomod)
}

type generator struct {
	root, modPath string
	pkgs          map[string]*pkgInfo // by import path
}

// pkgInfo is what the generator reads from one plugin package's source.
type pkgInfo struct {
	dir       string // slash path relative to the module root
	doc       *doc.Package
	fieldDocs map[string]map[string]string // type name → field name → doc
}

// pkg parses the non-test Go files of the package with import path ip.
func (g *generator) pkg(ip string) (*pkgInfo, error) {
	if p, ok := g.pkgs[ip]; ok {
		return p, nil
	}
	rel, ok := strings.CutPrefix(ip, g.modPath+"/")
	if !ok {
		return nil, fmt.Errorf("package %s is not in module %s", ip, g.modPath)
	}
	dir := filepath.Join(g.root, filepath.FromSlash(rel))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no Go files in %s", dir)
	}
	p := &pkgInfo{dir: rel, fieldDocs: map[string]map[string]string{}}
	// Field docs first: doc.NewFromFiles may trim the AST.
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return false
			}
			m := map[string]string{}
			for _, fl := range st.Fields.List {
				text := fl.Doc.Text()
				if text == "" {
					text = fl.Comment.Text()
				}
				for _, name := range fl.Names {
					m[name.Name] = text
				}
			}
			p.fieldDocs[ts.Name.Name] = m
			return false
		})
	}
	p.doc, err = doc.NewFromFiles(fset, files, ip, doc.AllDecls|doc.PreserveAST)
	if err != nil {
		return nil, err
	}
	g.pkgs[ip] = p
	return p, nil
}

type page struct {
	file     string
	text     []byte
	summary  string
	problems []string
}

// option is one row of the options table.
type option struct {
	name     string // the hcl tag's name
	field    string // the Go field
	typ, def string // HCL type name, default in HCL syntax ("" if none)
	doc      string // the description, one line of Markdown
	required bool
	block    bool
	goType   reflect.Type
	owner    reflect.Type // the struct declaring the field: Options or an embedded group
	// lifecycle says that Logstash deprecated or removed the option (the
	// engine's deprecated, removed and use tags), appended to doc.
	lifecycle string
}

func (g *generator) page(f *engine.Factory) (*page, error) {
	t := f.Options
	if t == nil || t.Kind() != reflect.Struct || t.PkgPath() == "" || t.Name() == "" {
		return nil, errors.New("the options type is not a named struct type, so its package and doc comments cannot be found")
	}
	p, err := g.pkg(t.PkgPath())
	if err != nil {
		return nil, err
	}
	kind := f.Kind.String()
	pg := &page{file: path.Join(DocsDir, kind, f.Name+".md")}
	what := fmt.Sprintf("%s %q (%s)", kind, f.Name, p.dir)
	if strings.TrimSpace(p.doc.Doc) == "" {
		pg.problems = append(pg.problems, what+": the package has no doc comment")
	}
	pg.summary = summary(p.doc)

	opts, err := options(f)
	if err != nil {
		return nil, err
	}
	for i := range opts {
		o := &opts[i]
		// An option of an embedded group is documented where the group is
		// declared, once for every plugin that embeds it.
		op, err := g.pkg(o.owner.PkgPath())
		if err != nil {
			return nil, err
		}
		text := strings.TrimSpace(op.fieldDocs[o.owner.Name()][o.field])
		if text == "" {
			pg.problems = append(pg.problems, fmt.Sprintf("%s: option %q (field %s.%s) has no doc comment", what, o.name, o.owner.Name(), o.field))
		}
		o.doc = optionDoc(o.field, o.name, text) + o.lifecycle
	}

	lang := relLink(pg.file, LanguageDoc)

	var b bytes.Buffer
	fmt.Fprintf(&b, "<!-- Code generated by plugins/internal/docgen from %s; DO NOT EDIT. -->\n\n", p.dir)
	fmt.Fprintf(&b, "# %s %s\n\n", f.Name, kind)
	if md := packageMarkdown(p.doc); len(md) > 0 {
		b.Write(md)
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Source: [`%s`](%s)\n\n", p.dir, relLink(pg.file, p.dir))

	b.WriteString("## Usage\n\n```hcl\n")
	b.WriteString(usage(f, opts))
	b.WriteString("```\n\n")
	switch f.Kind {
	case ir.Codec:
		fmt.Fprintf(&b, "A codec is a block inside an input or output; see [Codecs](%s#codecs).\n\n", lang)
	default:
		fmt.Fprintf(&b, "An id may follow the type as a second label, as in `%s %q \"<id>\" { … }`; see [Blocks](%s#blocks).\n\n", kind, f.Name, lang)
	}

	b.WriteString("## Options\n\n")
	own, groups := splitGroups(t, opts)
	if len(own) == 0 {
		fmt.Fprintf(&b, "The %s %s has no options of its own.\n\n", f.Name, kind)
	} else {
		optionTable(&b, own)
	}
	for _, grp := range groups {
		gp, err := g.pkg(grp.typ.PkgPath())
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "### %s\n\n", groupTitle(grp.typ))
		if text := groupDoc(gp.doc, grp.typ.Name()); text != "" {
			b.WriteString(text + " ")
		} else {
			pg.problems = append(pg.problems, fmt.Sprintf("%s: option group %s has no doc comment", what, grp.typ))
		}
		fmt.Fprintf(&b, "Shared by every plugin that embeds [`%s.%s`](%s).\n\n", gp.doc.Name, grp.typ.Name(), relLink(pg.file, gp.dir))
		optionTable(&b, grp.opts)
	}

	if f.Kind == ir.Input || f.Kind == ir.Output {
		if f.DefaultCodec != "" {
			codec := path.Join(DocsDir, ir.Codec.String(), f.DefaultCodec+".md")
			fmt.Fprintf(&b, "Default codec: [`%s`](%s). Set another one with a `codec \"<name>\" { … }` block; see [Codecs](%s#codecs).\n\n",
				f.DefaultCodec, relLink(pg.file, codec), lang)
		} else if f.OptionalCodec {
			what := "sends events in its own format (see above)"
			if f.Kind == ir.Input {
				what = "takes events as they arrive (see above)"
			}
			fmt.Fprintf(&b, "No default codec: without a `codec \"<name>\" { … }` block the %s %s %s; with one, it uses that codec (see [Codecs](%s#codecs)).\n\n", f.Name, kind, what, lang)
		} else {
			fmt.Fprintf(&b, "The %s %s uses no codec: a `codec` given is checked and has no effect (Logstash accepts one on every %s).\n\n", f.Name, kind, kind)
		}
	}

	if names := commonOptions(f); len(names) > 0 {
		b.WriteString("## Common options\n\n")
		fmt.Fprintf(&b, "The engine handles these options for every %s; see [Common options](%s#common-options).\n\n", kind, lang)
		for _, n := range names {
			fmt.Fprintf(&b, "* [`%s`](%s#%s)\n", n, lang, n)
		}
		b.WriteString("\n")
	}
	pg.text = bytes.TrimRight(b.Bytes(), "\n")
	pg.text = append(pg.text, '\n')
	return pg, nil
}

// optionTable writes the options table of opts.
func optionTable(b *bytes.Buffer, opts []option) {
	b.WriteString("| Name | Type | Default | Required | Description |\n|---|---|---|---|---|\n")
	for _, o := range opts {
		def := "—"
		if o.def != "" && !o.required {
			def = codeCell(o.def)
		}
		req := "no"
		if o.required {
			req = "yes"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", codeCell(o.name), codeCell(o.typ), def, req, textCell(o.doc))
	}
	b.WriteString("\n")
}

// optionGroup is the options an embedded option group adds to a plugin.
type optionGroup struct {
	typ  reflect.Type
	opts []option
}

// splitGroups separates the options of the plugin's own package (its type
// t, and structs of that package it embeds to organise them) from those of
// option groups shared from other packages: a shared group is documented
// once, where it is declared, and rendered as a section of its own, in the
// order first embedded, on the page of every plugin that embeds it.
func splitGroups(t reflect.Type, opts []option) (own []option, groups []optionGroup) {
	at := map[reflect.Type]int{}
	for _, o := range opts {
		if o.owner.PkgPath() == t.PkgPath() {
			own = append(own, o)
			continue
		}
		i, ok := at[o.owner]
		if !ok {
			i = len(groups)
			at[o.owner] = i
			groups = append(groups, optionGroup{typ: o.owner})
		}
		groups[i].opts = append(groups[i].opts, o)
	}
	return own, groups
}

// titled is implemented by an option group that names its section.
type titled interface{ DocTitle() string }

// groupTitle is the section heading of an option group: its DocTitle, or
// its type name.
func groupTitle(t reflect.Type) string {
	if v, ok := reflect.Zero(t).Interface().(titled); ok {
		return v.DocTitle()
	}
	return t.Name() + " options"
}

// groupDoc is the doc comment of the group type name, as one line without
// its opening "Name is": "Server is the options of…" → "The options of…".
func groupDoc(p *doc.Package, name string) string {
	for _, t := range p.Types {
		if t.Name != name {
			continue
		}
		text := strings.Join(strings.Fields(t.Doc), " ")
		for _, verb := range []string{" is ", " are "} {
			if rest, ok := strings.CutPrefix(text, name+verb); ok {
				r, n := utf8.DecodeRuneInString(rest)
				text = string(unicode.ToUpper(r)) + rest[n:]
				break
			}
		}
		return text
	}
	return ""
}

// relLink is the relative link from the file from to the file or directory
// to, both slash paths relative to the module root.
func relLink(from, to string) string {
	rel, err := filepath.Rel(filepath.FromSlash(path.Dir(from)), filepath.FromSlash(to))
	if err != nil {
		return to
	}
	return filepath.ToSlash(rel)
}

// commonOptions returns the engine's common options for f's kind; codec only
// for plugins that take one.
func commonOptions(f *engine.Factory) []string {
	var out []string
	for _, n := range engine.CommonOptionNames[f.Kind] {
		if n == "codec" && f.DefaultCodec == "" && !f.OptionalCodec {
			continue
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// options reflects over the hcl tags of f.Options. The caller fills in doc.
func options(f *engine.Factory) ([]option, error) {
	t := f.Options
	defaults := reflect.ValueOf(f.NewOptions())
	if defaults.Kind() != reflect.Pointer || defaults.Elem().Type() != t {
		return nil, fmt.Errorf("NewOptions returned %s, not *%s", defaults.Type(), t)
	}
	return structOptions(t, defaults.Elem())
}

// structOptions lists the options of struct type t, whose default values are
// defaults; the fields of an embedded struct without an hcl tag (a shared
// option group) are options too, as the engine decodes them.
func structOptions(t reflect.Type, defaults reflect.Value) ([]option, error) {
	var out []option
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("hcl")
		if !ok && sf.Anonymous && sf.Type.Kind() == reflect.Struct {
			if sf.Type.Name() == "" {
				return nil, fmt.Errorf("embedded field %s is not a named struct type", sf.Name)
			}
			group, err := structOptions(sf.Type, defaults.Field(i))
			if err != nil {
				return nil, err
			}
			out = append(out, group...)
			continue
		}
		if !ok || tag == "" {
			continue
		}
		name, kind, _ := strings.Cut(tag, ",")
		if kind == "" {
			kind = "attr"
		}
		o := option{name: name, field: sf.Name, goType: sf.Type, owner: t}
		if v := sf.Tag.Get("removed"); v != "" {
			o.lifecycle = fmt.Sprintf(" **Removed** in Logstash %s: setting it is an error.", v)
			if use := sf.Tag.Get("use"); use != "" {
				o.lifecycle = fmt.Sprintf(" **Removed** in Logstash %s: setting it is an error (%s).", v, insteadDoc(use))
			}
		} else if v, ok := sf.Tag.Lookup("deprecated"); ok {
			o.lifecycle = " **Deprecated** in Logstash: it works, with a warning."
			if v != "" {
				o.lifecycle = fmt.Sprintf(" **Deprecated** in Logstash: it works, with a warning (%s).", insteadDoc(v))
			}
		}
		switch kind {
		case "attr", "optional":
			o.typ = typeName(sf.Type)
			o.required = kind == "attr" && sf.Type.Kind() != reflect.Pointer && !isExpression(sf.Type)
		case "block":
			o.block = true
			o.typ = "block"
			if sf.Type.Kind() == reflect.Slice {
				o.typ = "blocks"
			}
			o.required = sf.Type.Kind() == reflect.Struct
		default: // labels, remain, ranges: not options
			continue
		}
		if !sf.IsExported() {
			return nil, fmt.Errorf("field %s has an hcl tag but is not exported", sf.Name)
		}
		if !o.block {
			o.def = hclValue(defaults.Field(i))
		}
		out = append(out, o)
	}
	return out, nil
}

// insteadDoc words a replacement as the engine's warning does.
func insteadDoc(use string) string {
	if strings.Contains(use, " ") {
		return use
	}
	return "use `" + use + "` instead"
}

func isExpression(t reflect.Type) bool {
	return t.PkgPath() == "github.com/hashicorp/hcl/v2" && t.Name() == "Expression"
}

// engineType is implemented by the engine's option types (engine.Hash,
// engine.StringList, …): their name in the docs and their value as plain Go.
type engineType interface {
	DocType() string
	DocValue() any
}

var engineTypeType = reflect.TypeFor[engineType]()

// typeName names a Go option type the way HCL does: string, number, bool,
// list(…), map(…), any; the engine's option types name themselves.
func typeName(t reflect.Type) string {
	if t.Implements(engineTypeType) {
		return reflect.Zero(t).Interface().(engineType).DocType()
	}
	if isExpression(t) {
		return "any"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "list(" + typeName(t.Elem()) + ")"
	case reflect.Map:
		return "map(" + typeName(t.Elem()) + ")"
	case reflect.Struct:
		return "object"
	}
	return "any"
}

// hclValue writes a default value in HCL syntax; "" when there is none (a
// nil pointer or interface).
func hclValue(v reflect.Value) string {
	if v.Type().Implements(engineTypeType) {
		dv := v.Interface().(engineType).DocValue()
		if dv == nil {
			return ""
		}
		return hclValue(reflect.ValueOf(dv))
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return ""
		}
		return hclValue(v.Elem())
	case reflect.String:
		return hclString(v.String())
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case reflect.Slice, reflect.Array:
		items := make([]string, v.Len())
		for i := range items {
			items[i] = orNull(hclValue(v.Index(i)))
		}
		return "[" + strings.Join(items, ", ") + "]"
	case reflect.Map:
		if v.Len() == 0 {
			return "{}"
		}
		var items []string
		for _, k := range v.MapKeys() {
			items = append(items, hclKey(fmt.Sprint(k.Interface()))+" = "+orNull(hclValue(v.MapIndex(k))))
		}
		sort.Strings(items)
		return "{ " + strings.Join(items, ", ") + " }"
	}
	return ""
}

func orNull(s string) string {
	if s == "" {
		return "null"
	}
	return s
}

// hclString quotes s as an HCL string literal that this DSL reads back as s.
func hclString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '$' && strings.HasPrefix(s[i+1:], "{"):
			b.WriteString("$$")
		case r == utf8.RuneError || !unicode.IsPrint(r):
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// hclKey writes a map key: bare when it is an identifier, quoted otherwise.
func hclKey(k string) string {
	if k != "" && !strings.ContainsFunc(k, func(r rune) bool {
		return !(r == '_' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r))
	}) && !unicode.IsDigit(rune(k[0])) && k[0] != '-' {
		return k
	}
	return hclString(k)
}

// optionDoc turns a field's doc comment into one line for the table, naming
// the option instead of the Go field ("Path is …" → "`path` is …").
func optionDoc(field, name, text string) string {
	text = strings.Join(strings.Fields(text), " ")
	if rest, ok := strings.CutPrefix(text, field); ok && (rest == "" || !isIdentRune(rest)) {
		text = "`" + name + "`" + rest
	}
	return text
}

func isIdentRune(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// codeCell is a table cell holding code.
func codeCell(s string) string {
	tick := "`"
	if strings.Contains(s, "`") {
		tick = "`` "
		return tick + strings.ReplaceAll(s, "|", `\|`) + " ``"
	}
	return tick + strings.ReplaceAll(s, "|", `\|`) + tick
}

// textCell is a table cell holding prose: `|` would end the cell and `<…>`
// would be taken for HTML outside code spans.
func textCell(s string) string {
	var b strings.Builder
	inCode := false
	for _, r := range s {
		switch {
		case r == '`':
			inCode = !inCode
			b.WriteRune(r)
		case r == '|':
			b.WriteString(`\|`)
		case r == '<' && !inCode:
			b.WriteString("&lt;")
		case r == '>' && !inCode:
			b.WriteString("&gt;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// packageMarkdown renders the package doc comment as Markdown, its headings
// below the page's level-2 sections.
func packageMarkdown(p *doc.Package) []byte {
	pr := p.Printer()
	pr.HeadingLevel = 3
	pr.HeadingID = func(*comment.Heading) string { return "" }
	pr.DocLinkBaseURL = "https://pkg.go.dev"
	d := p.Parser().Parse(withoutPackage(p))
	unlinkBlocks(d.Content)
	return pr.Markdown(d)
}

// unlinkBlocks turns doc links back into the text they were written as: in
// plugin docs, [host][name] is a field reference, not a link to a package.
func unlinkBlocks(blocks []comment.Block) {
	for _, b := range blocks {
		switch b := b.(type) {
		case *comment.Paragraph:
			b.Text = unlink(b.Text)
		case *comment.Heading:
			b.Text = unlink(b.Text)
		case *comment.List:
			for _, it := range b.Items {
				unlinkBlocks(it.Content)
			}
		}
	}
}

func unlink(texts []comment.Text) []comment.Text {
	out := make([]comment.Text, 0, len(texts))
	for _, t := range texts {
		switch t := t.(type) {
		case *comment.DocLink:
			out = append(out, comment.Plain("["))
			out = append(out, unlink(t.Text)...)
			out = append(out, comment.Plain("]"))
		case *comment.Link:
			t.Text = unlink(t.Text)
			out = append(out, t)
		default:
			out = append(out, t)
		}
	}
	return out
}

// withoutPackage is the package doc without its conventional opening
// "Package x ": the page is about the plugin, not the Go package.
func withoutPackage(p *doc.Package) string {
	s := p.Doc
	if rest, ok := strings.CutPrefix(s, "Package "+p.Name+" "); ok {
		r, n := utf8.DecodeRuneInString(rest)
		s = string(unicode.ToUpper(r)) + rest[n:]
	}
	return s
}

// summary is the first sentence of the package doc, without "Package x".
func summary(p *doc.Package) string {
	s := p.Synopsis(withoutPackage(p))
	if t, ok := strings.CutSuffix(s, ":"); ok { // a sentence ending in a code block
		s = t + "."
	}
	return s
}

// usage is an HCL snippet with the plugin's required options.
func usage(f *engine.Factory, opts []option) string {
	width := 0
	for _, o := range opts {
		if o.required && !o.block {
			width = max(width, len(o.name))
		}
	}
	var body []string
	for _, o := range opts {
		switch {
		case !o.required:
		case o.block:
			body = append(body, o.name+" {", "}")
		default:
			body = append(body, fmt.Sprintf("%-*s = %s", width, o.name, placeholder(o.goType)))
		}
	}
	var b strings.Builder
	if f.Kind == ir.Codec {
		b.WriteString("# inside an input or output block:\n")
		fmt.Fprintf(&b, "codec %q {", f.Name)
	} else {
		fmt.Fprintf(&b, "%s %q {", f.Kind, f.Name)
	}
	if len(body) == 0 {
		b.WriteString("}\n")
		return b.String()
	}
	b.WriteString("\n")
	for _, l := range body {
		b.WriteString("  " + l + "\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// placeholder is a value of the right type for a required option in a usage
// snippet.
func placeholder(t reflect.Type) string {
	switch typeName(t) {
	case "string":
		return `"..."`
	case "number":
		return "0"
	case "bool":
		return "false"
	case "list(string)":
		return `["..."]`
	case "map(string)":
		return `{ key = "..." }`
	}
	if strings.HasPrefix(typeName(t), "list(") {
		return "[]"
	}
	if strings.HasPrefix(typeName(t), "map(") {
		return "{}"
	}
	return `"..."`
}

type indexEntry struct {
	kind       ir.Kind
	name, file string
	summary    string
}

// indexPage is docs/plugins/README.md.
func indexPage(entries []indexEntry) []byte {
	var b bytes.Buffer
	b.WriteString("<!-- Code generated by plugins/internal/docgen; DO NOT EDIT. -->\n\n")
	b.WriteString("# Plugin reference\n\n")
	b.WriteString("One page per plugin, generated from the code: the description is the plugin\n")
	b.WriteString("package's doc comment, the options table comes from its `Options` struct\n")
	b.WriteString("(names, types, defaults) and the fields' doc comments; the option groups\n")
	b.WriteString("several plugins share (TLS, charset, ECS compatibility) are sections of\n")
	b.WriteString("their own, documented once where the group is declared. The pipeline language,\n")
	fmt.Fprintf(&b, "conditionals, templates and the options every plugin takes are described in\n[the pipeline language reference](../pipeline-language.md).\n\n")
	b.WriteString("Regenerate with `go test ./plugins/internal/docgen -update`.\n\n")
	b.WriteString("| Kind | Name | Summary |\n|---|---|---|\n")
	kinds := []ir.Kind{ir.Input, ir.Filter, ir.Output, ir.Codec}
	slices.SortStableFunc(entries, func(a, b indexEntry) int {
		if c := slices.Index(kinds, a.kind) - slices.Index(kinds, b.kind); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	for _, e := range entries {
		rel := strings.TrimPrefix(e.file, DocsDir+"/")
		fmt.Fprintf(&b, "| %s | [%s](%s) | %s |\n", e.kind, e.name, rel, textCell(e.summary))
	}
	return b.Bytes()
}
