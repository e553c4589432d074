package eventfmt

import (
	"math"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/event"
)

func TestAppendString(t *testing.T) {
	ts := time.Date(2026, 11, 24, 10, 0, 1, 0, time.UTC)
	tests := []struct {
		name   string
		fields map[string]any
		want   string
	}{
		{"string host", map[string]any{"host": "h", "message": "m"}, "2026-11-24T10:00:01.000Z h m"},
		{"ECS host", map[string]any{"host": map[string]any{"hostname": "h", "ip": []any{"::1"}}, "message": "m"}, "2026-11-24T10:00:01.000Z {hostname=h, ip=[::1]} m"},
		{"missing", map[string]any{}, "2026-11-24T10:00:01.000Z %{host} %{message}"},
		{"null message", map[string]any{"host": "h", "message": nil}, "2026-11-24T10:00:01.000Z h %{message}"},
		{"numbers", map[string]any{"host": int64(7), "message": 1.5}, "2026-11-24T10:00:01.000Z 7 1.5"},
		{"special floats", map[string]any{"host": math.NaN(), "message": []any{1e21, true, nil}}, "2026-11-24T10:00:01.000Z NaN [1.0E21, true, null]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := event.FromMap(tc.fields)
			if err != nil {
				t.Fatal(err)
			}
			e.SetTimestamp(ts)
			if got := string(AppendString(nil, e)); got != tc.want {
				t.Errorf("AppendString = %q; want %q", got, tc.want)
			}
		})
	}
}

func TestFormatter(t *testing.T) {
	if _, err := New("%{[a}"); err == nil {
		t.Error("New accepted a bad template")
	}
	f, err := New("<%{message}>")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(f.Append(nil, event.NewMessage("m"))); got != "<m>" {
		t.Errorf("Append = %q", got)
	}
}
