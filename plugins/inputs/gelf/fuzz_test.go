package gelf

import (
	"testing"
	"time"
)

// FuzzDatagram: any datagrams through chunk assembly and decompression give
// a message within the budget, nothing, or an error; never a panic, and
// never more than the budget in memory.
func FuzzDatagram(f *testing.F) {
	f.Add([]byte(`{"short_message":"x"}`), []byte{})
	f.Add([]byte{0x1e, 0x0f, 1, 2, 3, 4, 5, 6, 7, 8, 0, 2, 'a'}, []byte{0x1e, 0x0f, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 'b'})
	f.Add([]byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01}, []byte{0x1f, 0x8b, 8, 0})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		const limit = 4096
		as := newAssembler(limit)
		for _, p := range [][]byte{a, b} {
			msg, err := as.add(p, time.Unix(0, 0))
			if err != nil || msg == nil {
				continue
			}
			if out, err := inflate(msg, limit); err == nil && len(out) > limit {
				t.Fatalf("a message of %d bytes passed a %d-byte budget", len(out), limit)
			}
		}
		if len(as.msgs) > maxPending {
			t.Fatalf("%d messages in assembly", len(as.msgs))
		}
	})
}
