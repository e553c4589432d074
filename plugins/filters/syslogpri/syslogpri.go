// Package syslogpri implements the syslog_pri filter, like Logstash's: it
// decodes the priority of a syslog message (the number in "<34>") into its
// facility (priority / 8) and severity (priority % 8) codes and, with
// use_labels, their names.
//
// The priority is read from syslog_pri_field_name as Ruby's to_i reads it (a
// number, or the leading digits of a string: "137" and "137abc" give 137, "x"
// gives 0; the first element of a list). When the field is missing or holds
// null or false, the priority is 13 (user-level, notice), as in Logstash.
//
// Field names depend on ecs_compatibility: disabled uses syslog_pri,
// syslog_facility_code, syslog_severity_code, syslog_facility and
// syslog_severity; v1 and v8 use [log][syslog][priority] and
// [log][syslog][facility|severity][code|name].
//
// The codes are always set. With use_labels, a facility code beyond
// facility_labels tags the event _syslogpriparsefailure and sets no name; a
// negative one counts from the end of the list, as Ruby's indexing does. A
// boolean or an object as priority, for which Logstash's to_i raises, tags the
// event _syslogpriparsefailure and sets nothing. The common options apply
// whenever the filter runs, even on those failures, as in Logstash.
//
// ecs_compatibility chooses the field names ("v8" is the same as "v1").
package syslogpri

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
)

func init() { engine.RegisterFilter("syslog_pri", New) }

// Options configures the syslog_pri filter.
type Options struct {
	// UseLabels sets the facility and severity names besides their codes.
	UseLabels bool `hcl:"use_labels,optional"`
	// SyslogPriFieldName is the field holding the priority; by default
	// syslog_pri, or [log][syslog][priority] with ECS compatibility.
	SyslogPriFieldName string `hcl:"syslog_pri_field_name,optional"`
	// FacilityLabels are the facility names, indexed by facility code.
	FacilityLabels []string `hcl:"facility_labels,optional"`
	// SeverityLabels are the severity names, indexed by severity code.
	SeverityLabels []string `hcl:"severity_labels,optional"`
	ecs.Compatibility
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.UseLabels = true
	o.FacilityLabels = []string{
		"kernel", "user-level", "mail", "daemon", "security/authorization", "syslogd",
		"line printer", "network news", "uucp", "clock", "security/authorization", "ftp",
		"ntp", "log audit", "log alert", "clock", "local0", "local1", "local2", "local3",
		"local4", "local5", "local6", "local7",
	}
	o.SeverityLabels = []string{"emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug"}
	o.Compatibility.Defaults()
}

// Validate checks the field name and the ECS mode.
func (o *Options) Validate() error {
	if err := o.Compatibility.Validate(); err != nil {
		return err
	}
	if o.SyslogPriFieldName != "" {
		if _, err := event.ParseRef(o.SyslogPriFieldName); err != nil {
			return &engine.FieldError{Field: "syslog_pri_field_name", Err: err}
		}
	}
	return nil
}

// Filter is the syslog_pri filter. It is safe for concurrent use.
type Filter struct {
	pri                    event.Ref
	facCode, sevCode       event.Ref
	facName, sevName       event.Ref
	useLabels              bool
	facilities, severities []string
}

var _ engine.Filter = (*Filter)(nil)

// FailureTag is added when the facility code has no label.
const FailureTag = "_syslogpriparsefailure"

// New builds a syslog_pri filter.
func New(o Options, _ engine.Resources) (*Filter, error) {
	f := &Filter{
		useLabels:  o.UseLabels,
		facilities: slices.Clone(o.FacilityLabels),
		severities: slices.Clone(o.SeverityLabels),
	}
	pri := o.SyslogPriFieldName
	if o.Compatibility.ECS() {
		if pri == "" {
			pri = "[log][syslog][priority]"
		}
		f.facCode, f.sevCode = event.MustRef("[log][syslog][facility][code]"), event.MustRef("[log][syslog][severity][code]")
		f.facName, f.sevName = event.MustRef("[log][syslog][facility][name]"), event.MustRef("[log][syslog][severity][name]")
	} else {
		if pri == "" {
			pri = "syslog_pri"
		}
		f.facCode, f.sevCode = event.MustRef("syslog_facility_code"), event.MustRef("syslog_severity_code")
		f.facName, f.sevName = event.MustRef("syslog_facility"), event.MustRef("syslog_severity")
	}
	f.pri = event.MustRef(pri)
	return f, nil
}

// defaultPriority is user-level notice, Logstash's value for a missing field.
const defaultPriority = 13

// Filter decodes the priority of e.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	out = append(out, e)
	v, _ := e.Get(f.pri)
	if list, ok := v.([]any); ok {
		v = nil
		if len(list) > 0 {
			v = list[0]
		}
		if v == nil {
			v = int64(0) // nil.to_i
		}
	}
	pri, ok := toI(v)
	if !ok {
		e.AddTag(FailureTag)
		return out, nil
	}
	severity, facility := pri&7, pri>>3
	if err := e.Set(f.sevCode, severity); err != nil {
		return out, fmt.Errorf("syslog_pri: %w", err)
	}
	if err := e.Set(f.facCode, facility); err != nil {
		return out, fmt.Errorf("syslog_pri: %w", err)
	}
	if !f.useLabels {
		return out, nil
	}
	if facility > int64(len(f.facilities)-1) {
		e.AddTag(FailureTag)
		return out, nil
	}
	if label, ok := rubyIndex(f.facilities, facility); ok {
		if err := e.Set(f.facName, label); err != nil {
			return out, fmt.Errorf("syslog_pri: %w", err)
		}
	}
	if label, ok := rubyIndex(f.severities, severity); ok {
		if err := e.Set(f.sevName, label); err != nil {
			return out, fmt.Errorf("syslog_pri: %w", err)
		}
	}
	return out, nil
}

// rubyIndex is Ruby's Array#[]: a negative index counts from the end.
func rubyIndex(list []string, i int64) (string, bool) {
	if i < 0 {
		i += int64(len(list))
	}
	if i < 0 || i >= int64(len(list)) {
		return "", false
	}
	return list[i], true
}

// toI is Ruby's to_i on an event value; false and nil (falsy) give the
// default priority. ok is false where Ruby has no to_i.
func toI(v any) (int64, bool) {
	switch x := v.(type) {
	case nil:
		return defaultPriority, true
	case bool:
		if !x {
			return defaultPriority, true
		}
		return 0, false
	case int64:
		return x, true
	case float64:
		if math.IsNaN(x) || x >= math.MaxInt64 || x < math.MinInt64 {
			return 0, false
		}
		return int64(x), true
	case string:
		return stringToI(x), true
	case time.Time:
		return x.Unix(), true
	}
	return 0, false
}

// stringToI is Ruby's String#to_i: leading white space, a sign, then digits
// (single underscores between them allowed); 0 when there are none. Values
// beyond 64 bits saturate.
func stringToI(s string) int64 {
	i := 0
	for i < len(s) && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var n int64
	for j := i; j < len(s); j++ {
		c := s[j]
		if c == '_' && j > i && j+1 < len(s) && s[j+1] >= '0' && s[j+1] <= '9' && s[j-1] != '_' {
			continue
		}
		if c < '0' || c > '9' {
			break
		}
		if n > (math.MaxInt64-int64(c-'0'))/10 {
			n = math.MaxInt64
			continue
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		return -n
	}
	return n
}
