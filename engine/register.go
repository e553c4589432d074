package engine

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"sync"

	"github.com/pipelined/pipeline/dsl/ir"
)

// Defaulter is implemented by a plugin's *Options to set defaults on a zero value
// before decoding; options absent from the config keep these values.
type Defaulter interface{ Defaults() }

// Validator is implemented by a plugin's *Options to check decoded values. It must
// be pure and fast (no I/O): `pipeline check` runs it. Return a *FieldError to
// blame one option. Build runs it before the plugin's constructor, and only
// calls the constructor with options it accepted: constructors do not run it
// again. Code that builds a plugin from Go values (tests, tools) runs it first
// too.
type Validator interface{ Validate() error }

// Factory describes one registered plugin.
type Factory struct {
	Kind ir.Kind
	Name string
	// Options is the plugin's Options struct type (the schema, for docs).
	Options reflect.Type
	// DefaultCodec is the codec used when the config names none; "" if the plugin
	// uses no codec (one given is then checked, warned about and not used).
	DefaultCodec string
	// Streaming marks an input that reads a byte stream (a connection, stdin)
	// rather than discrete messages: its plain and json codecs become line and
	// json_lines, as Logstash's fix_streaming_codecs does, since a codec that
	// decodes "everything until EOF" would buffer a whole connection.
	Streaming bool
	// OptionalCodec marks a plugin without a default codec that uses one
	// when the config names it (Resources.Codec is nil otherwise).
	OptionalCodec bool

	newOptions func() any                            // *O with defaults applied
	build      func(o any, r Resources) (any, error) // o is *O
}

// NewOptions returns a pointer to a fresh Options value with defaults applied.
func (f *Factory) NewOptions() any { return f.newOptions() }

// BuildWithDefaults builds the plugin with its default options, after
// their Validate: for a plugin that builds others by name, such as the http
// input's codecs chosen by content type (additional_codecs).
func (f *Factory) BuildWithDefaults(r Resources) (any, error) {
	o := f.newOptions()
	if v, ok := o.(Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, err
		}
	}
	return f.build(o, r)
}

// Registry maps plugin kinds and names to factories.
type Registry struct {
	mu sync.RWMutex
	m  map[ir.Kind]map[string]*Factory
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{m: map[ir.Kind]map[string]*Factory{}} }

// Default is the registry that plugins add themselves to from init.
var Default = NewRegistry()

// Lookup returns the factory for kind and name.
func (r *Registry) Lookup(kind ir.Kind, name string) (*Factory, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	f, ok := r.m[kind][name]
	return f, ok
}

// Names returns the sorted names registered for kind.
func (r *Registry) Names(kind ir.Kind) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.m[kind]))
	for n := range r.m[kind] {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// All returns every factory, sorted by kind then name.
func (r *Registry) All() []*Factory {
	var out []*Factory
	for _, k := range []ir.Kind{ir.Input, ir.Filter, ir.Output, ir.Codec} {
		for _, n := range r.Names(k) {
			f, _ := r.Lookup(k, n)
			out = append(out, f)
		}
	}
	return out
}

var validName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Add registers f. It panics on an invalid or duplicate name: a programming
// error that the first test run catches.
func (r *Registry) Add(f *Factory) {
	if !validName.MatchString(f.Name) {
		panic(fmt.Sprintf("engine: invalid %s plugin name %q", f.Kind, f.Name))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m[f.Kind] == nil {
		r.m[f.Kind] = map[string]*Factory{}
	}
	if _, dup := r.m[f.Kind][f.Name]; dup {
		panic(fmt.Sprintf("engine: %s plugin %q registered twice", f.Kind, f.Name))
	}
	r.m[f.Kind][f.Name] = f
}

// RegisterOption adjusts a registration.
type RegisterOption func(*Factory)

// WithDefaultCodec makes an input or output take a `codec`, defaulting to name
// (Logstash's default codec for that plugin, e.g. "line" for stdin).
func WithDefaultCodec(name string) RegisterOption {
	return func(f *Factory) { f.DefaultCodec = name }
}

// WithOptionalCodec makes an output use the codec the config names, and
// none (a nil Resources.Codec) when it names none: its own format is then
// used, as the lumberjack output sends the event itself.
func WithOptionalCodec() RegisterOption {
	return func(f *Factory) { f.OptionalCodec = true }
}

// WithStreamingCodec marks an input that reads a stream (see
// Factory.Streaming).
func WithStreamingCodec() RegisterOption {
	return func(f *Factory) { f.Streaming = true }
}

// streamingCodecs are the codecs a streaming input replaces, and by what.
var streamingCodecs = map[string]string{"plain": "line", "json": "json_lines"}

func newFactory[O any, P any](kind ir.Kind, name string, build func(O, Resources) (P, error), opts []RegisterOption) *Factory {
	var zero O
	t := reflect.TypeOf(zero)
	if t == nil || t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("engine: %s plugin %q: Options must be a struct type", kind, name))
	}
	f := &Factory{
		Kind:    kind,
		Name:    name,
		Options: t,
		newOptions: func() any {
			o := new(O)
			if d, ok := any(o).(Defaulter); ok {
				d.Defaults()
			}
			return o
		},
		build: func(o any, r Resources) (any, error) {
			return build(*o.(*O), r)
		},
	}
	for _, opt := range opts {
		opt(f)
	}
	return f
}

// RegisterInput adds an input plugin to Default. build receives the decoded,
// validated options; it must compile everything it needs and open nothing.
func RegisterInput[O any, P Input](name string, build func(O, Resources) (P, error), opts ...RegisterOption) {
	Default.Add(newFactory(ir.Input, name, build, opts))
}

// RegisterFilter adds a filter plugin to Default.
func RegisterFilter[O any, P Filter](name string, build func(O, Resources) (P, error), opts ...RegisterOption) {
	Default.Add(newFactory(ir.Filter, name, build, opts))
}

// RegisterOutput adds an output plugin to Default.
func RegisterOutput[O any, P Output](name string, build func(O, Resources) (P, error), opts ...RegisterOption) {
	Default.Add(newFactory(ir.Output, name, build, opts))
}

// RegisterCodec adds a codec to Default.
func RegisterCodec[O any, P Codec](name string, build func(O, Resources) (P, error), opts ...RegisterOption) {
	Default.Add(newFactory(ir.Codec, name, build, opts))
}

// NewInputFactory returns the factory RegisterInput would add, for a
// Registry of one's own: `pipeline test` builds pipelines whose inputs and
// outputs are replaced by in-memory ones that never join Default.
func NewInputFactory[O any, P Input](name string, build func(O, Resources) (P, error), opts ...RegisterOption) *Factory {
	return newFactory(ir.Input, name, build, opts)
}

// NewOutputFactory is NewInputFactory for an output.
func NewOutputFactory[O any, P Output](name string, build func(O, Resources) (P, error), opts ...RegisterOption) *Factory {
	return newFactory(ir.Output, name, build, opts)
}
