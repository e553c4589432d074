package supervisor

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// parseSettings parses args as run's setting flags with dir/logstash.yml
// holding yml, and validates them.
func parseSettings(t *testing.T, yml string, args ...string) (*SettingFlags, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "logstash.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := AddSettingFlags(fs)
	if err := fs.Parse(append([]string{"--path.settings", dir}, args...)); err != nil {
		t.Fatal(err)
	}
	return f, f.Validate()
}

// TestSettingsPrecedence: flags over logstash.yml over the defaults, as
// Logstash; a short flag (-u, -l) counts as given under its long name.
func TestSettingsPrecedence(t *testing.T) {
	yml := "pipeline:\n  batch:\n    delay: 20\nlog.format: json\nqueue.max_bytes: 2mb\napi.enabled: false\nhttp.host: 0.0.0.0\n"
	f, err := parseSettings(t, yml, "-u", "7", "--log.format", "plain")
	if err != nil {
		t.Fatal(err)
	}
	s := f.settings
	if s.Pipeline.BatchDelay != 7*time.Millisecond || s.Log.Format != "plain" {
		t.Errorf("flags should win: delay %v, format %q", s.Pipeline.BatchDelay, s.Log.Format)
	}
	if s.Pipeline.Queue.MaxBytes != 2<<20 || *s.API.Enabled {
		t.Errorf("logstash.yml should win over defaults: max_bytes %d, api.enabled %v", s.Pipeline.Queue.MaxBytes, *s.API.Enabled)
	}
	if s.API.Host != "0.0.0.0" {
		t.Errorf("http.host, Logstash 7's name, should set api.http.host: %q", s.API.Host)
	}
	if s.DataPath != "data" || s.Log.StatusInterval != 30*time.Second {
		t.Errorf("defaults: path.data %q, status interval %v", s.DataPath, s.Log.StatusInterval)
	}
}

// TestSettingsFileRefusesUnknown: every unknown key and bad value is named
// with its line; a password's value never appears.
func TestSettingsFileRefusesUnknown(t *testing.T) {
	t.Setenv("PW", "hunter2secret")
	_, err := parseSettings(t, "pipeline.wrokers: 2\napi:\n  http:\n    prot: 9600\napi.auth.basic.password: ${PW}\nlog.level: loud\nzzz.colour: x\n")
	var fe *SettingsFileError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v; want a SettingsFileError", err)
	}
	got := err.Error()
	for _, want := range []string{
		`:1:1: unknown setting "pipeline.wrokers". Did you mean "pipeline.workers"?`,
		`:4:5: unknown setting "api.http.prot". Did you mean "api.http.port"?`,
		`:6:12: log.level is trace, debug, info, warn, error or fatal, not "loud".`,
		`:7:1: unknown setting "zzz.colour". Supported:`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "hunter2secret") {
		t.Error("the password was printed")
	}
}

// TestFlagError: an unknown flag gets the closest name, a one-letter one no
// guess.
func TestFlagError(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	AddFlags(fs)
	for args, want := range map[string]string{
		"--pipeline.batch.sise 3": "unknown flag --pipeline.batch.sise. Did you mean --pipeline.batch.size?",
		"-x":                      "unknown flag -x.",
		"-w":                      "flag needs an argument: -w",
	} {
		err := fs.Parse(strings.Fields(args))
		if got := flagError(fs, err); got != want {
			t.Errorf("%s: %q; want %q", args, got, want)
		}
	}
}

// TestSettingsFileIgnoresLogstashOnly: the settings of the official
// container image's logstash.yml that mean nothing here (node.name,
// xpack.monitoring.*) are read with a warning each, not refused; a typo in
// a setting we have is still refused.
func TestSettingsFileIgnoresLogstashOnly(t *testing.T) {
	yml := "node.name: es-logs-1\nxpack.monitoring.enabled: false\nxpack:\n  monitoring:\n    elasticsearch.hosts: [ \"http://es:9200\" ]\npipeline.workers: 3\n"
	f, err := parseSettings(t, yml)
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	if len(f.ignored) != 3 || !strings.Contains(strings.Join(f.ignored, " "), "node.name") {
		t.Fatalf("ignored = %q", f.ignored)
	}
	if f.settings.Pipeline.Workers != 3 {
		t.Fatalf("workers = %d", f.settings.Pipeline.Workers)
	}
	if _, err := parseSettings(t, "node.name: x\npipeline.wokers: 3\n"); err == nil || !strings.Contains(err.Error(), "pipeline.workers") {
		t.Fatalf("typo: err = %v", err)
	}
	// --strict refuses them, naming each (#23).
	_, err = parseSettings(t, yml, "--strict")
	if err == nil || !strings.Contains(err.Error(), "--strict") || !strings.Contains(err.Error(), "node.name") ||
		!strings.Contains(err.Error(), "xpack.monitoring.enabled") {
		t.Fatalf("--strict: err = %v", err)
	}
	if _, err := parseSettings(t, "pipeline.workers: 3\n", "--strict"); err != nil {
		t.Fatalf("--strict refused a logstash.yml without Logstash-only settings: %v", err)
	}
}

// TestECSCompatibilitySetting: pipeline.ecs_compatibility in logstash.yml
// is a setting (not ignored), the flag wins over it, and a value Logstash
// refuses is refused with its line.
func TestECSCompatibilitySetting(t *testing.T) {
	f, err := parseSettings(t, "pipeline.ecs_compatibility: disabled\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.settings.Pipeline.ECSCompatibility; got != "disabled" || len(f.ignored) != 0 {
		t.Errorf("ECSCompatibility = %q, ignored %v; want disabled, none ignored", got, f.ignored)
	}
	f, err = parseSettings(t, "pipeline:\n  ecs_compatibility: disabled\n", "--pipeline.ecs_compatibility", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.settings.Pipeline.ECSCompatibility; got != "v1" {
		t.Errorf("with the flag, ECSCompatibility = %q; want v1", got)
	}
	if _, err := parseSettings(t, "pipeline.ecs_compatibility: v2\n"); err == nil || !strings.Contains(err.Error(), ":1:") {
		t.Errorf("v2: err = %v; want a refusal naming line 1", err)
	}
}
