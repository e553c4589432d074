// Package dsl loads pipeline configuration files into the IR (package
// dsl/ir). It picks the front-end by file extension: the HCL front-end
// (.hcl) lives in this package; Logstash .conf files get their own
// front-end, package dsl/logstash.
//
// A configuration is a file or a directory. A directory is read like
// Logstash's conf.d: its configuration files, in lexical order, are loaded
// together. Top-level input, filter, output and if blocks of all files form
// one pipeline named "main"; each `pipeline "<name>" { … }` block is an
// isolated pipeline of its own.
//
// The HCL syntax (see docs/pipeline-language.md):
//
//	pipeline "main" {
//	  workers     = 2      # optional settings: workers, batch_size, batch_delay
//	  input "generator" "gen" {   # kind "type" "id"; the id is optional
//	    count = 3
//	    codec "json" {}
//	  }
//	  if "[a] == 'b'" {           # a Logstash condition as the label
//	    filter "drop" {}
//	  } else if "[x] =~ /foo/" {
//	    filter "drop" {}
//	  } else {
//	    output "stdout" {}
//	  }
//	  output "stdout" "out" {}
//	}
//
// Before parsing, a pre-processor lets Logstash habits work in HCL strings:
// `%{SYSLOGLINE}` and `%{[field]}` stay literal, `${VAR}` and
// `${VAR:default}` are replaced by environment variables, `} else {` may
// share a line, and backslashes that are not HCL escapes (`\d`, `\[`) are
// kept. Diagnostics and AST ranges always refer to the original file.
//
// Besides files and directories (Load), configuration comes from a Logstash
// pipelines.yml (LoadPipelinesYML) or a -e string in .conf syntax
// (LoadConfigString). ConvertConf and FormatHCL print a configuration back
// in HCL.
package dsl

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/dsl/logstash"
)

// Loader loads configuration. The zero Loader is ready to use.
type Loader struct {
	// LookupEnv resolves ${VAR} references; nil means os.LookupEnv.
	LookupEnv func(key string) (string, bool)
	// SupportEscapes processes escape sequences in .conf quoted strings
	// (Logstash's config.support_escapes: true).
	SupportEscapes bool

	// keepEnv leaves ${VAR} in .conf string values as written (for
	// ConvertConf, which must never print a resolved secret).
	keepEnv bool
}

var defaultLoader Loader

// Load loads a configuration file, or every configuration file of a
// directory, with the process environment. It returns as much IR as it could
// build, together with every problem found, so that callers can report the
// engine's diagnostics as well. Config.Files holds every file read, for
// hcl.NewDiagnosticTextWriter.
func Load(path string) (*ir.Config, hcl.Diagnostics) { return defaultLoader.Load(path) }

// LoadSource loads one configuration file given as bytes; filename picks the
// front-end and names the file in diagnostics.
func LoadSource(filename string, src []byte) (*ir.Config, hcl.Diagnostics) {
	return defaultLoader.LoadSource(filename, src)
}

// frontEnd parses one file in one syntax.
type frontEnd func(l Loader, filename string, src []byte) (*fileIR, hcl.Diagnostics)

// frontEnds maps file extensions to front-ends.
var frontEnds = map[string]frontEnd{
	".hcl":  parseHCL,
	".conf": parseConf,
}

// parseConf is the Logstash .conf front-end (dsl/logstash.ParseConf). A
// .conf file has no pipeline blocks: its sections join the pipeline "main".
// Strings are kept as written (Logstash's default config.support_escapes:
// false); ${VAR} in string values is resolved with the Loader's
// environment. After a syntax error, which stops the parse, the file
// contributes nothing: a truncated pipeline would only draw misleading
// errors (a missing output, …) from the engine.
func parseConf(l Loader, filename string, src []byte) (*fileIR, hcl.Diagnostics) {
	opts := logstash.ConfOptions{LookupEnv: l.lookupEnv(), SupportEscapes: l.SupportEscapes}
	if l.keepEnv {
		opts.LookupEnv = nil
	}
	cf, diags := logstash.ParseConf(src, filename, opts)
	out := &fileIR{File: &hcl.File{Body: hcl.EmptyBody(), Bytes: src}, IDRanges: map[*ir.Plugin]hcl.Range{}}
	if cf.Pipeline != nil && !cf.Incomplete {
		out.IDRanges = cf.IDRanges
		out.Pipelines = []*ir.Pipeline{cf.Pipeline}
		out.Implicit = cf.Pipeline
	}
	return out, diags
}

// fileIR is what a front-end makes of one file.
type fileIR struct {
	File *hcl.File // with the file's original bytes
	// Pipelines in source order. Implicit, if not nil, is among them: the
	// blocks outside any pipeline block, which join pipeline "main".
	Pipelines []*ir.Pipeline
	Implicit  *ir.Pipeline
	// IDRanges says where explicit plugin ids are written; plugins without
	// an id have ID "" and get one when the pipeline is complete.
	IDRanges map[*ir.Plugin]hcl.Range
}

// IsTestFile reports whether name is a `pipeline test` file (NAME_test.hcl),
// which a directory of pipeline files may hold next to them and which is
// not loaded as part of the pipeline.
func IsTestFile(name string) bool {
	return strings.HasSuffix(filepath.Base(name), "_test.hcl")
}

// Load is like the package function Load.
func (l Loader) Load(path string) (*ir.Config, hcl.Diagnostics) {
	info, err := os.Stat(path)
	if err != nil {
		return &ir.Config{Files: map[string]*hcl.File{}}, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read configuration",
			Detail:   err.Error(),
		}}
	}
	var names []string
	if info.IsDir() {
		entries, err := os.ReadDir(path) // sorted by name
		if err != nil {
			return &ir.Config{Files: map[string]*hcl.File{}}, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Cannot read configuration",
				Detail:   err.Error(),
			}}
		}
		for _, e := range entries {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") || IsTestFile(e.Name()) {
				continue
			}
			if _, ok := frontEnds[filepath.Ext(e.Name())]; ok {
				names = append(names, filepath.Join(path, e.Name()))
			}
		}
		if len(names) == 0 {
			return &ir.Config{Files: map[string]*hcl.File{}}, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "No configuration files",
				Detail:   fmt.Sprintf("The directory %s holds no .hcl or .conf files.", path),
			}}
		}
	} else {
		names = []string{path}
	}
	srcs, diags := readSources(names)
	cfg, d := l.load(srcs)
	return cfg, append(diags, d...)
}

// LoadSource is like the package function LoadSource.
func (l Loader) LoadSource(filename string, src []byte) (*ir.Config, hcl.Diagnostics) {
	return l.load([]source{{name: filename, src: src}})
}

type source struct {
	name string
	src  []byte
	fe   frontEnd // nil: chosen by the extension of name
}

func (l Loader) lookupEnv() func(string) (string, bool) {
	if l.LookupEnv != nil {
		return l.LookupEnv
	}
	return os.LookupEnv
}

// load parses the files in order and assembles the pipelines.
func (l Loader) load(srcs []source) (*ir.Config, hcl.Diagnostics) {
	cfg := &ir.Config{Files: map[string]*hcl.File{}}
	// ${VAR} from the process environment: those that gave a secret are
	// kept out of the environment of the processes plugins start.
	var refs *envRefs
	if l.LookupEnv == nil && !l.keepEnv {
		refs = &envRefs{look: os.LookupEnv, seen: map[string]string{}}
		l.LookupEnv = refs.lookup
		defer func() { hideSecretEnv(cfg, refs.seen) }()
	}
	var (
		diags    hcl.Diagnostics
		main     *ir.Pipeline // the merged implicit pipeline
		idRanges = map[*ir.Plugin]hcl.Range{}
	)
	for _, s := range srcs {
		fe, ok := frontEnds[filepath.Ext(s.name)]
		if s.fe != nil {
			fe, ok = s.fe, true
		}
		if !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unsupported configuration file",
				Detail:   fmt.Sprintf("%s: configuration files end in .hcl (or .conf for Logstash syntax).", s.name),
			})
			continue
		}
		f, d := fe(l, s.name, s.src)
		diags = append(diags, d...)
		cfg.Files[s.name] = f.File
		for p, r := range f.IDRanges {
			idRanges[p] = r
		}
		for _, p := range f.Pipelines {
			if p != f.Implicit {
				cfg.Pipelines = append(cfg.Pipelines, p)
				continue
			}
			if main == nil {
				main = &ir.Pipeline{Name: "main", Range: p.Range}
				cfg.Pipelines = append(cfg.Pipelines, main)
			}
			main.Inputs = append(main.Inputs, p.Inputs...)
			main.Filters = append(main.Filters, p.Filters...)
			main.Outputs = append(main.Outputs, p.Outputs...)
		}
	}
	if len(cfg.Pipelines) == 0 && len(srcs) > 0 && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No pipeline",
			Detail:   `The configuration defines no pipeline: add input, filter and output blocks, or pipeline "<name>" { … } blocks.`,
			Subject:  &hcl.Range{Filename: srcs[0].name, Start: hcl.InitialPos, End: hcl.InitialPos},
		})
	}
	diags = append(diags, checkPipelineNames(cfg.Pipelines, main)...)
	for _, p := range cfg.Pipelines {
		diags = append(diags, assignIDs(p, idRanges)...)
	}
	return cfg, diags
}

// checkPipelineNames reports pipelines declared twice. implicit is the
// pipeline made of top-level blocks, if any.
func checkPipelineNames(ps []*ir.Pipeline, implicit *ir.Pipeline) hcl.Diagnostics {
	var diags hcl.Diagnostics
	first := map[string]*ir.Pipeline{}
	for _, p := range ps {
		prev, dup := first[p.Name]
		if !dup {
			first[p.Name] = p
			continue
		}
		d := &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Duplicate pipeline %q", p.Name),
			Detail:   fmt.Sprintf("A pipeline named %q is already declared at %s; pipeline names must be unique.", p.Name, prev.Range),
			Subject:  p.Range.Ptr(),
		}
		switch implicit {
		case prev:
			d.Detail = fmt.Sprintf("The input, filter, output and if blocks outside any pipeline block (the first at %s) already form the pipeline %q. Move them into this block, or rename it.", prev.Range, p.Name)
		case p:
			d.Detail = fmt.Sprintf("Input, filter, output and if blocks outside any pipeline block form the pipeline %q, which is already declared at %s. Move them into that block.", p.Name, prev.Range)
		}
		diags = append(diags, d)
	}
	return diags
}

// assignIDs checks that explicit plugin ids are unique within the pipeline
// and gives the other plugins the id "<type>_<n>", where n counts the
// plugins of that type (inputs, then filters, then outputs, each in source
// order), skipping ids already taken.
func assignIDs(p *ir.Pipeline, idRanges map[*ir.Plugin]hcl.Range) hcl.Diagnostics {
	var (
		diags hcl.Diagnostics
		all   []*ir.Plugin
	)
	for _, in := range p.Inputs {
		all = append(all, in)
	}
	all = appendPlugins(all, p.Filters)
	all = appendPlugins(all, p.Outputs)

	taken := map[string]*ir.Plugin{}
	for _, pl := range all {
		if pl.ID == "" {
			continue
		}
		if prev, dup := taken[pl.ID]; dup {
			r, ok := idRanges[pl]
			if !ok {
				r = pl.Range
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate plugin id",
				Detail: fmt.Sprintf("The id %q is already used by the %s %q at %s. Plugin ids must be unique within a pipeline.",
					pl.ID, prev.Kind, prev.Type, prev.Range),
				Subject: &r,
			})
			continue
		}
		taken[pl.ID] = pl
	}
	count := map[string]int{}
	for _, pl := range all {
		count[pl.Type]++
		if pl.ID != "" {
			continue
		}
		for n := count[pl.Type]; ; n++ {
			id := fmt.Sprintf("%s_%d", pl.Type, n)
			if _, ok := taken[id]; !ok {
				pl.ID = id
				taken[id] = pl
				break
			}
		}
	}
	return diags
}

// appendPlugins appends the plugins of a node tree in source order.
func appendPlugins(all []*ir.Plugin, nodes []ir.Node) []*ir.Plugin {
	for _, n := range nodes {
		switch n := n.(type) {
		case *ir.Plugin:
			all = append(all, n)
		case *ir.If:
			for _, b := range n.Branches {
				all = appendPlugins(all, b.Body)
			}
			all = appendPlugins(all, n.Else)
		}
	}
	return all
}
