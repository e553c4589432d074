package engine_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/enginetest"
)

// shapeGroup is an option group, embedded as plugins embed the shared ones.
type shapeGroup struct {
	Level string `hcl:"level,optional"`
}

type shapeOptions struct {
	Hosts  engine.StringList  `hcl:"hosts,optional"`
	Rename engine.Hash        `hcl:"rename,optional"`
	Match  engine.HashOfLists `hcl:"match,optional" item:"pattern"`
	Size   engine.Bytes       `hcl:"size,optional"`
	Wait   engine.Duration    `hcl:"wait,optional"`
	Tags   []string           `hcl:"tags,optional"`
	shapeGroup
}

func (o *shapeOptions) defaults() {
	o.Hosts = engine.StringList{"127.0.0.1"}
	o.Size = 1024
	o.Wait = engine.Duration(time.Second)
	o.Level = "info"
}

func decodeShapes(t *testing.T, src string) (shapeOptions, error) {
	t.Helper()
	var o shapeOptions
	o.defaults()
	err := enginetest.DecodeOptions(&o, []byte(src))
	return o, err
}

func TestOptionTypes(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{``, `hosts=[127.0.0.1] rename=[] match=[] size=1024 wait=1s tags=[] level=info`},
		{`hosts = "a"`, `hosts=[a] rename=[] match=[] size=1024 wait=1s tags=[] level=info`},
		{`hosts = ["a", "b:1"]`, `hosts=[a b:1] rename=[] match=[] size=1024 wait=1s tags=[] level=info`},
		// Written order, not sorted; a repeated key keeps its place and its last value.
		{`rename = { z = "1", a = 2, z = "3" }`, `hosts=[127.0.0.1] rename=[{z 3} {a 2}] match=[] size=1024 wait=1s tags=[] level=info`},
		{`rename = ["z", "1", "a", "2"]`, `hosts=[127.0.0.1] rename=[{z 1} {a 2}] match=[] size=1024 wait=1s tags=[] level=info`},
		{`match = { msg = "p1", "[a][b]" = ["p2", "p3"], msg = ["p4"] }`, `hosts=[127.0.0.1] rename=[] match=[{msg [p1 p4]} {[a][b] [p2 p3]}] size=1024 wait=1s tags=[] level=info`},
		{`match = ["msg", "p1", "msg", "p2"]`, `hosts=[127.0.0.1] rename=[] match=[{msg [p1 p2]}] size=1024 wait=1s tags=[] level=info`},
		{`size = 10`, `hosts=[127.0.0.1] rename=[] match=[] size=10 wait=1s tags=[] level=info`},
		{`size = "10kb"`, `hosts=[127.0.0.1] rename=[] match=[] size=10000 wait=1s tags=[] level=info`},
		{`size = "10 KiB"`, `hosts=[127.0.0.1] rename=[] match=[] size=10240 wait=1s tags=[] level=info`},
		{`size = "1.5MiB"`, `hosts=[127.0.0.1] rename=[] match=[] size=1572864 wait=1s tags=[] level=info`},
		{`size = "2gb"`, `hosts=[127.0.0.1] rename=[] match=[] size=2000000000 wait=1s tags=[] level=info`},
		{`wait = "1h30m"`, `hosts=[127.0.0.1] rename=[] match=[] size=1024 wait=1h30m0s tags=[] level=info`},
		{`wait = "2d"`, `hosts=[127.0.0.1] rename=[] match=[] size=1024 wait=48h0m0s tags=[] level=info`},
		{`wait = "5 s"`, `hosts=[127.0.0.1] rename=[] match=[] size=1024 wait=5s tags=[] level=info`},
		// Numbers are taken as their text, a one-element list for one value as its element.
		{`hosts = ["a", 1]`, `hosts=[a 1] rename=[] match=[] size=1024 wait=1s tags=[] level=info`},
		{`rename = { a = ["b"] }`, `hosts=[127.0.0.1] rename=[{a b}] match=[] size=1024 wait=1s tags=[] level=info`},
		{`size = ["1kb"]`, `hosts=[127.0.0.1] rename=[] match=[] size=1000 wait=1s tags=[] level=info`},
		{`tags = "x"`, `hosts=[127.0.0.1] rename=[] match=[] size=1024 wait=1s tags=[x] level=info`},
		{`level = "debug"`, `hosts=[127.0.0.1] rename=[] match=[] size=1024 wait=1s tags=[] level=debug`},
		// Refused, naming the option.
		{`hosts = { a = "b" }`, `Invalid value for "hosts"; want a string or a list of strings; got object`},
		{`hosts = ["a", ["b"]]`, `Invalid value for "hosts"; want a string or a list of strings`},
		{`rename = { a = ["b", "c"] }`, `Invalid value for "rename"; key "a": want a string; got a list of 2 values`},
		{`rename = ["a", "b", "c"]`, `Invalid value for "rename"; the array form needs key, value pairs; got 3 items`},
		{`rename = "a"`, `Invalid value for "rename"; want a hash`},
		{`match = { msg = { a = "b" } }`, `Invalid value for "match"; key "msg": want a pattern or a list of patterns; got object`},
		{`size = "ten"`, `Invalid value for "size"; "ten" is not a byte size`},
		{`size = -1`, `Invalid value for "size"; a byte count must be a whole number`},
		{`size = "9999999EiB"`, `Invalid value for "size"; "9999999EiB" is too large`},
		{`wait = "soon"`, `Invalid value for "wait"; "soon" is not a duration`},
		{`wait = 5`, `Invalid value for "wait"; want a duration such as "30s"; got number`},
		{`nope = 1`, `Unsupported argument`},
	} {
		o, err := decodeShapes(t, tc.src)
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = fmt.Sprintf("hosts=%v rename=%v match=%v size=%d wait=%v tags=%v level=%s",
				[]string(o.Hosts), []engine.HashEntry(o.Rename), []engine.ListEntry(o.Match), o.Size, o.Wait.D(), o.Tags, o.Level)
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: got %s; want %s", tc.src, got, tc.want)
		}
	}
}

func TestHashGet(t *testing.T) {
	h := engine.Hash{{Key: "a", Value: "1"}}
	if v, ok := h.Get("a"); !ok || v != "1" {
		t.Errorf("Get(a) = %q, %v", v, ok)
	}
	if _, ok := h.Get("b"); ok {
		t.Error("Get(b) found a value")
	}
}

// Logstash's FriendlyDurations (the file input's interval options): bare
// numbers in the option's unit, unit words as its pattern spells them.
func TestParseFriendlyDuration(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		in   string
		unit time.Duration
		want time.Duration
		ok   bool
	}{
		{"1", time.Second, time.Second, true},
		{"3600", time.Second, time.Hour, true},
		{"2.5", time.Second, 2500 * time.Millisecond, true},
		{"1 second", time.Second, time.Second, true},
		{"60 sec", time.Second, time.Minute, true},
		{"5m", time.Second, 5 * time.Minute, true},
		{"2 minutes", time.Second, 2 * time.Minute, true},
		{"18h", time.Second, 18 * time.Hour, true},
		{"1 day", time.Second, day, true},
		{"21.5d", time.Second, 21*day + 12*time.Hour, true},
		{"2w", time.Second, 14 * day, true},
		{"6 weeks", time.Second, 42 * day, true},
		{"250ms", time.Second, 250 * time.Millisecond, true},
		{"200 usec", time.Second, 200 * time.Microsecond, true},
		{"14", day, 14 * day, true},
		{"14 days", day, 14 * day, true},
		{"30 s", day, 30 * time.Second, true}, // a unit word wins over the default
		{" 7 ", time.Second, 7 * time.Second, true},
		{"1  second", time.Second, 0, false}, // one space at most
		{"-1", time.Second, 0, false},
		{"1 fortnight", time.Second, 0, false},
		{"1h30m", time.Second, 0, false},
		{"", time.Second, 0, false},
		{"99999999999999999999 weeks", time.Second, 0, false},
	} {
		got, err := engine.ParseFriendlyDuration(tc.in, tc.unit)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseFriendlyDuration(%q, %v) = %v, %v; want %v (ok %v)", tc.in, tc.unit, got, err, tc.want, tc.ok)
		}
	}
}
