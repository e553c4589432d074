package valuefmt

import (
	"math"
	"testing"
)

func TestAppendRubyFloat(t *testing.T) {
	// Expected strings are Ruby's Float#to_s.
	tests := []struct {
		f    float64
		want string
	}{
		{1, "1.0"},
		{1.5, "1.5"},
		{2.5, "2.5"},
		{100, "100.0"},
		{-0.5, "-0.5"},
		{-2, "-2.0"},
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{123.456, "123.456"},
		{12345678.9, "12345678.9"},
		{1e15, "1000000000000000.0"},
		{1e16, "1.0e+16"},
		{1.5e16, "1.5e+16"},
		{1.25e20, "1.25e+20"},
		{1e100, "1.0e+100"},
		{0.0001, "0.0001"},
		{0.00012, "0.00012"},
		{0.00001, "1.0e-05"},
		{1.25e-7, "1.25e-07"},
		{5e-324, "5.0e-324"},
		{0.30000000000000004, "0.30000000000000004"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "Infinity"},
		{math.Inf(-1), "-Infinity"},
	}
	for _, tt := range tests {
		if got := string(AppendRubyFloat([]byte("x"), tt.f)); got != "x"+tt.want {
			t.Errorf("AppendRubyFloat(%v) = %q, want %q", tt.f, got, "x"+tt.want)
		}
	}
}

func TestAppendJavaDouble(t *testing.T) {
	// Expectations from Java's Double.toString (JDK 19+).
	tests := []struct {
		f    float64
		want string
	}{
		{1.5, "1.5"}, {3, "3.0"}, {-2.5, "-2.5"}, {100, "100.0"}, {0.1, "0.1"}, {0.3, "0.3"},
		{0.001, "0.001"}, {0.0001, "1.0E-4"}, {9999999, "9999999.0"}, {1e7, "1.0E7"},
		{123456.789, "123456.789"}, {12345678.9, "1.23456789E7"}, {1.234e-5, "1.234E-5"},
		{1e20, "1.0E20"}, {1e21, "1.0E21"}, {1.7976931348623157e308, "1.7976931348623157E308"},
		{5e-324, "4.9E-324"}, {2.0 / 3, "0.6666666666666666"}, {0, "0.0"}, {negZero(), "-0.0"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := string(AppendJavaDouble(nil, tc.f)); got != tc.want {
				t.Errorf("AppendJavaDouble(%v) = %q; want %q", tc.f, got, tc.want)
			}
		})
	}
}

func negZero() float64 {
	z := 0.0
	return -z
}
