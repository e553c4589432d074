package pq

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/atrest"
	bolt "go.etcd.io/bbolt"
)

// fill appends batches of records "r<i>" and closes the queue; it returns
// the segment files, oldest first.
func fill(t *testing.T, opts Options, batches, per int) []string {
	t.Helper()
	q, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	for b := range batches {
		batch := make([][]byte, per)
		for i := range batch {
			batch[i] = fmt.Appendf(nil, "r%06d-%s", b*per+i, strings.Repeat("x", 40))
		}
		if err := q.Append(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(opts.Dir, "*.pq"))
	return segs
}

// readAll reads every record of a reopened queue; each must be one that was
// appended, intact, in increasing order.
func readAll(t *testing.T, q *Queue) []string {
	t.Helper()
	q.CloseWrites()
	var out []string
	var last uint64
	for range 10000 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		rs, err := q.Read(ctx, 100)
		cancel()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Seq <= last {
				t.Fatalf("seq %d after %d", r.Seq, last)
			}
			last = r.Seq
			want := fmt.Sprintf("r%06d-%s", r.Seq-1, strings.Repeat("x", 40))
			if string(r.Data) != want {
				t.Fatalf("record %d = %q; want %q", r.Seq, r.Data, want)
			}
			out = append(out, string(r.Data))
		}
	}
	t.Fatal("Read never reached the end")
	return nil
}

func logTo(buf *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(buf, nil)) }

// A record torn by a crash at the end of the newest segment is cut with a
// warning; the records before it are kept and appending goes on.
func TestTornTailIsCut(t *testing.T) {
	dir := t.TempDir()
	segs := fill(t, Options{Dir: dir}, 3, 10)
	f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	torn := appendRecord(nil, segVersion, 31, 1, []byte("r000030-never-finished"))
	f.Write(torn[:len(torn)-5])
	f.Close()
	var logs bytes.Buffer
	q := open(t, Options{Dir: dir, Logger: logTo(&logs)})
	if r := q.Recovered(); r.TornBytes != int64(len(torn)-5) || r.LostBytes != 0 || len(r.Quarantined) != 0 {
		t.Fatalf("Recovered = %+v", r)
	}
	if !strings.Contains(logs.String(), segs[len(segs)-1]) {
		t.Fatalf("the warning does not name the file: %s", logs.String())
	}
	if err := q.Append(context.Background(), [][]byte{fmt.Appendf(nil, "r%06d-%s", 30, strings.Repeat("x", 40))}); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, q); len(got) != 31 {
		t.Fatalf("read %d records; want 31", len(got))
	}
}

// Bytes overwritten in the middle of a segment (a bad disk) lose only the
// records they hit: the segment is moved to quarantine as it was, the intact
// records before and after are read, and the error names the file.
func TestDamagedMiddleIsQuarantined(t *testing.T) {
	dir := t.TempDir()
	segs := fill(t, Options{Dir: dir}, 4, 25)
	if len(segs) != 1 {
		t.Fatalf("%d segments", len(segs))
	}
	data, _ := os.ReadFile(segs[0])
	mid := len(data) / 2
	copy(data[mid:mid+30], bytes.Repeat([]byte{0xAA}, 30))
	os.WriteFile(segs[0], data, 0o600)
	var logs bytes.Buffer
	q := open(t, Options{Dir: dir, Logger: logTo(&logs)})
	r := q.Recovered()
	if len(r.Quarantined) != 1 || r.LostBytes == 0 {
		t.Fatalf("Recovered = %+v", r)
	}
	if kept, _ := os.ReadFile(r.Quarantined[0]); !bytes.Equal(kept, data) {
		t.Fatal("the quarantined file is not the damaged file as it was")
	}
	if !strings.Contains(logs.String(), segs[0]) || !strings.Contains(logs.String(), "quarantine") {
		t.Fatalf("log: %s", logs.String())
	}
	got := readAll(t, q)
	if len(got) < 97 || len(got) >= 100 {
		t.Fatalf("read %d of 100 records after 30 damaged bytes", len(got))
	}
	if got[0] != fmt.Sprintf("r%06d-%s", 0, strings.Repeat("x", 40)) || !strings.HasPrefix(got[len(got)-1], "r000099") {
		t.Fatalf("first %q, last %q", got[0], got[len(got)-1])
	}
}

// Whatever happens to the files — cut short anywhere, bytes overwritten
// anywhere, in segments or in the acknowledgement log — Open does not panic
// or fail, and every record read back is one that was appended, intact and
// in order (readAll checks).
func TestRandomDamageNeverPanics(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	key := testKey(t, 5)
	for i := range 120 {
		dir := t.TempDir()
		opts := Options{Dir: dir, SegmentBytes: 2000, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if i >= 60 { // the same with encryption
			opts.Keys = atrest.NewKeyring(key)
		}
		q, err := Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		for b := range 6 {
			batch := make([][]byte, 10)
			for j := range batch {
				batch[j] = fmt.Appendf(nil, "r%06d-%s", b*10+j, strings.Repeat("x", 40))
			}
			q.Append(context.Background(), batch)
		}
		rs, _ := q.Read(context.Background(), 15)
		var ack []uint64
		var n int64
		for _, r := range rs {
			if rng.IntN(2) == 0 {
				ack = append(ack, r.Seq)
				n += int64(len(r.Data))
			}
		}
		q.Ack(ack, n)
		q.Close()
		files, _ := filepath.Glob(filepath.Join(dir, "*.pq"))
		victim := files[rng.IntN(len(files))]
		data, _ := os.ReadFile(victim)
		switch i % 3 {
		case 0:
			data = data[:rng.IntN(len(data)+1)]
		case 1:
			for range 1 + rng.IntN(4) {
				at := rng.IntN(len(data))
				end := min(len(data), at+1+rng.IntN(64))
				for k := at; k < end; k++ {
					data[k] = byte(rng.Uint32())
				}
			}
		case 2:
			at := rng.IntN(len(data))
			clear(data[at:min(len(data), at+512)])
		}
		os.WriteFile(victim, data, 0o600)
		t.Run(fmt.Sprintf("%d-%s", i, filepath.Base(victim)), func(t *testing.T) {
			q, err := Open(opts)
			if err != nil {
				t.Fatalf("Open after damage: %v", err)
			}
			defer q.Close()
			got := readAll(t, q)
			if len(got) > 60 {
				t.Fatalf("read %d records of 60", len(got))
			}
		})
	}
}

// Segments roll at SegmentBytes and are deleted once all their records are
// acknowledged; acknowledgements out of order survive a reopen.
func TestSegmentsRollAndGo(t *testing.T) {
	dir := t.TempDir()
	q := open(t, Options{Dir: dir, SegmentBytes: 1000})
	ctx := context.Background()
	for b := range 20 {
		if err := q.Append(ctx, recs(b*10, 10)); err != nil {
			t.Fatal(err)
		}
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.pq"))
	if len(segs) < 5 {
		t.Fatalf("%d segment files for 200 records of 1000-byte segments", len(segs))
	}
	all := read(t, q, 1000)
	if len(all) != 200 {
		t.Fatalf("read %d", len(all))
	}
	// Everything but records 50 and 150, in reverse order.
	var ack []uint64
	var n int64
	for i := len(all) - 1; i >= 0; i-- {
		if i == 50 || i == 150 {
			continue
		}
		ack = append(ack, all[i].Seq)
		n += int64(len(all[i].Data))
	}
	if err := q.Ack(ack, n); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*.pq"))
	if len(left) >= len(segs) {
		t.Fatalf("%d segment files left of %d", len(left), len(segs))
	}
	q.Close()
	q = open(t, Options{Dir: dir, SegmentBytes: 1000})
	again := read(t, q, 1000)
	if len(again) != 2 || string(again[0].Data) != `{"n":50}` || string(again[1].Data) != `{"n":150}` {
		t.Fatalf("replayed %v", again)
	}
}

// A queue.db of an earlier version (bbolt) is taken over: its records are
// read first, then the file is kept as queue.db.migrated.
func TestLegacyQueueIsMigrated(t *testing.T) {
	dir := t.TempDir()
	db, err := bolt.Open(filepath.Join(dir, "queue.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("events"))
		if err != nil {
			return err
		}
		for _, s := range []uint64{7, 8, 12} {
			var k [8]byte
			binary.BigEndian.PutUint64(k[:], s)
			if err := b.Put(k[:], fmt.Appendf(nil, "old-%d", s)); err != nil {
				return err
			}
		}
		return b.SetSequence(12)
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	q := open(t, Options{Dir: dir})
	if q.Recovered().LegacyMigrated != 3 {
		t.Fatalf("Recovered = %+v", q.Recovered())
	}
	if err := q.Append(context.Background(), [][]byte{[]byte("new")}); err != nil {
		t.Fatal(err)
	}
	rs := read(t, q, 10)
	var got []string
	for _, r := range rs {
		got = append(got, fmt.Sprintf("%d:%s", r.Seq, r.Data))
	}
	if fmt.Sprint(got) != "[7:old-7 8:old-8 12:old-12 13:new]" {
		t.Fatalf("read %v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "queue.db.migrated")); err != nil {
		t.Fatal(err)
	}
}

// A queue.db that bbolt cannot read goes to quarantine, with an error naming
// it; the queue opens.
func TestBrokenLegacyQueueIsQuarantined(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "queue.db"), bytes.Repeat([]byte{0x5A}, 10000), 0o600)
	var logs bytes.Buffer
	q := open(t, Options{Dir: dir, Logger: logTo(&logs)})
	if len(q.Recovered().Quarantined) != 1 || !strings.Contains(logs.String(), "queue.db") {
		t.Fatalf("Recovered = %+v, log %s", q.Recovered(), logs.String())
	}
}

// FuzzScanSegment: any bytes as a segment are scanned without a panic, and
// what the scan accepts is in increasing order with intact checksums.
func FuzzScanSegment(f *testing.F) {
	for _, ver := range []byte{1, segVersion, segSealed} {
		good := append([]byte(nil), headerOf(ver)...)
		for i := range 3 {
			good = appendRecord(good, ver, uint64(i+1), uint32(i+1), fmt.Appendf(nil, "payload %d", i))
		}
		f.Add(good)
		f.Add(good[:len(good)-3])
		f.Add(append(append([]byte(nil), good[:20]...), good[30:]...))
		f.Add(append([]byte("plpq\x00\x00\x00\x09"), good[8:]...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "1.pq")
		os.WriteFile(path, data, 0o600)
		var last uint64
		type rec struct {
			seq     uint64
			n       uint32
			payload []byte
			off     int64
		}
		var got []rec
		res, err := scanSegment(path, 0, nil, func(seq uint64, n uint32, payload []byte, off int64) {
			if seq <= last {
				t.Fatalf("seq %d after %d", seq, last)
			}
			last = seq
			got = append(got, rec{seq, n, append([]byte(nil), payload...), off})
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range got {
			if s, n, p, _, ok := parseRecord(data[r.off:], res.ver); !ok || s != r.seq || n != r.n || n == 0 || !bytes.Equal(p, r.payload) {
				t.Fatal("accepted a record that does not parse back")
			}
		}
	})
}

// Reopening a queue whose oldest segment is partly acknowledged (in order,
// so the low-water mark is inside it) finds no damage: acknowledged records
// are intact records, not bytes to quarantine.
func TestPartlyAcknowledgedSegmentIsNotDamage(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Append(context.Background(), recs(0, 10)); err != nil {
		t.Fatal(err)
	}
	r := read(t, q, 5)
	if err := q.Ack(seqs(r), size(r)); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	q = open(t, Options{Dir: dir, Logger: logTo(&logs)})
	if rec := q.Recovered(); rec.LostBytes != 0 || len(rec.Quarantined) != 0 || rec.TornBytes != 0 || logs.Len() != 0 {
		t.Fatalf("Recovered = %+v, log %s", rec, logs.String())
	}
	if n, _ := q.Len(); n != 5 {
		t.Fatalf("Len = %d; want 5", n)
	}
	if r := read(t, q, 100); len(r) != 5 || r[0].Seq != 6 {
		t.Fatalf("read %+v", r)
	}
}
