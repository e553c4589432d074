package jdbc

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/timefmt"
	"github.com/pipelined/pipeline/plugins/internal/atomicfile"
)

// column says how to read one result column.
type column struct {
	name     string // the field name (lower-cased with lowercase_column_names)
	typeName string // the driver's type name, upper case
	conv     func([]byte) []byte
}

// value turns what the driver scanned into an event value as Logstash's
// Sequel gives it: integers, floats (DECIMAL and NUMERIC too), strings,
// booleans, times (as @timestamp-like values) and nil for NULL.
func (in *Input) value(c *column, v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case []byte:
		return in.fromText(c, string(x), true)
	case string:
		return in.fromText(c, x, false)
	case time.Time:
		return in.fromTime(c, x)
	case float32:
		return float64(x)
	case int64:
		if c.typeName == "BOOLEAN" || c.typeName == "BOOL" {
			return x != 0 // SQLite keeps booleans as 0 and 1
		}
		return x
	}
	if nv, err := event.Normalize(v); err == nil {
		return nv
	}
	return fmt.Sprint(v)
}

// fromText reads a column the driver gave as text: MySQL's text protocol
// gives every column so; PostgreSQL gives NUMERIC so.
func (in *Input) fromText(c *column, s string, raw bool) any {
	t := c.typeName
	switch {
	case strings.Contains(t, "INT") && raw:
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
	case t == "DECIMAL" || t == "NUMERIC" || raw && (t == "FLOAT" || t == "DOUBLE" || t == "REAL" || t == "FLOAT4" || t == "FLOAT8"):
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) {
			return f
		}
	case raw && (t == "BOOL" || t == "BOOLEAN"):
		if b, err := strconv.ParseBool(s); err == nil {
			return b
		}
	case raw && (t == "DATETIME" || t == "TIMESTAMP" || t == "DATE"):
		if tm, err := time.ParseInLocation("2006-01-02 15:04:05.999999999", s, in.dbZone); err == nil {
			return tm.UTC()
		}
	}
	if c.conv != nil {
		return string(c.conv([]byte(s)))
	}
	return s
}

// fromTime reads a time. A time-zone-less column (TIMESTAMP, DATETIME,
// DATE) comes from the driver as a UTC wall clock: it is read in the
// database zone (jdbc_default_timezone, else plugin_timezone), as Sequel
// does. MySQL's driver does this itself.
func (in *Input) fromTime(c *column, t time.Time) time.Time {
	if !in.dial.zoned && t.Location() == time.UTC && !strings.Contains(c.typeName, "TZ") &&
		!strings.Contains(c.typeName, "ZONE") && in.dbZone != time.UTC {
		t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), in.dbZone)
	}
	return t.UTC()
}

// The types of sql_last_value.
const (
	trackNumeric = "numeric"
	trackTime    = "timestamp"
)

// initialValue is sql_last_value before any run: 0, or 1970-01-01.
func initialValue(kind string) any {
	if kind == trackNumeric {
		return int64(0)
	}
	return time.Unix(0, 0).UTC()
}

// trackValue is the new sql_last_value that a row's tracking column gives,
// or false when it cannot be one (Logstash keeps the previous value).
func trackValue(kind string, v any) (any, bool) {
	switch kind {
	case trackNumeric:
		switch v.(type) {
		case int64, float64:
			return v, true
		}
	default:
		switch x := v.(type) {
		case time.Time:
			return x, true
		case string:
			if t, err := timefmt.ParseTimestamp(x); err == nil {
				return t, true
			}
			if t, err := time.ParseInLocation("2006-01-02 15:04:05.999999999", x, time.UTC); err == nil {
				return t, true
			}
		}
	}
	return nil, false
}

// The state file holds sql_last_value as Logstash writes it, YAML:
// "--- 42" or "--- 2026-12-07 15:08:30.123456789 Z" (Logstash's own files,
// with !ruby/object:DateTime or !ruby/object:BigDecimal, are read too).
const yamlTime = "2006-01-02 15:04:05.999999999 -07:00"

func formatState(v any) string {
	switch x := v.(type) {
	case int64:
		return "--- " + strconv.FormatInt(x, 10) + "\n"
	case float64:
		return "--- " + strconv.FormatFloat(x, 'g', -1, 64) + "\n"
	case time.Time:
		return "--- " + x.UTC().Format("2006-01-02 15:04:05.000000000") + " Z\n"
	}
	return ""
}

var errDamaged = errors.New("not a sql_last_value")

// parseState reads a state file's content.
func parseState(b []byte) (any, error) {
	s := strings.TrimSpace(string(b))
	s = strings.TrimSpace(strings.TrimPrefix(s, "---"))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		if strings.TrimSpace(s[i:]) != "" && strings.TrimSpace(s[i:]) != "..." {
			return nil, errDamaged
		}
		s = strings.TrimSpace(s[:i])
	}
	switch {
	case strings.HasPrefix(s, "!ruby/object:DateTime"):
		s = strings.TrimSpace(strings.TrimPrefix(s, "!ruby/object:DateTime"))
	case strings.HasPrefix(s, "!ruby/object:BigDecimal"):
		s = strings.TrimSpace(strings.TrimPrefix(s, "!ruby/object:BigDecimal"))
		if _, num, ok := strings.Cut(s, ":"); ok { // "18:0.42e2"
			if f, err := strconv.ParseFloat(num, 64); err == nil {
				return f, nil
			}
		}
		return nil, errDamaged
	}
	s = strings.Trim(s, `'"`)
	if s == "" {
		return nil, errDamaged
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return f, nil
	}
	if strings.HasSuffix(s, " Z") {
		s = strings.TrimSuffix(s, " Z") + " +00:00"
	}
	for _, layout := range []string{yamlTime, "2006-01-02 15:04:05.999999999 -0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return nil, errDamaged
}

// stateFile is the last_run_metadata_path file.
type stateFile struct{ path string }

// read returns the stored value; (nil, nil) when there is none.
func (f stateFile) read() (any, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(b) > 4096 {
		return nil, errDamaged
	}
	return parseState(b)
}

// write replaces the file atomically: a temporary file in the same
// directory, synced, renamed over it.
func (f stateFile) write(v any) error {
	return atomicfile.Write(f.path, []byte(formatState(v)), 0o600)
}
