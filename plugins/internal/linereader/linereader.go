// Package linereader splits a stream into delimited lines for the line-oriented
// codecs (line, json_lines), like Logstash's BufferedTokenizer: the delimiter is
// removed and nothing else ("\r" stays), an empty line is a line, and a final
// line without a delimiter is still a line at the end of the stream.
package linereader

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// BufferSize is the read buffer size. A *bufio.Reader of at least
// MinBufferSize passed to New is used as is, so its owner can see how much is
// buffered (and size it: the tcp input's connections read through 16 KiB).
const BufferSize = 64 << 10

// MinBufferSize is the smallest *bufio.Reader New uses as is.
const MinBufferSize = 4 << 10

// ErrTooLong is wrapped by Next when a line exceeds the size limit.
var ErrTooLong = errors.New("line too long")

// Reader returns the lines of a stream.
type Reader struct {
	br       *bufio.Reader
	delim    []byte
	last     byte
	max      int
	acc      []byte // a line spanning several buffer fills
	err      error  // sticky read error
	refilled bool   // the last Next read from the underlying reader
}

// New returns a Reader of r splitting on delim (not empty). max > 0 limits the
// length of a line, delimiter excluded; 0 means no limit.
func New(r io.Reader, delim []byte, max int) *Reader {
	br, ok := r.(*bufio.Reader)
	if !ok || br.Size() < MinBufferSize {
		br = bufio.NewReaderSize(r, BufferSize)
	}
	return &Reader{br: br, delim: delim, last: delim[len(delim)-1], max: max}
}

// Next returns the next line without its delimiter. The slice is only valid
// until the next call. At the end of the stream it returns io.EOF; a read error
// is returned once all complete lines before it were returned. A line longer
// than the limit is skipped up to its delimiter and reported as an error
// wrapping ErrTooLong; reading may continue after it.
func (r *Reader) Next() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	r.acc = r.acc[:0]
	r.refilled = false
	tooLong := false
	for {
		buffered := r.br.Buffered()
		chunk, err := r.br.ReadSlice(r.last)
		if err != nil || len(chunk) > buffered {
			r.refilled = true
		}
		if err == nil && !tooLong {
			if len(r.acc) == 0 && len(r.delim) == 1 {
				// Fast path: the whole line is in the buffer.
				line := chunk[:len(chunk)-1]
				if r.max > 0 && len(line) > r.max {
					return nil, r.tooLong(len(line))
				}
				return line, nil
			}
			r.acc = append(r.acc, chunk...)
			if bytes.HasSuffix(r.acc, r.delim) {
				line := r.acc[:len(r.acc)-len(r.delim)]
				if r.max > 0 && len(line) > r.max {
					return nil, r.tooLong(len(line))
				}
				return line, nil
			}
			continue
		}
		if tooLong {
			// Skipping an over-long line: keep only what may start the delimiter.
			r.acc = append(r.acc, chunk...)
			if err == nil && bytes.HasSuffix(r.acc, r.delim) {
				return nil, r.tooLong(-1)
			}
			if k := len(r.delim) - 1; len(r.acc) > k {
				r.acc = append(r.acc[:0], r.acc[len(r.acc)-k:]...)
			}
			if err == nil || err == bufio.ErrBufferFull {
				continue
			}
			r.err = err
			return nil, r.tooLong(-1)
		}
		switch err {
		case bufio.ErrBufferFull:
			r.acc = append(r.acc, chunk...)
			if r.max > 0 && len(r.acc) > r.max+len(r.delim) {
				tooLong = true
				k := len(r.delim) - 1
				r.acc = append(r.acc[:0], r.acc[len(r.acc)-k:]...)
			}
			continue
		case io.EOF:
			r.acc = append(r.acc, chunk...)
			r.err = io.EOF
			if len(r.acc) > 0 {
				if r.max > 0 && len(r.acc) > r.max {
					return nil, r.tooLong(len(r.acc))
				}
				return r.acc, nil
			}
			return nil, io.EOF
		default:
			r.err = err
			return nil, err
		}
	}
}

// Refilled reports whether the last call to Next read from the underlying
// reader, rather than finding its whole line already buffered. A codec that
// stamps events with the time they were read needs a new clock reading only
// then.
func (r *Reader) Refilled() bool { return r.refilled }

func (r *Reader) tooLong(n int) error {
	r.acc = r.acc[:0]
	if n < 0 {
		return fmt.Errorf("%w: more than %d bytes", ErrTooLong, r.max)
	}
	return fmt.Errorf("%w: %d bytes, more than %d", ErrTooLong, n, r.max)
}
