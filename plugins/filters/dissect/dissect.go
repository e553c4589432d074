// Package dissect implements the dissect filter, like Logstash's: it splits a
// text field into fields by the delimiters of a pattern, without regular
// expressions, as in "%{ts} %{+ts} %{+ts} %{src} %{} %{prog}[%{pid}]: %{msg}".
//
// A pattern is a list of fields, %{…}, and the delimiters between them (any
// text, of any length). From left to right, each field takes the text up to
// the first occurrence of the delimiter that follows it; the last field takes
// the rest of the text. Text before the first field must start the value;
// text after the last field must be found (what follows it is skipped). Two
// fields with no delimiter between them never match.
//
// Field notations: %{name} sets the field name (a field reference, so
// %{[a][b]} is nested); %{} and %{?name} skip the text (a named skip can be
// used by an indirect field); %{+name} appends the text to name, after the
// delimiter that preceded it (or a space), in the order written or, with
// %{+name/2}, by that number; %{&name} sets the field whose name is the value
// of name (a field of the event or of the pattern) to the text. A suffix "->"
// (%{name->}) skips repeated occurrences of the delimiter that follows the
// field, for padded columns. Append and indirect cannot be combined (%{+&a},
// %{&+a} are refused). Normal fields are set first, then appended ones, then
// indirect ones; an append or indirect field may refer to a field the event
// had before.
//
// All fields are set only when the whole pattern matches. When it does not,
// or the source value is empty, the event gets the tag_on_failure tags and
// nothing is set; when the source field is missing, the mapping is skipped
// without a tag. A non-string source value is dissected as its text form.
//
// mapping runs in the order written, so a later dissection can work on the
// result of an earlier one ("description" dissected from "message", as in
// Logstash's documented example).
//
// convert_datatype converts fields to "int" or "float" after every mapping,
// whether or not they matched. A decimal text ("95.43", "1e3") is accepted;
// an int is truncated ("12.7" gives 12). A missing field gets the tag
// _dataconversionnullvalue_<field>_<type>, a value that is not a number
// _dataconversionuncoercible_<field>_<type>. Logstash keeps integers beyond
// 64 bits and decimals beyond float precision exactly (BigInteger,
// BigDecimal); here an int outside the 64-bit range is uncoercible and a float
// is a 64-bit float.
//
// The common options (add_field, add_tag, remove_field, remove_tag) apply when
// at least one mapping matched. Logstash applies them once per matching
// mapping; here they apply once.
package dissect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/valuefmt"
)

func init() { engine.RegisterFilter("dissect", New) }

// Options configures the dissect filter.
type Options struct {
	// Mapping maps source fields to dissect patterns: { message = "%{a} %{b}" }.
	Mapping engine.Hash `hcl:"mapping,optional" item:"pattern"`
	// ConvertDatatype converts fields after dissection: { code = "int", cpu =
	// "float" }. It may be used without mapping.
	ConvertDatatype engine.Hash `hcl:"convert_datatype,optional" item:"datatype"`
	// TagOnFailure are the tags added when a pattern does not match or the
	// source is empty.
	TagOnFailure []string `hcl:"tag_on_failure,optional"`
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() { o.TagOnFailure = []string{"_dissectfailure"} }

// Validate checks the options: field references, patterns and types.
func (o *Options) Validate() error {
	for _, m := range o.Mapping {
		if _, err := event.ParseRef(m.Key); err != nil {
			return &engine.FieldError{Field: "mapping", Err: fmt.Errorf("source %q: %w", m.Key, err)}
		}
		if m.Value == "" {
			continue
		}
		if _, err := compile(m.Value); err != nil {
			return &engine.FieldError{Field: "mapping", Err: fmt.Errorf("%q: %w", m.Value, err)}
		}
	}
	for _, c := range o.ConvertDatatype {
		if _, err := event.ParseRef(c.Key); err != nil {
			return &engine.FieldError{Field: "convert_datatype", Err: fmt.Errorf("field %q: %w", c.Key, err)}
		}
		if _, ok := converters[strings.ToLower(c.Value)]; !ok {
			return &engine.FieldError{Field: "convert_datatype", Err: fmt.Errorf("datatype not supported: %q (want \"int\" or \"float\")", c.Value)}
		}
	}
	return nil
}

// Filter is the dissect filter. It is safe for concurrent use.
type Filter struct {
	maps   []mapping
	convs  []conversion
	tags   []string
	logger *slog.Logger
}

var _ engine.Filter = (*Filter)(nil)

type mapping struct {
	source    event.Ref
	name      string
	dissector *dissector
}

type conversion struct {
	ref      event.Ref
	name     string
	typ      string // as written, for the tags
	toFloat  bool
	nullTag  string
	wrongTag string
}

var converters = map[string]bool{"int": false, "float": true}

// New builds a dissect filter.
func New(o Options, r engine.Resources) (*Filter, error) {
	f := &Filter{tags: slices.Clone(o.TagOnFailure), logger: r.Logger}
	if f.logger == nil {
		f.logger = slog.New(slog.DiscardHandler)
	}
	for _, m := range o.Mapping {
		if m.Value == "" {
			continue // Logstash skips an empty pattern
		}
		d, _ := compile(m.Value)
		f.maps = append(f.maps, mapping{source: event.MustRef(m.Key), name: m.Key, dissector: d})
	}
	for _, c := range o.ConvertDatatype {
		name, typ := c.Key, c.Value
		f.convs = append(f.convs, conversion{
			ref:      event.MustRef(name),
			name:     name,
			typ:      typ,
			toFloat:  converters[strings.ToLower(typ)],
			nullTag:  fmt.Sprintf("_dataconversionnullvalue_%s_%s", name, typ),
			wrongTag: fmt.Sprintf("_dataconversionuncoercible_%s_%s", name, typ),
		})
	}
	return f, nil
}

var errNoField = fmt.Errorf("dissect: no mapping source field in the event: %w", engine.ErrNotApplied)

// Filter dissects the mapped fields of e, then converts datatypes.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	out = append(out, e)
	matched, failed := false, false
	var firstErr error
	for i := range f.maps {
		m := &f.maps[i]
		v, ok := e.Get(m.source)
		if !ok {
			f.logger.Debug("dissect: mapping source field not found", "field", m.name)
			continue
		}
		var src string
		switch x := v.(type) {
		case string:
			src = x
		default:
			src = string(valuefmt.AppendRubyToS(nil, x))
		}
		var err error
		switch {
		case src == "":
			err = fmt.Errorf("dissect: field %s is empty", m.name)
		case !m.dissector.dissect(src, e, &err):
			if err == nil {
				err = fmt.Errorf("dissect: pattern %q not found in field %s", m.dissector.pattern, m.name)
			}
		}
		if err != nil {
			failed = true
			e.AddTag(f.tags...)
			f.logger.Warn("dissect: mapping failed", "field", m.name, "error", err.Error())
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		matched = true
	}
	for i := range f.convs {
		f.convs[i].apply(e, f.logger)
	}
	switch {
	case matched:
		return out, nil
	case failed:
		return out, firstErr
	}
	return out, errNoField
}

func (c *conversion) apply(e *event.Event, logger *slog.Logger) {
	v, ok := e.Get(c.ref)
	if !ok || v == nil {
		e.AddTag(c.nullTag)
		logger.Warn("dissect: datatype conversion, field does not exist or value is nil", "field", c.name)
		return
	}
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case int64:
		s = strconv.FormatInt(x, 10)
	case float64:
		s = strconv.FormatFloat(x, 'g', -1, 64)
	default:
		s = "-" // not a number: String.valueOf of a hash, list or boolean
	}
	var conv any
	var err error
	if c.toFloat {
		conv, err = decimalFloat(s)
	} else {
		conv, err = decimalInt(s)
	}
	if err == nil {
		err = e.Set(c.ref, conv)
	}
	if err != nil {
		e.AddTag(c.wrongTag)
		logger.Warn("dissect: datatype conversion, value cannot be coerced", "field", c.name, "error", err.Error())
	}
}

// bigDecimal is the syntax of Java's new BigDecimal(String).
var bigDecimal = regexp.MustCompile(`^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$`)

var errNotNumber = errors.New("not a decimal number")

func decimalInt(s string) (any, error) {
	if !bigDecimal.MatchString(s) {
		return nil, errNotNumber
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, nil
	}
	bf, _, err := big.ParseFloat(s, 10, 512, big.ToZero)
	if err != nil {
		return nil, errNotNumber
	}
	bi, _ := bf.Int(nil)
	if !bi.IsInt64() {
		return nil, fmt.Errorf("%s is outside the 64-bit integer range", s)
	}
	return bi.Int64(), nil
}

func decimalFloat(s string) (any, error) {
	if !bigDecimal.MatchString(s) {
		return nil, errNotNumber
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) {
		return nil, fmt.Errorf("%s is outside the float range", s)
	}
	return v, nil
}
