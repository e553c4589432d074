package correlate

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// Options configures one correlation rule.
type Options struct {
	// RuleType is the rule's kind, with SEC's names: "Single" (act on every
	// matching event), "SingleWithThreshold" (act when thresh events of a
	// key arrived within window seconds; once per window), "SingleWithSuppress"
	// (act on a key's first event, then stay quiet for the key for window
	// seconds), "PairWithWindow" (an event matching pattern opens a window;
	// an event of the same key matching pattern2 within window seconds acts
	// as "pair", none acts as "timeout") or "Absence" (a key seen once and
	// then not seen for window seconds acts as "absent": a missed
	// heartbeat). Required.
	RuleType string `hcl:"rule_type"`
	// RuleID names the rule in the alerts ([correlate][rule]); unset, the
	// plugin's id.
	RuleID string `hcl:"rule_id,optional"`
	// Source is the field pattern and pattern2 are matched against.
	Source string `hcl:"source,optional"`
	// Pattern is a regular expression (Go's RE2 syntax) an event's source
	// must match for the rule to see it (SEC's ptype=RegExp pattern);
	// unset, every event that reaches the filter matches (choose events
	// with a conditional around the filter). Events that match neither
	// pattern nor pattern2 pass on untouched.
	Pattern string `hcl:"pattern,optional"`
	// Pattern2 is PairWithWindow's second pattern: an event matching it
	// closes its key's open window. Required with PairWithWindow.
	Pattern2 string `hcl:"pattern2,optional"`
	// Key is the correlation key, a sprintf template ("%{[user][name]}-%{[source][ip]}"):
	// events of one key are counted, suppressed and paired together (SEC's
	// desc); unset, one key for all.
	Key string `hcl:"key,optional"`
	// Window is the rule's time window in seconds.
	Window float64 `hcl:"window,optional"`
	// Thresh is how many events of a key within window make
	// SingleWithThreshold act (within business hours when business_hours
	// is set).
	Thresh int `hcl:"thresh,optional"`
	// BusinessHours is a weekly schedule such as "Mon-Fri 08:00-18:00"
	// (several separated by commas: "Mon-Fri 08:00-12:00, Mon-Fri
	// 13:00-18:00"), read in timezone: within it thresh applies, outside it
	// (and on holidays) off_hours_thresh does. Unset, thresh always applies.
	BusinessHours string `hcl:"business_hours,optional"`
	// OffHoursThresh is SingleWithThreshold's threshold outside
	// business_hours and on holidays; 0 means thresh.
	OffHoursThresh int `hcl:"off_hours_thresh,optional"`
	// Timezone is the IANA time zone business_hours and holidays are read
	// in ("Europe/Berlin"); daylight saving changes follow the zone.
	Timezone string `hcl:"timezone,optional"`
	// Holidays are dates ("2026-12-25") that are outside business hours all
	// day.
	Holidays []string `hcl:"holidays,optional"`
	// TimeSource is "event" (the events' @timestamp: replayed or late logs
	// correlate as they happened, and time moves on only as events arrive)
	// or "processing" (the clock when the event is seen: windows of
	// PairWithWindow and Absence also close while no event arrives).
	TimeSource string `hcl:"time_source,optional"`
	// Emit makes the rule put a new alert event into the pipeline when it
	// acts (the default): message is description, [correlate] holds rule,
	// type, key, count, first, last and outcome, tags are alert_tags, and
	// copy_fields are copied from the event that made the rule act. Without
	// it, the rule only marks the event that made it act, with the common
	// options (add_tag, add_field), which apply to no other event.
	Emit bool `hcl:"emit,optional"`
	// Description is the alert event's message, a sprintf template rendered
	// on the event that made the rule act (for timeouts and absences, the
	// key's first or last event).
	Description string `hcl:"description,optional"`
	// AlertTags are the tags of the alert events.
	AlertTags []string `hcl:"alert_tags,optional"`
	// CopyFields are field references copied from the event that made the
	// rule act into the alert event ("[host]", "[user][name]").
	CopyFields []string `hcl:"copy_fields,optional"`
	// AlertFields are fields set in the alert event, sprintf templates
	// rendered on the event that made the rule act (`alert_fields => {
	// "severity" => "major" "resource" => "%{host}" }`).
	AlertFields engine.Hash `hcl:"alert_fields,optional"`
	// MaxKeys is the most keys the rule tracks at once; past it a key not
	// seen recently is forgotten (the clock algorithm: an approximation of
	// the least recently seen), counted (keys_evicted) and logged. At
	// most 16,777,214.
	MaxKeys int `hcl:"max_keys,optional"`
	// StatePath is a file where the rule's state (counted times, quiet
	// windows, open pairs, watched heartbeats, the newest event time) is
	// written when the pipeline stops, and every minute while it changes,
	// and read from when the pipeline starts, so that an alert neither
	// refires nor is forgotten because of a restart; a relative path is
	// under <path.data>/plugins/filters/correlate/. A file that cannot be
	// read is moved aside (to <file>.damaged-<time>, logged) and the rule
	// starts empty. Unset, the state is kept in memory only. Each rule needs
	// its own file.
	StatePath string `hcl:"state_path,optional"`
}

// ruleTypes are the rule_type values.
var ruleTypes = []string{"Single", "SingleWithThreshold", "SingleWithSuppress", "PairWithWindow", "Absence"}

// Defaults sets the defaults.
func (o *Options) Defaults() {
	o.Source = "message"
	o.TimeSource = "event"
	o.Emit = true
	o.Description = "%{message}"
	o.AlertTags = []string{"alert"}
	o.MaxKeys = 100000
	o.Timezone = "UTC"
}

func fieldErr(field, format string, args ...any) error {
	return &engine.FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Validate checks the options.
func (o *Options) Validate() error {
	if !slices.Contains(ruleTypes, o.RuleType) {
		return fieldErr("rule_type", "unsupported value %q: use one of %s", o.RuleType, strings.Join(ruleTypes, ", "))
	}
	windowed := o.RuleType != "Single"
	if windowed && o.Window <= 0 {
		return fieldErr("window", "%s needs a window above 0 seconds", o.RuleType)
	}
	if o.RuleType == "SingleWithThreshold" && o.Thresh < 1 {
		return fieldErr("thresh", "SingleWithThreshold needs thresh of at least 1")
	}
	if o.OffHoursThresh < 0 {
		return fieldErr("off_hours_thresh", "must not be negative")
	}
	if o.RuleType == "PairWithWindow" && o.Pattern2 == "" {
		return fieldErr("pattern2", "required with PairWithWindow")
	}
	if o.RuleType != "PairWithWindow" && o.Pattern2 != "" {
		return fieldErr("pattern2", "only used by PairWithWindow")
	}
	for name, p := range map[string]string{"pattern": o.Pattern, "pattern2": o.Pattern2} {
		if _, err := regexp.Compile(p); err != nil {
			return fieldErr(name, "%v", err)
		}
	}
	if _, err := event.ParseRef(o.Source); err != nil {
		return fieldErr("source", "%v", err)
	}
	for name, t := range map[string]string{"key": o.Key, "description": o.Description} {
		if _, err := event.ParseTemplate(t); err != nil {
			return fieldErr(name, "%v", err)
		}
	}
	for _, kv := range o.AlertFields {
		if _, err := event.ParseRef(kv.Key); err != nil {
			return fieldErr("alert_fields", "%v", err)
		}
		if _, err := event.ParseTemplate(kv.Value); err != nil {
			return fieldErr("alert_fields", "%s: %v", kv.Key, err)
		}
	}
	for _, f := range o.CopyFields {
		if _, err := event.ParseRef(f); err != nil {
			return fieldErr("copy_fields", "%v", err)
		}
	}
	switch o.TimeSource {
	case "event", "processing":
	default:
		return fieldErr("time_source", "unsupported value %q: use event or processing", o.TimeSource)
	}
	if o.MaxKeys < 1 || o.MaxKeys > maxSlots {
		return fieldErr("max_keys", "must be from 1 to %d", maxSlots)
	}
	if _, err := newSchedule(o.BusinessHours, o.Timezone, o.Holidays); err != nil {
		return fieldErr("business_hours", "%v", err)
	}
	if o.BusinessHours == "" && (o.OffHoursThresh != 0 || len(o.Holidays) > 0) {
		return fieldErr("business_hours", "off_hours_thresh and holidays need business_hours")
	}
	return nil
}

// schedule is a weekly set of business hours in a zone, holidays excepted.
type schedule struct {
	loc      *time.Location
	spans    []span
	holidays map[string]bool
}

// span is from..to (minutes of the day) on the days set.
type span struct {
	days     [7]bool
	from, to int
}

var dayNames = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// newSchedule parses "Mon-Fri 08:00-18:00[, …]"; nil for "".
func newSchedule(spec, zone string, holidays []string) (*schedule, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("timezone %q: %v", zone, err)
	}
	s := &schedule{loc: loc, holidays: map[string]bool{}}
	for _, h := range holidays {
		if _, err := time.Parse("2006-01-02", h); err != nil {
			return nil, fmt.Errorf("holiday %q is not a date (2026-12-25)", h)
		}
		s.holidays[h] = true
	}
	for _, part := range strings.Split(spec, ",") {
		f := strings.Fields(part)
		if len(f) != 2 {
			return nil, fmt.Errorf("%q: want days and hours, as \"Mon-Fri 08:00-18:00\"", strings.TrimSpace(part))
		}
		var sp span
		for _, d := range strings.Split(f[0], "+") {
			a, b, isRange := strings.Cut(strings.ToLower(d), "-")
			da, ok1 := dayNames[a]
			db, ok2 := dayNames[b]
			if !ok1 || (isRange && !ok2) {
				return nil, fmt.Errorf("%q: days are Mon, Tue, Wed, Thu, Fri, Sat, Sun, as \"Mon-Fri\" or \"Sat+Sun\"", f[0])
			}
			if !isRange {
				db = da
			}
			for i := da; ; i = (i + 1) % 7 {
				sp.days[i] = true
				if i == db {
					break
				}
			}
		}
		a, b, ok := strings.Cut(f[1], "-")
		from, err1 := minutes(a)
		to, err2 := minutes(b)
		if !ok || err1 != nil || err2 != nil || to <= from {
			return nil, fmt.Errorf("%q: hours are \"08:00-18:00\", from before to", f[1])
		}
		sp.from, sp.to = from, to
		s.spans = append(s.spans, sp)
	}
	return s, nil
}

func minutes(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		if s == "24:00" {
			return 24 * 60, nil
		}
		return 0, err
	}
	return t.Hour()*60 + t.Minute(), nil
}

// inside reports whether t is within business hours.
func (s *schedule) inside(t time.Time) bool {
	lt := t.In(s.loc)
	if s.holidays[lt.Format("2006-01-02")] {
		return false
	}
	m := lt.Hour()*60 + lt.Minute()
	for _, sp := range s.spans {
		if sp.days[lt.Weekday()] && m >= sp.from && m < sp.to {
			return true
		}
	}
	return false
}
