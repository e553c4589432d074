package dsl

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPipelinesYMLDeadLetterQueue(t *testing.T) {
	dir := t.TempDir()
	yml := filepath.Join(dir, "pipelines.yml")
	src := `- pipeline.id: a
  config.string: "input { generator {} } output { null {} }"
  dead_letter_queue.enable: true
  path.dead_letter_queue: /tmp/dlq
  dead_letter_queue.max_bytes: 10mb
  dead_letter_queue.storage_policy: drop_older
  dead_letter_queue.flush_interval: 250
  dead_letter_queue.retain.age: 3d
- pipeline.id: b
  config.string: "input { generator {} } output { null {} }"
  dead_letter_queue.enable: "yes please"
  dead_letter_queue.max_bytes: huge
  dead_letter_queue.storage_policy: drop_everything
  dead_letter_queue.flush_interval: soon
  dead_letter_queue.retain.age: 3 days
`
	if err := os.WriteFile(yml, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := LoadPipelinesYML(yml)
	var got []string
	for _, d := range diags {
		got = append(got, d.Subject.Filename[len(dir)+1:]+":"+strconv.Itoa(d.Subject.Start.Line)+": "+d.Summary)
	}
	want := []string{
		"pipelines.yml:11: Invalid dead_letter_queue.enable",
		"pipelines.yml:12: Invalid dead_letter_queue.max_bytes",
		"pipelines.yml:13: Invalid dead_letter_queue.storage_policy",
		"pipelines.yml:14: Invalid dead_letter_queue.flush_interval",
		"pipelines.yml:15: Invalid dead_letter_queue.retain.age",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	d := cfg.Pipelines[0].Settings.DeadLetterQueue
	if d.Enable == nil || !*d.Enable || d.Path != "/tmp/dlq" || d.MaxBytes != 10<<20 || d.StoragePolicy != "drop_older" || d.FlushInterval != 250*time.Millisecond || d.RetainAge != 3*24*time.Hour {
		t.Errorf("pipeline a dead letter queue = %+v", d)
	}
}

// FormatHCL prints the dead_letter_queue settings so that they load back.
func TestFormatHCLDeadLetterQueue(t *testing.T) {
	dir := t.TempDir()
	yml := filepath.Join(dir, "pipelines.yml")
	src := "- pipeline.id: a\n  config.string: \"input { generator {} } output { null {} }\"\n" +
		"  dead_letter_queue.enable: false\n  path.dead_letter_queue: /tmp/d q\n  dead_letter_queue.max_bytes: 3mb\n" +
		"  dead_letter_queue.storage_policy: drop_older\n  dead_letter_queue.flush_interval: 9\n  dead_letter_queue.retain.age: 12h\n"
	if err := os.WriteFile(yml, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := LoadPipelinesYML(yml)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	out, diags := FormatHCL(cfg)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	hclPath := filepath.Join(dir, "p.hcl")
	if err := os.WriteFile(hclPath, out, 0o644); err != nil {
		t.Fatal(err)
	}
	back, diags := Load(hclPath)
	if diags.HasErrors() {
		t.Fatalf("%s\n%s", diags, out)
	}
	got, want := back.Pipelines[0].Settings.DeadLetterQueue, cfg.Pipelines[0].Settings.DeadLetterQueue
	if dumpDLQ(got) != dumpDLQ(want) {
		t.Errorf("loaded back %s; want %s\n%s", dumpDLQ(got), dumpDLQ(want), out)
	}
}
