package netserver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrLineTooLong is wrapped by a LineLimiter's read error.
var ErrLineTooLong = errors.New("line too long")

// LineLimiter fails a stream in which more than Max bytes come without a
// newline, so that a client cannot make a line-splitting codec buffer without
// bound. It only looks at where the last newline of each read is.
type LineLimiter struct {
	R   io.Reader
	Max int
	run int // bytes since the last newline
	// Err is the first error Read returned (the reader's, or the limit's):
	// a decoder error after it is a read error, not bad data.
	Err error
}

// Read reads from R and fails once the current line passes Max bytes.
func (l *LineLimiter) Read(p []byte) (n int, err error) {
	defer func() {
		if err != nil && l.Err == nil {
			l.Err = err
		}
	}()
	if l.Err != nil {
		return 0, l.Err
	}
	n, err = l.R.Read(p)
	if n > 0 {
		if i := bytes.IndexByte(p[:n], '\n'); i >= 0 {
			if l.Max > 0 && l.run+i > l.Max {
				return 0, fmt.Errorf("%w: more than %d bytes without a newline (max_line_bytes)", ErrLineTooLong, l.Max)
			}
			l.run = n - 1 - bytes.LastIndexByte(p[:n], '\n')
		} else {
			l.run += n
		}
		if l.Max > 0 && l.run > l.Max {
			return 0, fmt.Errorf("%w: more than %d bytes without a newline (max_line_bytes)", ErrLineTooLong, l.Max)
		}
	}
	return n, err
}
