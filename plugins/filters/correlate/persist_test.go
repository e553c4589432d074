package correlate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// mkAt builds a rule with state_path, logging into logs.
func mkAt(t *testing.T, dataDir string, logs *bytes.Buffer, set func(o *Options)) *Filter {
	t.Helper()
	var o Options
	o.Defaults()
	set(&o)
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	f, err := New(o, engine.Resources{ID: "rule1", DataDir: dataDir, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestRestart: the alerts of a run stopped (Close) and started again
// (a new filter on the same state_path) between two events are those of
// the run without the restart: a threshold window spanning the restart
// fires at the right count, a suppression holds, an open pair closes or
// times out, a heartbeat deadline survives.
func TestRestart(t *testing.T) {
	ssh := func(at float64, user string) in { return in{at, "Failed password for " + user, user, "a"} }
	for _, tc := range []struct {
		name    string
		set     func(o *Options)
		events  []in
		restart int // events before the restart
		want    []string
	}{
		{"threshold window spanning the restart", func(o *Options) {
			o.RuleType = "SingleWithThreshold"
			o.Key = "%{[user][name]}"
			o.Window, o.Thresh = 60, 3
		}, []in{ssh(0, "root"), ssh(10, "root"), ssh(20, "bob"), ssh(30, "root"), ssh(40, "root"), ssh(95, "root"), ssh(100, "root"), ssh(110, "root")}, 2, []string{
			`threshold root 3 0-30 @30 "Failed password for root"`,
			`threshold root 3 95-110 @110 "Failed password for root"`,
		}},
		{"suppression survives", func(o *Options) {
			o.RuleType = "SingleWithSuppress"
			o.Key = "%{[user][name]}"
			o.Window = 30
		}, []in{ssh(0, "u"), ssh(10, "u"), ssh(29, "u"), ssh(30, "u")}, 1, []string{
			`match u 1 0-0 @0 "Failed password for u"`,
			`match u 1 30-30 @30 "Failed password for u"`,
		}},
		{"pair and timeout across the restart", func(o *Options) {
			o.RuleType = "PairWithWindow"
			o.Pattern, o.Pattern2 = "started", "completed"
			o.Key = "%{[user][name]}"
			o.Window = 100
			o.CopyFields = []string{"[user]"}
		}, []in{{0, "started", "h1", ""}, {5, "started", "h2", ""}, {50, "completed", "h1", ""}, {200, "noise", "", ""}}, 2, []string{
			`pair h1 2 0-50 @50 "completed"`,
			`timeout h2 1 5-5 @105 "started"`,
		}},
		{"heartbeat deadline survives", func(o *Options) {
			o.RuleType = "Absence"
			o.Pattern = "completed successfully"
			o.Key = "%{[user][name]}_backup"
			o.Window = 86400
		}, []in{{0, "rsnapshot hourly: completed successfully", "h1", ""}, {3600, "rsnapshot hourly: completed successfully", "h2", ""}, {90000, "noise", "", ""}}, 2, []string{
			`absent h1_backup 1 0-0 @86400 "rsnapshot hourly: completed successfully"`,
			`absent h2_backup 1 3600-3600 @90000 "rsnapshot hourly: completed successfully"`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref, _ := feed(t, mk(t, tc.set), tc.events, 0)
			if strings.Join(ref, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("without a restart:\n%s\nwant:\n%s", strings.Join(ref, "\n"), strings.Join(tc.want, "\n"))
			}
			dir := t.TempDir()
			var logs bytes.Buffer
			set := func(o *Options) { tc.set(o); o.StatePath = "rule1.state" }
			f1 := mkAt(t, dir, &logs, set)
			got, _ := feed(t, f1, tc.events[:tc.restart])
			if err := f1.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, "plugins", "filters", "correlate", "rule1.state")); err != nil {
				t.Fatal(err)
			}
			f2 := mkAt(t, dir, &logs, set)
			more, _ := feed(t, f2, tc.events[tc.restart:], 0)
			got = append(got, more...)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("with a restart after %d events:\n%s\nwant:\n%s\nlogs:\n%s", tc.restart, strings.Join(got, "\n"), strings.Join(tc.want, "\n"), logs.String())
			}
			if !strings.Contains(logs.String(), "correlate state loaded") {
				t.Errorf("no load logged:\n%s", logs.String())
			}
		})
	}
}

// TestRestartProcessingTime: with time_source "processing" a heartbeat
// whose deadline passed while the pipeline was down acts at the first
// flush after the start, and one not yet due waits.
func TestRestartProcessingTime(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	now := t0
	set := func(o *Options) {
		o.RuleType = "Absence"
		o.Key = "%{host}"
		o.Window = 3600
		o.TimeSource = "processing"
		o.StatePath = filepath.Join(dir, "hb.state")
	}
	f1 := mkAt(t, "", &logs, set)
	f1.SetClock(func() time.Time { return now })
	for _, h := range []string{"a", "b"} {
		e := event.NewAt(t0)
		_ = e.Set(event.MustRef("host"), h)
		_, _ = f1.Filter(context.Background(), e, nil)
		now = now.Add(1800 * time.Second)
	}
	if err := f1.Close(); err != nil {
		t.Fatal(err)
	}
	now = t0.Add(3700 * time.Second) // a's deadline (3600) passed while down; b's (5400) not
	f2 := mkAt(t, "", &logs, set)
	f2.SetClock(func() time.Time { return now })
	out := f2.Flush(context.Background(), false, nil)
	if len(out) != 1 {
		t.Fatalf("%d alerts at the start, want 1", len(out))
	}
	if k, _ := out[0].GetString(event.MustRef("[correlate][key]")); k != "a" || !out[0].Timestamp().Equal(t0.Add(3600*time.Second)) {
		t.Errorf("alert for %q at %v", k, out[0].Timestamp())
	}
	now = t0.Add(5400 * time.Second)
	out = f2.Flush(context.Background(), false, nil)
	if len(out) != 1 {
		t.Fatalf("%d alerts at b's deadline, want 1", len(out))
	}
	if k, _ := out[0].GetString(event.MustRef("[correlate][key]")); k != "b" {
		t.Errorf("alert for %q", k)
	}
}

// TestStateDamaged: a state file that cannot be read is moved aside and
// named in an error log line; the rule starts empty and works.
func TestStateDamaged(t *testing.T) {
	for name, content := range map[string]string{
		"garbage":           "\x00\x01not json",
		"other version":     `{"version":99,"rule_type":"SingleWithThreshold","watermark":0,"keys":[]}`,
		"truncated":         `{"version":1,"rule_type":"SingleWithThreshold","watermark":0,"keys":[{"key":"a"`,
		"key twice":         `{"version":1,"rule_type":"SingleWithThreshold","watermark":0,"keys":[{"key":"a","desc":"","flags":0,"count":0,"first":0,"last":0,"fired_at":0,"deadline":0,"times":[]},{"key":"a","desc":"","flags":0,"count":0,"first":0,"last":0,"fired_at":0,"deadline":0,"times":[]}]}`,
		"unknown flags":     `{"version":1,"rule_type":"SingleWithThreshold","watermark":0,"keys":[{"key":"a","desc":"","flags":255,"count":0,"first":0,"last":0,"fired_at":0,"deadline":0,"times":[]}]}`,
		"time not a number": `{"version":1,"rule_type":"SingleWithThreshold","watermark":0,"keys":[{"key":"a","desc":"","flags":0,"count":0,"first":0,"last":0,"fired_at":0,"deadline":0,"times":["x"]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "r.state")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			f := mkAt(t, dir, &logs, func(o *Options) {
				o.RuleType = "SingleWithThreshold"
				o.Window, o.Thresh = 60, 2
				o.StatePath = path
			})
			got, _ := feed(t, f, []in{{0, "x", "", ""}, {1, "x", "", ""}})
			if len(got) != 1 {
				t.Errorf("alerts %v", got)
			}
			aside, _ := filepath.Glob(path + ".damaged-*")
			if len(aside) != 1 {
				t.Fatalf("moved aside: %v", aside)
			}
			if b, _ := os.ReadFile(aside[0]); string(b) != content {
				t.Errorf("moved file holds %q", b)
			}
			if l := logs.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, path) || !strings.Contains(l, aside[0]) {
				t.Errorf("log does not name the file and where it went:\n%s", l)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("state not stored again: %v", err)
			}
		})
	}
}

// TestStateOtherRule: a state file of another rule type is left unused
// (logged), not applied.
func TestStateOtherRule(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	f1 := mkAt(t, dir, &logs, func(o *Options) { o.RuleType = "SingleWithSuppress"; o.Window = 60; o.StatePath = "s" })
	feed(t, f1, []in{{0, "x", "", ""}})
	if err := f1.Close(); err != nil {
		t.Fatal(err)
	}
	f2 := mkAt(t, dir, &logs, func(o *Options) { o.RuleType = "SingleWithThreshold"; o.Window, o.Thresh = 60, 2; o.StatePath = "s" })
	if got, _ := feed(t, f2, []in{{1, "x", "", ""}}); len(got) != 0 || f2.Keys() != 1 {
		t.Errorf("alerts %v, keys %d", got, f2.Keys())
	}
	if !strings.Contains(logs.String(), "another rule type") {
		t.Errorf("logs:\n%s", logs.String())
	}
}

// TestStateMaxKeys: a state file of more keys than max_keys loads the
// ones seen last; the least recently seen order survives the restart.
func TestStateMaxKeys(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	set := func(max int) func(o *Options) {
		return func(o *Options) {
			o.RuleType = "SingleWithThreshold"
			o.Key = "%{[user][name]}"
			o.Window, o.Thresh, o.MaxKeys = 3600, 2, max
			o.StatePath = "s"
		}
	}
	f1 := mkAt(t, dir, &logs, set(10))
	var events []in
	for i := range 10 {
		events = append(events, in{float64(i), "x", string(rune('a' + i)), ""})
	}
	events = append(events, in{10, "x", "a", ""}) // alert; a is the most recently seen
	if got, _ := feed(t, f1, events); len(got) != 1 {
		t.Fatalf("alerts %v", got)
	}
	if err := f1.Close(); err != nil {
		t.Fatal(err)
	}
	f2 := mkAt(t, dir, &logs, set(3))
	// Kept: i, j, a (seen last). a is quiet (fired), j alerts, b starts afresh.
	got, _ := feed(t, f2, []in{{11, "x", "a", ""}, {12, "x", "j", ""}, {13, "x", "b", ""}})
	if strings.Join(got, "|") != `threshold j 2 9-12 @12 "x"` {
		t.Errorf("alerts %v", got)
	}
}

// FuzzDecodeState: no input makes the state decoder or the loading of
// what it accepts panic, and what loads stores and decodes again.
func FuzzDecodeState(f *testing.F) {
	var logs bytes.Buffer
	for _, typ := range []string{"SingleWithThreshold", "PairWithWindow", "Absence"} {
		dir := f.TempDir()
		r := mkFuzz(f, dir, &logs, typ)
		for i, at := range []float64{0, 1, 2, 3} {
			e := event.NewAt(t0.Add(time.Duration(at * float64(time.Second))))
			_ = e.Set(event.MustRef("message"), []string{"started", "completed"}[i%2])
			_ = e.Set(event.MustRef("host"), []string{"a", "b", "ü"}[i%3])
			_, _ = r.Filter(context.Background(), e, nil)
		}
		r.mu.Lock()
		f.Add(r.encodeState())
		r.mu.Unlock()
	}
	f.Add([]byte(`{"version":1,"rule_type":"Absence","watermark":0,"keys":[]}`))
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"rule_type":"Absence","watermark":0,"keys":[{"key":"x\ufffd","key_bytes":"eMM=","desc":"","flags":0,"count":1,"first":0,"last":0,"fired_at":0,"deadline":0,"times":[]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		snap, err := decodeState(b)
		if err != nil {
			return
		}
		for _, typ := range []string{"SingleWithThreshold", "PairWithWindow", "Absence"} {
			var logs bytes.Buffer
			r := mkFuzz(t, t.TempDir(), &logs, typ)
			r.mu.Lock()
			r.apply(snap)
			out := r.encodeState()
			r.mu.Unlock()
			if _, err := decodeState(out); err != nil {
				t.Fatalf("stored state does not decode: %v\n%s", err, out)
			}
			e := event.NewAt(t0)
			_ = e.Set(event.MustRef("host"), "a")
			_, _ = r.Filter(context.Background(), e, nil)
			_ = r.Flush(context.Background(), true, nil)
		}
	})
}

func mkFuzz(t testing.TB, dir string, logs *bytes.Buffer, typ string) *Filter {
	var o Options
	o.Defaults()
	o.RuleType, o.Key, o.Window, o.Thresh, o.MaxKeys = typ, "%{host}", 2, 2, 2
	o.CopyFields = []string{"host"}
	if typ == "PairWithWindow" {
		o.Pattern, o.Pattern2 = "started", "completed"
	}
	o.StatePath = filepath.Join(dir, "s")
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	r, err := New(o, engine.Resources{ID: "r", Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestStatePathTwice: two rules of a pipeline cannot share a state file.
func TestStatePathTwice(t *testing.T) {
	conf := `input { test_correlate_bench { count => 1 keys => 1 } }
filter {
  correlate { rule_type => "Single" state_path => "same" }
  correlate { rule_type => "Single" state_path => "same" }
}
output { null {} }`
	cfg, diags := dsl.LoadSource("twice.conf", []byte(conf))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	_, diags = engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "state_path of another correlate filter") {
		t.Errorf("diags: %v", diags)
	}
}

// TestStoreNowAndThen: while the pipeline runs, the flush stores the state
// once storeInterval passed since the last store and it changed, not
// before, and not when nothing changed.
func TestStoreNowAndThen(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	f := mkAt(t, dir, &logs, func(o *Options) { o.RuleType = "SingleWithSuppress"; o.Window = 60; o.StatePath = "s" })
	wall := t0
	f.st.wall = func() time.Time { return wall }
	path := filepath.Join(dir, "plugins", "filters", "correlate", "s")
	stored := func() string {
		b, _ := os.ReadFile(path)
		return string(b)
	}
	_ = f.Flush(context.Background(), false, nil) // loads; nothing changed
	if stored() != "" {
		t.Fatal("stored without a change")
	}
	feed(t, f, []in{{0, "x", "a", ""}})
	wall = wall.Add(storeInterval) // the first store is due at once (none before)
	_ = f.Flush(context.Background(), false, nil)
	first := stored()
	if !strings.Contains(first, `"key":""`) {
		t.Fatalf("not stored: %q", first)
	}
	feed(t, f, []in{{100, "x", "a", ""}})
	wall = wall.Add(storeInterval - time.Second)
	_ = f.Flush(context.Background(), false, nil)
	if stored() != first {
		t.Fatal("stored before the interval passed")
	}
	wall = wall.Add(time.Second)
	_ = f.Flush(context.Background(), false, nil)
	if s := stored(); s == first || !strings.Contains(s, fmt.Sprintf(`"fired_at":%d`, t0.Add(100*time.Second).UnixNano())) {
		t.Fatalf("not stored after the interval: %q", s)
	}
}

// captured collects the events of the test_correlate_capture output.
var captured struct {
	sync.Mutex
	events []*event.Event
}

type captureOutput struct{}

func (captureOutput) Connect(context.Context) error { return nil }
func (captureOutput) Close(context.Context) error   { return nil }
func (captureOutput) Write(_ context.Context, events []*event.Event) error {
	captured.Lock()
	defer captured.Unlock()
	captured.events = append(captured.events, events...)
	return nil
}

func init() {
	engine.RegisterOutput("test_correlate_capture", func(struct{}, engine.Resources) (captureOutput, error) { return captureOutput{}, nil })
}

// buildConf builds the only pipeline of conf (Logstash syntax) with s;
// logs are discarded.
func buildConf(tb testing.TB, conf string, s engine.Settings) *engine.Pipeline {
	tb.Helper()
	cfg, diags := dsl.LoadSource("test.conf", []byte(conf))
	if diags.HasErrors() {
		tb.Fatal(diags.Error())
	}
	s.Logger = slog.New(slog.DiscardHandler)
	p, diags := engine.Build(cfg.Pipelines[0], engine.Default, s)
	if diags.HasErrors() {
		tb.Fatal(diags.Error())
	}
	return p
}

// runCaptured runs conf to its end and returns what reached
// test_correlate_capture outputs in that run.
func runCaptured(t *testing.T, conf string, s engine.Settings) []*event.Event {
	t.Helper()
	p := buildConf(t, conf, s)
	captured.Lock()
	captured.events = nil
	captured.Unlock()
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	captured.Lock()
	defer captured.Unlock()
	return slices.Clone(captured.events)
}

// TestRestartPipeline: through the engine, a pipeline run twice on the same
// path.data (the state stored when the first run stops, loaded when the
// second starts) alerts when the threshold is reached across the runs, and
// once: a third run does not refire.
func TestRestartPipeline(t *testing.T) {
	dataDir := t.TempDir()
	run := func() []string {
		// Two events of one key per run, @timestamp t0 and t0+1ms.
		conf := `input { test_correlate_bench { count => 2 keys => 1 } }
filter { correlate { rule_type => "SingleWithThreshold" key => "%{[user][name]}" window => 3600 thresh => 3 state_path => "ssh.state" } }
output { if "alert" in [tags] { test_correlate_capture {} } }`
		var got []string
		for _, e := range runCaptured(t, conf, engine.Settings{Workers: 1, BatchSize: 125, DataDir: dataDir}) {
			k, _ := e.GetString(event.MustRef("[correlate][key]"))
			c, _ := e.Get(event.MustRef("[correlate][count]"))
			got = append(got, fmt.Sprint(k, " ", c))
		}
		return got
	}
	if got := run(); len(got) != 0 {
		t.Fatalf("first run alerted: %v", got)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "plugins", "filters", "correlate", "ssh.state")); err != nil {
		t.Fatal(err)
	}
	if got := run(); strings.Join(got, ",") != "u0 3" {
		t.Fatalf("second run: alerts %v, want one for u0 counting 3", got)
	}
	if got := run(); len(got) != 0 {
		t.Fatalf("third run refired: %v", got)
	}
}

// TestStateOverBudget: the state file's budget comes from max_keys (at most
// what max_keys keys can be written as, floored): a file larger than that,
// here a well-formed one of 20,000 keys for a rule of max_keys 10, is moved
// aside unread, and the log names the file and the budget. (Under the old
// fixed 1 GiB limit it was read whole and loaded.)
func TestStateOverBudget(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.state")
	var b strings.Builder
	b.WriteString(`{"version":1,"rule_type":"SingleWithThreshold","watermark":0,"keys":[`)
	for i := range 20_000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"key":"user-%06d","desc":"","flags":0,"count":1,"first":0,"last":0,"fired_at":0,"deadline":0,"times":[0]}`, i)
	}
	b.WriteString("]}\n")
	if b.Len() <= minStateFileBytes {
		t.Fatalf("the file is %d bytes, not over the floor", b.Len())
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	f := mkAt(t, dir, &logs, func(o *Options) {
		o.RuleType = "SingleWithThreshold"
		o.Key = "%{[user][name]}"
		o.Window, o.Thresh, o.MaxKeys = 60, 2, 10
		o.StatePath = path
	})
	feed(t, f, []in{{0, "x", "someone", ""}})
	if f.Keys() != 1 {
		t.Errorf("%d keys after one event; want the rule started empty", f.Keys())
	}
	aside, _ := filepath.Glob(path + ".damaged-*")
	if len(aside) != 1 {
		t.Fatalf("moved aside: %v", aside)
	}
	if l := logs.String(); !strings.Contains(l, path+" is ") || !strings.Contains(l, "over the budget of max_keys 10") {
		t.Errorf("log does not name the file and its budget:\n%s", l)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestStateBudgetHoldsWorstCase: the budget is a bound on what the rule
// writes: max_keys keys of the longest key and description, every byte one
// that JSON escapes, and copied values over their stored budget (left out,
// logged) make a file within stateBudget, which loads again.
func TestStateBudgetHoldsWorstCase(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	set := func(o *Options) {
		o.RuleType, o.Key, o.Window, o.MaxKeys = "PairWithWindow", "%{host}", 3600, 3
		o.Pattern, o.Pattern2 = "^started", "^completed"
		o.CopyFields = []string{"big"}
		o.StatePath = "s"
	}
	f := mkAt(t, dir, &logs, set)
	for i := range 3 {
		e := event.NewAt(t0.Add(time.Duration(i) * time.Second))
		_ = e.Set(event.MustRef("message"), "started"+strings.Repeat("\x01", 2*maxDescBytes))
		_ = e.Set(event.MustRef("host"), strings.Repeat(string(rune('a'+i)), 3)+strings.Repeat("\x01", 2*maxKeyBytes))
		_ = e.Set(event.MustRef("big"), strings.Repeat("\x02", 2*maxCopiedStateBytes))
		if _, err := f.Filter(context.Background(), e, nil); err != nil && !errors.Is(err, engine.ErrNotApplied) {
			t.Fatal(err)
		}
	}
	f.mu.Lock()
	size, budget := len(f.encodeState()), f.stateBudget()
	f.mu.Unlock()
	if f.Keys() != 3 || int64(size) > budget {
		t.Fatalf("%d keys make %d bytes of state; budget %d", f.Keys(), size, budget)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "left out") {
		t.Errorf("copied values left out were not logged:\n%s", logs.String())
	}
	logs.Reset()
	g := mkAt(t, dir, &logs, set)
	feed(t, g, []in{{10, "neither pattern", "", ""}}) // loads the state
	if g.Keys() != 3 || strings.Contains(logs.String(), "damaged") {
		t.Errorf("reloaded %d keys; want 3:\n%s", g.Keys(), logs.String())
	}
}

// TestHandoffThroughEngine: through the engine, a rule takes over the keys
// of the rule just before it (same key template) only when the engine
// passes that rule's output on unchanged: a remove_field on the rule before
// changes the key the second rule must see.
func TestHandoffThroughEngine(t *testing.T) {
	const key = `key => "%{[user][name]}"`
	for _, tc := range []struct {
		name, first string
		want        string
	}{
		{"adjacent", `correlate { rule_type => "Single" ` + key + ` emit => false }`, "u0,u1"},
		{"common options between", `correlate { rule_type => "Single" ` + key + ` emit => false remove_field => ["[user]"] }`, "%{[user][name]}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := `input { test_correlate_bench { count => 6 keys => 2 } }
filter { ` + tc.first + `
  correlate { rule_type => "SingleWithSuppress" ` + key + ` window => 3600 } }
output { if "alert" in [tags] { test_correlate_capture {} } }`
			var got []string
			for _, e := range runCaptured(t, conf, engine.Settings{Workers: 1, BatchSize: 125}) {
				k, _ := e.GetString(event.MustRef("[correlate][key]"))
				got = append(got, k)
			}
			slices.Sort(got)
			if strings.Join(got, ",") != tc.want {
				t.Fatalf("alerts for keys %v, want %s", got, tc.want)
			}
		})
	}
}
