// Package csv implements the csv output, like Logstash's, which is the file
// output writing one CSV row per event instead of its codec's encoding: every
// file option (path as a sprintf template, the file root and
// filename_failure, gzip, modes, stale file closing, write_behavior) is the
// file output's, with the same durability and failure semantics (see its
// page).
//
// A row holds fields in order: a missing field is an empty cell, a hash is
// written as JSON, other values as Ruby's to_s writes them. As Ruby's CSV
// does, a cell is quoted when it is empty (an empty string, not a missing
// field) or holds the column separator, the quote character, a carriage
// return or a newline; quotes inside are doubled. With spreadsheet_safe (the
// default), a string starting with =, +, - or @ gets a leading ' so that
// spreadsheets do not run it as a formula.
//
// csv_options are Ruby CSV's generation options: col_sep (default ","),
// row_sep (default "\n"), quote_char (default "\""), force_quotes (quote
// every cell) and quote_empty (default true); others are refused.
package csv

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/valuefmt"
	"github.com/pipelined/pipeline/plugins/outputs/file"
)

func init() {
	engine.RegisterOutput("csv", New)
}

// Options configures the csv output.
type Options struct {
	// Fields are the field references written, one cell each, in order.
	Fields []string `hcl:"fields"`
	// CSVOptions are Ruby CSV generation options: col_sep, row_sep,
	// quote_char, force_quotes, quote_empty.
	CSVOptions engine.Hash `hcl:"csv_options,optional"`
	// SpreadsheetSafe prefixes strings starting with =, +, - or @ with a '.
	SpreadsheetSafe bool `hcl:"spreadsheet_safe,optional"`
	// The file output's options.
	file.Options
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.SpreadsheetSafe = true
	o.Options.Defaults()
}

// Validate checks the options.
func (o *Options) Validate() error {
	if len(o.Fields) == 0 {
		return &engine.FieldError{Field: "fields", Err: errors.New("list at least one field")}
	}
	for _, f := range o.Fields {
		if _, err := event.ParseRef(f); err != nil {
			return &engine.FieldError{Field: "fields", Err: err}
		}
	}
	if _, err := parseCSVOptions(o.CSVOptions); err != nil {
		return &engine.FieldError{Field: "csv_options", Err: err}
	}
	return o.Options.Validate()
}

// format is the row format of csv_options.
type format struct {
	colSep, rowSep, quote string
	forceQuotes           bool
	quoteEmpty            bool
}

func parseCSVOptions(h engine.Hash) (format, error) {
	f := format{colSep: ",", rowSep: "\n", quote: `"`, quoteEmpty: true}
	boolean := func(k, v string) (bool, error) {
		switch v {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return false, fmt.Errorf("%s: %q is not true or false", k, v)
	}
	var err error
	for _, e := range h {
		switch strings.TrimPrefix(e.Key, ":") {
		case "col_sep":
			f.colSep = e.Value
		case "row_sep":
			f.rowSep = e.Value
		case "quote_char":
			f.quote = e.Value
		case "force_quotes":
			f.forceQuotes, err = boolean(e.Key, e.Value)
		case "quote_empty":
			f.quoteEmpty, err = boolean(e.Key, e.Value)
		default:
			return f, fmt.Errorf("unsupported option %q: want col_sep, row_sep, quote_char, force_quotes or quote_empty", e.Key)
		}
		if err != nil {
			return f, err
		}
	}
	if f.colSep == "" {
		return f, errors.New("col_sep must not be empty")
	}
	if len([]rune(f.quote)) != 1 {
		return f, errors.New("quote_char must be one character")
	}
	return f, nil
}

// New builds a csv output: a file output whose codec writes rows.
func New(o Options, r engine.Resources) (*file.Output, error) {
	f, _ := parseCSVOptions(o.CSVOptions)
	c := &codec{format: f, safe: o.SpreadsheetSafe}
	for _, s := range o.Fields {
		ref, err := event.ParseRef(s)
		if err != nil {
			return nil, &engine.FieldError{Field: "fields", Err: err}
		}
		c.refs = append(c.refs, ref)
	}
	r.Codec = c
	return file.New(o.Options, r)
}

// codec encodes events as CSV rows.
type codec struct {
	format
	refs []event.Ref
	safe bool
}

func (c *codec) NewDecoder(io.Reader) engine.Decoder { return nil }

func (c *codec) NewEncoder(w io.Writer) engine.Encoder { return &encoder{c: c, w: w} }

type encoder struct {
	c   *codec
	w   io.Writer
	buf []byte
	val []byte
}

// Encode writes the event's row.
func (e *encoder) Encode(ev *event.Event) error {
	c := e.c
	e.buf = e.buf[:0]
	for i, r := range c.refs {
		if i > 0 {
			e.buf = append(e.buf, c.colSep...)
		}
		v, ok := ev.Get(r)
		if !ok || v == nil {
			if c.forceQuotes {
				e.buf = append(e.buf, c.quote+c.quote...)
			}
			continue
		}
		e.val = e.val[:0]
		switch x := v.(type) {
		case map[string]any:
			e.val = event.AppendJSONValue(e.val, x)
		case string:
			if c.safe && x != "" && strings.ContainsRune("=+-@", rune(x[0])) {
				e.val = append(e.val, '\'')
			}
			e.val = append(e.val, x...)
		default:
			e.val = valuefmt.AppendRubyToS(e.val, v)
		}
		e.buf = c.appendCell(e.buf, string(e.val))
	}
	e.buf = append(e.buf, c.rowSep...)
	_, err := e.w.Write(e.buf)
	return err
}

// appendCell appends s, quoted when Ruby's CSV would quote it.
func (c *codec) appendCell(dst []byte, s string) []byte {
	if !c.forceQuotes && !(c.quoteEmpty && s == "") && !strings.Contains(s, c.colSep) &&
		!strings.Contains(s, c.quote) && !strings.ContainsAny(s, "\r\n") {
		return append(dst, s...)
	}
	dst = append(dst, c.quote...)
	dst = append(dst, strings.ReplaceAll(s, c.quote, c.quote+c.quote)...)
	return append(dst, c.quote...)
}
