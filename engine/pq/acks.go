package pq

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// The acknowledgement log (acked.ack) records which sequence numbers were
// acknowledged: records framed as in a segment of version 1 (seq is a counter
// of the log's own records), each payload a kind byte and varints:
//
//	'C' low n s1 … sn   a checkpoint: every number below low, and s1…sn
//	'A' n s1 … sn       more acknowledged numbers
//
// A checkpoint is written to a new file that replaces the log when it grows
// past ackLogCompactBytes, so the log stays small: acknowledgements come
// nearly in order, and only those above the low-water mark are listed.
const (
	ackLogName         = "acked.ack"
	ackLogCompactBytes = 1 << 20
)

// ackState is the low-water mark and the numbers acknowledged above it.
type ackState struct {
	low   uint64              // every sequence number below low is acknowledged
	above map[uint64]struct{} // acknowledged numbers ≥ low
}

func (a *ackState) acked(seq uint64) bool {
	if seq < a.low {
		return true
	}
	_, ok := a.above[seq]
	return ok
}

func (a *ackState) add(seq uint64) {
	if seq < a.low {
		return
	}
	if seq != a.low {
		a.above[seq] = struct{}{}
		return
	}
	a.low++
	for {
		if _, ok := a.above[a.low]; !ok {
			return
		}
		delete(a.above, a.low)
		a.low++
	}
}

// raise moves the low-water mark up to low (numbers below the first record
// that exists are acknowledged by definition).
func (a *ackState) raise(low uint64) {
	if low <= a.low {
		return
	}
	for s := range a.above {
		if s < low {
			delete(a.above, s)
		}
	}
	a.low = low
	for {
		if _, ok := a.above[a.low]; !ok {
			return
		}
		delete(a.above, a.low)
		a.low++
	}
}

func appendAckPayload(dst []byte, kind byte, low uint64, seqs []uint64) []byte {
	dst = append(dst, kind)
	if kind == 'C' {
		dst = binary.AppendUvarint(dst, low)
	}
	dst = binary.AppendUvarint(dst, uint64(len(seqs)))
	for _, s := range seqs {
		dst = binary.AppendUvarint(dst, s)
	}
	return dst
}

func parseAckPayload(p []byte, st *ackState) error {
	if len(p) == 0 {
		return errors.New("empty acknowledgement record")
	}
	kind, p := p[0], p[1:]
	next := func() (uint64, error) {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return 0, errors.New("bad varint")
		}
		p = p[n:]
		return v, nil
	}
	switch kind {
	case 'C':
		low, err := next()
		if err != nil {
			return err
		}
		st.low, st.above = low, map[uint64]struct{}{}
	case 'A':
	default:
		return fmt.Errorf("unknown acknowledgement record kind %q", kind)
	}
	n, err := next()
	if err != nil {
		return err
	}
	if n > uint64(len(p)) {
		return errors.New("bad count")
	}
	for range n {
		s, err := next()
		if err != nil {
			return err
		}
		st.add(s)
	}
	return nil
}

// ackLog is the open acknowledgement log.
type ackLog struct {
	dir  string
	f    *os.File
	size int64
	n    uint64 // records written, the seq of the log's own framing
	buf  []byte
	rec  []byte
}

// loadAcks reads the acknowledgement log of dir. A torn last record is cut;
// damage in the middle loses the acknowledgements after it (their events are
// delivered again: a duplicate, never a loss), and is reported in warn.
func loadAcks(dir string, warn func(msg string, args ...any)) (ackState, error) {
	st := ackState{above: map[uint64]struct{}{}}
	path := filepath.Join(dir, ackLogName)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	res, err := scanSegment(path, 0, nil, func(_ uint64, _ uint32, payload []byte, off int64) {
		if perr := parseAckPayload(payload, &st); perr != nil {
			warn("persisted queue: an unreadable acknowledgement record was skipped; its events may be delivered again",
				"path", path, "offset", off, "err", perr)
		}
	})
	if err != nil {
		return st, fmt.Errorf("persisted queue: %s: %w", path, err)
	}
	if res.skipped > 0 {
		warn("persisted queue: damaged bytes in the acknowledgement log were skipped; the events they acknowledged may be delivered again",
			"path", path, "bytes", res.skipped)
	}
	return st, nil
}

// writeCheckpoint replaces the log by one checkpoint of st: written to a
// temporary file, synced, renamed over the log, and the directory synced, so
// a crash leaves the old log or the new one.
func writeCheckpoint(dir string, st *ackState) (*ackLog, error) {
	above := make([]uint64, 0, len(st.above))
	for s := range st.above {
		above = append(above, s)
	}
	slices.Sort(above)
	l := &ackLog{dir: dir}
	b := append([]byte(nil), segHeaderV1...)
	l.n = 1
	b = appendRecord(b, 1, l.n, 1, appendAckPayload(nil, 'C', st.low, above))
	tmp := filepath.Join(dir, ackLogName+".tmp")
	if err := writeFileSync(tmp, b); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, ackLogName)
	if err := os.Rename(tmp, path); err != nil {
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	l.f, l.size = f, int64(len(b))
	return l, nil
}

// append records seqs as acknowledged.
func (l *ackLog) append(seqs []uint64) error {
	l.n++
	l.buf = appendAckPayload(l.buf[:0], 'A', 0, seqs)
	l.rec = appendRecord(l.rec[:0], 1, l.n, 1, l.buf)
	n, err := l.f.Write(l.rec)
	l.size += int64(n)
	return err
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
