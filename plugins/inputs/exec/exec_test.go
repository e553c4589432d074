package exec

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/codecs/line"
	"github.com/pipelined/pipeline/plugins/codecs/plain"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// runUntil runs the input until it has emitted n events (or 30 s passed)
// and returns them.
func runUntil(t *testing.T, in *Input, n int) []*event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []*event.Event
	err := in.Run(ctx, func(b engine.Batch) error {
		got = append(got, b.Events...)
		if len(got) >= n {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(got) < n {
		t.Fatalf("got %d events, want %d", len(got), n)
	}
	return got
}

func newInput(t *testing.T, opts string, codec engine.Codec) *Input {
	t.Helper()
	if codec == nil {
		codec = plugintest.MustCodec(t, plain.New)
	}
	return plugintest.MustNew(t, New, opts, engine.Resources{Codec: codec, BatchSize: 10})
}

func get(e *event.Event, ref string) any {
	v, _ := e.Get(event.MustRef(ref))
	return v
}

// Logstash's fields without ECS: the whole output is one plain message.
func TestIntervalLegacyFields(t *testing.T) {
	const cmd = `printf 'a\nb'; exit 3`
	in := newInput(t, "command = \""+strings.ReplaceAll(cmd, `\`, `\\`)+"\"\ninterval = 0\necs_compatibility = \"disabled\"", nil)
	evs := runUntil(t, in, 2)
	for _, e := range evs[:2] {
		if get(e, "message") != "a\nb" || get(e, "command") != cmd || get(e, "[@metadata][exit_status]") != int64(3) {
			t.Errorf("event %v: message %q command %q exit %v", e, get(e, "message"), get(e, "command"), get(e, "[@metadata][exit_status]"))
		}
		if h, _ := get(e, "host").(string); h == "" {
			t.Errorf("no host: %v", get(e, "host"))
		}
		if d, ok := get(e, "[@metadata][duration]").(float64); !ok || d <= 0 {
			t.Errorf("duration %v", get(e, "[@metadata][duration]"))
		}
	}
}

// With ECS, the fields move, and a line codec makes one event per line.
func TestECSFieldsLineCodec(t *testing.T) {
	codec := plugintest.MustCodec(t, line.New)
	in := newInput(t, "command = \"echo one; echo two\"\ninterval = 60\necs_compatibility = \"v8\"", codec)
	evs := runUntil(t, in, 2)
	for i, want := range []string{"one", "two"} {
		e := evs[i]
		if get(e, "message") != want || get(e, "[process][command_line]") != "echo one; echo two" || get(e, "[process][exit_code]") != int64(0) {
			t.Errorf("event %d: %v %v %v", i, get(e, "message"), get(e, "[process][command_line]"), get(e, "[process][exit_code]"))
		}
		if h, _ := get(e, "[host][name]").(string); h == "" {
			t.Errorf("no [host][name]")
		}
		if v, ok := get(e, "[@metadata][input][exec][process][elapsed_time]").(int64); !ok || v <= 0 {
			t.Errorf("elapsed_time %v", get(e, "[@metadata][input][exec][process][elapsed_time]"))
		}
		if get(e, "command") != nil || get(e, "[@metadata][exit_status]") != nil {
			t.Errorf("legacy fields with ECS")
		}
	}
}

// A command that writes without end is killed at max_output_bytes and what
// was read is still decoded.
func TestOutputBudget(t *testing.T) {
	in := newInput(t, "command = \"while :; do echo xxxxxxxxxxxxxxxx; done\"\ninterval = 3600\nmax_output_bytes = 1000", nil)
	evs := runUntil(t, in, 1)
	msg, _ := get(evs[0], "message").(string)
	if len(msg) != 1000 || !strings.HasPrefix(msg, "xxxx") {
		t.Errorf("message of %d bytes, want 1000", len(msg))
	}
}

// Stopping the pipeline kills a running command and Run returns.
func TestStopKillsCommand(t *testing.T) {
	in := newInput(t, "command = \"sleep 600\"\ninterval = 1", nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx, func(engine.Batch) error { return nil }) }()
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel while the command sleeps")
	}
}

// schedule runs the command at the cron times (every second here).
func TestSchedule(t *testing.T) {
	in := newInput(t, "command = \"echo tick\"\nschedule = \"* * * * * *\"", nil)
	evs := runUntil(t, in, 2)
	if get(evs[1], "message") != "tick\n" {
		t.Errorf("message %q", get(evs[1], "message"))
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct{ opts, want string }{
		{`command = "ls"`, "either"},
		{"command = \"ls\"\ninterval = 5\nschedule = \"* * * * *\"", "either"},
		{"command = \"ls\"\nschedule = \"* * *\"", "schedule"},
		{"command = \"\"\ninterval = 5", "command"},
		{"command = \"ls\"\ninterval = 5\nmax_output_bytes = 0", "max_output_bytes"},
	} {
		diags := plugintest.BuildDiags(t, ir.Input, "exec", tc.opts)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s: diags %v; want %q", tc.opts, diags, tc.want)
		}
	}
}
