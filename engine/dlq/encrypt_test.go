package dlq

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/atrest"
	"github.com/pipelined/pipeline/engine/event"
)

func testKey(t *testing.T, b byte) *atrest.Key {
	t.Helper()
	k, err := atrest.NewKey(bytes.Repeat([]byte{b}, atrest.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testKeys(t *testing.T, b byte) *atrest.Keyring { return atrest.NewKeyring(testKey(t, b)) }

const marker = "SECRET-MARKER-dlq-51"

func putMarked(t *testing.T, w *Writer, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		e := event.NewMessage(fmt.Sprintf("%s %d", marker, i))
		_ = e.Set(event.MustRef("[n]"), int64(i))
		if err := w.Put(e, src, "mapping conflict"); err != nil {
			t.Fatal(err)
		}
	}
}

func dirHashes(t *testing.T, dir string) string {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	var b strings.Builder
	for _, e := range ents {
		if e.IsDir() || e.Name() == ".lock" {
			continue
		}
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		fmt.Fprintf(&b, "%s %x\n", e.Name(), sha256.Sum256(data))
	}
	return b.String()
}

func contains(t *testing.T, dir, s string) bool {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.dlq"))
	for _, p := range segs {
		if data, _ := os.ReadFile(p); bytes.Contains(data, []byte(s)) {
			return true
		}
	}
	return false
}

// With a key the segments hold no plaintext of the events (without one they
// do: the test can fail); the reader given the key reads them back.
func TestEncryptedDLQHoldsNoPlaintext(t *testing.T) {
	for _, enc := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypted=%v", enc), func(t *testing.T) {
			dir := t.TempDir()
			var keys *atrest.Keyring
			if enc {
				keys = testKeys(t, 1)
			}
			w := open(t, Options{Dir: dir, Keys: keys, SegmentBytes: 2000})
			putMarked(t, w, 0, 30)
			w.Close()
			if got := contains(t, dir, marker); got == enc {
				t.Fatalf("segments hold the marker: %v; encrypted %v", got, enc)
			}
			if got := contains(t, dir, "mapping conflict"); got == enc {
				t.Fatalf("segments hold the reason: %v; encrypted %v", got, enc)
			}
			r := NewReader(dir, nil)
			r.SetKeys(keys)
			got := readAll(t, r)
			if len(got) != 30 {
				t.Fatalf("read %d entries", len(got))
			}
			for i, en := range got {
				if m, _ := en.Event.Get(event.MustRef("[message]")); m != fmt.Sprintf("%s %d", marker, i) || en.Reason != "mapping conflict" || en.PluginID != "es" {
					t.Fatalf("entry %d = %v %+v", i, m, en)
				}
			}
		})
	}
}

// A queue written under one key is refused by Open under another key or
// none, with both key ids named, and nothing changes on disk — not even
// with retain.age, which would delete old segments, or a torn tail, which
// would be cut. The reader stops with ErrKey instead of skipping. With the
// old key beside the new one everything is read, old and new.
func TestDLQWrongKeyRefusedAndNothingTouched(t *testing.T) {
	dir := t.TempDir()
	a, b := testKey(t, 1), testKey(t, 2)
	w := open(t, Options{Dir: dir, Keys: atrest.NewKeyring(a)})
	putMarked(t, w, 0, 5)
	w.Close()
	f, _ := os.OpenFile(segmentPath(dir, 1), os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{0, 0, 0, 9, 1})
	f.Close()
	old := time.Now().Add(-time.Hour)
	os.Chtimes(segmentPath(dir, 1), old, old)
	before := dirHashes(t, dir)
	for _, keys := range []*atrest.Keyring{atrest.NewKeyring(b), nil} {
		_, err := Open(Options{Dir: dir, Keys: keys, RetainAge: time.Minute})
		if !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), a.ID().String()) || !strings.Contains(err.Error(), "nothing was deleted") {
			t.Fatalf("Open with %s = %v", keys.IDs(), err)
		}
		if keys != nil && !strings.Contains(err.Error(), b.ID().String()) {
			t.Fatalf("the error does not name the configured key: %v", err)
		}
		if after := dirHashes(t, dir); after != before {
			t.Fatalf("the refused Open changed the files:\n%s\n%s", before, after)
		}
		r := NewReader(dir, nil)
		r.SetKeys(keys)
		if _, _, err := r.Next(); !errors.Is(err, ErrKey) {
			t.Fatalf("Reader.Next with %s = %v", keys.IDs(), err)
		}
		if _, _, err := r.Next(); !errors.Is(err, ErrKey) {
			t.Fatalf("the reader moved past the entry it cannot open: %v", err)
		}
	}
	ring := atrest.NewKeyring(b, a)
	w = open(t, Options{Dir: dir, Keys: ring})
	putMarked(t, w, 5, 2)
	w.Close()
	r := NewReader(dir, nil)
	r.SetKeys(ring)
	if got := readAll(t, r); len(got) != 7 {
		t.Fatalf("read %d entries with the old key kept; want 7", len(got))
	}
	// The new segment is under the new key alone.
	if _, id, ok, _ := segmentKey(segmentPath(dir, 2)); !ok || id != b.ID() {
		t.Fatalf("new segment key %v %v", id, ok)
	}
}

// A sealed record changed on disk with its CRC fixed up (only the tag can
// tell) is skipped with a warning, as a record failing its CRC is; an
// unencrypted queue opened with a key is read as it is and new entries are
// sealed.
func TestDLQTamperedAndMixed(t *testing.T) {
	dir := t.TempDir()
	w := open(t, Options{Dir: dir})
	putMarked(t, w, 0, 2)
	w.Close()
	keys := testKeys(t, 3)
	w = open(t, Options{Dir: dir, Keys: keys})
	putMarked(t, w, 2, 3)
	w.Close()
	if contains(t, dir, marker+" 3") || !contains(t, dir, marker+" 1") {
		t.Fatal("the old segment should be as it was, the new one sealed")
	}
	seg := segmentPath(dir, 2)
	data, _ := os.ReadFile(seg)
	off := headerSize + recHeaderSize + int(binary.BigEndian.Uint32(data[headerSize:])) // the second record
	l := int(binary.BigEndian.Uint32(data[off:]))
	data[off+recHeaderSize+atrest.IDSize+12+5] ^= 1
	binary.BigEndian.PutUint32(data[off+4:], crc32.Checksum(data[off+recHeaderSize:off+recHeaderSize+l], crcTable))
	os.WriteFile(seg, data, 0o600)
	log, logs := newLogger()
	r := NewReader(dir, log)
	r.SetKeys(keys)
	var ns []int64
	for _, en := range readAll(t, r) {
		n, _ := en.Event.Get(event.MustRef("[n]"))
		ns = append(ns, n.(int64))
	}
	if fmt.Sprint(ns) != "[0 1 2 4]" || !strings.Contains(logs.String(), "fails authentication") {
		t.Fatalf("read %v; log %s", ns, logs)
	}
}
