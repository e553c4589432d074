package supervisor

import (
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/pipelined/pipeline/dsl/configdebug"
	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine/childenv"
)

// SettingsFileError lists every problem found in a logstash.yml, one per
// line as "file:line:col: message"; nothing was started.
type SettingsFileError struct{ Lines []string }

func (e *SettingsFileError) Error() string { return strings.Join(e.Lines, "\n") }

// oldNames are the names Logstash 7 gave api.* settings, which Logstash 8
// still reads (with a deprecation warning) and many logstash.yml files, the
// official container image's among them, still write.
var oldNames = map[string]string{
	"http.host": "api.http.host", "http.port": "api.http.port", "http.enabled": "api.enabled",
}

// logstashOnly are settings of Logstash that mean nothing here (the JVM's
// node identity, X-Pack, modules, plugins' paths, the keystore…): a
// logstash.yml that sets them, as the official container image's does, is
// read with one warning per key instead of being refused.
var logstashOnly = []string{
	"node.", "xpack.", "monitoring.", "modules", "cloud.", "keystore.", "path.plugins",
	"pipeline.unsafe_shutdown", "pipeline.separate_logs", "pipeline.plugin_classloaders",
	"pipeline.buffer.type", "pipeline.system", "config.field_reference.escape_style",
	"allow_superuser", "log.level.", "api.environment", "api.ssl.", "queue.checkpoint.acks",
	"queue.checkpoint.interval", "queue.checkpoint.retry", "dead_letter_queue.storage_policy.",
	"dead_letter_queue.max_bytes.",
}

func isLogstashOnly(name string) bool {
	for _, p := range logstashOnly {
		if name == p || (strings.HasSuffix(p, ".") && strings.HasPrefix(name, p)) || strings.HasPrefix(name, p+".") {
			return true
		}
	}
	return false
}

// readLogstashYML applies the settings of a Logstash logstash.yml to s.
// Keys are written flat ("pipeline.workers: 2") or nested ("pipeline:
// {workers: 2}"), as Logstash reads them. A key no setting has is refused
// with the closest known name, so a deployment never runs with a typo
// silently ignored; Logstash settings that mean nothing here are returned
// in ignored, for a warning each. Values never appear in messages (one may
// be a password).
func readLogstashYML(path string, s *ir.ProcessSettings) (ignored []string, err error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, &SettingsFileError{Lines: []string{fmt.Sprintf("--path.settings: %v", err)}}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, &SettingsFileError{Lines: []string{fmt.Sprintf("%s: %v", path, err)}}
	}
	if len(doc.Content) == 0 {
		return nil, nil // empty, or only comments: every setting keeps its default
	}
	names := ir.ProcessSettingNames()
	var lines []string
	bad := func(n *yaml.Node, format string, args ...any) {
		lines = append(lines, fmt.Sprintf("%s:%d:%d: ", path, n.Line, n.Column)+fmt.Sprintf(format, args...))
	}
	var walk func(prefix string, m *yaml.Node)
	walk = func(prefix string, m *yaml.Node) {
		if m.Kind != yaml.MappingNode {
			bad(m, "logstash.yml is a map of settings, e.g. \"pipeline.workers: 2\"")
			return
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			name := prefix + k.Value
			if isLogstashOnly(name) {
				ignored = append(ignored, fmt.Sprintf("%s:%d: %s", path, k.Line, name))
				continue
			}
			if v.Kind == yaml.MappingNode {
				walk(name+".", v)
				continue
			}
			if v.Kind != yaml.ScalarNode {
				bad(k, "%s takes one value", name)
				continue
			}
			if v.Tag == "!!null" {
				continue // "key:" with no value, as Logstash: the default
			}
			text, missing := ir.ExpandSettingsEnv(v.Value)
			if missing != "" {
				bad(v, "%s: the environment variable %s is not set (write ${%s:default} for a default)", name, missing, missing)
				continue
			}
			if configdebug.Secret(name) {
				// api.auth.basic.password: ${API_PASSWORD} and the like:
				// no process a plugin starts inherits the secret.
				childenv.Hide(ir.EnvRefNames(v.Value)...)
			}
			if n, ok := oldNames[name]; ok {
				name = n
			}
			ok, detail, _ := s.SetSetting(name, text)
			switch {
			case !ok:
				msg := fmt.Sprintf("unknown setting %q.", name)
				if best := ir.Suggest(name, names); best != "" {
					msg += fmt.Sprintf(" Did you mean %q?", best)
				} else {
					msg += " Supported: " + strings.Join(names, ", ") + "."
				}
				bad(k, "%s", msg)
			case detail != "":
				if strings.Contains(name, "password") {
					detail = name + " is not valid."
				}
				bad(v, "%s", detail)
			}
		}
	}
	walk("", doc.Content[0])
	if lines != nil {
		return ignored, &SettingsFileError{Lines: lines}
	}
	return ignored, nil
}
