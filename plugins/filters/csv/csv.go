// Package csv implements the csv filter, like Logstash's: it parses the
// source field as one row of comma-separated values and stores each value in
// a field named after its column.
//
// The row is read as Ruby's CSV.parse_line reads it: separator may be several
// characters; a field may be quoted with quote_char (one character), a doubled
// quote_char inside standing for itself; an empty unquoted field is null and
// an empty quoted one ""; the row ends at the first line break (the first of
// "\r\n", "\n" or "\r" found in the text sets which). A quote inside an
// unquoted field, an unclosed quote, text after a closing quote or a line
// break in an unquoted field tags the event _csvparsefailure, as does a
// source that is not a string; a missing or null source leaves the event
// alone.
//
// Column i is named columns[i]; columns beyond the list are named column<i+1>
// (counting from 1), or skipped without autogenerate_column_names. A column
// name is a field reference: "[a][b]" is nested. With target, the fields go
// under it. With autodetect_column_names and no columns, the first event's
// row becomes the column names and that event is dropped; with skip_header,
// an event whose row equals the column names is dropped. Both depend on the
// order events arrive in, so like Logstash they need pipeline.workers 1.
//
// An empty source ("") has no row: the event is tagged _csvskippedemptyfield
// with skip_empty_rows, and _csvparsefailure otherwise, as in Logstash.
// skip_empty_columns leaves out empty values (null or "").
//
// convert maps a column name to integer, float, boolean, date or date_time,
// applied as Logstash applies Ruby's CSV converters: a value that does not
// convert is kept as text (see the option), and so is an integer beyond 64
// bits (Logstash keeps a big number). Dates are read in UTC, where
// Logstash uses its machine's time zone for date. Converting an empty
// unquoted field to boolean fails the event (_csvparsefailure), as in
// Logstash.
//
// The common options apply when a row was stored.
//
// ecs_compatibility is accepted for compatibility: the filter behaves the same
// with "disabled", "v1" and "v8".
package csv

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
)

func init() { engine.RegisterFilter("csv", New) }

// The tags Logstash uses.
const (
	ParseFailureTag = "_csvparsefailure"
	EmptyRowTag     = "_csvskippedemptyfield"
)

// Options configures the csv filter.
type Options struct {
	// Source is the field holding the text to parse.
	Source string `hcl:"source,optional"`
	// Columns names the columns in order; each name is a field reference.
	Columns []string `hcl:"columns,optional"`
	// Separator separates columns; it may be several characters. "\t" is a
	// tab.
	Separator string `hcl:"separator,optional"`
	// QuoteChar quotes a column that holds the separator: one character.
	// "\\x00" (as Logstash configurations write it) is the NUL character.
	QuoteChar string `hcl:"quote_char,optional"`
	// Target is the field the columns are stored under; by default the
	// event's top level.
	Target string `hcl:"target,optional"`
	// AutogenerateColumnNames names the columns beyond columns column<N>;
	// when false they are skipped.
	AutogenerateColumnNames bool `hcl:"autogenerate_column_names,optional"`
	// SkipHeader drops events whose row equals the column names.
	SkipHeader bool `hcl:"skip_header,optional"`
	// SkipEmptyColumns leaves out columns whose value is empty.
	SkipEmptyColumns bool `hcl:"skip_empty_columns,optional"`
	// SkipEmptyRows tags an event whose source is empty _csvskippedemptyfield
	// (instead of _csvparsefailure).
	SkipEmptyRows bool `hcl:"skip_empty_rows,optional"`
	// Convert maps a column name to the type its value is converted to:
	// integer (Ruby's Integer(): "0x1A", "0b11", "017" octal, "1_000"),
	// float (Ruby's Float(): "1.5", ".5", "1e3", "0x1A"), boolean ("true" or
	// "false", any case), date ("2017-06-01", "June 1, 2017") or date_time
	// ("2001-02-03 04:05:06", ISO 8601, "Thu Jun 1 12:34:56 2017"), the last
	// two giving timestamps.
	Convert engine.Hash `hcl:"convert,optional"`
	// AutodetectColumnNames takes the column names from the first event's
	// row (that event is dropped) when columns is empty.
	AutodetectColumnNames bool `hcl:"autodetect_column_names,optional"`
	ecs.Compatibility
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Source = "message"
	o.Separator = ","
	o.QuoteChar = `"`
	o.AutogenerateColumnNames = true
	o.Compatibility.Defaults()
}

// Validate checks the references, the separators and the conversions.
func (o *Options) Validate() error {
	if err := o.Compatibility.Validate(); err != nil {
		return err
	}
	if _, err := event.ParseRef(o.Source); err != nil {
		return &engine.FieldError{Field: "source", Err: err}
	}
	if o.Separator == "" {
		return &engine.FieldError{Field: "separator", Err: errors.New("the separator must be 1 or more characters")}
	}
	if q := quoteChar(o.QuoteChar); len([]rune(q)) != 1 {
		return &engine.FieldError{Field: "quote_char", Err: fmt.Errorf("the quote character must be a single character, not %q", o.QuoteChar)}
	}
	if strings.Contains(o.Separator, quoteChar(o.QuoteChar)) {
		return &engine.FieldError{Field: "quote_char", Err: fmt.Errorf("the quote character %q is part of the separator %q", o.QuoteChar, o.Separator)}
	}
	if o.Target != "" {
		if _, err := event.ParseRef(targetPrefix(o.Target)); err != nil {
			return &engine.FieldError{Field: "target", Err: err}
		}
	}
	for _, c := range o.Columns {
		if _, err := columnRef(targetPrefix(o.Target), c); err != nil {
			return &engine.FieldError{Field: "columns", Err: fmt.Errorf("column %q: %w", c, err)}
		}
	}
	for _, c := range o.Convert {
		if _, ok := converters[c.Value]; !ok {
			return &engine.FieldError{Field: "convert", Err: fmt.Errorf("invalid conversion type %q for %q: use integer, float, date, date_time or boolean", c.Value, c.Key)}
		}
	}
	return nil
}

// quoteChar reads Logstash's "\x00" spelling of the NUL character.
func quoteChar(q string) string {
	if q == `\x00` {
		return "\x00"
	}
	return q
}

// targetPrefix is the target as a field reference prefix: "data" becomes
// "[data]", as in Logstash.
func targetPrefix(t string) string {
	if t != "" && !strings.HasPrefix(t, "[") {
		return "[" + t + "]"
	}
	return t
}

// columnRef is the field of column name under the target prefix, built as
// Logstash builds it: "[a][b]" is appended as is, "a" as "[a]".
func columnRef(prefix, name string) (event.Ref, error) {
	if strings.HasPrefix(name, "[") {
		return event.ParseRef(prefix + name)
	}
	return event.ParseRef(prefix + "[" + name + "]")
}

// columns is a set of column names with their fields and converters. A
// name is nil where an autodetected header had an empty unquoted value: that
// column is named column<N> as if there were no name.
type columns struct {
	names []*string
	refs  []event.Ref
	convs []converter
}

// Filter is the csv filter. It is safe for concurrent use.
type Filter struct {
	source           event.Ref
	sep, quote       string
	prefix           string
	autogenerate     bool
	skipHeader       bool
	skipEmptyColumns bool
	skipEmptyRows    bool
	autodetect       bool
	convert          map[string]converter

	mu   sync.RWMutex
	cols *columns // replaced once by autodetection
	// generated holds the refs of column<N> names, grown as rows need.
	generated []event.Ref
}

var _ engine.Filter = (*Filter)(nil)

// New builds a csv filter.
func New(o Options, _ engine.Resources) (*Filter, error) {
	f := &Filter{
		source:           event.MustRef(o.Source),
		sep:              o.Separator,
		quote:            quoteChar(o.QuoteChar),
		prefix:           targetPrefix(o.Target),
		autogenerate:     o.AutogenerateColumnNames,
		skipHeader:       o.SkipHeader,
		skipEmptyColumns: o.SkipEmptyColumns,
		skipEmptyRows:    o.SkipEmptyRows,
		autodetect:       o.AutodetectColumnNames && len(o.Columns) == 0,
		convert:          map[string]converter{},
	}
	for _, c := range o.Convert {
		f.convert[c.Key] = converters[c.Value]
	}
	names := make([]*string, len(o.Columns))
	for i := range o.Columns {
		names[i] = &o.Columns[i]
	}
	cols, err := f.columns(names)
	if err != nil {
		return nil, &engine.FieldError{Field: "columns", Err: err}
	}
	f.cols = cols
	return f, nil
}

func (f *Filter) columns(names []*string) (*columns, error) {
	c := &columns{names: names, refs: make([]event.Ref, len(names)), convs: make([]converter, len(names))}
	for i, n := range names {
		if n == nil {
			continue
		}
		r, err := columnRef(f.prefix, *n)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", *n, err)
		}
		c.refs[i], c.convs[i] = r, f.convert[*n]
	}
	return c, nil
}

// generatedRef is the field of column<i+1>.
func (f *Filter) generatedRef(i int) (event.Ref, error) {
	f.mu.RLock()
	if i < len(f.generated) {
		r := f.generated[i]
		f.mu.RUnlock()
		return r, nil
	}
	f.mu.RUnlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.generated) <= i {
		r, err := columnRef(f.prefix, "column"+strconv.Itoa(len(f.generated)+1))
		if err != nil {
			return event.Ref{}, err
		}
		f.generated = append(f.generated, r)
	}
	return f.generated[i], nil
}

var errEmptyRow = errors.New("csv: empty row")

// Filter parses the source of e.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	v, ok := e.Get(f.source)
	if !ok || v == nil || v == false {
		return append(out, e), engine.ErrNotApplied
	}
	s, ok := v.(string)
	if !ok {
		e.AddTag(ParseFailureTag)
		return append(out, e), fmt.Errorf("csv: the source is a %s, not a string", typeName(v))
	}
	values, ok, err := parseLine(s, f.sep, f.quote)
	if err != nil {
		e.AddTag(ParseFailureTag)
		return append(out, e), fmt.Errorf("csv: %w", err)
	}

	f.mu.RLock()
	cols := f.cols
	f.mu.RUnlock()
	if f.autodetect && len(cols.names) == 0 && ok {
		detected, done, err := f.detect(values)
		if err != nil {
			e.AddTag(ParseFailureTag)
			return append(out, e), fmt.Errorf("csv: autodetected %w", err)
		}
		if done {
			return out, nil // the header row: dropped, as Logstash cancels it
		}
		cols = detected
	}
	if f.skipHeader && len(cols.names) > 0 && ok && sameRow(cols.names, values) {
		return out, nil
	}
	if !ok {
		if f.skipEmptyRows {
			e.AddTag(EmptyRowTag)
			return append(out, e), engine.ErrNotApplied
		}
		e.AddTag(ParseFailureTag)
		return append(out, e), errEmptyRow
	}
	for i, val := range values {
		if f.skipEmptyColumns && (val == nil || *val == "") {
			continue
		}
		var ref event.Ref
		var conv converter
		if i < len(cols.names) && cols.names[i] != nil {
			ref, conv = cols.refs[i], cols.convs[i]
		} else if f.autogenerate {
			if ref, err = f.generatedRef(i); err != nil {
				e.AddTag(ParseFailureTag)
				return append(out, e), fmt.Errorf("csv: %w", err)
			}
			conv = f.convert["column"+strconv.Itoa(i+1)]
		} else {
			continue
		}
		var x any = keep(val)
		if conv != nil {
			if x, err = conv(val); err != nil {
				e.AddTag(ParseFailureTag)
				return append(out, e), fmt.Errorf("csv: column %d: %w", i+1, err)
			}
		}
		if err := e.Set(ref, x); err != nil {
			e.AddTag(ParseFailureTag)
			return append(out, e), fmt.Errorf("csv: column %d: %w", i+1, err)
		}
	}
	return append(out, e), nil
}

// detect takes values as the column names unless another event did first;
// done says values were taken (their event is the header).
func (f *Filter) detect(values []*string) (*columns, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.cols.names) > 0 {
		return f.cols, false, nil
	}
	cols, err := f.columns(values)
	if err != nil {
		return nil, false, err
	}
	f.cols = cols
	return cols, true, nil
}

// sameRow compares the column names with a row as Ruby's == compares arrays.
func sameRow(names, values []*string) bool {
	return slices.EqualFunc(names, values, func(a, b *string) bool {
		return a == nil && b == nil || a != nil && b != nil && *a == *b
	})
}

func typeName(v any) string {
	switch v.(type) {
	case []any:
		return "list"
	case map[string]any:
		return "object"
	case bool:
		return "boolean"
	case int64, float64:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}
