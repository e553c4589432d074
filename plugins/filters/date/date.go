// Package date implements the date filter, like Logstash's: it parses a date
// from a field and stores it as the event's @timestamp (or in target).
//
//	filter "date" "syslog" {
//	  match    = ["timestamp", "MMM dd HH:mm:ss", "MMM  d HH:mm:ss", "ISO8601"]
//	  timezone = "Europe/Berlin"
//	}
//
// match names the source field, then one or more formats, tried in order: the
// first that parses wins. A format is a Joda-Time pattern, or one of the names ISO8601 (Joda's ISO parser, with or without the T
// and the zone, plus yyyy-MM-dd HH:mm:ss.SSS with a dot or a comma), UNIX
// (seconds since the epoch, a number or a string, fractions allowed), UNIX_MS
// (milliseconds) and TAI64N. Joda patterns and ISO8601 need a string value;
// UNIX and UNIX_MS also take a number. The result is stored in UTC with
// millisecond precision, as Logstash's Timestamp.
//
// Joda-Time pattern letters, parsed as Joda does:
//
//	yyyy, y, Y  year, optionally signed (yyyyMMdd: exactly 4 digits)
//	yy          two-digit year, 1946..2045 for a reading in 2026 (Joda's pivot)
//	M, MM       month, 1 or 2 digits; MMM, MMMM: Jan or January (any of the two)
//	d, dd       day of month, 1 or 2 digits
//	E, EEEE     day name (Tue, Tuesday); e: day of week number (1 = Monday)
//	H, k        hour 0-23, 1-24; h, K: hour of half day 1-12, 0-11, with a (AM/PM)
//	m, s        minute, second, 1 or 2 digits
//	S...        fraction of second: up to as many digits as letters, millisecond
//	            precision kept (SSS reads 1 to 3 digits)
//	Z, ZZ       offset: Z, +02, +0200 or +02:00; ZZZ: zone id (Europe/Berlin)
//	z           UTC, UT, GMT, EST, EDT, CST, CDT, MST, MDT, PST or PDT
//	'text'      literal text ('' is a quote); literals match in any case
//
// Names are English, exact or all lower or all upper case. Other letters are
// refused; G, C, x, w, D and zzzz cannot be parsed. The whole value must match.
//
// A date without a zone is read in timezone (UTC by default: Logstash uses the
// JVM's zone, which is UTC on servers). Around daylight-saving changes the
// filter does what Joda-Time does: a local time that occurs twice (clocks go
// back) is the earlier instant, and one that does not exist (clocks go
// forward, e.g. 02:30 on 2026-03-29 in Europe/Berlin) fails to parse. A pattern
// without a year (syslog's MMM dd HH:mm:ss) gets the current year, except that
// a December date read in January gets last year and a January date read in
// December next year (Logstash's JodaParser).
//
// Failure semantics: when the field is absent or null the event passes on
// unchanged, without a tag and without add_field/add_tag (Logstash calls
// filter_matched only on success). When no format parses the value (arrays,
// booleans and objects never do) the tags of tag_on_failure are added and the
// common options are skipped.
package date

import (
	"context"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // zones on machines without a tz database

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/timefmt"
)

func init() { engine.RegisterFilter("date", New) }

// Options configures the date filter.
type Options struct {
	// Match is the source field followed by one or more formats, tried in
	// order: Joda-Time patterns such as "dd/MMM/yyyy:HH:mm:ss Z", or ISO8601,
	// UNIX, UNIX_MS, TAI64N. Example: ["logdate", "MMM dd yyyy HH:mm:ss",
	// "ISO8601"].
	Match []string `hcl:"match"`
	// Timezone is the zone of dates that carry none: an IANA name such as
	// "Europe/Berlin", "UTC", or an offset such as "+02:00". It may be a
	// sprintf template ("%{[tz]}"), rendered per event; an event whose zone is
	// unknown fails. Default: UTC.
	Timezone string `hcl:"timezone,optional"`
	// Locale is the language of month and day names (MMM, MMMM, EEE,
	// EEEE), as a BCP 47 tag ("fr", "fr-FR"; "fr_FR" is accepted too):
	// English (the default), French, German, Italian or Spanish, with the
	// names Java (CLDR) gives them, matched ignoring case, and abbreviations
	// with or without their final dot ("févr." or "févr").
	Locale string `hcl:"locale,optional"`
	// Target is the field that receives the parsed time.
	Target string `hcl:"target,optional"`
	// TagOnFailure are the tags added when no format parses the value.
	TagOnFailure []string `hcl:"tag_on_failure,optional"`
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Target = event.TimestampField
	o.TagOnFailure = []string{"_dateparsefailure"}
}

// Validate checks match and locale and compiles the formats.
func (o *Options) Validate() error {
	_, err := o.formats()
	return err
}

// Names of the predefined formats.
const (
	formatISO8601 = "ISO8601"
	formatUnix    = "UNIX"
	formatUnixMS  = "UNIX_MS"
	formatTAI64N  = "TAI64N"
)

func (o *Options) formats() ([]format, error) {
	if len(o.Match) < 2 {
		return nil, &engine.FieldError{Field: "match", Err: fmt.Errorf("give the field name and at least one date format, e.g. [\"timestamp\", \"ISO8601\"]; got %q", o.Match)}
	}
	names, err := timefmt.LookupLocale(o.Locale)
	if err != nil {
		return nil, &engine.FieldError{Field: "locale", Err: err}
	}
	var fs []format
	for _, s := range o.Match[1:] {
		switch s {
		case formatISO8601:
			fs = append(fs, isoFormat{})
		case formatUnix:
			fs = append(fs, unixFormat{})
		case formatUnixMS:
			fs = append(fs, unixMSFormat{})
		case formatTAI64N:
			fs = append(fs, tai64nFormat{})
		default:
			p, err := timefmt.NewJodaParserLocale(s, names)
			if err != nil {
				return nil, &engine.FieldError{Field: "match", Err: fmt.Errorf("%w (a format is a Joda-Time pattern with literal text in quotes, e.g. \"yyyy-MM-dd'T'HH:mm:ss\", or ISO8601, UNIX, UNIX_MS, TAI64N)", err)}
			}
			fs = append(fs, jodaFormat{p})
		}
	}
	return fs, nil
}

// Filter is the date filter.
type Filter struct {
	source   event.Ref
	target   event.Ref
	stamp    bool // target is @timestamp
	formats  []format
	loc      *time.Location // the static zone
	tz       event.Template // a dynamic zone, when dynamic
	dynamic  bool
	tags     []string
	now      func() time.Time
	matchSrc string
}

var _ engine.Filter = (*Filter)(nil)

// New builds a date filter.
func New(o Options, res engine.Resources) (*Filter, error) {
	fs, err := o.formats()
	if err != nil {
		return nil, err
	}
	f := &Filter{formats: fs, tags: o.TagOnFailure, now: time.Now, loc: time.UTC, matchSrc: o.Match[0]}
	if res.Now != nil {
		f.now = res.Now
	}
	if f.source, err = event.ParseRef(o.Match[0]); err != nil {
		return nil, &engine.FieldError{Field: "match", Err: err}
	}
	if f.target, err = event.ParseRef(o.Target); err != nil {
		return nil, &engine.FieldError{Field: "target", Err: err}
	}
	f.stamp = o.Target == event.TimestampField
	tz := o.Timezone
	if strings.Contains(tz, "%{") {
		if f.tz, err = event.ParseTemplate(tz); err != nil {
			return nil, &engine.FieldError{Field: "timezone", Err: err}
		}
		f.dynamic = !f.tz.IsConstant()
	}
	if !f.dynamic && tz != "" {
		if f.loc, err = timefmt.LoadJodaZone(tz); err != nil {
			return nil, &engine.FieldError{Field: "timezone", Err: fmt.Errorf("%w (use an IANA zone name such as \"Europe/Berlin\", \"UTC\" or an offset such as \"+02:00\")", err)}
		}
	}
	return f, nil
}

// errNoSource is returned, without tagging, for an event whose source field is
// absent or null: the engine passes it on and skips the common options, as
// Logstash does not call filter_matched for it.
var errNoSource = fmt.Errorf("date: source field absent or null: %w", engine.ErrNotApplied)

// Filter parses the source field of e and sets the target.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	v, ok := e.Get(f.source)
	if !ok || v == nil {
		return append(out, e), errNoSource
	}
	loc := f.loc
	var tzErr error
	if f.dynamic {
		if loc, tzErr = timefmt.LoadJodaZone(f.tz.Render(e)); tzErr != nil {
			loc = nil
		}
	}
	now := f.now()
	var first error
	for _, fm := range f.formats {
		var (
			t   time.Time
			err error
		)
		if loc == nil && fm.zoned() {
			err = tzErr // Logstash: DateTimeZone.forID fails inside this parser
		} else {
			t, err = fm.parse(v, loc, now)
		}
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		t = time.UnixMilli(t.UnixMilli()).UTC()
		if f.stamp {
			e.SetTimestamp(t)
		} else if err := e.Set(f.target, t); err != nil {
			e.AddTag(f.tags...)
			return append(out, e), fmt.Errorf("date: target %s: %w", f.target, err)
		}
		return append(out, e), nil
	}
	e.AddTag(f.tags...)
	return append(out, e), fmt.Errorf("date: %s: %w", f.matchSrc, first)
}
