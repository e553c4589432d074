package pq

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/pipelined/pipeline/engine/atrest"
)

// The on-disk format. A segment file, named by the sequence number of its
// first record (%020d.pq), starts with an 8-byte header ("plpq", three zero
// bytes, a version byte); records follow. Version 2 (written since batches
// are stored whole) frames each record as
//
//	length  uint32  big-endian, of the payload
//	crc     uint32  big-endian CRC-32 (Castagnoli) of seq, count and payload
//	seq     uint64  big-endian sequence number
//	count   uint32  big-endian, the entries (events) the payload holds, ≥ 1
//	payload length bytes
//
// Version 1 (earlier releases, still read) has no count: each record is one
// entry. Version 3 is version 2 with every payload sealed (encrypted and
// authenticated) by package atrest under the queue's key, the record's seq
// and count as additional data: key id, nonce, ciphertext, tag. The CRC
// covers the sealed bytes, so a torn or damaged record is found as in
// version 2 without the key; a record whose CRC holds but whose tag fails
// under the key it names is damage too. Records are only ever appended, whole, with one write each, so a
// crash can tear only the last record of the newest segment. The CRC covers
// the sequence number, so a scan that lost its way in damaged bytes
// recognises the next real record by its checksum and its place in the
// numbering.
const (
	segHeaderSize = 8
	segExt        = ".pq"
	// segVersion is the version new segments are written in.
	segVersion = 2
	// segSealed is the version of encrypted segments.
	segSealed = 3
	// maxRecord bounds a record's payload, so that a damaged length is
	// recognised instead of read as a huge record.
	maxRecord = 128 << 20
	// maxCount bounds a record's count, for the same reason.
	maxCount = 1 << 24
)

var (
	segHeader   = []byte{'p', 'l', 'p', 'q', 0, 0, 0, segVersion}
	segHeaderV1 = []byte{'p', 'l', 'p', 'q', 0, 0, 0, 1}
	segHeaderV3 = []byte{'p', 'l', 'p', 'q', 0, 0, 0, segSealed}
	crcTable    = crc32.MakeTable(crc32.Castagnoli)
)

// headerOf returns the header of a segment of version ver.
func headerOf(ver byte) []byte {
	switch ver {
	case 1:
		return segHeaderV1
	case segSealed:
		return segHeaderV3
	}
	return segHeader
}

// recHeaderSize is the size of a record's framing in version ver.
func recHeaderSize(ver byte) int {
	if ver == 1 {
		return 16
	}
	return 20
}

// appendRecord frames payload, of n entries, as record seq in version ver
// (where version 1 has no count: n must be 1).
func appendRecord(dst []byte, ver byte, seq uint64, n uint32, payload []byte) []byte {
	var h [20]byte
	hs := recHeaderSize(ver)
	binary.BigEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.BigEndian.PutUint64(h[8:16], seq)
	if ver != 1 {
		binary.BigEndian.PutUint32(h[16:20], n)
	}
	crc := crc32.Update(crc32.Checksum(h[8:hs], crcTable), crcTable, payload)
	binary.BigEndian.PutUint32(h[4:8], crc)
	dst = append(dst, h[:hs]...)
	return append(dst, payload...)
}

// appendSealed frames plain, of n entries, as record seq of a sealed
// segment (version 3), sealed with keys' current key.
func appendSealed(dst []byte, keys *atrest.Keyring, seq uint64, n uint32, plain []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, 20)...)
	h := dst[start : start+20]
	binary.BigEndian.PutUint64(h[8:16], seq)
	binary.BigEndian.PutUint32(h[16:20], n)
	ad := [12]byte(h[8:20])
	dst = keys.Seal(dst, plain, ad[:])
	h = dst[start : start+20]
	payload := dst[start+20:]
	binary.BigEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(h[4:8], crc32.Update(crc32.Checksum(h[8:20], crcTable), crcTable, payload))
	return dst
}

// openSealed appends the plaintext of a sealed record's payload to dst.
func openSealed(dst []byte, keys *atrest.Keyring, seq uint64, n uint32, payload []byte) ([]byte, error) {
	var ad [12]byte
	binary.BigEndian.PutUint64(ad[0:8], seq)
	binary.BigEndian.PutUint32(ad[8:12], n)
	return keys.Open(dst, payload, ad[:])
}

// parseRecord reads the record of version ver at the start of b: its
// sequence number, its count of entries, its payload and its whole size; ok
// is false when b does not start with a complete, intact record.
func parseRecord(b []byte, ver byte) (seq uint64, n uint32, payload []byte, size int, ok bool) {
	hs := recHeaderSize(ver)
	if len(b) < hs {
		return 0, 0, nil, 0, false
	}
	l := binary.BigEndian.Uint32(b[0:4])
	if l > maxRecord || len(b) < hs+int(l) {
		return 0, 0, nil, 0, false
	}
	n = 1
	if ver != 1 {
		n = binary.BigEndian.Uint32(b[16:20])
		if n == 0 || n > maxCount {
			return 0, 0, nil, 0, false
		}
	}
	payload = b[hs : hs+int(l)]
	crc := crc32.Update(crc32.Checksum(b[8:hs], crcTable), crcTable, payload)
	if crc != binary.BigEndian.Uint32(b[4:8]) {
		return 0, 0, nil, 0, false
	}
	return binary.BigEndian.Uint64(b[8:16]), n, payload, hs + int(l), true
}

// segment is one segment file.
type segment struct {
	ver   byte      // format version
	key   atrest.ID // of a sealed segment with records: the key they are sealed with
	first uint64    // sequence number in its name: of its first record
	last  uint64    // of its last record; first-1 while empty
	size  int64     // bytes written
	path  string
}

func segName(first uint64) string { return fmt.Sprintf("%020d%s", first, segExt) }

// listSegments returns the segment files of dir, oldest first.
func listSegments(dir string) ([]*segment, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []*segment
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, segExt) {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(name, segExt), 10, 64)
		if err != nil {
			continue
		}
		out = append(out, &segment{first: n, last: n - 1, path: filepath.Join(dir, name)})
	}
	slices.SortFunc(out, func(a, b *segment) int {
		switch {
		case a.first < b.first:
			return -1
		case a.first > b.first:
			return 1
		}
		return 0
	})
	return out, nil
}

// scanResult is what a scan of a segment found.
type scanResult struct {
	ver       byte   // format version (from the header, or guessed when it is damaged)
	records   int64  // intact records
	last      uint64 // sequence number of the last intact record
	goodEnd   int64  // offset after the last intact record of the unbroken run from the start
	damaged   bool   // bytes that are not records lie between intact records
	skipped   int64  // bytes skipped as damaged (torn tail included)
	badHeader bool
}

// scanSegment checks every record of a segment with each, in order, called on
// the intact ones (seq, count, payload, offset). Records must follow each
// other in increasing sequence order after after; anything else is damage,
// and the scan resynchronises on the next intact record. The file is read
// whole: a segment is bounded by the segment size, or by one record. A
// damaged header is taken for the version under which more records are
// intact. In a sealed segment (version 3) a record is intact only if keys
// open it (nil keys: none is).
func scanSegment(path string, after uint64, keys *atrest.Keyring, each func(seq uint64, n uint32, payload []byte, off int64)) (scanResult, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return scanResult{}, err
	}
	if len(data) < segHeaderSize {
		return scanResult{ver: segVersion, badHeader: true, skipped: int64(len(data))}, nil
	}
	hdr := data[:segHeaderSize]
	switch {
	case string(hdr) == string(segHeader):
		return scanData(data, segVersion, false, after, nil, each), nil
	case string(hdr) == string(segHeaderV1):
		return scanData(data, 1, false, after, nil, each), nil
	case string(hdr) == string(segHeaderV3):
		return scanData(data, segSealed, false, after, keys, each), nil
	}
	none := func(uint64, uint32, []byte, int64) {}
	ver := byte(segVersion)
	best := scanData(data, segVersion, true, after, nil, none).records
	if v1 := scanData(data, 1, true, after, nil, none); v1.records > best {
		ver, best = 1, v1.records
	}
	// Sealed records parse as version 2 records too; plain ones never
	// open as sealed ones.
	if keys != nil {
		if v3 := scanData(data, segSealed, true, after, keys, none); v3.records > 0 && v3.records >= best {
			ver = segSealed
		}
	}
	return scanData(data, ver, true, after, keys, each), nil
}

func scanData(data []byte, ver byte, badHeader bool, after uint64, keys *atrest.Keyring, each func(seq uint64, n uint32, payload []byte, off int64)) scanResult {
	res := scanResult{ver: ver, badHeader: badHeader}
	off := segHeaderSize
	res.goodEnd = int64(off)
	prev := after
	broken := badHeader
	var scratch []byte
	for off < len(data) {
		seq, n, payload, size, ok := parseRecord(data[off:], ver)
		if ok && ver == segSealed {
			var err error
			scratch, err = openSealed(scratch[:0], keys, seq, n, payload)
			ok = err == nil && keys != nil
		}
		if ok && seq > prev {
			if broken {
				res.damaged = true
			}
			each(seq, n, payload, int64(off))
			res.records++
			res.last, prev = seq, seq
			off += size
			if !broken {
				res.goodEnd = int64(off)
			}
			continue
		}
		// Damage: skip one byte at a time until an intact record that
		// continues the numbering.
		broken = true
		res.skipped++
		off++
	}
	if res.damaged || res.badHeader {
		res.damaged = true
	}
	return res
}

// segReader reads the records of one segment file through a read-ahead
// buffer, so that a record is copied from the file once, whatever the
// records' sizes and however many are asked for at a time.
type segReader struct {
	f      *os.File
	ver    byte
	first  uint64 // the segment's first seq, which identifies it
	buf    []byte // bytes of the file from bufOff on
	bufOff int64
}

// readAhead is how much a refill reads at least.
const readAhead = 256 << 10

// next returns the record at off, which must be below end (the offset up to
// which the file is known to hold intact, whole records). payload is valid
// until the next call.
func (r *segReader) next(off, end int64) (seq uint64, n uint32, payload []byte, size int, err error) {
	if off >= r.bufOff && off < r.bufOff+int64(len(r.buf)) {
		if seq, n, payload, size, ok := parseRecord(r.buf[off-r.bufOff:], r.ver); ok {
			return seq, n, payload, size, nil
		}
	}
	want := min(end-off, readAhead)
	hs := int64(recHeaderSize(r.ver))
	for range 2 {
		if int64(cap(r.buf)) < want || (cap(r.buf) > 16*readAhead && want <= readAhead) {
			r.buf = make([]byte, want) // grown for one big record: not kept
		}
		r.buf = r.buf[:want]
		r.bufOff = off
		if _, err := r.f.ReadAt(r.buf, off); err != nil && err != io.EOF {
			r.buf = r.buf[:0]
			return 0, 0, nil, 0, err
		}
		if seq, n, payload, size, ok := parseRecord(r.buf, r.ver); ok {
			return seq, n, payload, size, nil
		}
		// A record larger than what was read: read it whole.
		if int64(len(r.buf)) < hs {
			break
		}
		need := hs + int64(binary.BigEndian.Uint32(r.buf[0:4]))
		if need <= want || need > end-off {
			break
		}
		want = need
	}
	r.buf = r.buf[:0]
	return 0, 0, nil, 0, fmt.Errorf("%s: damaged record at offset %d", r.f.Name(), off)
}

// sealedKey tells whether the segment at path is sealed (version 3) and, if
// it holds an intact record, the id of the key its records are sealed with
// (a segment is written under one key). It reads the first record; only
// when that one is damaged does it scan the rest. It changes nothing.
func sealedKey(path string) (sealed bool, id atrest.ID, found bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, id, false, err
	}
	defer f.Close()
	var hdr [segHeaderSize + 20]byte
	n, err := io.ReadFull(f, hdr[:])
	if n < segHeaderSize || string(hdr[:segHeaderSize]) != string(segHeaderV3) {
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return false, id, false, err
		}
		return false, id, false, nil
	}
	if n == len(hdr) {
		if l := binary.BigEndian.Uint32(hdr[segHeaderSize : segHeaderSize+4]); l <= maxRecord {
			if fi, err := f.Stat(); err == nil && int64(len(hdr))+int64(l) <= fi.Size() {
				rec := make([]byte, 20+int(l))
				if _, err := f.ReadAt(rec, segHeaderSize); err == nil {
					if _, _, payload, _, ok := parseRecord(rec, segSealed); ok {
						if id, ok := atrest.KeyID(payload); ok {
							return true, id, true, nil
						}
					}
				}
			}
		}
	}
	// The first record is damaged: the first intact one names the key.
	data, err := os.ReadFile(path)
	if err != nil {
		return true, id, false, err
	}
	for off := segHeaderSize; off < len(data); off++ {
		if _, _, payload, _, ok := parseRecord(data[off:], segSealed); ok {
			if id, ok := atrest.KeyID(payload); ok {
				return true, id, true, nil
			}
		}
	}
	return true, id, false, nil
}
