package dlq

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/atrest"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/internal/flock"
)

// Storage policies: what Put does when the queue is full.
const (
	DropNewer = "drop_newer" // refuse the new entry (Logstash's default)
	DropOlder = "drop_older" // delete the oldest segments to make room
)

// Defaults, as in Logstash.
const (
	DefaultMaxBytes      = 1024 << 20
	DefaultFlushInterval = 5 * time.Second
	DefaultSegmentBytes  = 10 << 20
)

// Options configure a Writer.
type Options struct {
	// Dir is the pipeline's queue directory, <path.dead_letter_queue>/<pipeline id>.
	Dir string
	// MaxBytes bounds the total size of the segments (default 1024 MiB).
	MaxBytes int64
	// StoragePolicy is DropNewer (default) or DropOlder.
	StoragePolicy string
	// FlushInterval is how often written records are fsynced (default 5s).
	FlushInterval time.Duration
	// SegmentBytes is the size after which a new segment is started (default 10 MiB).
	SegmentBytes int64
	// RetainAge, if above 0, deletes segments whose newest entry is older
	// (dead_letter_queue.retain.age), checked every FlushInterval and at Open.
	RetainAge time.Duration
	Logger    *slog.Logger
	// EncryptionKeyPath, if set, encrypts new entries with the AES-256-GCM
	// key in that file (or env:NAME, see atrest.LoadKey);
	// EncryptionOldKeyPath is the key of entries written before a rotation.
	// Both are read by Open.
	EncryptionKeyPath    string
	EncryptionOldKeyPath string
	// Keys, if set, is used instead of the paths.
	Keys *atrest.Keyring
}

// Stats describe a queue for the monitoring API.
type Stats struct {
	SizeBytes     int64  // queue_size_in_bytes
	MaxBytes      int64  // max_queue_size_in_bytes
	StoragePolicy string // storage_policy
	Entries       int64  // entries written by this process
	Dropped       int64  // dropped_events: entries refused or deleted because the queue was full
	Expired       int64  // expired_events: entries deleted because they were older than RetainAge
	LastError     string // last_error
}

// Writer appends entries to a dead letter queue. It is safe for concurrent
// use. Put returns once the record was handed to the operating system (it
// survives a crash of this process); records are fsynced every FlushInterval
// and at Close.
type Writer struct {
	o   Options
	log *slog.Logger

	mu        sync.Mutex
	segs      []segInfo // oldest first; the last may be cur
	cur       *os.File
	curNum    uint64
	curSize   int64
	total     int64
	nextNum   uint64
	dirty     bool
	closed    bool
	buf       []byte
	sbuf      []byte // a sealed record
	keys      *atrest.Keyring
	entries   int64
	dropped   int64
	expired   int64
	lastWrite time.Time // of the current segment
	lastErr   string
	lastWarn  time.Time

	lockFile *os.File
	stop     chan struct{}
	done     chan struct{}
}

type segInfo struct {
	num  uint64
	size int64
}

var _ engine.DeadLetterQueue = (*Writer)(nil)

// Open opens (creating it if needed) the queue in o.Dir. A record torn by a
// crash at the end of the newest segment is cut off, with a warning.
func Open(o Options) (*Writer, error) {
	if o.Dir == "" {
		return nil, errors.New("dead letter queue: no directory")
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	switch o.StoragePolicy {
	case "":
		o.StoragePolicy = DropNewer
	case DropNewer, DropOlder:
	default:
		return nil, fmt.Errorf("dead letter queue: storage_policy %q: use %q or %q", o.StoragePolicy, DropNewer, DropOlder)
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	keys := o.Keys
	if keys == nil {
		var err error
		keys, err = atrest.Load(o.EncryptionKeyPath, []string{o.EncryptionOldKeyPath}, func(m string) { o.Logger.Warn("dead letter queue: " + m) })
		if err != nil {
			return nil, fmt.Errorf("dead letter queue: dead_letter_queue.encryption_key_path: %w", err)
		}
	}
	if err := os.MkdirAll(o.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("dead letter queue: %w", err)
	}
	lf, err := flock.Lock(filepath.Join(o.Dir, ".lock"))
	if errors.Is(err, flock.ErrLocked) {
		err = fmt.Errorf("%s is in use by another process", o.Dir)
	}
	if err != nil {
		return nil, fmt.Errorf("dead letter queue: %w", err)
	}
	w := &Writer{o: o, log: o.Logger.With("dead_letter_queue", o.Dir), nextNum: 1, lockFile: lf, keys: keys,
		stop: make(chan struct{}), done: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			lf.Close()
		}
	}()
	nums, err := segments(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("dead letter queue: %w", err)
	}
	// Before anything is cut or expired: every sealed segment is under a
	// configured key.
	if err := checkKeys(o.Dir, nums, keys); err != nil {
		return nil, fmt.Errorf("dead letter queue: %w", err)
	}
	for i, n := range nums {
		path := segmentPath(o.Dir, n)
		if i == len(nums)-1 {
			if err := w.repair(path); err != nil {
				return nil, err
			}
		}
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("dead letter queue: %w", err)
		}
		w.segs = append(w.segs, segInfo{num: n, size: fi.Size()})
		w.total += fi.Size()
		w.nextNum = n + 1
	}
	ok = true
	w.expire(time.Now())
	go w.flusher()
	return w, nil
}

// repair cuts a torn record off the end of a segment.
func (w *Writer) repair(path string) error {
	end, _, torn, err := scanSegment(path)
	if err != nil {
		return fmt.Errorf("dead letter queue: %w", err)
	}
	if torn {
		w.log.Warn("dead letter queue segment ends with a torn record (crash while writing); cutting it off", "segment", path, "valid_bytes", end)
		if err := os.Truncate(path, end); err != nil {
			return fmt.Errorf("dead letter queue: %w", err)
		}
	}
	return nil
}

// scanSegment reads a segment's records and returns where the last complete
// one ends, how many complete records (with a good CRC) it holds, and whether
// the segment ends with a torn record or header.
func scanSegment(path string) (end int64, records int, torn bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, false, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	h := make([]byte, headerSize)
	if _, err := io.ReadFull(r, h); err != nil {
		return 0, 0, true, nil // not even a header: all of it is torn
	}
	if !bytes.Equal(h, segmentHeader) && !bytes.Equal(h, sealedHeader) {
		return 0, 0, false, fmt.Errorf("%s: not a dead letter queue segment (bad header)", path)
	}
	end = headerSize
	var payload []byte
	for {
		if _, err := io.ReadFull(r, h); err != nil {
			return end, records, err != io.EOF, nil
		}
		n, crc, herr := checkRecordHeader(h)
		if herr != nil {
			return end, records, true, nil
		}
		if cap(payload) < n {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			return end, records, true, nil
		}
		if crc32.Checksum(payload, crcTable) == crc {
			records++
		}
		end += int64(recHeaderSize + n)
	}
}

// Put appends one entry. When the queue is full the entry is dropped
// (drop_newer) or the oldest segments are deleted (drop_older); either way
// the drop is counted and logged, and Put returns nil: the event is accounted
// for. An error means the entry could not be written; the engine retries.
func (w *Writer) Put(e *event.Event, from engine.DeadLetterSource, reason string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("dead letter queue is closed")
	}
	w.buf = encodeRecord(w.buf, e, from.Pipeline, from.PluginType, from.PluginID, reason, time.Now())
	rec := w.buf
	recLen := int64(len(rec))
	if w.keys != nil {
		// Sealed below, once its place is known; its size is known now.
		recLen += atrest.Overhead
	}
	// A new segment is started when there is none or the record would take
	// the current one past SegmentBytes; its header counts against MaxBytes.
	rotate := w.cur == nil || (w.curSize+recLen > w.o.SegmentBytes && w.curSize > headerSize)
	size := recLen
	if rotate {
		size += headerSize
	}
	if w.total+size > w.o.MaxBytes {
		if w.o.StoragePolicy != DropOlder || recLen+headerSize > w.o.MaxBytes {
			w.dropped++
			w.warnDrop("dead letter queue full; new entry dropped", "storage_policy", w.o.StoragePolicy,
				"plugin_id", from.PluginID, "reason", reason)
			return nil
		}
		if err := w.dropOldest(recLen, rotate); err != nil {
			return w.fail(err)
		}
		rotate = rotate || w.cur == nil
	}
	if rotate {
		if w.cur != nil {
			if err := w.seal(); err != nil {
				return w.fail(err)
			}
		}
		if err := w.startSegment(); err != nil {
			return w.fail(err)
		}
	}
	if w.keys != nil {
		w.sbuf = sealRecord(w.sbuf, w.buf, w.keys, w.curNum, w.curSize)
		rec = w.sbuf
	}
	if _, err := w.cur.Write(rec); err != nil {
		// Cut a partial write off, so the segment stays well formed.
		_ = w.cur.Truncate(w.curSize)
		_, _ = w.cur.Seek(w.curSize, io.SeekStart)
		return w.fail(err)
	}
	w.curSize += recLen
	w.total += recLen
	w.segs[len(w.segs)-1].size = w.curSize
	w.entries++
	w.dirty = true
	w.lastWrite = time.Now()
	return nil
}

func (w *Writer) fail(err error) error {
	err = fmt.Errorf("dead letter queue: %w", err)
	w.lastErr = err.Error()
	return err
}

// warnDrop logs a drop at most once a second, with the running count.
func (w *Writer) warnDrop(msg string, args ...any) {
	if now := time.Now(); now.Sub(w.lastWarn) >= time.Second {
		w.lastWarn = now
		w.log.Warn(msg, append(args, "dropped_total", w.dropped, "max_bytes", w.o.MaxBytes)...)
	}
}

// dropOldest deletes the oldest segments until a record of recLen bytes fits,
// with a new segment's header if rotate is set or the current segment itself
// had to go.
func (w *Writer) dropOldest(recLen int64, rotate bool) error {
	for len(w.segs) > 0 {
		need := recLen
		if rotate || w.cur == nil {
			need += headerSize
		}
		if w.total+need <= w.o.MaxBytes {
			return nil
		}
		s := w.segs[0]
		if w.cur != nil && s.num == w.curNum {
			if err := w.seal(); err != nil {
				return err
			}
		}
		path := segmentPath(w.o.Dir, s.num)
		_, n, _, err := scanSegment(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		w.segs = w.segs[1:]
		w.total -= s.size
		w.dropped += int64(n)
		w.warnDrop("dead letter queue full; oldest segment deleted (storage_policy drop_older)", "segment", path, "entries", n)
	}
	return nil
}

func (w *Writer) startSegment() error {
	num := w.nextNum
	f, err := os.OpenFile(segmentPath(w.o.Dir, num), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	hdr := segmentHeader
	if w.keys != nil {
		hdr = sealedHeader
	}
	if _, err := f.Write(hdr); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	w.nextNum++
	w.cur, w.curNum, w.curSize = f, num, headerSize
	w.segs = append(w.segs, segInfo{num: num, size: headerSize})
	w.total += headerSize
	return nil
}

// seal syncs and closes the current segment.
func (w *Writer) seal() error {
	f := w.cur
	w.cur = nil
	serr := f.Sync()
	cerr := f.Close()
	w.dirty = false
	return errors.Join(serr, cerr)
}

func (w *Writer) flusher() {
	defer close(w.done)
	t := time.NewTicker(w.o.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.mu.Lock()
			w.expire(time.Now())
			if w.dirty && w.cur != nil {
				if err := w.cur.Sync(); err != nil {
					w.lastErr = err.Error()
					w.log.Error("dead letter queue fsync failed", "err", err)
				} else {
					w.dirty = false
				}
			}
			w.mu.Unlock()
		}
	}
}

// expire deletes the segments whose newest entry is older than RetainAge: a
// sealed segment's modification time is its last write; the current one's
// last write is known.
func (w *Writer) expire(now time.Time) {
	if w.o.RetainAge <= 0 {
		return
	}
	cutoff := now.Add(-w.o.RetainAge)
	for len(w.segs) > 0 {
		s := w.segs[0]
		path := segmentPath(w.o.Dir, s.num)
		if w.cur != nil && s.num == w.curNum {
			if !w.lastWrite.Before(cutoff) {
				return
			}
			if err := w.seal(); err != nil {
				w.lastErr = err.Error()
				w.log.Error("dead letter queue: closing an expired segment failed", "segment", path, "err", err)
				return
			}
		} else if fi, err := os.Stat(path); err == nil && !fi.ModTime().Before(cutoff) {
			return
		}
		_, n, _, err := scanSegment(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			w.lastErr = err.Error()
			w.log.Error("dead letter queue: reading an expired segment failed", "segment", path, "err", err)
			return
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			w.lastErr = err.Error()
			w.log.Error("dead letter queue: deleting an expired segment failed", "segment", path, "err", err)
			return
		}
		w.segs = w.segs[1:]
		w.total -= s.size
		w.expired += int64(n)
		w.log.Info("dead letter queue segment expired (older than retain.age); deleted", "segment", path, "entries", n, "retain_age", w.o.RetainAge)
	}
}

// Stats returns the queue's current figures.
func (w *Writer) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return Stats{SizeBytes: w.total, MaxBytes: w.o.MaxBytes, StoragePolicy: w.o.StoragePolicy,
		Entries: w.entries, Dropped: w.dropped, Expired: w.expired, LastError: w.lastErr}
}

// Dir returns the queue directory.
func (w *Writer) Dir() string { return w.o.Dir }

// Close fsyncs and closes the current segment. Put fails afterwards.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	var err error
	if w.cur != nil {
		err = w.seal()
	}
	w.mu.Unlock()
	close(w.stop)
	<-w.done
	w.lockFile.Close()
	if err != nil {
		return fmt.Errorf("dead letter queue: %w", err)
	}
	return nil
}

// Deferred is a dead letter queue opened later than it is configured: a
// pipeline is built (and checked) with it without touching the disk, and Open
// is called just before the pipeline runs.
type Deferred struct {
	o Options
	w atomic.Pointer[Writer]
}

var _ engine.DeadLetterQueue = (*Deferred)(nil)

// Defer configures a queue to open later.
func Defer(o Options) *Deferred { return &Deferred{o: o} }

// Options returns the queue's options.
func (d *Deferred) Options() Options { return d.o }

// Open opens the queue; Put fails until it did.
func (d *Deferred) Open() (*Writer, error) {
	if w := d.w.Load(); w != nil {
		return w, nil
	}
	w, err := Open(d.o)
	if err != nil {
		return nil, err
	}
	d.w.Store(w)
	return w, nil
}

// Writer returns the open queue, or nil.
func (d *Deferred) Writer() *Writer { return d.w.Load() }

// Put writes to the open queue; before Open it fails (the engine retries).
func (d *Deferred) Put(e *event.Event, from engine.DeadLetterSource, reason string) error {
	w := d.w.Load()
	if w == nil {
		return errors.New("dead letter queue is not open")
	}
	return w.Put(e, from, reason)
}
