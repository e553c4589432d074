package event

// Replace gives e the fields and metadata of src, keeping e's identity and
// acknowledgement: for a filter that computes an event's new content
// elsewhere (the ruby filter's co-process) and must pass on e itself.
// src must not be used afterwards.
func (e *Event) Replace(src *Event) {
	e.fields, e.meta = src.fields, src.meta
}

// Derive returns src as a new event produced from e, sharing e's
// acknowledgement as Clone does. src must not be used afterwards.
func (e *Event) Derive(src *Event) *Event {
	src.acker = e.acker
	if e.acker != nil {
		e.acker.Retain(1)
	}
	return src
}

// FromParsed makes an event of fields and metadata that hold event value
// types only (as ParseJSON returns, plus time values), taking the maps over
// without copying or adding anything: for a filter that rebuilds events it
// serialized itself. meta may be nil.
func FromParsed(fields, meta map[string]any) *Event {
	if len(meta) == 0 {
		meta = nil
	}
	return &Event{fields: fields, meta: meta}
}
