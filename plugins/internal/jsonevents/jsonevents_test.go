package jsonevents

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/pipelined/pipeline/engine/event"
)

func TestAppend(t *testing.T) {
	tests := []struct {
		name, target, in string
		want             []string // messages, or the value of [doc][a] with a target
		ok               bool
	}{
		{"blank", "", " \n", nil, true},
		{"null", "", "null", nil, true},
		{"object", "", ` {"message":"m"} `, []string{"m"}, true},
		{"array", "", `[{"message":"a"},{"message":"b"}]`, []string{"a", "b"}, true},
		{"bad object", "", `{"message":`, []string{`{"message":`}, false},
		{"scalar", "", `1`, []string{`1`}, false},
		{"array with a scalar", "", `[{"message":"a"},1]`, []string{`[{"message":"a"},1]`}, false},
		{"target", "[doc]", `{"a":"x"}`, []string{"x"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			p, err := NewParser(tc.target, slog.New(slog.NewTextHandler(&log, nil)))
			if err != nil {
				t.Fatal(err)
			}
			evs, ok := p.Append(nil, []byte(tc.in))
			if ok != tc.ok {
				t.Errorf("ok = %v; want %v", ok, tc.ok)
			}
			var got []string
			for _, e := range evs {
				if tc.target != "" {
					s, _ := e.GetString(event.MustRef("[doc][a]"))
					got = append(got, s)
					continue
				}
				m, _ := e.Message()
				got = append(got, m)
				if e.HasTag(FailureTag) == tc.ok {
					t.Errorf("event %q: tag %s present = %v", m, FailureTag, !tc.ok)
				}
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("events %q; want %q", got, tc.want)
			}
			if warned := strings.Contains(log.String(), "JSON parse error"); warned == tc.ok {
				t.Errorf("warning logged = %v; want %v (log %q)", warned, !tc.ok, log.String())
			}
		})
	}
}

func TestNewParserBadTarget(t *testing.T) {
	if _, err := NewParser("[a", nil); err == nil || !strings.Contains(err.Error(), "target") {
		t.Errorf("NewParser([a) error = %v; want one about target", err)
	}
}
