// Package uuid implements the uuid filter, like Logstash's: it stores a new
// random (version 4) UUID, such as "0b4a4f4e-9e0c-4d6e-8a3c-1f2e3d4c5b6a",
// in the target field.
//
// A target that already holds a value other than null is kept unless
// overwrite is true. The common options always apply.
package uuid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

func init() { engine.RegisterFilter("uuid", New) }

// Options configures the uuid filter.
type Options struct {
	// Target is the field the UUID is stored in. Required.
	Target string `hcl:"target"`
	// Overwrite replaces a value the target already holds.
	Overwrite bool `hcl:"overwrite,optional"`
}

// Validate checks the target reference.
func (o *Options) Validate() error {
	if o.Target == "" {
		return &engine.FieldError{Field: "target", Err: errors.New("name the field to store the UUID in")}
	}
	if _, err := event.ParseRef(o.Target); err != nil {
		return &engine.FieldError{Field: "target", Err: err}
	}
	return nil
}

// Filter is the uuid filter. It is safe for concurrent use.
type Filter struct {
	target    event.Ref
	overwrite bool
}

var _ engine.Filter = (*Filter)(nil)

// New builds a uuid filter.
func New(o Options, _ engine.Resources) (*Filter, error) {
	return &Filter{target: event.MustRef(o.Target), overwrite: o.Overwrite}, nil
}

// Filter sets the UUID of e.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	out = append(out, e)
	if !f.overwrite {
		if v, _ := e.Get(f.target); v != nil {
			return out, nil
		}
	}
	if err := e.Set(f.target, NewV4()); err != nil {
		return out, fmt.Errorf("uuid: %w", err)
	}
	return out, nil
}

// NewV4 returns a random UUID (RFC 9562 version 4) in its lower-case text
// form.
func NewV4() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
