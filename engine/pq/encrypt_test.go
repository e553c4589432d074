package pq

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipelined/pipeline/engine/atrest"
)

func testKey(t testing.TB, b byte) *atrest.Key {
	t.Helper()
	k, err := atrest.NewKey(bytes.Repeat([]byte{b}, atrest.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const marker = "SECRET-MARKER-7f3a"

// markerRecs are records holding the marker.
func markerRecs(from, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, `{"n":%d,"message":"%s %d"}`, from+i, marker, from+i)
	}
	return out
}

// filesContain tells whether any file under dir holds s.
func filesContain(t *testing.T, dir, s string) bool {
	t.Helper()
	found := false
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(p)
		found = found || bytes.Contains(b, []byte(s))
		return nil
	})
	return found
}

// dirHashes maps every file under dir to the SHA-256 of its content.
func dirHashes(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(p)
		out[p] = sha256.Sum256(b)
		return nil
	})
	return out
}

// With a key the segment files hold no plaintext of the events (the same
// test without a key finds the marker, so it can fail); the records read
// back are the ones appended, after a reopen too.
func TestEncryptedQueueHoldsNoPlaintext(t *testing.T) {
	for _, enc := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypted=%v", enc), func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Dir: dir, SegmentBytes: 4000}
			if enc {
				opts.Keys = atrest.NewKeyring(testKey(t, 1))
			}
			q, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for b := range 10 {
				if err := q.AppendN(ctx, markerRecs(b*10, 10), nil); err != nil {
					t.Fatal(err)
				}
			}
			r := read(t, q, 30)
			if err := q.Ack(seqs(r), size(r)); err != nil {
				t.Fatal(err)
			}
			if n, bytes := q.Len(); n != 70 || bytes != size(markerRecsRecords(30, 70)) {
				t.Fatalf("Len = %d, %d", n, bytes)
			}
			q.Close()
			if got := filesContain(t, dir, marker); got == enc {
				t.Fatalf("the queue's files hold the marker: %v; encrypted: %v", got, enc)
			}
			if segs, _ := filepath.Glob(filepath.Join(dir, "*.pq")); len(segs) < 2 {
				t.Fatalf("%d segments", len(segs))
			}
			q = open(t, opts)
			if n, bytes := q.Len(); n != 70 || bytes != size(markerRecsRecords(30, 70)) {
				t.Fatalf("after reopen Len = %d, %d", n, bytes)
			}
			if rec := q.Recovered(); rec.LostBytes != 0 || rec.TornBytes != 0 || len(rec.Quarantined) != 0 {
				t.Fatalf("Recovered = %+v", rec)
			}
			got := read(t, q, 1000)
			want := markerRecs(30, 70)
			if len(got) != 70 {
				t.Fatalf("read %d records", len(got))
			}
			for i, r := range got {
				if !bytes.Equal(r.Data, want[i]) {
					t.Fatalf("record %d = %q; want %q", i, r.Data, want[i])
				}
			}
		})
	}
}

func markerRecsRecords(from, n int) []Record {
	var out []Record
	for _, d := range markerRecs(from, n) {
		out = append(out, Record{Data: d})
	}
	return out
}

// A queue opened with the wrong key, or with none, fails with an error that
// names the segment and both key ids, and no file is changed, deleted or
// quarantined; given the old key beside the new one it opens, reads what
// the old key sealed and seals new records with the new key, in a new
// segment.
func TestWrongKeyRefusedAndNothingTouched(t *testing.T) {
	dir := t.TempDir()
	a, b := testKey(t, 1), testKey(t, 2)
	q, err := Open(Options{Dir: dir, Keys: atrest.NewKeyring(a)})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Append(context.Background(), markerRecs(0, 20)); err != nil {
		t.Fatal(err)
	}
	r := read(t, q, 5)
	q.Ack(seqs(r), size(r))
	q.Close()
	// A torn tail too, which an accepted Open would cut.
	segs, _ := filepath.Glob(filepath.Join(dir, "*.pq"))
	f, _ := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{0, 0, 1})
	f.Close()
	before := dirHashes(t, dir)
	for _, c := range []struct {
		name string
		keys *atrest.Keyring
		want []string
	}{
		{"wrong key", atrest.NewKeyring(b), []string{a.ID().String(), b.ID().String(), "refusing to start", "nothing was deleted", filepath.Base(segs[0])}},
		{"no key", nil, []string{a.ID().String(), "no encryption key is configured", "nothing was deleted"}},
	} {
		_, err := Open(Options{Dir: dir, Keys: c.keys})
		if !errors.Is(err, ErrKey) {
			t.Fatalf("%s: Open = %v; want ErrKey", c.name, err)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: the error %q does not say %q", c.name, err, w)
			}
		}
		after := dirHashes(t, dir)
		delete(after, filepath.Join(dir, ".lock"))
		delete(before, filepath.Join(dir, ".lock"))
		if fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("%s: the refused Open changed the files:\nbefore %v\nafter  %v", c.name, before, after)
		}
	}
	// Rotation: new key, the old one kept to read.
	q = open(t, Options{Dir: dir, Keys: atrest.NewKeyring(b, a)})
	if err := q.Append(context.Background(), markerRecs(20, 5)); err != nil {
		t.Fatal(err)
	}
	got := read(t, q, 100)
	if len(got) != 20 || !bytes.Equal(got[0].Data, markerRecs(5, 1)[0]) || !bytes.Equal(got[19].Data, markerRecs(24, 1)[0]) {
		t.Fatalf("read %d records", len(got))
	}
	newSegs, _ := filepath.Glob(filepath.Join(dir, "*.pq"))
	if len(newSegs) != 2 {
		t.Fatalf("%d segments; want the old key's and a new one", len(newSegs))
	}
	if _, id, ok, _ := sealedKey(newSegs[1]); !ok || id != b.ID() {
		t.Fatalf("the new segment is sealed with %v, %v", id, ok)
	}
	if err := q.Ack(seqs(got), size(got)); err != nil {
		t.Fatal(err)
	}
	q.Close()
	// Drained: the old key's segment is gone; the new key alone opens it.
	if left, _ := filepath.Glob(filepath.Join(dir, "*.pq")); len(left) != 1 {
		t.Fatalf("%d segments left", len(left))
	}
	open(t, Options{Dir: dir, Keys: atrest.NewKeyring(b)})
}

// An unencrypted queue opened with a key: its records are read as they are,
// new ones go to a new, sealed segment; then the key is needed.
func TestPlainQueueThenKey(t *testing.T) {
	dir := t.TempDir()
	q := open(t, Options{Dir: dir})
	q.Append(context.Background(), markerRecs(0, 3))
	q.Close()
	keys := atrest.NewKeyring(testKey(t, 3))
	q = open(t, Options{Dir: dir, Keys: keys})
	if err := q.Append(context.Background(), [][]byte{[]byte("new " + "record")}); err != nil {
		t.Fatal(err)
	}
	got := read(t, q, 10)
	if len(got) != 4 || !bytes.Equal(got[0].Data, markerRecs(0, 1)[0]) || string(got[3].Data) != "new record" {
		t.Fatalf("read %+v", got)
	}
	q.Close()
	if filesContain(t, dir, "new record") {
		t.Fatal("the record appended with a key is in plaintext")
	}
	if _, err := Open(Options{Dir: dir}); !errors.Is(err, ErrKey) {
		t.Fatalf("Open without the key = %v", err)
	}
	q = open(t, Options{Dir: dir, Keys: keys})
	if got := read(t, q, 10); len(got) != 4 {
		t.Fatalf("read %d after reopen", len(got))
	}
}

// A sealed record altered on disk with its CRC fixed up (so that only the
// authentication tag can tell) is damage: the segment is quarantined as it
// was, the other records are kept.
func TestTamperedSealedRecordIsDamage(t *testing.T) {
	dir := t.TempDir()
	keys := atrest.NewKeyring(testKey(t, 4))
	q := open(t, Options{Dir: dir, Keys: keys})
	q.Append(context.Background(), markerRecs(0, 5))
	q.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.pq"))
	data, _ := os.ReadFile(segs[0])
	// The third record: walk the frames.
	off := segHeaderSize
	for range 2 {
		off += 20 + int(binary.BigEndian.Uint32(data[off:]))
	}
	l := int(binary.BigEndian.Uint32(data[off:]))
	data[off+20+atrest.IDSize+12+3] ^= 0x40
	crc := crc32.Update(crc32.Checksum(data[off+8:off+20], crcTable), crcTable, data[off+20:off+20+l])
	binary.BigEndian.PutUint32(data[off+4:], crc)
	os.WriteFile(segs[0], data, 0o600)
	q = open(t, Options{Dir: dir, Keys: keys})
	rec := q.Recovered()
	if len(rec.Quarantined) != 1 || rec.LostBytes == 0 {
		t.Fatalf("Recovered = %+v", rec)
	}
	if kept, _ := os.ReadFile(rec.Quarantined[0]); !bytes.Equal(kept, data) {
		t.Fatal("the quarantined file is not the damaged file as it was")
	}
	got := read(t, q, 10)
	var ns []string
	for _, r := range got {
		ns = append(ns, string(r.Data[:7]))
	}
	if fmt.Sprint(ns) != `[{"n":0, {"n":1, {"n":3, {"n":4,]` {
		t.Fatalf("read %v", ns)
	}
}

// BenchmarkEncryption: append, read and acknowledge batch records of 125
// events of 300 bytes, with and without encryption, to read as a ratio.
func BenchmarkEncryption(b *testing.B) {
	for _, enc := range []bool{false, true} {
		b.Run(fmt.Sprintf("encrypted=%v", enc), func(b *testing.B) {
			opts := Options{Dir: b.TempDir()}
			if enc {
				opts.Keys = atrest.NewKeyring(testKey(b, 9))
			}
			q, err := Open(opts)
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close()
			ctx := context.Background()
			rec := [][]byte{bytes.Repeat([]byte("x"), 125*300)}
			b.SetBytes(int64(len(rec[0])))
			for b.Loop() {
				if err := q.AppendN(ctx, rec, []uint32{125}); err != nil {
					b.Fatal(err)
				}
				r, err := q.Read(ctx, 125)
				if err != nil {
					b.Fatal(err)
				}
				if err := q.AckN(seqs(r), 125, size(r)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*125)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
