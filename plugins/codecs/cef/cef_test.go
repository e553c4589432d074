package cef

import (
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

func TestGolden(t *testing.T) {
	plugintest.RunCodecGolden(t, plugintest.CodecBuilder(New))
}

// TestYearGuess: a timestamp without a year takes the clock's year, the
// previous one when that puts it more than two days ahead, the next one in
// December when that puts it within two days (Logstash's
// TimestampNormalizer).
func TestYearGuess(t *testing.T) {
	c := plugintest.MustNew(t, New, `default_timezone = "UTC"`, engine.Resources{})
	for _, tc := range []struct{ now, in, want string }{
		{"2026-07-10T00:00:00Z", "Jul 09 10:50:21", "2026-07-09T10:50:21Z"},
		{"2026-01-01T00:00:00Z", "Dec 31 23:00:00", "2025-12-31T23:00:00Z"},
		{"2026-12-31T00:00:00Z", "Jan 01 12:00:00", "2027-01-01T12:00:00Z"},
		{"2026-07-10T00:00:00Z", "Jul 11 12:00:00", "2026-07-11T12:00:00Z"},
	} {
		now, _ := time.Parse(time.RFC3339, tc.now)
		c.now = func() time.Time { return now }
		e := c.Parse("CEF:0|v|p|1|2|n|3|rt=" + tc.in)
		got, ok := e.Get(event.MustRef("@timestamp"))
		want, _ := time.Parse(time.RFC3339, tc.want)
		if tm, isTime := got.(time.Time); !ok || !isTime || !tm.Equal(want) {
			t.Errorf("now %s, rt=%s: @timestamp = %v (tags %v); want %s", tc.now, tc.in, got, e.Tags(), tc.want)
		}
	}
}

// TestHeaderBacktracking: a header whose escaped pipes leave no field end
// is read as Logstash's regexp reads it, by backtracking.
func TestHeaderBacktracking(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{{`a|b`, 1}, {`a\|b|c`, 4}, {`a\|b`, 2}, {`a\\|b`, 3}, {`abc`, -1}, {`a\\\|b`, 4}} {
		if got := headerEnd(tc.in); got != tc.want {
			t.Errorf("headerEnd(%q) = %d; want %d", tc.in, got, tc.want)
		}
	}
}

// TestMessageBudget: a message over MaxMessageBytes is a failure event, and
// decoding goes on with the next line.
func TestMessageBudget(t *testing.T) {
	c := plugintest.MustNew(t, New, `delimiter = "\\n"`, engine.Resources{})
	in := strings.Repeat("x", MaxMessageBytes+1) + "\nCEF:0|a|b|c|d|e|1|src=1.2.3.4\n"
	d := c.NewDecoder(strings.NewReader(in))
	e1, err := d.Decode()
	if err != nil || !e1.HasTag(FailureTag) {
		t.Fatalf("first Decode = %v, %v; want a failure event", e1, err)
	}
	e2, err := d.Decode()
	if err != nil || e2.HasTag(FailureTag) {
		t.Fatalf("second Decode = %v, %v; want the CEF event", e2, err)
	}
	c2 := plugintest.MustNew(t, New, ``, engine.Resources{})
	e3, err := c2.NewDecoder(strings.NewReader(in)).Decode()
	if err != nil || !e3.HasTag(FailureTag) {
		t.Fatalf("whole-stream Decode = %v, %v; want a failure event", e3, err)
	}
	if m, _ := e3.Message(); len(m) != MaxMessageBytes {
		t.Errorf("failure message holds %d bytes; want %d", len(m), MaxMessageBytes)
	}
}

// FuzzDecode: the decoder never panics, and every message gives exactly one
// event, either valid CEF or tagged _cefparsefailure.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"CEF:0|security|threatmanager|1.0|100|trojan successfully stopped|10|src=10.0.0.192 dst=12.121.122.82 spt=1232",
		`CEF:0|a\|b|c\\|d|e|f|g|k=v\=w\\x\ny a.b[0]=1 foo[1][2]=z`,
		"Jun 1 host CEF:0|a|b|c|d|e|1|rt=Jul 19 2017 10:50:21.127 dtz=Europe/Moscow art=1500464384997 start=",
		`"CEF:0|a|b|c|d|e|1|"`, "not cef", "a|b|c", "\xff", "CEF:0|||||||   x",
	} {
		f.Add(s)
	}
	ecsOn := plugintest.MustNew(f, New, `delimiter = "\\n"`, engine.Resources{})
	ecsOff := plugintest.MustNew(f, New, `ecs_compatibility = "disabled"
raw_data_field = "raw"`, engine.Resources{})
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range []*Codec{ecsOn, ecsOff} {
			d := c.NewDecoder(strings.NewReader(s))
			for i := 0; ; i++ {
				e, err := d.Decode()
				if err != nil {
					break
				}
				if e == nil {
					t.Fatal("nil event")
				}
				if i > len(s)+1 {
					t.Fatal("more events than lines")
				}
			}
		}
	})
}
