// Package dlq holds the file-backed dead letter queue: a Writer that keeps the
// events outputs refuse for good (it implements engine.DeadLetterQueue) and a
// Reader that replays them, used by the dead_letter_queue input.
//
// A queue is one directory per pipeline, <path.dead_letter_queue>/<pipeline id>,
// holding numbered segment files (00000001.dlq, 00000002.dlq, …). The format is
// our own, described in docs/dead-letter-queue.md; it is not byte-compatible
// with Logstash's. A segment starts with an 8-byte header ("pldlq", two zero
// bytes, version 1); then records follow, each a 4-byte big-endian payload
// length, the 4-byte big-endian CRC-32 (Castagnoli) of the payload, and the
// payload: one JSON object
//
//	{"entry_time":"…","event":{…, "@metadata":{…}},"pipeline":"main",
//	 "plugin_id":"es","plugin_type":"elasticsearch","reason":"…"}
//
// The writer appends whole records with one write each and only ever to a
// segment it created, so a record torn by a crash can only be the last one of
// a segment: the CRC (or a short read) detects it, and it is skipped with a
// warning (the writer truncates it when it opens the queue again).
package dlq

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pipelined/pipeline/engine/event"
)

const (
	headerSize    = 8
	recHeaderSize = 8
	// maxRecord bounds a record's payload, so that a corrupt length is
	// recognised instead of read as a huge record.
	maxRecord  = 64 << 20
	segmentExt = ".dlq"
)

var (
	segmentHeader = []byte{'p', 'l', 'd', 'l', 'q', 0, 0, 1}
	crcTable      = crc32.MakeTable(crc32.Castagnoli)
)

// Entry is one dead-lettered event with where it was refused and why.
type Entry struct {
	Event      *event.Event
	Pipeline   string
	PluginType string
	PluginID   string
	Reason     string
	EntryTime  time.Time
}

// encodeRecord frames the entry as one record.
func encodeRecord(buf []byte, e *event.Event, pipeline, typ, id, reason string, at time.Time) []byte {
	buf = append(buf[:0], make([]byte, recHeaderSize)...)
	buf = append(buf, `{"entry_time":`...)
	buf = event.AppendJSONValue(buf, at.UTC().Format(time.RFC3339Nano))
	buf = append(buf, `,"event":`...)
	buf = e.AppendJSONWithMetadata(buf)
	buf = append(buf, `,"pipeline":`...)
	buf = event.AppendJSONValue(buf, pipeline)
	buf = append(buf, `,"plugin_id":`...)
	buf = event.AppendJSONValue(buf, id)
	buf = append(buf, `,"plugin_type":`...)
	buf = event.AppendJSONValue(buf, typ)
	buf = append(buf, `,"reason":`...)
	buf = event.AppendJSONValue(buf, reason)
	buf = append(buf, '}')
	payload := buf[recHeaderSize:]
	binary.BigEndian.PutUint32(buf[0:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(buf[4:8], crc32.Checksum(payload, crcTable))
	return buf
}

// decodePayload turns a record's payload back into an entry.
func decodePayload(p []byte) (Entry, error) {
	v, err := event.ParseStoredJSON(p)
	if err != nil {
		return Entry{}, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return Entry{}, errors.New("record is not a JSON object")
	}
	ev, ok := m["event"].(map[string]any)
	if !ok {
		return Entry{}, errors.New("record has no event object")
	}
	e, err := event.FromMap(ev)
	if err != nil {
		return Entry{}, err
	}
	str := func(k string) string { s, _ := m[k].(string); return s }
	en := Entry{Event: e, Pipeline: str("pipeline"), PluginType: str("plugin_type"),
		PluginID: str("plugin_id"), Reason: str("reason")}
	if t, err := time.Parse(time.RFC3339Nano, str("entry_time")); err == nil {
		en.EntryTime = t
	}
	return en, nil
}

// checkRecordHeader validates a record header and returns the payload length.
func checkRecordHeader(h []byte) (n int, crc uint32, err error) {
	l := binary.BigEndian.Uint32(h[0:4])
	if l == 0 || l > maxRecord {
		return 0, 0, fmt.Errorf("invalid record length %d", l)
	}
	return int(l), binary.BigEndian.Uint32(h[4:8]), nil
}

func segmentName(n uint64) string { return fmt.Sprintf("%08d%s", n, segmentExt) }

// segments lists the segment numbers in dir, oldest first.
func segments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, segmentExt) {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(name, segmentExt), 10, 64)
		if err != nil || n == 0 {
			continue
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

func segmentPath(dir string, n uint64) string { return filepath.Join(dir, segmentName(n)) }
