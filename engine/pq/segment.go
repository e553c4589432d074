package pq

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The on-disk format. A segment file, named by the sequence number of its
// first record (%020d.pq), starts with an 8-byte header ("plpq", three zero
// bytes, version 1); records follow, each
//
//	length  uint32  big-endian, of the payload
//	crc     uint32  big-endian CRC-32 (Castagnoli) of seq and payload
//	seq     uint64  big-endian sequence number
//	payload length bytes
//
// Records are only ever appended, whole, with one write each, so a crash can
// tear only the last record of the newest segment. The CRC covers the
// sequence number, so a scan that lost its way in damaged bytes recognises
// the next real record by its checksum and its place in the numbering.
const (
	segHeaderSize = 8
	recHeaderSize = 16
	segExt        = ".pq"
	// maxRecord bounds a record's payload, so that a damaged length is
	// recognised instead of read as a huge record.
	maxRecord = 128 << 20
)

var (
	segHeader = []byte{'p', 'l', 'p', 'q', 0, 0, 0, 1}
	crcTable  = crc32.MakeTable(crc32.Castagnoli)
)

// appendRecord frames payload as record seq.
func appendRecord(dst []byte, seq uint64, payload []byte) []byte {
	var h [recHeaderSize]byte
	binary.BigEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.BigEndian.PutUint64(h[8:16], seq)
	crc := crc32.Update(crc32.Checksum(h[8:16], crcTable), crcTable, payload)
	binary.BigEndian.PutUint32(h[4:8], crc)
	dst = append(dst, h[:]...)
	return append(dst, payload...)
}

// parseRecord reads the record at the start of b: its sequence number, its
// payload and its whole size; ok is false when b does not start with a
// complete, intact record.
func parseRecord(b []byte) (seq uint64, payload []byte, size int, ok bool) {
	if len(b) < recHeaderSize {
		return 0, nil, 0, false
	}
	n := binary.BigEndian.Uint32(b[0:4])
	if n > maxRecord || len(b) < recHeaderSize+int(n) {
		return 0, nil, 0, false
	}
	payload = b[recHeaderSize : recHeaderSize+int(n)]
	crc := crc32.Update(crc32.Checksum(b[8:16], crcTable), crcTable, payload)
	if crc != binary.BigEndian.Uint32(b[4:8]) {
		return 0, nil, 0, false
	}
	return binary.BigEndian.Uint64(b[8:16]), payload, recHeaderSize + int(n), true
}

// segment is one segment file.
type segment struct {
	first uint64 // sequence number in its name: of its first record
	last  uint64 // of its last record; first-1 while empty
	size  int64  // bytes written
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
	records   int64  // intact records
	last      uint64 // sequence number of the last intact record
	goodEnd   int64  // offset after the last intact record of the unbroken run from the start
	damaged   bool   // bytes that are not records lie between intact records
	skipped   int64  // bytes skipped as damaged (torn tail included)
	badHeader bool
}

// scanSegment checks every record of a segment with each, in order, called on
// the intact ones (seq, payload, offset). Records must follow each other in
// increasing sequence order after after; anything else is damage, and the
// scan resynchronises on the next intact record. The file is read whole: a
// segment is bounded by the segment size, or by one record.
func scanSegment(path string, after uint64, each func(seq uint64, payload []byte, off int64)) (scanResult, error) {
	var res scanResult
	data, err := os.ReadFile(path)
	if err != nil {
		return res, err
	}
	off := 0
	if len(data) < segHeaderSize || string(data[:segHeaderSize]) != string(segHeader) {
		res.badHeader = true
		if len(data) < segHeaderSize {
			res.skipped = int64(len(data))
			return res, nil
		}
	}
	off = segHeaderSize
	res.goodEnd = int64(off)
	prev := after
	broken := res.badHeader
	for off < len(data) {
		seq, payload, size, ok := parseRecord(data[off:])
		if ok && seq > prev {
			if broken {
				res.damaged = true
			}
			each(seq, payload, int64(off))
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
	return res, nil
}

// readRecordsAt reads the records of f from off up to end (exclusive
// offset), at most max of them with a sequence number below bound, into buf
// (grown as needed). It returns the records and the offset after the last
// one read. Records are known to be intact up to end: they were scanned at
// open or written by this process.
func readRecordsAt(f *os.File, off, end int64, bound uint64, limit int, buf *[]byte, each func(seq uint64, payload []byte)) (int64, int, error) {
	n := 0
	for off < end && n < limit {
		want := min(end-off, max(int64(1<<20), int64(len(*buf))))
		if int64(len(*buf)) < want {
			*buf = make([]byte, want)
		}
		b := (*buf)[:want]
		if _, err := f.ReadAt(b, off); err != nil && err != io.EOF {
			return off, n, err
		}
		pos := 0
		for pos < len(b) && n < limit {
			seq, payload, size, ok := parseRecord(b[pos:])
			if !ok {
				break
			}
			if seq >= bound {
				return off + int64(pos), n, nil
			}
			each(seq, payload)
			n++
			pos += size
		}
		if pos == 0 && n < limit {
			// A record larger than what was read: read it whole.
			if len(b) >= recHeaderSize {
				need := int64(recHeaderSize) + int64(binary.BigEndian.Uint32(b[0:4]))
				if need > int64(len(b)) && need <= end-off && need <= recHeaderSize+maxRecord {
					*buf = make([]byte, need)
					continue
				}
			}
			return off, n, fmt.Errorf("%s: damaged record at offset %d", f.Name(), off)
		}
		off += int64(pos)
	}
	return off, n, nil
}
