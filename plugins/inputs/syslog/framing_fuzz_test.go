package syslog

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"testing"
)

// FuzzOctetCounting: any bytes read as octet-counted frames (RFC 6587) give
// frames no longer than their announced length and within max_line_bytes,
// an error, or the end; never a panic, and never an allocation beyond what
// arrived (a length announced and not sent costs nothing).
func FuzzOctetCounting(f *testing.F) {
	for _, s := range []string{
		"11 <13>hello x5 <13>a",
		"999999999 <13>",
		"0 ",
		"12 <13>Nov 24 03",
		"3 abc4 defg",
		" 5 x",
	} {
		f.Add([]byte(s), 0)
		f.Add([]byte(s), 8)
	}
	f.Fuzz(func(t *testing.T, data []byte, maxLine int) {
		if maxLine < 0 || maxLine > 1<<20 {
			maxLine = 0
		}
		in := &Input{maxLine: maxLine, log: slog.New(slog.DiscardHandler)}
		br := bufio.NewReader(bytes.NewReader(data))
		for range 1000 {
			frame, err := in.readCounted(br, "fuzz")
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF && frame != nil {
					t.Fatalf("a frame and an error: %q, %v", frame, err)
				}
				return
			}
			if maxLine > 0 && len(frame) > maxLine {
				t.Fatalf("a frame of %d bytes with max_line_bytes %d", len(frame), maxLine)
			}
			if cap(frame) > len(data)+countedChunk {
				t.Fatalf("allocated %d bytes for %d bytes of input", cap(frame), len(data))
			}
		}
	})
}
