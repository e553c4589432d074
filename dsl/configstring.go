package dsl

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/dsl/logstash"
)

// ConfigStringName names a configuration string (pipeline -e) in
// diagnostics.
const ConfigStringName = "config-string"

// The sections Logstash adds to a configuration string that lacks them
// (LogStash::Config::Source::Local::ConfigStringLoader).
const (
	DefaultInput  = "input { stdin { } }"
	DefaultOutput = "output { stdout { codec => rubydebug } }"
)

// LoadConfigString loads a configuration given as a string in Logstash .conf
// syntax, as `logstash -e` does: without any input, DefaultInput is added;
// without any output, DefaultOutput. Diagnostics name the string
// ConfigStringName, and Config.Files holds it (and the defaults added) for
// snippets. ${VAR} references are resolved from the process environment.
func LoadConfigString(s string) (*ir.Config, hcl.Diagnostics) {
	return defaultLoader.LoadConfigString(s)
}

// LoadConfigString is like the package function LoadConfigString.
func (l Loader) LoadConfigString(s string) (*ir.Config, hcl.Diagnostics) {
	return l.load(configStringSources(ConfigStringName, s))
}

// configStringSources returns the sources of the configuration string s,
// named name: s itself, read as .conf, and the default input and output
// sections it needs. Logstash looks for the text "input {" and "output {";
// here an input (or output) section that holds no plugin counts as missing
// too, since a pipeline without inputs or outputs cannot run. When s has a
// syntax error nothing is added: it is refused anyway.
func configStringSources(name, s string) []source {
	srcs := []source{{name: name, src: []byte(s), fe: parseConf}}
	cf, _ := logstash.ParseConf([]byte(s), name, logstash.ConfOptions{})
	if cf.Incomplete {
		return srcs
	}
	var hasIn, hasOut bool
	if p := cf.Pipeline; p != nil {
		hasIn, hasOut = len(p.Inputs) > 0, len(p.Outputs) > 0
	}
	if !hasIn {
		srcs = append(srcs, source{name: name + " (default input)", src: []byte(DefaultInput), fe: parseConf})
	}
	if !hasOut {
		srcs = append(srcs, source{name: name + " (default output)", src: []byte(DefaultOutput), fe: parseConf})
	}
	return srcs
}
