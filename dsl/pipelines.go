package dsl

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
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

// Settings of pipelines.yml that we understand; the others are refused so a
// deployment never runs with a setting silently ignored.
var pipelinesYMLKeys = []string{
	"pipeline.id", "path.config", "config.string", "pipeline.workers",
	"pipeline.batch.size", "pipeline.batch.delay",
	"queue.type", "path.queue", "queue.max_bytes", "queue.page_capacity", "queue.checkpoint.writes", "queue.drain",
	"dead_letter_queue.enable", "path.dead_letter_queue", "dead_letter_queue.max_bytes",
	"dead_letter_queue.storage_policy", "dead_letter_queue.flush_interval", "dead_letter_queue.retain.age",
}

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
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := item.Content[i], item.Content[i+1]
			if !slices.Contains(pipelinesYMLKeys, k.Value) {
				diags = append(diags, errAt(k, "Unsupported pipelines.yml setting",
					fmt.Sprintf("%q is not supported.%s Supported: %s.", k.Value, didYouMean(k.Value, pipelinesYMLKeys), strings.Join(pipelinesYMLKeys, ", "))))
				continue
			}
			vals[k.Value] = v
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
		var settings ir.Settings
		for key, dst := range map[string]*int{"pipeline.workers": &settings.Workers, "pipeline.batch.size": &settings.BatchSize} {
			if n, ok := vals[key]; ok {
				v, err := strconv.Atoi(n.Value)
				if err != nil || v <= 0 {
					diags = append(diags, errAt(n, "Invalid "+key, fmt.Sprintf("%s must be a positive whole number, not %q.", key, n.Value)))
					continue
				}
				*dst = v
			}
		}
		if n, ok := vals["pipeline.batch.delay"]; ok {
			ms, err := strconv.Atoi(n.Value)
			if err != nil || ms < 0 {
				diags = append(diags, errAt(n, "Invalid pipeline.batch.delay", fmt.Sprintf("pipeline.batch.delay is in milliseconds, e.g. 50, not %q.", n.Value)))
			} else {
				settings.BatchDelay = fmt.Sprintf("%dms", ms)
			}
		}
		for _, d := range queueSettingsYML(vals, &settings.Queue) {
			diags = append(diags, errAt(d.node, d.summary, d.detail))
		}
		for _, d := range dlqSettingsYML(vals, &settings.DeadLetterQueue) {
			diags = append(diags, errAt(d.node, d.summary, d.detail))
		}
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
			if _, ok := frontEnds[filepath.Ext(e.Name())]; ok && !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
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
	if s := suggest(given, candidates); s != "" {
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

type ymlProblem struct {
	node            *yaml.Node
	summary, detail string
}

// dlqSettingsYML reads the dead_letter_queue.* settings of one pipeline.
func dlqSettingsYML(vals map[string]*yaml.Node, s *ir.DeadLetterQueueSettings) []ymlProblem {
	var probs []ymlProblem
	bad := func(n *yaml.Node, key, detail string) {
		probs = append(probs, ymlProblem{n, "Invalid " + key, detail})
	}
	if n, ok := vals["dead_letter_queue.enable"]; ok {
		v, err := strconv.ParseBool(n.Value)
		if err != nil {
			bad(n, "dead_letter_queue.enable", fmt.Sprintf("dead_letter_queue.enable is true or false, not %q.", n.Value))
		} else {
			s.Enable = &v
		}
	}
	if n, ok := vals["path.dead_letter_queue"]; ok {
		// A relative path is taken from the working directory, as in Logstash.
		if n.Value == "" {
			bad(n, "path.dead_letter_queue", "path.dead_letter_queue must name a directory.")
		} else {
			s.Path = n.Value
		}
	}
	if n, ok := vals["dead_letter_queue.max_bytes"]; ok {
		v, err := ir.ParseByteSize(n.Value)
		if err != nil || v <= 0 {
			bad(n, "dead_letter_queue.max_bytes", fmt.Sprintf("dead_letter_queue.max_bytes must be a positive size such as \"1024mb\", not %q.", n.Value))
		} else {
			s.MaxBytes = v
		}
	}
	if n, ok := vals["dead_letter_queue.storage_policy"]; ok {
		if n.Value != "drop_newer" && n.Value != "drop_older" {
			bad(n, "dead_letter_queue.storage_policy", fmt.Sprintf("dead_letter_queue.storage_policy is \"drop_newer\" or \"drop_older\", not %q.", n.Value))
		} else {
			s.StoragePolicy = n.Value
		}
	}
	if n, ok := vals["dead_letter_queue.flush_interval"]; ok {
		ms, err := strconv.Atoi(n.Value)
		if err != nil || ms <= 0 {
			bad(n, "dead_letter_queue.flush_interval", fmt.Sprintf("dead_letter_queue.flush_interval is a positive number of milliseconds, e.g. 5000, not %q.", n.Value))
		} else {
			s.FlushInterval = ms
		}
	}
	if n, ok := vals["dead_letter_queue.retain.age"]; ok {
		if _, err := ir.ParseAge(n.Value); err != nil {
			bad(n, "dead_letter_queue.retain.age", fmt.Sprintf("dead_letter_queue.retain.age is a whole number with d, h, m or s, e.g. 5d, not %q.", n.Value))
		} else {
			s.RetainAge = n.Value
		}
	}
	return probs
}

// queueSettingsYML reads the queue.* and path.queue settings of one pipeline.
func queueSettingsYML(vals map[string]*yaml.Node, s *ir.QueueSettings) []ymlProblem {
	var probs []ymlProblem
	bad := func(n *yaml.Node, key, detail string) {
		probs = append(probs, ymlProblem{n, "Invalid " + key, detail})
	}
	if n, ok := vals["queue.type"]; ok {
		if n.Value != "memory" && n.Value != "persisted" {
			bad(n, "queue.type", fmt.Sprintf("queue.type is \"memory\" or \"persisted\", not %q.", n.Value))
		} else {
			s.Type = n.Value
		}
	}
	if n, ok := vals["path.queue"]; ok {
		if n.Value == "" {
			bad(n, "path.queue", "path.queue must name a directory.")
		} else {
			s.Path = n.Value
		}
	}
	for key, dst := range map[string]*int64{"queue.max_bytes": &s.MaxBytes, "queue.page_capacity": &s.PageCapacity} {
		if n, ok := vals[key]; ok {
			v, err := ir.ParseByteSize(n.Value)
			if err != nil || v <= 0 {
				bad(n, key, fmt.Sprintf("%s must be a positive size such as \"1024mb\", not %q.", key, n.Value))
			} else {
				*dst = v
			}
		}
	}
	if n, ok := vals["queue.checkpoint.writes"]; ok {
		v, err := strconv.Atoi(n.Value)
		if err != nil || v <= 0 {
			bad(n, "queue.checkpoint.writes", fmt.Sprintf("queue.checkpoint.writes is a positive number of events (1 = fsync every write), not %q.", n.Value))
		} else {
			s.CheckpointWrites = v
		}
	}
	if n, ok := vals["queue.drain"]; ok {
		v, err := strconv.ParseBool(n.Value)
		if err != nil {
			bad(n, "queue.drain", fmt.Sprintf("queue.drain is true or false, not %q.", n.Value))
		} else {
			s.Drain = &v
		}
	}
	return probs
}
