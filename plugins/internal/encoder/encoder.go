// Package encoder is the Encoder of the codecs that render each event to bytes:
// it renders into a buffer kept from one event to the next and writes each event
// with a single Write.
package encoder

import (
	"io"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// maxKeep is the largest buffer kept for the next event; a larger one, made for
// an unusually large event, is left to the garbage collector.
const maxKeep = 64 << 10

// Render appends the encoded form of e to dst and returns the extended buffer.
type Render func(dst []byte, e *event.Event) []byte

// New returns an encoder that writes render's output for each event, followed by
// suffix (such as a delimiter), to w in one Write. A write error is returned by
// Encode.
func New(w io.Writer, render Render, suffix []byte) engine.Encoder {
	return &encoder{w: w, render: render, suffix: suffix}
}

type encoder struct {
	w      io.Writer
	render Render
	suffix []byte
	buf    []byte
}

func (en *encoder) Encode(e *event.Event) error {
	b := en.render(en.buf[:0], e)
	b = append(b, en.suffix...)
	_, err := en.w.Write(b)
	if cap(b) <= maxKeep {
		en.buf = b
	}
	return err
}

// JSON renders the event's fields as one JSON object (event.Event.AppendJSON).
func JSON(dst []byte, e *event.Event) []byte { return e.AppendJSON(dst) }
