package engine_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
)

func writeKey(t testing.TB, hexByte string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "queue.key")
	if err := os.WriteFile(p, []byte(strings.Repeat(hexByte, 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func queueFiles(t *testing.T, dir string) (all string, hashes string) {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.pq"))
	if len(segs) == 0 {
		t.Fatal("no segment files")
	}
	var b, h strings.Builder
	for _, s := range segs {
		data, _ := os.ReadFile(s)
		b.Write(data)
		fmt.Fprintf(&h, "%s %x\n", filepath.Base(s), sha256.Sum256(data))
	}
	return b.String(), h.String()
}

// queue.encryption_key_path: the persisted queue's files hold the events
// encrypted (without it the field names are there in plaintext: the test
// can fail); a second run under another key fails to start with the ids of
// both keys and leaves the files as they were.
func TestPersistedQueueEncryptionKeyPath(t *testing.T) {
	for _, enc := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypted=%v", enc), func(t *testing.T) {
			dir := t.TempDir()
			q := persisted(dir, 0)
			if enc {
				q.EncryptionKeyPath = writeKey(t, "5a")
			}
			key, c := newControl(t)
			k := fmt.Sprintf("key = %q\n", key)
			p := &ir.Pipeline{
				Inputs:  []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k+"batches = 4\nsize = 10\n")},
				Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "out", k)},
			}
			if err := run(t, build(t, p, engine.Settings{Queue: q}), context.Background()); err != nil {
				t.Fatal(err)
			}
			if c.got.Load() != 40 {
				t.Fatalf("delivered %d of 40", c.got.Load())
			}
			data, before := queueFiles(t, dir)
			if got := strings.Contains(data, "message"); got == enc {
				t.Fatalf("the queue files hold \"message\": %v; encrypted: %v", got, enc)
			}
			if !enc {
				return
			}
			q.EncryptionKeyPath = writeKey(t, "6b")
			key2, _ := newControl(t)
			p2 := &ir.Pipeline{
				Inputs:  []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", fmt.Sprintf("key = %q\nbatches = 1\nsize = 1\n", key2))},
				Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "out", fmt.Sprintf("key = %q\n", key2))},
			}
			err := run(t, build(t, p2, engine.Settings{Queue: q}), context.Background())
			if err == nil || !strings.Contains(err.Error(), "refusing to start; nothing was deleted") {
				t.Fatalf("Run under another key = %v", err)
			}
			if _, after := queueFiles(t, dir); after != before {
				t.Fatalf("the refused run changed the files:\n%s\n%s", before, after)
			}
		})
	}
}
