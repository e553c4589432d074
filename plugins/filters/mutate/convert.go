package mutate

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pipelined/pipeline/engine/event"
)

type convertKind uint8

const (
	toInteger convertKind = iota
	toFloat
	toIntegerEU
	toFloatEU
	toString
	toBoolean
)

var convertKinds = map[string]convertKind{
	"integer":    toInteger,
	"float":      toFloat,
	"integer_eu": toIntegerEU,
	"float_eu":   toFloatEU,
	"string":     toString,
	"boolean":    toBoolean,
}

// apply follows mutate.rb's convert: a missing field, null and an object are
// left alone; a list is converted element by element, its nulls kept.
func (op *convertOp) apply(e *event.Event) error {
	v, ok := e.Get(op.ref)
	if !ok {
		return nil
	}
	switch x := v.(type) {
	case nil, map[string]any:
		return nil
	case []any:
		// Build a new list, so that a failure leaves the field as it was.
		out := make([]any, len(x))
		for i, el := range x {
			if el == nil {
				continue
			}
			c, err := convertValue(op.kind, el)
			if err != nil {
				return err
			}
			out[i] = c
		}
		return e.Set(op.ref, out)
	}
	c, err := convertValue(op.kind, v)
	if err != nil {
		return err
	}
	return e.Set(op.ref, c)
}

func convertValue(k convertKind, v any) (any, error) {
	switch k {
	case toString:
		return rubyToS(v), nil
	case toBoolean:
		return toBool(v), nil
	case toInteger, toIntegerEU:
		if s, ok := v.(string); ok {
			if k == toIntegerEU {
				s = swapEU(s)
			}
			return parseInteger(s)
		}
		return toInt(v)
	default: // toFloat, toFloatEU
		if s, ok := v.(string); ok {
			if k == toFloatEU {
				s = swapEU(s)
			}
			return parseFloat(s)
		}
		return toFloat64(v)
	}
}

// swapEU is Ruby's value.tr(",.", ".,").
func swapEU(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ',':
			return '.'
		case '.':
			return ','
		}
		return r
	}, s)
}

// cleanNumber is mutate.rb's value.strip.delete(',').downcase.
func cleanNumber(s string) string {
	s = rubyStrip(s)
	if strings.IndexByte(s, ',') >= 0 {
		s = strings.ReplaceAll(s, ",", "")
	}
	return strings.ToLower(s)
}

var (
	hexPrefix = regexp.MustCompile(`^[+-]?0x`)
	// decimal is what BigDecimal() and Float() accept besides hexadecimal,
	// once underscores between digits are removed.
	decimal = regexp.MustCompile(`^[+-]?(\d+(\.\d+)?|\.\d+)(e[+-]?\d+)?$`)
)

// removeUnderscores drops the underscores Ruby allows between digits.
func removeUnderscores(s string) (string, bool) {
	if strings.IndexByte(s, '_') < 0 {
		return s, true
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '_' && (i == 0 || i == len(s)-1 || !isDigit(s[i-1]) || !isDigit(s[i+1])) {
			return s, false
		}
	}
	return strings.ReplaceAll(s, "_", ""), true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseInteger is mutate.rb's convert_integer for a string (Logstash 8.14 and
// later): hexadecimal, or a decimal number truncated towards zero.
func parseInteger(s string) (any, error) {
	s = cleanNumber(s)
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, nil
	}
	if hexPrefix.MatchString(s) {
		if !strings.Contains(s, ".") {
			// Integer("0x1a")
			if i, err := strconv.ParseInt(s, 0, 64); err == nil {
				return i, nil
			}
			return nil, fmt.Errorf("cannot convert %q to an integer", s)
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("cannot convert %q to an integer", s)
		}
		return floatToInt(f)
	}
	d, ok := removeUnderscores(s)
	if !ok || !decimal.MatchString(d) {
		return nil, fmt.Errorf("cannot convert %q to an integer", s)
	}
	// BigDecimal(value).to_i: exact, whatever the number of digits.
	bf, _, err := big.ParseFloat(d, 10, 256, big.ToZero)
	if err != nil {
		return nil, fmt.Errorf("cannot convert %q to an integer", s)
	}
	bi, _ := bf.Int(nil)
	if !bi.IsInt64() {
		// Ruby gives a Bignum: the value stays exact (JSON writes its digits).
		return bi, nil
	}
	return bi.Int64(), nil
}

// parseFloat is mutate.rb's convert_float for a string: hexadecimal ("0x1a",
// "0x1.8p+1") or Float(value).
func parseFloat(s string) (any, error) {
	s = cleanNumber(s)
	if hexPrefix.MatchString(s) {
		if !strings.ContainsAny(s, ".p") {
			if i, err := strconv.ParseInt(s, 0, 64); err == nil {
				return float64(i), nil
			}
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f, nil
		}
		return nil, fmt.Errorf("cannot convert %q to a float", s)
	}
	d, ok := removeUnderscores(s)
	if !ok || !decimal.MatchString(d) {
		return nil, fmt.Errorf("cannot convert %q to a float", s)
	}
	f, err := strconv.ParseFloat(d, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, fmt.Errorf("cannot convert %q to a float", s)
	}
	return f, nil
}

// toInt is Integer(value) for a non-string: booleans are 1 and 0, floats are
// truncated, a timestamp gives its seconds since the epoch (Timestamp#to_i).
func toInt(v any) (any, error) {
	switch x := v.(type) {
	case bool:
		if x {
			return int64(1), nil
		}
		return int64(0), nil
	case int64:
		return x, nil
	case float64:
		return floatToInt(x)
	case time.Time:
		return x.Unix(), nil
	}
	return nil, fmt.Errorf("cannot convert %s to an integer", kindOf(v))
}

func floatToInt(f float64) (any, error) {
	t := math.Trunc(f)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("cannot convert %v to an integer", f)
	}
	if t < math.MinInt64 || t >= math.MaxInt64 {
		// Float#to_i: the float's exact value as a Bignum.
		bi, _ := big.NewFloat(t).Int(nil)
		return bi, nil
	}
	return int64(t), nil
}

// toFloat64 is Float(value) for a non-string; a timestamp gives its seconds
// since the epoch (Timestamp#to_f).
func toFloat64(v any) (any, error) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1.0, nil
		}
		return 0.0, nil
	case int64:
		return float64(x), nil
	case float64:
		return x, nil
	case time.Time:
		return float64(x.UnixNano()) / 1e9, nil
	}
	return nil, fmt.Errorf("cannot convert %s to a float", kindOf(v))
}

// toBool is mutate.rb's convert_boolean: value.to_s against TRUE_REGEX and
// FALSE_REGEX, /^(true|t|yes|y|1|1.0)$/i (the "." matches any character, and
// "^" and "$" any line); an empty string is false; anything else is returned
// unchanged.
func toBool(v any) any {
	s := rubyToS(v)
	switch {
	case trueRE.MatchString(s):
		return true
	case s == "" || falseRE.MatchString(s):
		return false
	}
	return v
}

var (
	trueRE  = regexp.MustCompile(`(?im)^(true|t|yes|y|1|1.0)$`)
	falseRE = regexp.MustCompile(`(?im)^(false|f|no|n|0|0.0)$`)
)

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case string:
		return "a string"
	case time.Time:
		return "a timestamp"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}
