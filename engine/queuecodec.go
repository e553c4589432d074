package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/pipelined/pipeline/engine/event"
)

// A persisted queue record holds the events of one chunk of an emitted batch
// (at most batch_size of them), in one of two forms told apart by the first
// byte:
//
//	'{'   one event as JSON (AppendJSONWithMetadata): the records of earlier
//	      versions, read so that an upgrade loses nothing
//	0x01  a batch: event.BinaryVersion (one byte), uvarint count, then count
//	      times a uint32 little-endian length and that many bytes of one
//	      event in the binary encoding (event.AppendBinary)
//
// The queue frames each record with its length, its count and a CRC, so
// damage on disk is found there; the batch decoder still checks everything
// (a record written by a newer version, or by a bug) and reports, never
// panics.
const (
	recBatch = 0x01
	// maxRecordBytes starts a new record before a chunk's encoding grows
	// past it, well below the queue's per-record limit.
	maxRecordBytes = 32 << 20
)

// encBufs are encoding buffers, reused across batches.
var encBufs = sync.Pool{New: func() any { return new([]byte) }}

// encodeBatch appends the events as records of at most size events (and
// about maxRecordBytes) each to buf, returning the buffer, the records
// (slices of it) and their event counts.
func encodeBatch(buf []byte, events []*event.Event, size int, each func(*event.Event)) ([]byte, [][]byte, []uint32) {
	var starts []int
	var counts []uint32
	var countAt, start, n int
	finish := func() {
		// The count is a fixed 5-byte uvarint, so it can be written last.
		c := buf[countAt : countAt+5]
		v := uint32(n)
		for i := range 4 {
			c[i] = byte(v) | 0x80
			v >>= 7
		}
		c[4] = byte(v)
		counts = append(counts, uint32(n))
	}
	for i, e := range events {
		if i == 0 || n == size || len(buf)-start > maxRecordBytes {
			if i > 0 {
				finish()
			}
			start = len(buf)
			starts = append(starts, start)
			buf = append(buf, recBatch, event.BinaryVersion)
			countAt = len(buf)
			buf = append(buf, 0, 0, 0, 0, 0)
			n = 0
		}
		if each != nil {
			each(e)
		}
		at := len(buf)
		buf = append(buf, 0, 0, 0, 0)
		buf = e.AppendBinary(buf)
		binary.LittleEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
		n++
	}
	if len(events) > 0 {
		finish()
	}
	recs := make([][]byte, len(starts))
	for i, s := range starts {
		end := len(buf)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		recs[i] = buf[s:end:end]
	}
	return buf, recs, counts
}

// errRecord is a record that does not decode.
var errRecord = errors.New("damaged queue record")

// decodeRecord decodes the events of one record, calling each with them in
// order. It returns how many it decoded and the first error: events after a
// damaged event whose length is intact are still decoded.
func decodeRecord(dec *event.BinaryDecoder, data []byte, each func(*event.Event)) (int, error) {
	if len(data) == 0 {
		return 0, fmt.Errorf("%w: empty", errRecord)
	}
	if data[0] == '{' {
		e, err := event.FromStoredJSON(data)
		if err != nil {
			return 0, err
		}
		each(e)
		return 1, nil
	}
	if data[0] != recBatch || len(data) < 2 {
		return 0, fmt.Errorf("%w: unknown record format %#x", errRecord, data[0])
	}
	version := int(data[1])
	count, k := binary.Uvarint(data[2:])
	if k <= 0 {
		return 0, fmt.Errorf("%w: bad event count", errRecord)
	}
	p := data[2+k:]
	got := 0
	var first error
	for i := uint64(0); i < count; i++ {
		if len(p) < 4 {
			return got, errors.Join(first, fmt.Errorf("%w: cut short after %d of %d events", errRecord, i, count))
		}
		l := binary.LittleEndian.Uint32(p)
		if uint64(l) > uint64(len(p)-4) {
			return got, errors.Join(first, fmt.Errorf("%w: event %d of %d: length %d beyond the record", errRecord, i, count, l))
		}
		e, err := dec.DecodeBinary(version, p[4:4+l])
		p = p[4+l:]
		if err != nil {
			if first == nil {
				first = fmt.Errorf("event %d of %d: %w", i, count, err)
			}
			continue
		}
		each(e)
		got++
	}
	if len(p) != 0 && first == nil {
		first = fmt.Errorf("%w: %d bytes after the last event", errRecord, len(p))
	}
	return got, first
}
