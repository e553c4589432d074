// Package clone implements the clone filter, like Logstash's: for each name
// in clones it passes on a copy of the event after the original.
//
// With ecs_compatibility disabled a copy's type field is set to its name;
// with v1 or v8 (the default) the name is appended to the copy's tags
// (without checking for duplicates, as Logstash does) and type is left as
// it is. The common options apply to the copies only: the original passes
// unchanged, as in Logstash.
//
// With ecs_compatibility "disabled" a copy's name goes into type; with "v1" or
// "v8", into tags.
package clone

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
)

func init() { engine.RegisterFilter("clone", New) }

// Options configures the clone filter.
type Options struct {
	// Clones names the copies, one per name (a name may repeat). Required;
	// an empty list makes no copies (with a warning).
	Clones []string `hcl:"clones"`
	ecs.Compatibility
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() { o.Compatibility.Defaults() }

// Validate checks the ECS mode.
func (o *Options) Validate() error { return o.Compatibility.Validate() }

// Filter is the clone filter. It is safe for concurrent use.
type Filter struct {
	clones []string
	tag    bool
}

var _ engine.Filter = (*Filter)(nil)

var (
	typeRef = event.MustRef("type")
	tagsRef = event.MustRef("tags")
)

// New builds a clone filter.
func New(o Options, r engine.Resources) (*Filter, error) {
	if len(o.Clones) == 0 {
		logger := r.Logger
		if logger == nil {
			logger = slog.Default()
		}
		logger.Warn("clone: clones is empty, so no clones will be created")
	}
	return &Filter{clones: slices.Clone(o.Clones), tag: o.Compatibility.ECS()}, nil
}

// Filter passes on e and its copies.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	out = append(out, e)
	for _, name := range f.clones {
		c := e.Clone()
		var err error
		if f.tag {
			err = c.Set(tagsRef, appendTag(c, name))
		} else {
			err = c.Set(typeRef, name)
		}
		if err != nil {
			return out, fmt.Errorf("clone: %w", err)
		}
		out = append(out, c)
	}
	// e itself did not match: only the copies get the common options.
	return out, errNotOriginal
}

var errNotOriginal = fmt.Errorf("clone: the original: %w", engine.ErrNotApplied)

// appendTag is Ruby's Array(tags) << name.
func appendTag(e *event.Event, name string) []any {
	v, _ := e.Get(tagsRef)
	switch x := v.(type) {
	case nil:
		return []any{name}
	case []any:
		return append(slices.Clip(x), name)
	}
	return []any{v, name}
}
