package correlate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/enginetest"
	"github.com/pipelined/pipeline/engine/event"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// in is one input event: seconds after t0, message, user, source ip.
type in struct {
	at       float64
	msg      string
	user, ip string
}

func mk(t *testing.T, set func(o *Options)) *Filter {
	t.Helper()
	var o Options
	o.Defaults()
	set(&o)
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	f, err := New(o, engine.Resources{ID: "rule1", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// feed runs the events through f and returns the alerts as
// "outcome key count first-last" (seconds after t0), and how many input
// events were marked (nil error).
func feed(t *testing.T, f *Filter, events []in, flushAt ...float64) (alerts []string, marked int) {
	t.Helper()
	desc := func(e *event.Event) string {
		c, _ := e.Get(event.MustRef("correlate"))
		m := c.(map[string]any)
		first, _ := time.Parse(time.RFC3339Nano, m["first"].(string))
		last, _ := time.Parse(time.RFC3339Nano, m["last"].(string))
		msg, _ := e.Message()
		return fmt.Sprintf("%s %s %d %g-%g @%g %q", m["outcome"], m["key"], m["count"], first.Sub(t0).Seconds(), last.Sub(t0).Seconds(), e.Timestamp().Sub(t0).Seconds(), msg)
	}
	for _, x := range events {
		e := event.NewAt(t0.Add(time.Duration(x.at * float64(time.Second))))
		_ = e.Set(event.MustRef("message"), x.msg)
		if x.user != "" {
			_ = e.Set(event.MustRef("[user][name]"), x.user)
		}
		if x.ip != "" {
			_ = e.Set(event.MustRef("[source][ip]"), x.ip)
		}
		out, err := f.Filter(context.Background(), e, nil)
		if err == nil {
			marked++
		} else if !errors.Is(err, engine.ErrNotApplied) {
			t.Fatal(err)
		}
		if out[0] != e {
			t.Fatal("the event did not pass first")
		}
		for _, a := range out[1:] {
			if !a.HasTag("alert") {
				t.Errorf("alert without its tag: %v", a.Tags())
			}
			alerts = append(alerts, desc(a))
		}
	}
	for range flushAt {
		for _, a := range f.Flush(context.Background(), false, nil) {
			alerts = append(alerts, desc(a))
		}
	}
	return alerts, marked
}

func TestRules(t *testing.T) {
	ssh := func(at float64, user, ip string) in {
		return in{at, "Failed password for " + user + " from " + ip, user, ip}
	}
	for _, tc := range []struct {
		name   string
		set    func(o *Options)
		events []in
		flush  []float64
		want   []string
		marked int
	}{
		{"Single acts on every match", func(o *Options) {
			o.RuleType = "Single"
			o.Pattern = `^Failed password`
			o.Key = "%{[user][name]}"
		}, []in{ssh(0, "root", "a"), {1, "Accepted publickey", "root", "a"}, ssh(2, "bob", "b")}, nil,
			[]string{`match root 1 0-0 @0 "Failed password for root from a"`, `match bob 1 2-2 @2 "Failed password for bob from b"`}, 2},
		{"SingleWithThreshold 3 in 60 s per user and source", func(o *Options) {
			o.RuleType = "SingleWithThreshold"
			o.Key = "%{[user][name]}-%{[source][ip]}"
			o.Window, o.Thresh = 60, 3
		}, []in{
			ssh(0, "root", "a"), ssh(10, "root", "a"), ssh(15, "root", "b"), // other key
			ssh(59, "root", "a"),                       // 3 within 60 s: alert
			ssh(61, "root", "a"), ssh(62, "root", "a"), // quiet until 0+60... window started at 0, so 61 starts afresh
			ssh(100, "root", "a"),                                               // 61, 62, 100: alert (sliding)
			ssh(200, "root", "a"), ssh(300, "root", "a"), ssh(400, "root", "a"), // spread out: none
		}, nil, []string{
			`threshold root-a 3 0-59 @59 "Failed password for root from a"`,
			`threshold root-a 3 61-100 @100 "Failed password for root from a"`,
		}, 2},
		{"SingleWithThreshold one alert per window", func(o *Options) {
			o.RuleType = "SingleWithThreshold"
			o.Window, o.Thresh = 120, 2
		}, []in{ssh(0, "u", "a"), ssh(1, "u", "a"), ssh(2, "u", "a"), ssh(119, "u", "a"), ssh(120, "u", "a"), ssh(121, "u", "a")}, nil,
			[]string{`threshold  2 0-1 @1 "Failed password for u from a"`, `threshold  2 120-121 @121 "Failed password for u from a"`}, 2},
		{"SingleWithSuppress", func(o *Options) {
			o.RuleType = "SingleWithSuppress"
			o.Key = "%{[user][name]}"
			o.Window = 30
		}, []in{ssh(0, "u", "a"), ssh(5, "u", "b"), ssh(5, "v", "b"), ssh(29, "u", "a"), ssh(30, "u", "a"), ssh(40, "u", "a")}, nil,
			[]string{`match u 1 0-0 @0 "Failed password for u from a"`, `match v 1 5-5 @5 "Failed password for v from b"`, `match u 1 30-30 @30 "Failed password for u from a"`}, 3},
		{"PairWithWindow pair and timeout", func(o *Options) {
			o.RuleType = "PairWithWindow"
			o.Pattern = `started`
			o.Pattern2 = `completed`
			o.Key = "%{[user][name]}"
			o.Window = 3600
			o.Description = "backup %{[user][name]}: %{message}"
		}, []in{
			{0, "rsnapshot started", "h1", ""}, {10, "rsnapshot started", "h2", ""},
			{100, "rsnapshot completed", "h1", ""}, // pair
			{200, "other line", "h3", ""},
			{3611, "rsnapshot started", "h3", ""},   // watermark passes h2's end (3610): timeout, then h3 opens
			{3700, "rsnapshot completed", "h2", ""}, // too late: nothing
		}, []float64{0}, []string{
			`pair h1 2 0-100 @100 "backup h1: rsnapshot completed"`,
			`timeout h2 1 10-10 @3610 "backup h2: rsnapshot started"`,
		}, 1},
		{"Absence: a missed heartbeat alerts once, re-arms", func(o *Options) {
			o.RuleType = "Absence"
			o.Pattern = `completed successfully`
			o.Key = "%{[user][name]}_backup"
			o.Window = 86400
		}, []in{
			{0, "rsnapshot hourly: completed successfully", "h1", ""},
			{3600, "rsnapshot hourly: completed successfully", "h2", ""},
			{80000, "rsnapshot hourly: completed successfully", "h2", ""},
			{86400 + 5, "noise", "", ""},                                  // h1 silent for a day: absent
			{90000, "noise", "", ""},                                      // no second alert
			{90001, "rsnapshot hourly: completed successfully", "h1", ""}, // re-armed
			{90001 + 86400, "noise", "", ""},
		}, nil, []string{
			`absent h1_backup 1 0-0 @86400 "rsnapshot hourly: completed successfully"`,
			`absent h2_backup 2 3600-80000 @166400 "rsnapshot hourly: completed successfully"`,
			`absent h1_backup 2 0-90001 @176401 "rsnapshot hourly: completed successfully"`,
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mk(t, tc.set)
			got, marked := feed(t, f, tc.events, tc.flush...)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if marked != tc.marked {
				t.Errorf("%d events marked, want %d", marked, tc.marked)
			}
		})
	}
}

// TestBusinessHours: thresh inside Mon–Fri 08:00–18:00 Europe/Berlin,
// off_hours_thresh outside, on holidays and across the DST change
// (2026-03-29 02:00 CET → 03:00 CEST, a Sunday; the Monday after, 07:30 UTC
// is 09:30 local: inside; the Friday before, 07:30 UTC was 08:30 local).
func TestBusinessHours(t *testing.T) {
	f := mk(t, func(o *Options) {
		o.RuleType = "SingleWithThreshold"
		o.Window, o.Thresh, o.OffHoursThresh = 600, 5, 2
		o.BusinessHours = "Mon-Fri 08:00-18:00"
		o.Timezone = "Europe/Berlin"
		o.Holidays = []string{"2026-12-25"}
	})
	cases := []struct {
		at   string
		want int
	}{
		{"2026-12-07T07:00:00Z", 5},
		{"2026-12-07T06:59:59Z", 2},
		{"2026-12-07T16:59:59Z", 5},
		{"2026-12-07T17:00:00Z", 2},
		{"2026-12-05T10:00:00Z", 2},
		{"2026-12-25T10:00:00Z", 2},
		{"2026-03-27T06:30:00Z", 2}, // Friday before the change: 07:30 CET, outside
		{"2026-03-30T06:30:00Z", 5}, // Monday after: 08:30 CEST, inside
		{"2026-10-23T16:30:00Z", 2}, // Friday before the October change: 18:30 CEST, outside
		{"2026-10-26T16:30:00Z", 5}, // Monday after: 17:30 CET, inside
	}
	for _, c := range cases {
		at, _ := time.Parse(time.RFC3339, c.at)
		if got := f.threshAt(at); got != c.want {
			t.Errorf("%s: thresh %d, want %d", c.at, got, c.want)
		}
	}
	// Through the rule: 2 events at night alert, 2 by day do not.
	night := time.Date(2026, 12, 7, 22, 0, 0, 0, time.UTC)
	day := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	n := 0
	for _, at := range []time.Time{night, night.Add(time.Second), day, day.Add(time.Second)} {
		e := event.NewAt(at)
		out, _ := f.Filter(context.Background(), e, nil)
		n += len(out) - 1
	}
	if n != 1 {
		t.Errorf("%d alerts, want 1 (at night)", n)
	}
}

// TestMaxKeys: past max_keys the least recently seen key is forgotten and
// counted; memory stays at max_keys.
func TestMaxKeys(t *testing.T) {
	f := mk(t, func(o *Options) {
		o.RuleType = "SingleWithThreshold"
		o.Key = "%{[user][name]}"
		o.Window, o.Thresh = 3600, 2
		o.MaxKeys = 100
	})
	var events []in
	for i := range 1000 {
		events = append(events, in{float64(i), "x", fmt.Sprint("u", i), ""})
	}
	// u999 is tracked: its second event alerts; u0 was evicted: its
	// second event counts as a first.
	events = append(events, in{1000, "x", "u999", ""}, in{1001, "x", "u0", ""})
	got, _ := feed(t, f, events)
	if len(got) != 1 || !strings.HasPrefix(got[0], "threshold u999 2") {
		t.Errorf("alerts %v", got)
	}
	if f.Keys() != 100 {
		t.Errorf("%d keys tracked", f.Keys())
	}
	if c := f.Counters()[0]; c.Name != "keys_evicted" || c.Value != 901 {
		t.Errorf("counter %+v", c)
	}
}

// TestProcessingTime: with time_source "processing" the rule's clock is
// used, and Flush closes windows while no event arrives.
func TestProcessingTime(t *testing.T) {
	now := t0
	f := mk(t, func(o *Options) {
		o.RuleType = "Absence"
		o.Window = 60
		o.TimeSource = "processing"
	})
	f.SetClock(func() time.Time { return now })
	e := event.NewAt(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) // its @timestamp is ignored
	_, _ = f.Filter(context.Background(), e, nil)
	now = t0.Add(59 * time.Second)
	if out := f.Flush(context.Background(), false, nil); len(out) != 0 {
		t.Fatalf("alert before the window ended: %d", len(out))
	}
	now = t0.Add(60 * time.Second)
	out := f.Flush(context.Background(), false, nil)
	if len(out) != 1 || !out[0].Timestamp().Equal(t0.Add(60*time.Second)) {
		t.Fatalf("alerts %d", len(out))
	}
}

// TestEmitFalse: without emit, the events that made the rule act get the
// common options (nil error) and no alert event is made.
func TestEmitFalse(t *testing.T) {
	f := mk(t, func(o *Options) {
		o.RuleType = "SingleWithThreshold"
		o.Window, o.Thresh = 60, 2
		o.Emit = false
	})
	alerts, marked := feed(t, f, []in{{0, "a", "", ""}, {1, "a", "", ""}, {2, "a", "", ""}})
	if len(alerts) != 0 || marked != 1 {
		t.Errorf("alerts %v marked %d", alerts, marked)
	}
}

// TestCopyFields: copy_fields go into the alert, deep-copied.
func TestCopyFields(t *testing.T) {
	f := mk(t, func(o *Options) {
		o.RuleType = "Single"
		o.CopyFields = []string{"[user]", "[source][ip]"}
		o.AlertTags = []string{"alert", "ssh"}
		o.AlertFields = engine.Hash{{Key: "severity", Value: "major"}, {Key: "[alerta][resource]", Value: "%{[source][ip]}"}}
	})
	e := event.NewAt(t0)
	_ = e.Set(event.MustRef("[user][name]"), "root")
	_ = e.Set(event.MustRef("[source][ip]"), "10.0.0.9")
	out, err := f.Filter(context.Background(), e, nil)
	if err != nil || len(out) != 2 {
		t.Fatal(err, len(out))
	}
	_ = e.Set(event.MustRef("[user][name]"), "changed")
	a := out[1]
	if n, _ := a.GetString(event.MustRef("[user][name]")); n != "root" {
		t.Errorf("user %q", n)
	}
	if ip, _ := a.GetString(event.MustRef("[source][ip]")); ip != "10.0.0.9" || !a.HasTag("ssh") {
		t.Errorf("ip %q tags %v", ip, a.Tags())
	}
	if s, _ := a.GetString(event.MustRef("severity")); s != "major" {
		t.Errorf("severity %q", s)
	}
	if r, _ := a.GetString(event.MustRef("[alerta][resource]")); r != "10.0.0.9" {
		t.Errorf("resource %q", r)
	}
	if r, _ := a.GetString(event.MustRef("[correlate][rule]")); r != "rule1" {
		t.Errorf("rule %q", r)
	}
}

// TestDiagnostics: check reports option mistakes on the option.
func TestDiagnostics(t *testing.T) {
	for _, tc := range []struct{ opts, want string }{
		{`rule_type = "Pair"`, `unsupported value "Pair"`},
		{`rule_type = "SingleWithThreshold"
thresh = 3`, `needs a window above 0`},
		{`rule_type = "SingleWithThreshold"
window = 60`, `thresh of at least 1`},
		{`rule_type = "PairWithWindow"
window = 60`, `required with PairWithWindow`},
		{`rule_type = "Single"
pattern = "("`, `missing closing )`},
		{`rule_type = "SingleWithThreshold"
window = 60
thresh = 3
business_hours = "Weekdays 8-18"`, `days are Mon`},
		{`rule_type = "SingleWithThreshold"
window = 60
thresh = 3
business_hours = "Mon-Fri 08:00-18:00"
timezone = "Mars/Olympus"`, `timezone "Mars/Olympus"`},
		{`rule_type = "Single"
off_hours_thresh = 3`, `need business_hours`},
	} {
		diags := enginetest.BuildDiags(t, ir.Filter, "correlate", tc.opts)
		found := false
		for _, d := range diags {
			found = found || d.Severity == hcl.DiagError && strings.Contains(d.Summary+"; "+d.Detail, tc.want)
		}
		if !found {
			t.Errorf("%s:\n  diags %v\n  want %q", tc.opts, diags, tc.want)
		}
	}
}

// TestNoAllocsPerEvent: a rule that tracks a key and does not act
// allocates nothing per event (the key is rendered into a stack buffer and
// found without a string; an unchanged description is not stored again).
func TestNoAllocsPerEvent(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector drops sync.Pool buffers on purpose")
	}
	for _, typ := range []string{"SingleWithThreshold", "SingleWithSuppress", "PairWithWindow", "Absence"} {
		t.Run(typ, func(t *testing.T) {
			f := mk(t, func(o *Options) {
				o.RuleType = typ
				o.Key = "%{[user][name]}-%{[source][ip]}"
				o.Window, o.Thresh = 1e6, 1000000
				if typ == "PairWithWindow" {
					o.Pattern, o.Pattern2 = "^Failed", "^Accepted"
				}
			})
			e := event.NewMessageAt("Failed password for root", t0)
			_ = e.Set(event.MustRef("[user][name]"), "root")
			_ = e.Set(event.MustRef("[source][ip]"), "10.0.0.1")
			out := make([]*event.Event, 0, 4)
			_, _ = f.Filter(context.Background(), e, out) // tracks the key (and acts, for Suppress)
			if n := testing.AllocsPerRun(100, func() {
				if res, _ := f.Filter(context.Background(), e, out[:0]); len(res) != 1 {
					t.Fatalf("acted: %d events", len(res))
				}
			}); n != 0 {
				t.Errorf("%v allocations per event", n)
			}
		})
	}
}

// TestBusinessHoursThroughRule: the threshold is chosen by each event's
// time in the zone, through the rule, at the boundary of business hours on
// both sides of the DST changes (Europe/Berlin, 2026-03-29 and 2026-10-25):
// the event that reaches the count decides which threshold applies.
func TestBusinessHoursThroughRule(t *testing.T) {
	at := func(s string) float64 {
		x, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return x.Sub(t0).Seconds()
	}
	for _, tc := range []struct {
		name   string
		events []string
		alert  bool
	}{
		// Friday before the spring change: 08:00 CET is 07:00 UTC.
		{"Friday CET, both before 08:00: off-hours thresh 2", []string{"2026-03-27T06:59:00Z", "2026-03-27T06:59:59Z"}, true},
		{"Friday CET, the second at 08:00: thresh 5", []string{"2026-03-27T06:59:59Z", "2026-03-27T07:00:00Z"}, false},
		// Monday after it: 08:00 CEST is 06:00 UTC; 06:59 UTC is inside now.
		{"Monday CEST, 07:59 local: off-hours", []string{"2026-03-30T05:59:00Z", "2026-03-30T05:59:59Z"}, true},
		{"Monday CEST, 08:59 local (07:59 the Friday before): inside", []string{"2026-03-30T06:59:00Z", "2026-03-30T06:59:59Z"}, false},
		// Autumn change: 18:00 CEST is 16:00 UTC on the Friday, 18:00 CET 17:00 UTC on the Monday.
		{"Friday CEST, the second at 18:00 local: off-hours", []string{"2026-10-23T15:59:59Z", "2026-10-23T16:00:00Z"}, true},
		{"Monday CET, 17:30 local (18:30 the Friday before): inside", []string{"2026-10-26T16:29:59Z", "2026-10-26T16:30:00Z"}, false},
		{"Sunday of the change, 10:00 local: weekend", []string{"2026-03-29T08:00:00Z", "2026-03-29T08:00:01Z"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mk(t, func(o *Options) {
				o.RuleType = "SingleWithThreshold"
				o.Window, o.Thresh, o.OffHoursThresh = 600, 5, 2
				o.BusinessHours = "Mon-Fri 08:00-18:00"
				o.Timezone = "Europe/Berlin"
			})
			var events []in
			for _, e := range tc.events {
				events = append(events, in{at(e), "x", "", ""})
			}
			got, _ := feed(t, f, events)
			if (len(got) == 1) != tc.alert || len(got) > 1 {
				t.Errorf("alerts %v, want alert %v", got, tc.alert)
			}
		})
	}
}
