package ir

import (
	"testing"
	"time"
)

func TestParseAge(t *testing.T) {
	for in, want := range map[string]time.Duration{"5d": 5 * 24 * time.Hour, "12h": 12 * time.Hour, "30m": 30 * time.Minute, "10s": 10 * time.Second} {
		if got, err := ParseAge(in); err != nil || got != want {
			t.Errorf("ParseAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "5", "0d", "-1h", "1.5h", "5w", "99999999999999999d"} {
		if got, err := ParseAge(in); err == nil {
			t.Errorf("ParseAge(%q) = %v; want an error", in, got)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{
		"1024mb": 1 << 30, "1gb": 1 << 30, "4GB": 4 << 30, "512 kb": 512 << 10,
		"100": 100, "100b": 100, "1.5mb": 3 << 19, "2tb": 2 << 40,
	} {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "mb", "lots", "-1mb", "1 zb", "1e400"} {
		if got, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) = %d; want an error", in, got)
		}
	}
}
