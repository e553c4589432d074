package cond

import (
	"math"
	"testing"
	"time"
)

func TestAppendRubyFloat(t *testing.T) {
	// Expected strings are Ruby's Float#to_s.
	tests := []struct {
		f    float64
		want string
	}{
		{1, "1.0"},
		{2.5, "2.5"},
		{100, "100.0"},
		{-0.5, "-0.5"},
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{123.456, "123.456"},
		{12345678.9, "12345678.9"},
		{1e15, "1000000000000000.0"},
		{1e16, "1.0e+16"},
		{1.5e16, "1.5e+16"},
		{1e100, "1.0e+100"},
		{0.0001, "0.0001"},
		{0.00012, "0.00012"},
		{0.00001, "1.0e-05"},
		{1.25e-7, "1.25e-07"},
		{0.30000000000000004, "0.30000000000000004"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "Infinity"},
		{math.Inf(-1), "-Infinity"},
	}
	for _, tt := range tests {
		if got := string(appendRubyFloat(nil, tt.f)); got != tt.want {
			t.Errorf("appendRubyFloat(%v) = %q, want %q", tt.f, got, tt.want)
		}
	}
}

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
	}
	for _, tt := range tests {
		if got := string(appendTimestamp(nil, tt.t)); got != tt.want {
			t.Errorf("appendTimestamp(%v) = %q, want %q", tt.t, got, tt.want)
		}
	}
}

func TestCompareIntFloat(t *testing.T) {
	tests := []struct {
		i    int64
		f    float64
		want int
		ok   bool
	}{
		{1, 1.0, 0, true},
		{1, 1.5, -1, true},
		{2, 1.5, 1, true},
		{-2, -1.5, -1, true},
		{-1, -1.5, 1, true},
		{1 << 53, 1 << 53, 0, true},
		{1<<53 + 1, 1 << 53, 1, true},
		{math.MaxInt64, 0x1p63, -1, true},
		{math.MinInt64, -0x1p63, 0, true},
		{math.MinInt64, -0x1p64, 1, true},
		{0, math.NaN(), 0, false},
		{0, math.Inf(1), -1, true},
	}
	for _, tt := range tests {
		c, ok := cmpIntFloat(tt.i, tt.f)
		if c != tt.want || ok != tt.ok {
			t.Errorf("cmpIntFloat(%d, %v) = %d, %v; want %d, %v", tt.i, tt.f, c, ok, tt.want, tt.ok)
		}
	}
}
