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
//
// With an encryption key (Options.EncryptionKeyPath) new segments are
// version 2 ("pldlq", two zero bytes, 2): the same framing, each payload
// sealed with AES-256-GCM by package atrest (key id, nonce, ciphertext,
// tag), bound to the segment's number and the record's offset; the CRC
// covers the sealed bytes. Segments of version 1 left from before are read
// as they are. A queue holding a segment sealed with a key that is not
// configured is refused at Open before anything is cut or deleted; a
// record failing authentication under its key is skipped as a record
// failing its CRC is.
package dlq

import (
	"bytes"
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

	"github.com/pipelined/pipeline/engine/atrest"
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
	sealedHeader  = []byte{'p', 'l', 'd', 'l', 'q', 0, 0, 2}
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

// sealAD is the additional data a sealed record is bound to: its segment
// and offset.
func sealAD(seg uint64, off int64) []byte {
	var ad [16]byte
	binary.BigEndian.PutUint64(ad[0:8], seg)
	binary.BigEndian.PutUint64(ad[8:16], uint64(off))
	return ad[:]
}

// sealRecord turns a framed plaintext record into a framed sealed one, to
// be written at off of segment seg.
func sealRecord(dst, rec []byte, keys *atrest.Keyring, seg uint64, off int64) []byte {
	dst = append(dst[:0], make([]byte, recHeaderSize)...)
	dst = keys.Seal(dst, rec[recHeaderSize:], sealAD(seg, off))
	payload := dst[recHeaderSize:]
	binary.BigEndian.PutUint32(dst[0:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(dst[4:8], crc32.Checksum(payload, crcTable))
	return dst
}

// segmentKey tells whether the segment at path is sealed and, if it holds
// a record whose checksum holds, the key id the first such one names. It
// changes nothing.
func segmentKey(path string) (sealed bool, id atrest.ID, found bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, id, false, err
	}
	defer f.Close()
	var h [headerSize]byte
	if n, _ := f.ReadAt(h[:], 0); n < headerSize || !bytes.Equal(h[:], sealedHeader) {
		return false, id, false, nil
	}
	fi, err := f.Stat()
	if err != nil {
		return true, id, false, err
	}
	off := int64(headerSize)
	var payload []byte
	for off+recHeaderSize <= fi.Size() { // bounded by the file's size
		var rh [recHeaderSize]byte
		if _, err := f.ReadAt(rh[:], off); err != nil {
			return true, id, false, nil
		}
		n, crc, herr := checkRecordHeader(rh[:])
		if herr != nil || off+recHeaderSize+int64(n) > fi.Size() {
			return true, id, false, nil
		}
		payload = append(payload[:0], make([]byte, n)...)
		if _, err := f.ReadAt(payload, off+recHeaderSize); err != nil {
			return true, id, false, nil
		}
		if crc32.Checksum(payload, crcTable) == crc {
			id, ok := atrest.KeyID(payload)
			return true, id, ok, nil
		}
		off += recHeaderSize + int64(n)
	}
	return true, id, false, nil
}

// checkKeys refuses a queue in dir holding a segment sealed with a key keys
// does not hold (or any sealed segment, with nil keys).
func checkKeys(dir string, nums []uint64, keys *atrest.Keyring) error {
	for _, n := range nums {
		path := segmentPath(dir, n)
		sealed, id, found, err := segmentKey(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return err
		}
		switch {
		case !sealed || !found:
		case keys == nil:
			return fmt.Errorf("%w: dead letter queue segment %s is encrypted (key id %s) and no encryption key is configured (dead_letter_queue.encryption_key_path): refusing to start; nothing was deleted",
				ErrKey, path, id)
		case !keys.Has(id):
			return fmt.Errorf("%w: dead letter queue segment %s was written with key id %s, the configured key has id %s: refusing to start; nothing was deleted (to read it, give its key as dead_letter_queue.encryption_old_key_path)",
				ErrKey, path, id, keys.IDs())
		}
	}
	return nil
}

// ErrKey is the error (wrapped) of Open, and of Reader.Next, for a queue
// holding entries sealed with a key that is not configured.
var ErrKey = errors.New("wrong or missing encryption key")

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
