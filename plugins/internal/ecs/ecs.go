// Package ecs holds the ecs_compatibility option shared by plugins whose field
// names depend on Elastic Common Schema compatibility, as in Logstash.
package ecs

import (
	"fmt"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// The values of an ecs_compatibility option.
const (
	Disabled = "disabled"
	V1       = "v1"
	V8       = "v8"
)

// Default is the value used when a pipeline does not set ecs_compatibility:
// "v8", the default of Logstash 8 (pipeline.ecs_compatibility).
const Default = V8

// Validate checks an ecs_compatibility value and blames the option otherwise.
func Validate(v string) error {
	switch v {
	case Disabled, V1, V8:
		return nil
	}
	return &engine.FieldError{Field: "ecs_compatibility", Err: fmt.Errorf("unsupported value %q: want %q, %q or %q", v, Disabled, V1, V8)}
}

// Compatibility is the ecs_compatibility option (an option group: a plugin
// embeds it in its Options struct and says in its package doc what changes).
type Compatibility struct {
	// ECSCompatibility is "disabled", "v1" or "v8": whether the fields the
	// plugin adds follow the Elastic Common Schema (v1, v8) or Logstash's
	// older names (disabled); the description above says what changes.
	ECSCompatibility string `hcl:"ecs_compatibility,optional"`
}

// DocTitle names the group in the plugin reference.
func (Compatibility) DocTitle() string { return "ECS compatibility" }

// Defaults sets the pipeline default, Default.
func (c *Compatibility) Defaults() { c.ECSCompatibility = Default }

// Validate checks the value.
func (c Compatibility) Validate() error { return Validate(c.ECSCompatibility) }

// ECS reports whether ECS field names are selected (v1 or v8).
func (c Compatibility) ECS() bool { return Enabled(c.ECSCompatibility) }

// Enabled reports whether v selects ECS field names (v1 or v8).
func Enabled(v string) bool { return v == V1 || v == V8 }

// OriginalRef is [event][original], where with ECS compatibility on a codec
// keeps the text an event was decoded from.
var OriginalRef = event.MustRef("[event][original]")

// NewMessage returns an event with message msg and @timestamp t (see
// event.NewMessageAt) and, when original is set, msg in [event][original] too:
// the event the plain and line codecs decode from a payload or a line.
func NewMessage(msg string, t time.Time, original bool) *event.Event {
	e := event.NewMessageAt(msg, t)
	if original {
		// Reuse the boxed message instead of boxing msg again.
		_ = e.Set(OriginalRef, e.Fields()[event.MessageField])
	}
	return e
}
