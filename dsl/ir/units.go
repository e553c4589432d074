package ir

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseAge reads a Logstash age such as dead_letter_queue.retain.age: a
// positive whole number with the unit d, h, m or s ("5d", "12h").
func ParseAge(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	units := map[byte]time.Duration{'d': 24 * time.Hour, 'h': time.Hour, 'm': time.Minute, 's': time.Second}
	if len(t) >= 2 {
		if u, ok := units[t[len(t)-1]]; ok {
			n, err := strconv.ParseInt(t[:len(t)-1], 10, 64)
			if err == nil && n > 0 && n <= int64(math.MaxInt64/u) {
				return time.Duration(n) * u, nil
			}
		}
	}
	return 0, fmt.Errorf("%q is not an age; write a whole number with d, h, m or s, e.g. \"5d\"", s)
}

// ParseByteSize reads a size written as Logstash writes them: a whole number
// of bytes, or a number with one of the units b, kb, mb, gb, tb (powers of
// 1024, any case, an optional space), e.g. "1024mb" or "4gb".
func ParseByteSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"tb", 1 << 40}, {"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}, {"b", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || f*float64(mult) > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is not a size; write e.g. \"1024mb\" or \"4gb\"", s)
	}
	return int64(f * float64(mult)), nil
}

// FormatAge writes an age as ParseAge reads it, in the largest of the units
// d, h, m and s that it is a whole number of ("72h" → "3d"). Fractions of a
// second are dropped.
func FormatAge(d time.Duration) string {
	for _, u := range []struct {
		unit string
		d    time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}} {
		if d%u.d == 0 {
			return fmt.Sprintf("%d%s", d/u.d, u.unit)
		}
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

// ParsePortRange reads "9600" or "9600-9700".
func ParsePortRange(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(strings.TrimSpace(s), "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi = lo
	var err2 error
	if isRange {
		hi, err2 = strconv.Atoi(strings.TrimSpace(b))
	}
	if err1 != nil || err2 != nil || lo < 0 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("%q is not a port or a port range such as 9600-9700", s)
	}
	return lo, hi, nil
}
