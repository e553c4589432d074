package csv

import (
	"errors"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// converter turns a column's text (nil for an empty unquoted field) into its
// value. An error fails the event, as the exception it stands for does in
// Logstash; text that does not convert is kept as it is.
type converter func(v *string) (any, error)

var converters = map[string]converter{
	"integer":   convertInteger,
	"float":     convertFloat,
	"date":      convertDate,
	"date_time": convertDateTime,
	"boolean":   convertBoolean,
}

func keep(v *string) any {
	if v == nil {
		return nil
	}
	return *v
}

// convertInteger is Ruby's Integer(text): surrounding white space, a sign, a
// 0x, 0b, 0o or 0d prefix (a bare leading 0 means octal), single underscores
// between digits. A value beyond 64 bits stays text.
func convertInteger(v *string) (any, error) {
	if v == nil {
		return nil, nil
	}
	if n, ok := rubyInteger(*v); ok {
		return n, nil
	}
	return *v, nil
}

func rubyInteger(s string) (int64, bool) {
	s = strings.Trim(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	base := 10
	if len(s) > 1 && s[0] == '0' {
		switch s[1] {
		case 'x', 'X':
			base, s = 16, s[2:]
		case 'b', 'B':
			base, s = 2, s[2:]
		case 'o', 'O':
			base, s = 8, s[2:]
		case 'd', 'D':
			base, s = 10, s[2:]
		default:
			base, s = 8, s[1:]
		}
	}
	digits, ok := underscored(s)
	if !ok {
		return 0, false
	}
	u, err := strconv.ParseUint(digits, base, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// underscored drops the single underscores Ruby allows between digits.
func underscored(s string) (string, bool) {
	if s == "" || s[0] == '_' || s[len(s)-1] == '_' || strings.Contains(s, "__") {
		return "", false
	}
	return strings.ReplaceAll(s, "_", ""), true
}

// rubyFloatText is what Ruby's Float(text) takes in decimal: digits before or
// after the point (both sides when there is a point and digits before it), an
// exponent, underscores between digits.
var rubyFloatText = regexp.MustCompile(`^[+-]?(\d+(_\d+)*(\.\d+(_\d+)*)?|\.\d+(_\d+)*)([eE][+-]?\d+(_\d+)*)?$`)

// convertFloat is Ruby's Float(text): a decimal or hexadecimal number with
// surrounding white space. A value out of range stays text.
func convertFloat(v *string) (any, error) {
	if v == nil {
		return nil, nil
	}
	s := strings.Trim(*v, " \t\n\v\f\r")
	if t := strings.TrimLeft(s, "+-"); len(s)-len(t) <= 1 && len(t) > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') {
		if n, ok := rubyInteger(s); ok {
			return float64(n), nil
		}
		return *v, nil
	}
	if !rubyFloatText.MatchString(s) {
		return *v, nil
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil || math.IsInf(f, 0) {
		return *v, nil
	}
	return f, nil
}

// convertBoolean is Logstash's: "true" or "false", ignoring case and
// surrounding white space; other text is kept. An empty unquoted field fails
// the event, as calling strip on nil does in Logstash.
func convertBoolean(v *string) (any, error) {
	if v == nil {
		return nil, errors.New("boolean conversion of an empty field")
	}
	switch strings.ToLower(strings.Trim(*v, " \t\n\v\f\r\x00")) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return *v, nil
}

// The forms Ruby's CSV converters accept (CSV::DateMatcher and
// CSV::DateTimeMatcher); anything else is kept as text.
var (
	isoDate      = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})$`)
	usDate       = regexp.MustCompile(`^(?:\w+,?\s+)?(\w+)\s+(\d{1,2}),?\s+(\d{2,4})$`)
	usDateTime   = regexp.MustCompile(`^(?:\w+,?\s+)?(\w+)\s+(\d{1,2})\s+(\d{1,2}):(\d{1,2}):(\d{1,2}),?\s+(\d{2,4})$`)
	isoDateSpace = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})\s(\d{2}):(\d{2}):(\d{2})$`)
	isoDateTime  = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?([+-]\d{2}:\d{2}|Z)?)?)?$`)
)

// convertDate reads "2017-06-01" or "June 1, 2017" (an optional leading word
// such as the weekday, which is not checked; a month is named by its first
// three letters; a two-digit year is 1969-2068) as midnight UTC. Logstash
// takes the midnight of its machine's time zone.
func convertDate(v *string) (any, error) {
	if v == nil {
		return nil, nil
	}
	s := *v
	var y, m, d int
	if g := isoDate.FindStringSubmatch(s); g != nil {
		y, m, d = atoi(g[1]), atoi(g[2]), atoi(g[3])
	} else if g := usDate.FindStringSubmatch(s); g != nil {
		if m = monthOf(g[1]); m == 0 {
			return s, nil
		}
		y, d = year(g[3]), atoi(g[2])
	} else {
		return s, nil
	}
	t, ok := civil(y, m, d, 0, 0, 0, 0, time.UTC)
	if !ok {
		return s, nil
	}
	return t, nil
}

// convertDateTime reads "2001-02-03 04:05:06", ISO 8601 ("2001-02-03",
// "2001-02-03T04:05", "2001-02-03T04:05:06.5+07:00") and "Thu Jun 1 12:34:56
// 2017", as Ruby's DateTime.parse does: no zone means UTC, 24:00:00 is the
// next midnight, a 60th second is the 59th.
func convertDateTime(v *string) (any, error) {
	if v == nil {
		return nil, nil
	}
	s := *v
	var y, mo, d, h, mi, sec, nsec int
	loc := time.UTC
	switch {
	case usDateTime.MatchString(s):
		g := usDateTime.FindStringSubmatch(s)
		if mo = monthOf(g[1]); mo == 0 {
			return s, nil
		}
		d, h, mi, sec, y = atoi(g[2]), atoi(g[3]), atoi(g[4]), atoi(g[5]), year(g[6])
	case isoDateSpace.MatchString(s):
		g := isoDateSpace.FindStringSubmatch(s)
		y, mo, d, h, mi, sec = atoi(g[1]), atoi(g[2]), atoi(g[3]), atoi(g[4]), atoi(g[5]), atoi(g[6])
	case isoDateTime.MatchString(s):
		g := isoDateTime.FindStringSubmatch(s)
		y, mo, d, h, mi, sec = atoi(g[1]), atoi(g[2]), atoi(g[3]), atoi(g[4]), atoi(g[5]), atoi(g[6])
		if g[7] != "" {
			frac := (g[7][1:] + "000000000")[:9]
			nsec = atoi(frac)
		}
		if z := g[8]; z != "" && z != "Z" {
			off := (atoi(z[1:3])*60 + atoi(z[4:6])) * 60
			if z[0] == '-' {
				off = -off
			}
			loc = time.FixedZone("", off)
		}
	default:
		return s, nil
	}
	t, ok := civil(y, mo, d, h, mi, sec, nsec, loc)
	if !ok {
		return s, nil
	}
	return t.UTC(), nil
}

// civil builds a time from fields checked as Ruby's Date checks them.
func civil(y, mo, d, h, mi, sec, nsec int, loc *time.Location) (time.Time, bool) {
	if mo < 1 || mo > 12 || d < 1 || d > time.Date(y, time.Month(mo)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return time.Time{}, false
	}
	if sec == 60 {
		sec = 59
	}
	if h == 24 && mi == 0 && sec == 0 && nsec == 0 {
		return time.Date(y, time.Month(mo), d+1, 0, 0, 0, 0, loc), true
	}
	if h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, nsec, loc), true
}

var months = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

// monthOf is the month whose name starts the word (its first three letters,
// any case), 0 for none.
func monthOf(w string) int {
	if len(w) < 3 {
		return 0
	}
	p := strings.ToLower(w[:3])
	for i, m := range months {
		if p == m {
			return i + 1
		}
	}
	return 0
}

// year completes a two-digit year as Ruby's Date.parse does.
func year(s string) int {
	y := atoi(s)
	if len(s) == 2 {
		if y >= 69 {
			return 1900 + y
		}
		return 2000 + y
	}
	return y
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
