// Package json implements the json filter, like Logstash's: it parses the JSON
// text in the source field and stores the result in the target field, or, with
// no target, merges the keys of the parsed object into the top level of the
// event.
//
// Without a target, each key of the object is set as a field reference, so
// "[a][b]" sets a nested field and "@metadata" replaces the metadata (it must
// then hold an object). An "@timestamp" key becomes the event's @timestamp: a
// string is parsed as ISO 8601; anything else, or a string that does not parse,
// gives the event the current time, the tag "_timestampparsefailure" and the
// original value, as text, in "_@timestamp"; a null or false "@timestamp" is
// ignored. A "tags" key must hold a string or a list of strings, as Logstash 8
// requires; any other value fails the event. Keys are applied in sorted order.
// A top-level array or scalar needs a target: without one the event fails.
// With a target, the parsed value (object, array, scalar or null) is stored
// there as it is, replacing what was there, and @timestamp is not special.
//
// Blank text (empty or only white space) parses as null, as in Logstash.
//
// Failure semantics: when the source field is missing or holds null or false,
// the event passes on untouched and the common options (add_field, add_tag,
// remove_field, remove_tag) are not applied. When the text is not valid JSON,
// or is not a string, or the parsed value cannot be stored, the event gets the
// tag_on_failure tags, a warning is logged, and the common options are not
// applied. With skip_on_invalid_json, invalid JSON (or a source that is not a
// string) leaves the event untouched: no tag, no warning, and no common
// options either.
//
// ecs_compatibility changes nothing but a notice: with "v1" or "v8" and no
// target, a message at build time recommends setting one, as Logstash does.
package json

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/timefmt"
	"github.com/pipelined/pipeline/engine/valuefmt"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
)

func init() { engine.RegisterFilter("json", New) }

// Options configures the json filter.
type Options struct {
	// Source is the field holding the JSON text.
	Source string `hcl:"source"`
	// Target is the field to store the parsed value in, replacing its content.
	// Without it, the keys of the parsed object are set at the top level of
	// the event.
	Target string `hcl:"target,optional"`
	// SkipOnInvalidJSON leaves events whose source is not valid JSON untouched,
	// without tags or warnings, so that JSON and other text can share a field.
	SkipOnInvalidJSON bool `hcl:"skip_on_invalid_json,optional"`
	// TagOnFailure are the tags added when parsing fails.
	TagOnFailure []string `hcl:"tag_on_failure,optional"`
	ecs.Compatibility
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.TagOnFailure = []string{"_jsonparsefailure"}
	o.Compatibility.Defaults()
}

// Validate checks the field references and ecs_compatibility.
func (o *Options) Validate() error {
	if _, err := event.ParseRef(o.Source); err != nil {
		return &engine.FieldError{Field: "source", Err: err}
	}
	if o.Target != "" {
		if _, err := event.ParseRef(o.Target); err != nil {
			return &engine.FieldError{Field: "target", Err: err}
		}
	}
	return o.Compatibility.Validate()
}

// Filter is the json filter. It is safe for concurrent use.
type Filter struct {
	source    event.Ref
	target    event.Ref
	hasTarget bool
	skip      bool
	tags      []string
	log       *slog.Logger
}

var _ engine.Filter = (*Filter)(nil)

// New builds a json filter.
func New(o Options, r engine.Resources) (*Filter, error) {
	f := &Filter{
		source:    event.MustRef(o.Source),
		hasTarget: o.Target != "",
		skip:      o.SkipOnInvalidJSON,
		tags:      slices.Clone(o.TagOnFailure),
		log:       r.Logger,
	}
	if f.log == nil {
		f.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if f.hasTarget {
		f.target = event.MustRef(o.Target)
	} else if o.Compatibility.ECS() {
		f.log.Info("ECS compatibility is enabled but `target` option was not specified. " +
			"This may cause fields to be set at the top-level of the event where they are likely to clash with the Elastic Common Schema. " +
			"It is recommended to set the `target` option to avoid potential schema conflicts " +
			"(if your data is ECS compliant or non-conflicting, feel free to ignore this message)")
	}
	return f, nil
}

// errNoSource is returned, untagged, when there is nothing to parse: the
// engine then skips the common options, as Logstash does.
var errNoSource = fmt.Errorf("json: source field missing, null or false: %w", engine.ErrNotApplied)

// Filter parses the source field of e and stores the result.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	out = append(out, e)
	v, ok := e.Get(f.source)
	if !ok || v == nil || v == false {
		return out, errNoSource
	}
	var (
		parsed any
		err    error
	)
	s, ok := v.(string)
	switch {
	case !ok:
		// Logstash's JSON loader raises on a non-string, like on bad text.
		s = string(valuefmt.AppendRubyToS(nil, v))
		err = fmt.Errorf("json: source %s holds %s, not a string", f.source, event.JSONKind(v))
	case strings.TrimSpace(s) != "":
		if parsed, err = event.ParseJSON([]byte(s)); err != nil {
			err = fmt.Errorf("json: parsing %s: %w", f.source, err)
		}
	}
	if err != nil {
		if f.skip {
			return out, fmt.Errorf("%w: %w", engine.ErrNotApplied, err)
		}
		e.AddTag(f.tags...)
		f.log.Warn("Error parsing json", "source", f.source.String(), "raw", s, "err", err)
		return out, err
	}
	if f.hasTarget {
		if err := e.Set(f.target, parsed); err != nil {
			return out, f.fail(e, s, fmt.Errorf("json: %w", err))
		}
		return out, nil
	}
	m, ok := parsed.(map[string]any)
	if !ok {
		e.AddTag(f.tags...)
		f.log.Warn("Parsed JSON object/hash requires a target configuration option", "source", f.source.String(), "raw", s)
		return out, fmt.Errorf("json: %s holds %s, which needs a target", f.source, event.JSONKind(parsed))
	}
	if err := merge(e, m); err != nil {
		return out, f.fail(e, s, err)
	}
	return out, nil
}

// fail tags e and logs err as Logstash's catch-all rescue does.
func (f *Filter) fail(e *event.Event, raw string, err error) error {
	e.AddTag(f.tags...)
	f.log.Warn("Exception caught in json filter", "source", f.source.String(), "raw", raw, "err", err)
	return err
}

// merge sets the keys of m at the top level of e, with Logstash's handling of
// @timestamp, tags and @metadata. Every key is checked before anything is set.
func merge(e *event.Event, m map[string]any) error {
	ts, hasTS := m[event.TimestampField]
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != event.TimestampField {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	refs := make([]event.Ref, len(keys))
	for i, k := range keys {
		r, err := event.ParseRef(k)
		if err != nil {
			return fmt.Errorf("json: key %q: %w", k, err)
		}
		if k == event.MetadataField || k == "[@metadata]" {
			if _, ok := m[k].(map[string]any); !ok {
				return fmt.Errorf("json: key %q holds %s, not an object", k, event.JSONKind(m[k]))
			}
		}
		if isTagsRef(k) && !legalTags(k, m[k]) {
			return fmt.Errorf("json: key %q: tags must be a string or a list of strings, not %s", k, event.JSONKind(m[k]))
		}
		refs[i] = r
	}
	for i, r := range refs {
		if err := e.Set(r, m[keys[i]]); err != nil {
			return fmt.Errorf("json: key %q: %w", keys[i], err)
		}
	}
	if !hasTS || ts == nil || ts == false {
		return nil
	}
	if s, ok := ts.(string); ok {
		if t, err := timefmt.ParseTimestamp(s); err == nil {
			e.SetTimestamp(t)
			return nil
		}
	}
	e.SetTimestamp(time.Now())
	e.AddTag(event.TimestampFailureTag)
	return e.Set(timestampFailureRef, string(valuefmt.AppendRubyToS(nil, ts)))
}

// isTagsRef reports whether the field reference k is [tags] or below it.
func isTagsRef(k string) bool {
	return k == event.TagsField || k == "[tags]" || strings.HasPrefix(k, "[tags][")
}

// legalTags reports whether Logstash 8 accepts v at k: top-level tags hold a
// string or a list of strings, and nothing may be set inside them by name.
func legalTags(k string, v any) bool {
	if k != event.TagsField && k != "[tags]" {
		return false
	}
	switch x := v.(type) {
	case string, nil:
		return true
	case []any:
		for _, el := range x {
			if _, ok := el.(string); !ok {
				return false
			}
		}
		return true
	}
	return false
}

var timestampFailureRef = event.MustRef(event.TimestampFailureField)
