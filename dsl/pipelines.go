package dsl

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"gopkg.in/yaml.v3"

	"github.com/pipelined/pipeline/dsl/ir"
)

// LoadPipelinesYML loads every pipeline listed in a Logstash pipelines.yml, each
// from its own path.config (a file, a directory or a glob, relative paths taken
// from the directory of pipelines.yml) or config.string (which, as with -e, gets
// DefaultInput and DefaultOutput when it lacks inputs or outputs), as an
// isolated pipeline named by pipeline.id.
func LoadPipelinesYML(path string) (*ir.Config, hcl.Diagnostics) {
	return Loader{}.LoadPipelinesYML(path)
}

// Settings of pipelines.yml that we understand: which configuration, and
// the pipeline settings of ir's table; the others are refused so a
// deployment never runs with a setting silently ignored.
var pipelinesYMLKeys = append([]string{"pipeline.id", "path.config", "config.string"}, ir.LogstashSettingNames()...)

// LoadPipelinesYML is like the package function LoadPipelinesYML.
func (l Loader) LoadPipelinesYML(path string) (*ir.Config, hcl.Diagnostics) {
	cfg := &ir.Config{Files: map[string]*hcl.File{}}
	src, err := os.ReadFile(path)
	if err != nil {
		return cfg, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read pipelines.yml", Detail: err.Error()}}
	}
	cfg.Files[path] = &hcl.File{Body: hcl.EmptyBody(), Bytes: src}
	at := func(n *yaml.Node) *hcl.Range {
		p := hcl.Pos{Line: n.Line, Column: n.Column}
		return &hcl.Range{Filename: path, Start: p, End: hcl.Pos{Line: n.Line, Column: n.Column + max(len(n.Value), 1)}}
	}
	errAt := func(n *yaml.Node, summary, detail string) *hcl.Diagnostic {
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: at(n)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return cfg, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid pipelines.yml",
			Detail: err.Error(), Subject: &hcl.Range{Filename: path, Start: hcl.InitialPos, End: hcl.InitialPos}}}
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.SequenceNode {
		return cfg, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid pipelines.yml",
			Detail:  "pipelines.yml must be a list of pipelines, each starting with \"- pipeline.id: <name>\".",
			Subject: &hcl.Range{Filename: path, Start: hcl.InitialPos, End: hcl.InitialPos}}}
	}
	var diags hcl.Diagnostics
	seen := map[string]bool{}
	base := filepath.Dir(path)
	for _, item := range doc.Content[0].Content {
		if item.Kind != yaml.MappingNode {
			diags = append(diags, errAt(item, "Invalid pipeline entry", "Each entry is a map of settings, e.g. \"- pipeline.id: main\"."))
			continue
		}
		vals := map[string]*yaml.Node{}
		var settings ir.Settings
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := item.Content[i], item.Content[i+1]
			if !slices.Contains(pipelinesYMLKeys, k.Value) {
				diags = append(diags, errAt(k, "Unsupported pipelines.yml setting",
					fmt.Sprintf("%q is not supported.%s Supported: %s.", k.Value, didYouMean(k.Value, pipelinesYMLKeys), strings.Join(pipelinesYMLKeys, ", "))))
				continue
			}
			if k.Value != "config.string" && v.Kind == yaml.ScalarNode {
				// config.string's ${VAR}s are the configuration's own,
				// resolved where it is parsed.
				text, missing := ir.ExpandSettingsEnv(v.Value)
				if missing != "" {
					diags = append(diags, errAt(v, "Invalid "+k.Value,
						fmt.Sprintf("The environment variable %s is not set (write ${%s:default} for a default).", missing, missing)))
					continue
				}
				c := *v
				c.Value = text
				v = &c
			}
			vals[k.Value] = v
			if _, detail, err := settings.SetSetting(k.Value, v.Value); err != nil {
				diags = append(diags, errAt(v, "Invalid "+k.Value, detail))
			}
		}
		idNode, ok := vals["pipeline.id"]
		if !ok || idNode.Value == "" {
			diags = append(diags, errAt(item, "Missing pipeline.id", "Every entry of pipelines.yml needs a pipeline.id."))
			continue
		}
		id := idNode.Value
		if seen[id] {
			diags = append(diags, errAt(idNode, "Duplicate pipeline.id", fmt.Sprintf("The pipeline %q is listed twice.", id)))
			continue
		}
		seen[id] = true
		var srcs []source
		pc, hasPath := vals["path.config"]
		cs, hasString := vals["config.string"]
		switch {
		case hasPath == hasString:
			diags = append(diags, errAt(idNode, "Pipeline needs one configuration", fmt.Sprintf("Give pipeline %q either path.config or config.string.", id)))
			continue
		case hasString:
			// Like -e: the default input and output are added if missing.
			srcs = configStringSources(fmt.Sprintf("%s(config.string)", id), cs.Value)
		default:
			names, d := expandPathConfig(base, pc.Value)
			if d != "" {
				diags = append(diags, errAt(pc, "Invalid path.config", d))
				continue
			}
			var rd hcl.Diagnostics
			srcs, rd = readSources(names)
			diags = append(diags, rd...)
		}
		sub, d := l.load(srcs)
		diags = append(diags, d...)
		for name, f := range sub.Files {
			cfg.Files[name] = f
		}
		for _, p := range sub.Pipelines {
			if p.Name != "main" {
				diags = append(diags, errAt(idNode, "Pipeline block in pipelines.yml pipeline",
					fmt.Sprintf("The files of pipeline %q declare their own pipeline %q; files listed in pipelines.yml hold top-level blocks only.", id, p.Name)))
				continue
			}
			p.Name = id
			p.Settings = settings
			cfg.Pipelines = append(cfg.Pipelines, p)
		}
	}
	return cfg, diags
}

// expandPathConfig turns a path.config value into the files to load, in
// lexical order: a file, a directory's config files, or a glob.
func expandPathConfig(base, pattern string) ([]string, string) {
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(base, pattern)
	}
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Sprintf("%q is not a valid glob: %v.", pattern, err)
	}
	var names []string
	for _, m := range matches {
		info, err := os.Stat(m)
		if err != nil {
			continue
		}
		if !info.IsDir() {
			names = append(names, m)
			continue
		}
		entries, _ := os.ReadDir(m)
		for _, e := range entries {
			if _, ok := frontEnds[filepath.Ext(e.Name())]; ok && !e.IsDir() && !strings.HasPrefix(e.Name(), ".") && !IsTestFile(e.Name()) {
				names = append(names, filepath.Join(m, e.Name()))
			}
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Sprintf("No configuration files match %q.", pattern)
	}
	return names, ""
}

func didYouMean(given string, candidates []string) string {
	if s := ir.Suggest(given, candidates); s != "" {
		return fmt.Sprintf(" Did you mean %q?", s)
	}
	return ""
}

// readSources reads the named files, reporting the ones that cannot be read.
func readSources(names []string) ([]source, hcl.Diagnostics) {
	var (
		srcs  []source
		diags hcl.Diagnostics
	)
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read configuration", Detail: err.Error()})
			continue
		}
		srcs = append(srcs, source{name: name, src: b})
	}
	return srcs, diags
}
