package dlq

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/pipelined/pipeline/engine/atrest"
)

// Position is a place in a queue: a segment number and a byte offset in it.
// The zero Position is the start of the queue.
type Position struct {
	Segment uint64
	Offset  int64
}

func (p Position) String() string { return fmt.Sprintf("%d %d", p.Segment, p.Offset) }

// ParsePosition reads what Position.String wrote.
func ParsePosition(s string) (Position, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return Position{}, fmt.Errorf("invalid position %q", s)
	}
	seg, err1 := strconv.ParseUint(f[0], 10, 64)
	off, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || off < 0 {
		return Position{}, fmt.Errorf("invalid position %q", s)
	}
	return Position{Segment: seg, Offset: off}, nil
}

// Reader reads a queue's entries in order, following the writer: at the end
// of what was written so far Next returns io.EOF, and a later call sees what
// was written since. A record that fails its CRC, or a torn record at the end
// of a segment that has a successor, is skipped with a warning.
type Reader struct {
	dir  string
	log  *slog.Logger
	pos  Position
	f    *os.File
	hdr  [recHeaderSize]byte
	buf  []byte
	warn Position // last position warned about, so a stuck tail warns once
	keys *atrest.Keyring
	// sealed tells that the open segment is encrypted.
	sealed bool
	plain  []byte
}

// SetKeys makes the reader open encrypted segments with keys (see
// LoadKeys). Without keys, an encrypted segment stops the reader with an
// ErrKey error naming it.
func (r *Reader) SetKeys(keys *atrest.Keyring) { r.keys = keys }

// LoadKeys reads the key files of a queue as Open does (either path may be
// ""): the keys for Reader.SetKeys.
func LoadKeys(path, oldPath string, log *slog.Logger) (*atrest.Keyring, error) {
	if log == nil {
		log = slog.Default()
	}
	return atrest.Load(path, []string{oldPath}, func(m string) { log.Warn("dead letter queue: " + m) })
}

// NewReader reads the queue in dir from the start.
func NewReader(dir string, log *slog.Logger) *Reader {
	if log == nil {
		log = slog.Default()
	}
	return &Reader{dir: dir, log: log}
}

// Seek makes the next Next read from p (as returned by Next).
func (r *Reader) Seek(p Position) {
	r.closeFile()
	r.pos = p
}

// Position returns where the next Next reads.
func (r *Reader) Position() Position { return r.pos }

// Close releases the open segment.
func (r *Reader) Close() error {
	r.closeFile()
	return nil
}

func (r *Reader) closeFile() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

// Next returns the next entry and the position just after it, or io.EOF when
// everything written so far was read.
func (r *Reader) Next() (Entry, Position, error) {
	for {
		if r.f == nil {
			ok, err := r.open()
			if err != nil || !ok {
				if err == nil {
					err = io.EOF
				}
				return Entry{}, r.pos, err
			}
		}
		p, crc, st, err := r.read()
		if err != nil {
			return Entry{}, r.pos, err
		}
		if st != recOK {
			newer := r.newer()
			if newer == 0 {
				if st == recCorrupt {
					r.warnOnce("corrupt record header in dead letter queue; waiting for a newer segment", errors.New("invalid record length"))
				}
				return Entry{}, r.pos, io.EOF // the writer may still be writing here
			}
			// The writer never writes to a segment again once a newer one
			// exists, so a second look, after seeing the newer one, is final:
			// a record completed just before is read, a torn one skipped.
			if p, crc, st, err = r.read(); err != nil {
				return Entry{}, r.pos, err
			}
			if st != recOK {
				switch st {
				case recPartial:
					r.log.Warn("dead letter queue segment ends with a torn record (crash while writing); skipped",
						"segment", segmentName(r.pos.Segment), "offset", r.pos.Offset)
				case recCorrupt:
					r.log.Warn("corrupt record header in dead letter queue; skipping the rest of the segment",
						"segment", segmentName(r.pos.Segment), "offset", r.pos.Offset)
				}
				r.closeFile()
				r.pos = Position{Segment: newer}
				continue
			}
		}
		at := r.pos
		r.pos.Offset += int64(recHeaderSize + len(p))
		if crc32.Checksum(p, crcTable) != crc {
			r.log.Warn("dead letter queue record fails its CRC; skipped", "segment", segmentName(at.Segment), "offset", at.Offset)
			continue
		}
		if r.sealed {
			plain, err := r.keys.Open(r.plain[:0], p, sealAD(at.Segment, at.Offset))
			switch {
			case errors.Is(err, atrest.ErrUnknownKey):
				// Not damage: the reader stops here until given the key.
				id, _ := atrest.KeyID(p)
				r.pos = at
				return Entry{}, r.pos, fmt.Errorf("%w: dead letter queue segment %s was written with key id %s, the configured key has id %s",
					ErrKey, segmentPath(r.dir, at.Segment), id, r.keys.IDs())
			case err != nil:
				r.log.Warn("dead letter queue record fails authentication (damaged or altered); skipped", "segment", segmentName(at.Segment), "offset", at.Offset)
				continue
			}
			r.plain = plain
			p = plain
		}
		en, err := decodePayload(p)
		if err != nil {
			r.log.Warn("dead letter queue record cannot be decoded; skipped", "segment", segmentName(at.Segment), "offset", at.Offset, "err", err)
			continue
		}
		return en, r.pos, nil
	}
}

// What read found at the reader's position.
const (
	recOK      = iota
	recEnd     // nothing more (yet)
	recPartial // part of a record: being written, or torn
	recCorrupt // a record header with an impossible length
)

// read reads the record at r.pos in the open segment.
func (r *Reader) read() (payload []byte, crc uint32, status int, err error) {
	n, err := r.f.ReadAt(r.hdr[:], r.pos.Offset)
	if n < recHeaderSize {
		if err != nil && err != io.EOF {
			return nil, 0, 0, err
		}
		if n == 0 {
			return nil, 0, recEnd, nil
		}
		return nil, 0, recPartial, nil
	}
	size, crc, herr := checkRecordHeader(r.hdr[:])
	if herr != nil {
		return nil, 0, recCorrupt, nil
	}
	if cap(r.buf) < size {
		// A damaged length must not allocate what the file does not hold.
		if fi, err := r.f.Stat(); err == nil && r.pos.Offset+recHeaderSize+int64(size) > fi.Size() {
			return nil, 0, recPartial, nil
		}
		r.buf = make([]byte, size)
	}
	p := r.buf[:size]
	n, err = r.f.ReadAt(p, r.pos.Offset+recHeaderSize)
	if n < size {
		if err != nil && err != io.EOF {
			return nil, 0, 0, err
		}
		return nil, 0, recPartial, nil
	}
	return p, crc, recOK, nil
}

// open opens the segment at or after r.pos.Segment. It reports false when
// there is none yet.
func (r *Reader) open() (bool, error) {
	nums, err := segments(r.dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	for i, n := range nums {
		if n < r.pos.Segment {
			continue
		}
		if n > r.pos.Segment {
			// The segment we were in is gone (deleted by drop_older) or done.
			r.pos = Position{Segment: n}
		}
		f, err := os.Open(segmentPath(r.dir, n))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return false, err
		}
		if r.pos.Offset < headerSize {
			var h [headerSize]byte
			if m, _ := f.ReadAt(h[:], 0); m < headerSize {
				f.Close()
				if i == len(nums)-1 {
					return false, nil // being created
				}
				// A crash right after creating it; a newer segment exists.
				r.log.Warn("dead letter queue segment without a header (crash while creating it); skipped", "segment", segmentName(n))
				r.pos = Position{Segment: n + 1}
				continue
			}
			if !bytes.Equal(h[:], segmentHeader) && !bytes.Equal(h[:], sealedHeader) {
				f.Close()
				r.log.Warn("not a dead letter queue segment; skipped", "segment", segmentName(n))
				r.pos = Position{Segment: n + 1}
				continue
			}
			r.pos.Offset = headerSize
		}
		var h [headerSize]byte
		if m, _ := f.ReadAt(h[:], 0); m < headerSize {
			f.Close()
			return false, nil
		}
		r.sealed = bytes.Equal(h[:], sealedHeader)
		r.f = f
		return true, nil
	}
	return false, nil
}

// newer returns the number of the oldest segment after the current one, or 0.
func (r *Reader) newer() uint64 {
	nums, err := segments(r.dir)
	if err != nil {
		return 0
	}
	for _, n := range nums {
		if n > r.pos.Segment {
			return n
		}
	}
	return 0
}

func (r *Reader) warnOnce(msg string, err error) {
	if r.warn == r.pos {
		return
	}
	r.warn = r.pos
	r.log.Warn(msg, "segment", segmentName(r.pos.Segment), "offset", r.pos.Offset, "err", err)
}
