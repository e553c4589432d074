package date

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/pipelined/pipeline/engine/timefmt"
)

// A format parses one source value. loc is the zone for local times (never
// nil); now is the reading time, for year-less patterns.
type format interface {
	parse(v any, loc *time.Location, now time.Time) (time.Time, error)
	zoned() bool // whether parse uses loc
}

func (jodaFormat) zoned() bool   { return true }
func (isoFormat) zoned() bool    { return true }
func (unixFormat) zoned() bool   { return false }
func (unixMSFormat) zoned() bool { return false }
func (tai64nFormat) zoned() bool { return false }

var errNotString = errors.New("not a string")

func stringValue(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%w: %T", errNotString, v)
	}
	return s, nil
}

// jodaFormat is a Joda-Time pattern (Logstash's JodaParser).
type jodaFormat struct{ p *timefmt.JodaParser }

func (f jodaFormat) parse(v any, loc *time.Location, now time.Time) (time.Time, error) {
	s, err := stringValue(v)
	if err != nil {
		return time.Time{}, err
	}
	return f.p.Parse(s, loc, now)
}

// isoFormat is ISO8601, Logstash's CasualISO8601Parser: Joda's
// ISODateTimeFormat.dateTimeParser(), then yyyy-MM-dd HH:mm:ss.SSS with an
// optional Z offset, with a dot or a comma before the milliseconds.
type isoFormat struct{}

func (isoFormat) parse(v any, loc *time.Location, now time.Time) (time.Time, error) {
	s, err := stringValue(v)
	if err != nil {
		return time.Time{}, err
	}
	return timefmt.ParseISO8601(s, loc, now)
}

// maxEpochSeconds is Logstash's limit for UNIX: Java's Integer.MAX_VALUE.
const maxEpochSeconds = math.MaxInt32

// unixFormat is UNIX, seconds since the epoch (Logstash's UnixEpochParser):
// an integer or float value, or a string of an integer with an optional
// fraction of which the first 3 digits are read. More than 2147483647 seconds
// fails.
type unixFormat struct{}

func (unixFormat) parse(v any, _ *time.Location, _ time.Time) (time.Time, error) {
	switch v := v.(type) {
	case int64:
		if v > maxEpochSeconds {
			return time.Time{}, fmt.Errorf("UNIX: %d is larger than the maximum epoch seconds", v)
		}
		if v < math.MinInt64/1000 { // v*1000 would wrap
			return time.Time{}, fmt.Errorf("UNIX: %d is out of range", v)
		}
		return time.UnixMilli(v * 1000).UTC(), nil
	case float64:
		if math.IsNaN(v) || v >= maxEpochSeconds+1 || v < math.MinInt64/1000 {
			return time.Time{}, fmt.Errorf("UNIX: %v is out of range", v)
		}
		return time.UnixMilli(int64(v * 1000)).UTC(), nil
	case string:
		secs, frac, hasDot := strings.Cut(v, ".")
		n, err := parseJavaLong(secs)
		if err != nil {
			return time.Time{}, fmt.Errorf("UNIX: %q is not a number", v)
		}
		if n > maxEpochSeconds {
			return time.Time{}, fmt.Errorf("UNIX: %q is larger than the maximum epoch seconds", v)
		}
		if n < math.MinInt64/1000 { // n*1000 would wrap
			return time.Time{}, fmt.Errorf("UNIX: %q is out of range", v)
		}
		ms := n * 1000
		if hasDot && frac != "" {
			// Logstash reads at most 3 digits after the dot and ignores the rest.
			digits := frac[:min(3, len(frac))]
			sub, err := parseJavaLong(digits)
			if err != nil {
				return time.Time{}, fmt.Errorf("UNIX: %q is not a number", v)
			}
			for i := len(digits); i < 3; i++ {
				sub *= 10
			}
			ms += sub
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("UNIX: cannot parse a %T", v)
}

// unixMSFormat is UNIX_MS, milliseconds since the epoch (Logstash's
// UnixMillisEpochParser): an integer, a float (truncated) or a string of an
// integer.
type unixMSFormat struct{}

func (unixMSFormat) parse(v any, _ *time.Location, _ time.Time) (time.Time, error) {
	switch v := v.(type) {
	case int64:
		return time.UnixMilli(v).UTC(), nil
	case float64:
		if math.IsNaN(v) || v >= math.MaxInt64 || v < math.MinInt64 {
			return time.Time{}, fmt.Errorf("UNIX_MS: %v is out of range", v)
		}
		return time.UnixMilli(int64(v)).UTC(), nil
	case string:
		n, err := parseJavaLong(v)
		if err != nil {
			return time.Time{}, fmt.Errorf("UNIX_MS: %q is not an integer", v)
		}
		return time.UnixMilli(n).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("UNIX_MS: cannot parse a %T", v)
}

// tai64nFormat is TAI64N (Logstash's TAI64NParser): an optional "@", 16 hex
// digits of TAI64 seconds and 8 of nanoseconds, as daemontools' tai64n
// writes; later characters are ignored. TAI is taken as UTC+10s, as Logstash
// does (it ignores the leap seconds after 1972).
type tai64nFormat struct{}

func (tai64nFormat) parse(v any, _ *time.Location, _ time.Time) (time.Time, error) {
	s, err := stringValue(v)
	if err != nil {
		return time.Time{}, err
	}
	s = strings.TrimPrefix(s, "@")
	if len(s) < 24 {
		return time.Time{}, fmt.Errorf("TAI64N: %q is too short", s)
	}
	secs, err1 := strconv.ParseInt(s[:16], 16, 64)
	nanos, err2 := strconv.ParseInt(s[16:24], 16, 32)
	if err1 != nil || err2 != nil || strings.ContainsAny(s[:24], "+-") {
		return time.Time{}, fmt.Errorf("TAI64N: %q is not hexadecimal", s)
	}
	secs &= 1<<62 - 1
	secs -= 10
	return time.UnixMilli(secs*1000 + nanos/1_000_000).UTC(), nil
}

// parseJavaLong is Java's Long.parseLong: an optional sign and decimal digits.
func parseJavaLong(s string) (int64, error) {
	if s == "" || s == "+" || s == "-" {
		return 0, strconv.ErrSyntax
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && !(i == 0 && (c == '+' || c == '-')) {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.ParseInt(s, 10, 64)
}
