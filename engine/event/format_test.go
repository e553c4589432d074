package event

import (
	"math"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/timefmt"
)

func TestAppendTimestamp(t *testing.T) {
	base := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		t    time.Time
		want string
	}{
		{base, "2024-05-01T10:00:00.000Z"},
		{base.Add(123 * time.Millisecond), "2024-05-01T10:00:00.123Z"},
		{base.Add(123456 * time.Microsecond), "2024-05-01T10:00:00.123456Z"},
		{base.Add(1), "2024-05-01T10:00:00.000000001Z"},
		{base.In(time.FixedZone("X", 3600)), "2024-05-01T10:00:00.000Z"},
		{time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("x", 3600)), "2026-01-02T02:04:05.000006Z"},
		// java.time's ISO_INSTANT signs years beyond four digits.
		{time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), "0000-01-01T00:00:00.000Z"},
		{time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC), "9999-12-31T23:59:59.999Z"},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "+10000-01-01T00:00:00.000Z"},
		{time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), "-0001-01-01T00:00:00.000Z"},
	}
	for _, tt := range tests {
		if got := string(timefmt.AppendTimestamp([]byte("at "), tt.t)); got != "at "+tt.want {
			t.Errorf("timefmt.AppendTimestamp(%v) = %q, want %q", tt.t, got, "at "+tt.want)
		}
		// The JSON form is the same text, quoted, and parses back.
		if got := string(AppendJSONValue(nil, tt.t)); got != `"`+tt.want+`"` {
			t.Errorf("AppendJSONValue(%v) = %s, want %q", tt.t, got, tt.want)
		}
		if back, err := timefmt.ParseTimestamp(tt.want); err != nil || !back.Equal(tt.t) {
			t.Errorf("timefmt.ParseTimestamp(%q) = %v, %v; want %v", tt.want, back, err, tt.t)
		}
	}
}

func TestAppendJavaString(t *testing.T) {
	ts := time.Date(2026, 11, 24, 10, 0, 1, 0, time.UTC)
	tests := []struct {
		v    any
		want string
	}{
		{"s", "s"},
		{nil, "null"},
		{int64(7), "7"},
		{1.5, "1.5"},
		{math.NaN(), "NaN"},
		{ts, "2026-11-24T10:00:01.000Z"},
		{[]any{1e21, true, nil}, "[1.0E21, true, null]"},
		{map[string]any{"ip": []any{"::1"}, "hostname": "h"}, "{hostname=h, ip=[::1]}"},
	}
	for _, tt := range tests {
		if got := string(AppendJavaString(nil, tt.v)); got != tt.want {
			t.Errorf("AppendJavaString(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
