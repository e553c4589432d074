package dlq

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/event"
)

// FuzzReader: any bytes as a dead letter queue segment are read without a
// panic; what the reader returns passed its CRC and decodes to an event.
func FuzzReader(f *testing.F) {
	seg := append([]byte(nil), segmentHeader...)
	seg = append(seg, encodeRecord(nil, event.NewMessage("one"), "main", "elasticsearch", "es", "mapping", time.Unix(0, 0))...)
	seg = append(seg, encodeRecord(nil, event.NewMessage("two"), "main", "file", "f", "full", time.Unix(0, 0))...)
	f.Add(seg)
	f.Add(seg[:len(seg)-7])
	f.Add(append(append([]byte(nil), seg[:20]...), seg[40:]...))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segmentName(1)), data, 0o600); err != nil {
			t.Fatal(err)
		}
		r := NewReader(dir, slog.New(slog.DiscardHandler))
		defer r.Close()
		for range 1000 {
			en, _, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				return
			}
			if en.Event == nil {
				t.Fatal("an entry without an event")
			}
		}
	})
}
