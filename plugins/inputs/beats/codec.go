package beats

import (
	"fmt"
	"strings"

	"github.com/pipelined/pipeline/engine/event"
)

// lineField is where a lumberjack sender (Logstash's lumberjack output, the
// logstash-forwarder) puts the text Filebeat puts in message.
const lineField = "line"

var (
	lineRef     = event.MustRef(lineField)
	metadataRef = event.MustRef("[@metadata]")
)

// decodeTarget turns one received event into what the pipeline gets, as
// Logstash's beats input does: the text of message (or, without one, of
// line) is decoded by the input's codec when one is configured, and the
// other fields the beat sent are set over each decoded event (maps merged
// one level deep, the beat's @timestamp kept). Without a codec, message is
// kept as it is and line becomes message (Logstash's default plain codec).
// An event with neither is passed on as it came.
func (in *Input) decodeTarget(e *event.Event, out []*event.Event) []*event.Event {
	ref, fromLine := in.messageRef, false
	v, ok := e.Get(ref)
	if !ok || v == nil {
		if v, ok = e.Get(lineRef); !ok || v == nil {
			return append(out, e)
		}
		ref, fromLine = lineRef, true
	}
	text, ok := v.(string)
	if !ok {
		text = fmt.Sprint(v) // Logstash takes the field's to_s
	}
	if in.codec == nil {
		if fromLine {
			e.Delete(lineRef)
			e.Set(in.messageRef, text)
		}
		if in.codecTag {
			e.AddTag(CodecTag)
		}
		return append(out, e)
	}
	e.Delete(ref)
	dec := in.codec.NewDecoder(strings.NewReader(text))
	start := len(out)
	for range maxDecodedPerEvent {
		d, err := dec.Decode()
		if err != nil {
			break
		}
		out = append(out, d)
	}
	if len(out) == start {
		// Nothing decoded (an empty message): the event goes on without it.
		out = append(out, e)
		return out
	}
	_, hasStamp := e.Fields()[event.TimestampField]
	for i, d := range out[start:] {
		src := e
		if i > 0 {
			src = e.Copy() // each decoded event gets its own values
		}
		// The beat's fields are already normalised event values, so they go
		// straight into the decoded event's maps (no field reference is
		// parsed per event).
		fields := d.Fields()
		for k, v := range src.Fields() {
			if k == event.TimestampField {
				continue
			}
			if om, ok := fields[k].(map[string]any); ok {
				if vm, ok := v.(map[string]any); ok {
					for mk, mv := range vm {
						om[mk] = mv
					}
					continue
				}
			}
			fields[k] = v
		}
		if len(src.Metadata()) > 0 {
			if d.Metadata() == nil {
				d.Set(metadataRef, map[string]any{})
			}
			meta := d.Metadata()
			for k, v := range src.Metadata() {
				meta[k] = v
			}
		}
		if hasStamp {
			d.SetTimestamp(e.Timestamp())
		}
		if in.codecTag {
			d.AddTag("beats_input_codec_" + in.codecName + "_applied")
		}
	}
	return out
}

// maxDecodedPerEvent bounds the events one message may decode into (a JSON
// array, lines): the window's byte budget already bounds their size.
const maxDecodedPerEvent = 10000
