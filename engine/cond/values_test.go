package cond

import (
	"math"
	"testing"
)

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
