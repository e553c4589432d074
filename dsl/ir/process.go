package ir

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// ProcessSettings are the settings of the whole process, Logstash's
// logstash.yml: where state is kept, logging, the monitoring API, and the
// defaults of every pipeline's settings. The command line gives them today;
// SetSetting reads them by their Logstash names, so a logstash.yml can.
type ProcessSettings struct {
	DataPath string // path.data
	// PipelineID is pipeline.id: the name of the pipeline of -f or -e
	// (default "main"); pipelines.yml names its own.
	PipelineID string
	// ConfigPath and ConfigString are logstash.yml's path.config and
	// config.string: the configuration when the command line gives none
	// (-f, -e, --pipelines); pipelines.yml is then not read, as Logstash.
	ConfigPath, ConfigString string
	// ConfigDebug is config.debug: log each pipeline's configuration, secrets
	// redacted, at debug level.
	ConfigDebug *bool
	// SupportEscapes is config.support_escapes: escape sequences in .conf
	// quoted strings are processed.
	SupportEscapes *bool
	// MemorySoftLimit is memory.soft_limit (not a Logstash setting): the
	// Go runtime's soft memory limit in bytes; -1 when turned off ("0").
	MemorySoftLimit int64
	Log             LogSettings
	API             APISettings
	Reload          ReloadSettings
	// Pipeline are every pipeline's defaults: a pipeline's own settings
	// override them (Settings.Or).
	Pipeline Settings
}

// LogSettings are Logstash's log.* settings.
type LogSettings struct {
	Level          slog.Level    // log.level
	StatusInterval time.Duration // log.status_interval: how often the status line is logged; 0: never
	Format         string        // log.format: "plain" (default) or "json"
	// Path is path.logs: when set, the log also goes to
	// <Path>/logstash-plain.log (or logstash-json.log), as Logstash's
	// log4j2.properties names it.
	Path string
}

// APISettings are Logstash's api.* settings: the monitoring API.
type APISettings struct {
	Enabled  *bool  // api.enabled
	Host     string // api.http.host
	Port     string // api.http.port: a port or a range, "9600-9700" (checked with ParsePortRange)
	AuthType string // api.auth.type: "none" or "basic"
	Username string // api.auth.basic.username
	Password string // api.auth.basic.password
}

// ReloadSettings are Logstash's config.reload.* settings.
type ReloadSettings struct {
	Automatic *bool         // config.reload.automatic
	Interval  time.Duration // config.reload.interval: how often the files are checked
}

// processSettings is the table of process settings; they have no place in
// a pipeline block.
var processSettings = []setting[ProcessSettings]{
	{name: "path.data", kind: directory, field: func(s *ProcessSettings) any { return &s.DataPath }},
	{name: "log.level", kind: level, field: func(s *ProcessSettings) any { return &s.Log.Level }},
	{name: "log.format", kind: oneOf("plain", "json"), field: func(s *ProcessSettings) any { return &s.Log.Format }},
	{name: "path.logs", kind: directory, field: func(s *ProcessSettings) any { return &s.Log.Path }},
	{name: "path.config", kind: nonEmpty, field: func(s *ProcessSettings) any { return &s.ConfigPath }},
	{name: "config.string", kind: nonEmpty, field: func(s *ProcessSettings) any { return &s.ConfigString }},
	{name: "pipeline.id", kind: nonEmpty, field: func(s *ProcessSettings) any { return &s.PipelineID }},
	{name: "config.debug", kind: boolean, field: func(s *ProcessSettings) any { return &s.ConfigDebug }},
	{name: "config.support_escapes", kind: boolean, field: func(s *ProcessSettings) any { return &s.SupportEscapes }},
	{name: "log.status_interval", kind: duration, field: func(s *ProcessSettings) any { return &s.Log.StatusInterval }},
	{name: "api.enabled", kind: boolean, field: func(s *ProcessSettings) any { return &s.API.Enabled }},
	{name: "api.http.host", kind: anyText, field: func(s *ProcessSettings) any { return &s.API.Host }},
	{name: "api.http.port", kind: portRange, field: func(s *ProcessSettings) any { return &s.API.Port }},
	{name: "api.auth.type", kind: oneOf("none", "basic"), field: func(s *ProcessSettings) any { return &s.API.AuthType }},
	{name: "api.auth.basic.username", kind: anyText, field: func(s *ProcessSettings) any { return &s.API.Username }},
	{name: "api.auth.basic.password", kind: anyText, field: func(s *ProcessSettings) any { return &s.API.Password }},
	{name: "config.reload.automatic", kind: boolean, field: func(s *ProcessSettings) any { return &s.Reload.Automatic }},
	{name: "config.reload.interval", kind: positiveDuration, field: func(s *ProcessSettings) any { return &s.Reload.Interval }},
	{name: "memory.soft_limit", kind: sizeOrOff, field: func(s *ProcessSettings) any { return &s.MemorySoftLimit }},
}

// sizeOrOff is a size such as "128mb", or 0 (off), kept as -1.
var sizeOrOff = typed(str, func(s string) (int64, bool) {
	if strings.TrimSpace(s) == "0" {
		return -1, true
	}
	n, err := ParseByteSize(s)
	return n, err == nil && n > 0
}, func(n int64) string {
	if n < 0 {
		return "0"
	}
	return fmt.Sprintf("%db", n)
}, `%[1]s must be a size such as "128mb", or 0 (off); %[2]q is not.`, "write a size such as 128mb, or 0")

// ProcessSettingNames returns the dotted names ProcessSettings.SetSetting
// takes: the process's own, then the pipelines' (LogstashSettingNames).
func ProcessSettingNames() []string {
	var names []string
	for _, st := range processSettings {
		names = append(names, st.name)
	}
	return append(names, LogstashSettingNames()...)
}

// SetSetting is like Settings.SetSetting, for the process's settings and
// the pipelines' defaults.
func (s *ProcessSettings) SetSetting(name, text string) (ok bool, detail string, err error) {
	if ok, detail, err = setText(processSettings, s, name, text); ok {
		return ok, detail, err
	}
	return s.Pipeline.SetSetting(name, text)
}

var (
	// level is a log level, as log/slog reads it (debug, info, warn, error).
	// Logstash's trace and fatal read as the nearest slog level: trace
	// logs what debug logs, fatal what error logs.
	level = typed(str, func(s string) (slog.Level, bool) {
		switch strings.ToLower(s) {
		case "trace":
			s = "debug"
		case "fatal":
			s = "error"
		}
		var l slog.Level
		return l, l.UnmarshalText([]byte(s)) == nil
	}, slog.Level.String, "%[1]s is trace, debug, info, warn, error or fatal, not %[2]q.", "use trace, debug, info, warn, error or fatal")
	// duration is a Go duration, e.g. "30s".
	duration = typed(str, func(s string) (time.Duration, bool) {
		d, err := time.ParseDuration(s)
		return d, err == nil && d >= 0
	}, time.Duration.String, `%[1]s must be a duration, e.g. "30s"; %[2]q is not.`, "give a duration, e.g. 30s")
	positiveDuration = typed(str, func(s string) (time.Duration, bool) {
		d, err := time.ParseDuration(s)
		return d, err == nil && d > 0
	}, time.Duration.String, `%[1]s must be a duration above 0, e.g. "3s"; %[2]q is not.`, "give a duration above 0, e.g. 3s")
	nonEmpty = typed(str, func(s string) (string, bool) { return s, s != "" }, same[string],
		"%[1]s must not be empty.", "give a value")
	anyText   = typed(str, func(s string) (string, bool) { return s, true }, same[string], "", "")
	portRange = typed(str, func(s string) (string, bool) {
		_, _, err := ParsePortRange(s)
		return strings.TrimSpace(s), err == nil
	}, same[string], "%[1]s is a port or a port range such as 9600-9700, not %[2]q.", "give a port or a port range such as 9600-9700")
)
