// Package pq is a pipeline's persistent queue: records appended by inputs are
// stored in a file before Append returns, read back in order by the pipeline,
// and deleted only when acknowledged, so whatever was appended and not yet
// acknowledged survives a crash and is read again after a restart.
//
// The store is an append-only log: segment files of checksummed records
// (segment.go) and a log of acknowledged sequence numbers (acks.go), in the
// queue directory. A segment is deleted once every record in it is
// acknowledged. Nothing is ever rewritten in place, so a crash can only tear
// the last record written, and damage (a disk that returns garbage, a file
// cut short) is found by the checksums when the queue is opened: a torn tail
// is cut; a segment damaged in the middle is moved to quarantine/ and its
// intact records are kept; the records lost are counted (Open's Recovered)
// and logged with the path. Opening never panics on a bad file.
//
// Durability: with Sync (Logstash's queue.checkpoint.writes: 1) every Append
// is fsynced before it returns, and an acknowledged Append survives a power
// cut; an Ack is written before it returns and fsynced right after, in the
// background, one fsync covering the acknowledgements that came meanwhile (a
// group commit), so a power cut may deliver again only what was acknowledged
// in the last fsync's time — a duplicate, never a loss. (Logstash fsyncs
// acknowledgements every 1,024 by default, whatever queue.checkpoint.writes.)
// Without Sync the data is written to the operating system before Append
// returns — it survives the process being killed, not a power cut — and
// fsynced in the background once SyncEvery entries were written, and every
// SyncInterval; a power cut may lose what was appended since the last fsync,
// and may deliver again what was acknowledged since then.
//
// Many entries (a batch's events) may share one record (AppendN): one frame,
// one checksum and one sequence number for all, acknowledged together.
//
// Encryption at rest: with Keys, every record is written sealed with
// AES-256-GCM (package atrest) in segments of their own (version 3); the
// sealing is per record, that is per batch, not per event. Unsealed
// segments left from before are read as they are, and new records go to a
// new, sealed segment. A sealed segment whose key Keys does not hold (or any
// sealed segment, without Keys) makes Open fail with ErrKey before anything
// is changed on disk: a wrong key is not damage, and nothing is cut,
// deleted or quarantined for it. A record that fails authentication under
// the key it names is damage, handled as a record failing its checksum.
package pq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pipelined/pipeline/engine/atrest"
	"github.com/pipelined/pipeline/engine/internal/flock"
)

// Options configure a queue.
type Options struct {
	// Dir is the queue's directory, created if missing.
	Dir string
	// MaxBytes bounds the bytes of stored records: Append waits while the
	// queue holds more. 0 means no bound.
	MaxBytes int64
	// Sync fsyncs every Append before it returns, and every Ack right
	// after (see the package documentation).
	Sync bool
	// SyncEvery and SyncInterval bound the records and the time between two
	// fsyncs when Sync is off (defaults 1024 and 1s, as Logstash's
	// queue.checkpoint.writes and queue.checkpoint.interval).
	SyncEvery    int
	SyncInterval time.Duration
	// SegmentBytes is the size at which a new segment file is started
	// (default 64 MiB, Logstash's queue.page_capacity).
	SegmentBytes int64
	// Logger receives what recovery found; nil means slog.Default().
	Logger *slog.Logger
	// Keys, if set, encrypt new records with their current key and open
	// records sealed with any of their keys.
	Keys *atrest.Keyring
}

// Record is one stored record.
type Record struct {
	Seq  uint64
	N    uint32 // entries (events) in Data, as given to AppendN; 1 for Append
	Data []byte
	// Path and Off locate the record on disk, for messages about it.
	Path string
	Off  int64
}

// Recovery is what Open found damaged and repaired.
type Recovery struct {
	TornBytes      int64    // bytes of a torn last record, cut
	LostBytes      int64    // damaged bytes skipped inside segments
	Quarantined    []string // damaged files moved to quarantine/, as they were
	LegacyMigrated int64    // records taken over from a queue.db of an earlier version
}

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("persistent queue closed")

// ErrKey is the error (wrapped) of Open when the queue holds records sealed
// with a key that is not configured.
var ErrKey = errors.New("wrong or missing encryption key")

// Queue is a persistent queue. Its methods are safe for concurrent use; Read
// is meant for one reader at a time.
type Queue struct {
	opts     Options
	wver     byte // the version new segments are written in
	log      *slog.Logger
	lockFile *os.File
	recovery Recovery

	wmu    sync.Mutex // serializes Appends, so sequence numbers follow the file
	w      *os.File   // the newest segment, open for appending
	wbuf   []byte
	rmu    sync.Mutex // serializes Reads
	rd     *segReader // the segment being read
	roff   int64      // offset of the next record to read in it
	amu    sync.Mutex // serializes Acks
	alog   *ackLog
	aDirty bool

	mu       sync.Mutex
	changed  *sync.Cond // records appended or deleted, or state changed
	segs     []*segment // oldest first; the last one is w's
	acks     ackState
	next     uint64 // sequence number of the next Append
	readPos  uint64 // every record below it was read
	count    int64  // entries of the stored records not acknowledged
	bytes    int64  // their bytes
	unsynced int
	// marks are the append times of the records not acknowledged, oldest
	// first: one per Append (one time read), the last sequence number it
	// wrote; records left by a previous run have the time of Open.
	marks    []appendMark
	noWrites bool
	closed   bool
	syncKick chan struct{}
	stopSync chan struct{}
	syncDone chan struct{}
}

// Open opens (or creates) the queue in opts.Dir. Records left by a previous
// run are read first.
func Open(opts Options) (*Queue, error) {
	if opts.SyncEvery <= 0 {
		opts.SyncEvery = 1024
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = time.Second
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = 64 << 20
	}
	// Acknowledged records leave the disk a segment at a time, so a segment
	// is kept small beside MaxBytes: the files stay near the backlog.
	if opts.MaxBytes > 0 && opts.SegmentBytes > opts.MaxBytes/8 {
		opts.SegmentBytes = max(opts.MaxBytes/8, 64<<10)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("persistent queue: %w", err)
	}
	lf, err := flock.Lock(filepath.Join(opts.Dir, ".lock"))
	if errors.Is(err, flock.ErrLocked) {
		err = fmt.Errorf("%s is locked by another process: give each pipeline its own path.queue", opts.Dir)
	}
	if err != nil {
		return nil, fmt.Errorf("persistent queue: %w", err)
	}
	q := &Queue{opts: opts, log: log, lockFile: lf, syncKick: make(chan struct{}, 1), stopSync: make(chan struct{}), syncDone: make(chan struct{})}
	q.changed = sync.NewCond(&q.mu)
	q.wver = segVersion
	if opts.Keys != nil {
		q.wver = segSealed
	}
	if err := q.recover(); err != nil {
		q.closeFiles()
		return nil, fmt.Errorf("persistent queue: %s: %w", opts.Dir, err)
	}
	if q.count > 0 && q.next > 0 {
		// The append times of a previous run's records are not stored:
		// the open time bounds their age from below.
		q.marks = []appendMark{{last: q.next - 1, at: time.Now()}}
	}
	go q.syncLoop()
	return q, nil
}

// Recovered tells what Open found damaged and repaired.
func (q *Queue) Recovered() Recovery { return q.recovery }

// recover reads the acknowledgements and checks every segment, repairing
// what is damaged, then opens the newest segment for appending.
func (q *Queue) recover() error {
	dir := q.opts.Dir
	// Before anything is changed: every sealed segment must be under a
	// configured key.
	segs, err := listSegments(dir)
	if err != nil {
		return err
	}
	keys := map[string]atrest.ID{}
	plain := 0
	for _, s := range segs {
		sealed, id, found, err := sealedKey(s.path)
		if err != nil {
			return err
		}
		switch {
		case !sealed:
			plain++
		case !found:
		case q.opts.Keys == nil:
			return fmt.Errorf("%w: queue segment %s is encrypted (key id %s) and no encryption key is configured (queue.encryption_key_path): refusing to start; nothing was deleted",
				ErrKey, s.path, id)
		case !q.opts.Keys.Has(id):
			return fmt.Errorf("%w: queue segment %s was written with key id %s, the configured key has id %s: refusing to start; nothing was deleted (to read it, give its key as queue.encryption_old_key_path)",
				ErrKey, s.path, id, q.opts.Keys.IDs())
		default:
			keys[s.path] = id
		}
	}
	if q.opts.Keys != nil && plain > 0 {
		q.log.Info("persisted queue: unencrypted segments written before encryption was configured are read as they are; new records are encrypted",
			"path", dir, "unencrypted_segments", plain)
	}
	acks, err := loadAcks(dir, q.log.Warn)
	if err != nil {
		return err
	}
	if err := q.migrateLegacy(&acks); err != nil {
		return err
	}
	segs, err = listSegments(dir)
	if err != nil {
		return err
	}
	for _, s := range segs {
		s.key = keys[s.path]
	}
	// prev is the last seq of the previous segment: records must go on
	// from it. Records already acknowledged (below acks.low) are intact
	// records too, not damage: they are only not counted.
	var prev uint64
	var live []*segment
	for i, s := range segs {
		if s.first > 0 && s.first-1 > prev {
			prev = s.first - 1
		}
		var count, bytes int64
		last := i == len(segs)-1
		var unacked int64
		res, err := scanSegment(s.path, prev, q.opts.Keys, func(seq uint64, n uint32, payload []byte, _ int64) {
			if !acks.acked(seq) {
				count += int64(n)
				bytes += int64(len(payload))
				unacked++
			}
		})
		if res.ver == segSealed {
			// What is counted is what Read returns: the plaintext.
			bytes -= unacked * atrest.Overhead
		}
		if err != nil {
			return err
		}
		s.ver = res.ver
		switch {
		case res.records == 0 && last && res.skipped <= segHeaderSize:
			// Created, its header torn by a crash: start it again.
			if err := writeFileSync(s.path, headerOf(q.wver)); err != nil {
				return err
			}
			s.ver, s.key = q.wver, atrest.ID{}
			if res.skipped > 0 || res.badHeader {
				q.recovery.TornBytes += res.skipped
				q.log.Warn("persisted queue: rewrote the torn header of the newest segment", "path", s.path)
			}
			res = scanResult{}
		case res.records == 0 && !last:
			// Nothing left in it (or nothing readable): it holds no event.
			if res.skipped > 0 {
				if err := q.quarantine(s.path); err != nil {
					return err
				}
				q.log.Error("persisted queue: a segment with no intact record was moved to quarantine", "path", s.path, "bytes", res.skipped)
				q.recovery.LostBytes += res.skipped
			} else if err := os.Remove(s.path); err != nil {
				return err
			}
			continue
		case res.damaged:
			kept, err := q.rewriteIntact(s, res.ver, prev)
			if err != nil {
				return err
			}
			q.recovery.LostBytes += res.skipped
			q.log.Error("persisted queue: damaged segment; its intact records are kept and the file was moved to quarantine",
				"path", s.path, "records_kept", kept, "damaged_bytes", res.skipped)
		case res.skipped > 0:
			// A torn tail: the last write of a crashed process.
			if err := os.Truncate(s.path, res.goodEnd); err != nil {
				return err
			}
			q.recovery.TornBytes += res.skipped
			q.log.Warn("persisted queue: cut a record torn by a crash at the end of a segment (it was never acknowledged to its sender)",
				"path", s.path, "offset", res.goodEnd, "bytes", res.skipped)
		}
		s.last = s.first - 1
		if res.records > 0 {
			s.last = res.last
			prev = res.last
		}
		fi, err := os.Stat(s.path)
		if err != nil {
			return err
		}
		s.size = fi.Size()
		q.count += count
		q.bytes += bytes
		live = append(live, s)
	}
	q.next = prev + 1
	if q.next < acks.low {
		q.next = acks.low
	}
	// Numbers below the first stored record are acknowledged by definition:
	// the low-water mark starts at the first record that is not.
	lowest := q.next
	if len(live) > 0 {
		lowest = live[0].first
	}
	acks.raise(lowest)
	q.acks = acks
	q.readPos = acks.low
	q.segs = live
	if err := q.dropAcked(); err != nil {
		return err
	}
	q.alog, err = writeCheckpoint(q.opts.Dir, &q.acks)
	if err != nil {
		return err
	}
	return q.openWriter()
}

// rewriteIntact moves a damaged segment to quarantine and writes its intact
// records (those continuing the numbering after prev) to a new segment of
// the same name.
func (q *Queue) rewriteIntact(s *segment, ver byte, prev uint64) (int64, error) {
	buf := append([]byte(nil), headerOf(ver)...)
	var kept int64
	if _, err := scanSegment(s.path, prev, q.opts.Keys, func(seq uint64, n uint32, payload []byte, _ int64) {
		buf = appendRecord(buf, ver, seq, n, payload)
		kept++
	}); err != nil {
		return 0, err
	}
	if err := q.quarantine(s.path); err != nil {
		return 0, err
	}
	if err := writeFileSync(s.path, buf); err != nil {
		return 0, err
	}
	return kept, syncDir(q.opts.Dir)
}

// quarantine moves a damaged file to <dir>/quarantine, keeping it as it was
// for inspection.
func (q *Queue) quarantine(path string) error {
	qdir := filepath.Join(q.opts.Dir, "quarantine")
	if err := os.MkdirAll(qdir, 0o750); err != nil {
		return err
	}
	dst := filepath.Join(qdir, fmt.Sprintf("%s.%s", filepath.Base(path), time.Now().UTC().Format("20060102T150405.000000000")))
	if err := os.Rename(path, dst); err != nil {
		return err
	}
	q.recovery.Quarantined = append(q.recovery.Quarantined, dst)
	return nil
}

// openWriter opens the newest segment for appending, or starts one. A
// segment of another version (sealed or not, as new records are not) or
// sealed under another key is not appended to: a new one is started (an
// empty one is started again in the version written).
func (q *Queue) openWriter() error {
	if n := len(q.segs); n > 0 && q.segs[n-1].last < q.segs[n-1].first && q.segs[n-1].ver != q.wver {
		s := q.segs[n-1]
		if err := writeFileSync(s.path, headerOf(q.wver)); err != nil {
			return err
		}
		s.ver, s.size, s.key = q.wver, segHeaderSize, atrest.ID{}
	}
	if n := len(q.segs); n > 0 && q.segs[n-1].size < q.opts.SegmentBytes && q.segs[n-1].ver == q.wver && q.sameKey(q.segs[n-1]) {
		f, err := os.OpenFile(q.segs[n-1].path, os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		q.w = f
		return nil
	}
	return q.roll()
}

// sameKey tells whether new records may go to s: it is not sealed, or
// empty, or sealed under the current key.
func (q *Queue) sameKey(s *segment) bool {
	return s.ver != segSealed || s.last < s.first || s.key == q.opts.Keys.Current().ID()
}

// roll starts a new segment whose first record will be q.next.
func (q *Queue) roll() error {
	s := &segment{ver: q.wver, first: q.next, last: q.next - 1, path: filepath.Join(q.opts.Dir, segName(q.next)), size: segHeaderSize}
	f, err := os.OpenFile(s.path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(headerOf(q.wver)); err != nil {
		f.Close()
		os.Remove(s.path)
		return err
	}
	if err := syncDir(q.opts.Dir); err != nil {
		f.Close()
		return err
	}
	if q.w != nil {
		// Whatever background fsync finds the old file closed relies on
		// this one.
		if err := q.w.Sync(); err != nil {
			q.log.Error("persisted queue: fsync of a full segment failed", "path", q.w.Name(), "err", err)
		}
		q.w.Close()
	}
	q.w = f
	q.mu.Lock()
	q.segs = append(q.segs, s)
	q.mu.Unlock()
	return nil
}

// appendMark: the records up to seq last were appended at at.
type appendMark struct {
	last uint64
	at   time.Time
}

// maxMarks bounds marks: past it, a new Append joins the newest mark (its
// records then count from that mark's older time, an overstatement only
// while that many appends are outstanding).
const maxMarks = 1 << 14

// addMark records that the records up to last were appended at t, and
// forgets the marks of acknowledged records. q.mu is held.
func (q *Queue) addMark(last uint64, t time.Time) {
	q.pruneMarks()
	if n := len(q.marks); n >= maxMarks {
		q.marks[n-1].last = last
		return
	}
	q.marks = append(q.marks, appendMark{last: last, at: t})
}

// pruneMarks drops the marks whose records are all acknowledged. q.mu is held.
func (q *Queue) pruneMarks() {
	i := 0
	for i < len(q.marks) && q.marks[i].last < q.acks.low {
		i++
	}
	q.marks = q.marks[i:]
}

// OldestAppend returns when the oldest record not yet acknowledged was
// appended (for records left by a previous run: when the queue was opened),
// and false when every record is acknowledged.
func (q *Queue) OldestAppend() (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pruneMarks()
	if q.count <= 0 || len(q.marks) == 0 {
		return time.Time{}, false
	}
	return q.marks[0].at, true
}

// Len returns the records and bytes stored (read or not, not yet acknowledged).
func (q *Queue) Len() (records, bytes int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.count, q.bytes
}

// Append stores recs, one entry each, in order and returns once they are
// written (fsynced with Sync). It waits while the queue holds MaxBytes or
// more (an empty queue always takes a batch, however big), until ctx is done.
// A failed write leaves the queue as it was, so a later Append may succeed.
func (q *Queue) Append(ctx context.Context, recs [][]byte) error {
	return q.AppendN(ctx, recs, nil)
}

// AppendN is Append for records holding counts[i] entries each (nil: one
// each): Len counts entries, and Read bounds what it returns by them.
func (q *Queue) AppendN(ctx context.Context, recs [][]byte, counts []uint32) error {
	_, err := q.AppendNSeq(ctx, recs, counts, nil)
	return err
}

// AppendNSeq is AppendN returning the sequence number of the first record
// appended (the others follow it in order), as Read will return them.
// written, if not nil, is called with it once the records are written
// (fsynced with Sync) and before Read can return them.
func (q *Queue) AppendNSeq(ctx context.Context, recs [][]byte, counts []uint32, written func(first uint64)) (first uint64, err error) {
	if len(recs) == 0 {
		return 0, nil
	}
	if counts != nil && len(counts) != len(recs) {
		return 0, fmt.Errorf("persistent queue: %d counts for %d records", len(counts), len(recs))
	}
	size := 0
	entries := int64(0)
	limit := maxRecord
	if q.opts.Keys != nil {
		limit -= atrest.Overhead
	}
	for i, r := range recs {
		if len(r) > limit {
			return 0, fmt.Errorf("persistent queue: a record of %d bytes is over the %d-byte limit", len(r), limit)
		}
		n := uint32(1)
		if counts != nil {
			n = counts[i]
		}
		if n == 0 || n > maxCount {
			return 0, fmt.Errorf("persistent queue: a record of %d entries (want 1 to %d)", n, maxCount)
		}
		size += len(r)
		entries += int64(n)
	}
	q.wmu.Lock()
	defer q.wmu.Unlock()
	q.mu.Lock()
	if q.opts.MaxBytes > 0 {
		stop := context.AfterFunc(ctx, func() { q.mu.Lock(); q.changed.Broadcast(); q.mu.Unlock() })
		for !q.closed && ctx.Err() == nil && q.count > 0 && q.bytes+int64(size) > q.opts.MaxBytes {
			q.changed.Wait()
		}
		stop()
	}
	if q.closed {
		q.mu.Unlock()
		return 0, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		q.mu.Unlock()
		return 0, err
	}
	first = q.next
	seg := q.segs[len(q.segs)-1]
	q.mu.Unlock()
	if seg.size >= q.opts.SegmentBytes {
		if err := q.roll(); err != nil {
			return 0, fmt.Errorf("persistent queue: new segment: %w", err)
		}
		q.mu.Lock()
		seg = q.segs[len(q.segs)-1]
		q.mu.Unlock()
	}
	b := q.wbuf[:0]
	for i, r := range recs {
		n := uint32(1)
		if counts != nil {
			n = counts[i]
		}
		if q.opts.Keys != nil {
			b = appendSealed(b, q.opts.Keys, first+uint64(i), n, r)
		} else {
			b = appendRecord(b, segVersion, first+uint64(i), n, r)
		}
	}
	q.wbuf = b
	if cap(q.wbuf) > 4<<20 {
		q.wbuf = nil
	}
	if n, err := q.w.Write(b); err != nil {
		if n > 0 {
			// Cut what was written of the batch: it was not appended.
			_ = q.w.Truncate(seg.size)
		}
		return 0, fmt.Errorf("persistent queue: append to %s: %w", seg.path, err)
	}
	if q.opts.Sync {
		if err := q.w.Sync(); err != nil {
			_ = q.w.Truncate(seg.size)
			return 0, fmt.Errorf("persistent queue: fsync %s: %w", seg.path, err)
		}
	}
	if written != nil {
		written(first)
	}
	q.mu.Lock()
	seg.size += int64(len(b))
	seg.last = first + uint64(len(recs)) - 1
	q.next += uint64(len(recs))
	q.count += entries
	q.bytes += int64(size)
	if !q.opts.Sync {
		q.unsynced += int(entries)
	}
	q.addMark(seg.last, time.Now())
	needSync := !q.opts.Sync && q.unsynced >= q.opts.SyncEvery
	q.changed.Broadcast()
	q.mu.Unlock()
	if needSync {
		// The fsync runs beside the writers, not in their way: nothing
		// waits for it without Sync.
		q.kickSync()
	}
	return first, nil
}

// kickSync asks the sync goroutine for an fsync of what is dirty.
func (q *Queue) kickSync() {
	select {
	case q.syncKick <- struct{}{}:
	default: // one is pending: it will cover this too
	}
}

// syncBackground fsyncs what was written since the last fsync: the segment
// being written (without Sync) and the acknowledgement log, without holding
// the writers' locks during the fsync, so that appends and acknowledgements
// go on meanwhile and the next fsync covers what they wrote (a group
// commit). A file closed meanwhile (a new segment started, the log
// compacted) was fsynced by whoever closed it.
func (q *Queue) syncBackground() {
	q.mu.Lock()
	dirty := q.unsynced > 0
	q.unsynced = 0
	q.mu.Unlock()
	var err error
	if dirty {
		q.wmu.Lock()
		f := q.w
		q.wmu.Unlock()
		if f != nil {
			if serr := f.Sync(); serr != nil && !errors.Is(serr, os.ErrClosed) {
				err = serr
			}
		}
	}
	q.amu.Lock()
	var af *os.File
	if q.alog != nil && q.aDirty {
		af = q.alog.f
		q.aDirty = false
	}
	q.amu.Unlock()
	if af != nil {
		if serr := af.Sync(); serr != nil && !errors.Is(serr, os.ErrClosed) {
			err = errors.Join(err, serr)
		}
	}
	if err != nil {
		q.log.Error("persisted queue: fsync failed", "path", q.opts.Dir, "err", err)
	}
}

// sync fsyncs the segment being written and the acknowledgement log.
func (q *Queue) sync() error {
	q.wmu.Lock()
	err := q.w.Sync()
	q.wmu.Unlock()
	q.amu.Lock()
	if q.alog != nil && q.aDirty {
		err = errors.Join(err, q.alog.f.Sync())
		q.aDirty = false
	}
	q.amu.Unlock()
	if err != nil {
		return fmt.Errorf("persistent queue: fsync: %w", err)
	}
	return nil
}

// syncLoop fsyncs in the background: when kicked (SyncEvery entries
// written; an acknowledgement with Sync) and every SyncInterval.
func (q *Queue) syncLoop() {
	defer close(q.syncDone)
	t := time.NewTicker(q.opts.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-q.stopSync:
			return
		case <-t.C:
		case <-q.syncKick:
		}
		q.syncBackground()
	}
}

// Read returns records not read before, in order, waiting for at least one:
// as many as hold up to max entries in all (one record at least, whatever
// its count). It returns io.EOF once CloseWrites was called and every record
// was read, or when the queue is closed; ctx.Err() when ctx is done first.
func (q *Queue) Read(ctx context.Context, max int) ([]Record, error) {
	q.rmu.Lock()
	defer q.rmu.Unlock()
	for {
		q.mu.Lock()
		stop := context.AfterFunc(ctx, func() { q.mu.Lock(); q.changed.Broadcast(); q.mu.Unlock() })
		for q.readPos >= q.next && !q.noWrites && !q.closed && ctx.Err() == nil {
			q.changed.Wait()
		}
		stop()
		switch {
		case q.closed:
			q.mu.Unlock()
			return nil, io.EOF
		case q.readPos < q.next:
		case ctx.Err() != nil:
			q.mu.Unlock()
			return nil, ctx.Err()
		default: // no more writes and everything read
			q.mu.Unlock()
			return nil, io.EOF
		}
		bound := q.next
		q.mu.Unlock()
		out, err := q.readUpTo(bound, max)
		if err != nil || len(out) > 0 {
			return out, err
		}
		// Everything up to bound was acknowledged before a restart.
	}
}

// readUpTo reads records below bound that are not acknowledged, up to limit
// entries (one record at least).
func (q *Queue) readUpTo(bound uint64, limit int) ([]Record, error) {
	var out []Record
	entries := 0
	for entries < limit {
		q.mu.Lock()
		if q.readPos >= bound {
			q.mu.Unlock()
			return out, nil
		}
		seg := q.segmentOf(q.readPos)
		if seg == nil {
			// The rest below bound was lost to damage.
			q.readPos = bound
			q.mu.Unlock()
			return out, nil
		}
		end, segFirst, segPath, segVer, before := seg.size, seg.first, seg.path, seg.ver, q.readPos
		q.mu.Unlock()
		if q.rd == nil || q.rd.first != segFirst {
			if q.rd != nil {
				q.rd.f.Close()
				q.rd = nil
			}
			f, err := os.Open(segPath)
			if err != nil {
				return out, fmt.Errorf("persistent queue: read: %w", err)
			}
			q.rd, q.roff = &segReader{f: f, ver: segVer, first: segFirst}, segHeaderSize
		}
		var last uint64
		got := 0
		off := q.roff
		var rerr error
		full := false
		for off < end && entries < limit {
			seq, n, payload, size, err := q.rd.next(off, end)
			if err != nil {
				rerr = err
				break
			}
			if seq >= bound {
				break
			}
			if len(out) > 0 && entries+int(n) > limit {
				full = true
				break
			}
			q.mu.Lock()
			acked := q.acks.acked(seq)
			q.mu.Unlock()
			var data []byte
			if !acked {
				if segVer == segSealed {
					// Checked at Open: failing now, the file was
					// changed since, and the read stops here as at
					// any damaged record.
					if data, err = openSealed(nil, q.opts.Keys, seq, n, payload); err != nil {
						rerr = fmt.Errorf("%s: record at offset %d: %w", segPath, off, err)
						break
					}
				} else {
					data = append([]byte(nil), payload...)
				}
			}
			last = seq
			got++
			if !acked {
				out = append(out, Record{Seq: seq, N: n, Data: data, Path: segPath, Off: off})
				entries += int(n)
			}
			off += int64(size)
		}
		q.roff = off
		q.mu.Lock()
		switch {
		case got > 0:
			q.readPos = last + 1
		case off >= end:
			// The end of this segment: go on with the next one.
			q.readPos = max(q.readPos, seg.last+1)
			if n := q.segmentAfter(segFirst); n != nil && q.readPos < n.first {
				q.readPos = n.first
			}
		}
		stuck := got == 0 && off < end && rerr == nil && !full
		if got == 0 && q.readPos == before && !full {
			// Nothing more below bound exists: lost to damage at open.
			q.readPos = bound
		}
		q.mu.Unlock()
		if rerr != nil {
			return out, fmt.Errorf("persistent queue: read: %w", rerr)
		}
		if stuck {
			return out, fmt.Errorf("persistent queue: read: no record at offset %d of %s", off, segPath)
		}
		if full {
			return out, nil
		}
	}
	return out, nil
}

// segmentOf returns the segment holding seq (or the first one after it, when
// seq itself was lost), or nil. q.mu is held.
func (q *Queue) segmentOf(seq uint64) *segment {
	for _, s := range q.segs {
		if seq <= s.last || (s.last < s.first && seq >= s.first) {
			return s
		}
		if s == q.segs[len(q.segs)-1] && seq >= s.first {
			return s
		}
	}
	return nil
}

func (q *Queue) segmentAfter(first uint64) *segment {
	for _, s := range q.segs {
		if s.first > first {
			return s
		}
	}
	return nil
}

// Ack deletes acknowledged records: seqs as Read returned them, of bytes
// bytes of data in all, one entry each. Each record read must be
// acknowledged once.
func (q *Queue) Ack(seqs []uint64, bytes int64) error {
	return q.AckN(seqs, int64(len(seqs)), bytes)
}

// AckN is Ack for records of entries entries in all (the sum of their N).
func (q *Queue) AckN(seqs []uint64, entries, bytes int64) error {
	if len(seqs) == 0 {
		return nil
	}
	q.amu.Lock()
	defer q.amu.Unlock()
	if err := q.alog.append(seqs); err != nil {
		return fmt.Errorf("persistent queue: acknowledge: %w", err)
	}
	q.aDirty = true
	if q.opts.Sync {
		// Group commit: the fsync starts now, beside the next
		// acknowledgements, which it covers too.
		q.kickSync()
	}
	q.mu.Lock()
	for _, s := range seqs {
		q.acks.add(s)
	}
	q.count -= entries
	q.bytes -= bytes
	q.changed.Broadcast()
	q.mu.Unlock()
	if err := q.dropAcked(); err != nil {
		q.log.Warn("persisted queue: removing an acknowledged segment failed", "err", err)
	}
	if q.alog.size > ackLogCompactBytes {
		q.mu.Lock()
		st := ackState{low: q.acks.low, above: make(map[uint64]struct{}, len(q.acks.above))}
		for s := range q.acks.above {
			st.above[s] = struct{}{}
		}
		q.mu.Unlock()
		old := q.alog
		l, err := writeCheckpoint(q.opts.Dir, &st)
		if err != nil {
			return fmt.Errorf("persistent queue: acknowledgement checkpoint: %w", err)
		}
		old.f.Close()
		q.alog, q.aDirty = l, false
	}
	return nil
}

// dropAcked deletes the segments, but the newest, whose records are all
// acknowledged.
func (q *Queue) dropAcked() error {
	var drop []*segment
	q.mu.Lock()
	// The reader is past them: it only reads above the low-water mark (and
	// an open file stays readable after its removal).
	for len(q.segs) > 1 && q.segs[0].last < q.acks.low {
		drop = append(drop, q.segs[0])
		q.segs = q.segs[1:]
	}
	q.mu.Unlock()
	var err error
	for _, s := range drop {
		err = errors.Join(err, os.Remove(s.path))
	}
	return err
}

// CloseWrites tells readers that nothing more will be appended: Read returns
// io.EOF once every record was read.
func (q *Queue) CloseWrites() {
	q.mu.Lock()
	q.noWrites = true
	q.changed.Broadcast()
	q.mu.Unlock()
}

// Close fsyncs and closes the files. Records not acknowledged stay for the
// next Open.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	q.changed.Broadcast()
	q.mu.Unlock()
	close(q.stopSync)
	<-q.syncDone
	err := q.sync()
	q.rmu.Lock()
	q.amu.Lock()
	q.wmu.Lock()
	err = errors.Join(err, q.closeFiles())
	q.wmu.Unlock()
	q.amu.Unlock()
	q.rmu.Unlock()
	return err
}

func (q *Queue) closeFiles() error {
	var err error
	if q.w != nil {
		err = errors.Join(err, q.w.Close())
		q.w = nil
	}
	if q.rd != nil {
		q.rd.f.Close()
		q.rd = nil
	}
	if q.alog != nil {
		err = errors.Join(err, q.alog.f.Close())
		q.alog = nil
	}
	if q.lockFile != nil {
		q.lockFile.Close()
		q.lockFile = nil
	}
	return err
}
