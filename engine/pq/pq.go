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
// and Ack is fsynced before it returns, and an acknowledged Append survives a
// power cut. Without it the data is written to the operating system before
// Append returns — it survives the process being killed, not a power cut — and
// fsynced every SyncEvery records or SyncInterval; a power cut may lose what
// was appended since the last fsync, and may deliver again what was
// acknowledged since then.
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

	"github.com/pipelined/pipeline/engine/internal/flock"
)

// Options configure a queue.
type Options struct {
	// Dir is the queue's directory, created if missing.
	Dir string
	// MaxBytes bounds the bytes of stored records: Append waits while the
	// queue holds more. 0 means no bound.
	MaxBytes int64
	// Sync fsyncs every Append and Ack.
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
}

// Record is one stored record.
type Record struct {
	Seq  uint64
	Data []byte
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

// Queue is a persistent queue. Its methods are safe for concurrent use; Read
// is meant for one reader at a time.
type Queue struct {
	opts     Options
	log      *slog.Logger
	lockFile *os.File
	recovery Recovery

	wmu    sync.Mutex // serializes Appends, so sequence numbers follow the file
	w      *os.File   // the newest segment, open for appending
	wbuf   []byte
	rmu    sync.Mutex // serializes Reads
	rfile  *os.File
	rseg   uint64 // first seq of the segment rfile belongs to
	roff   int64  // offset of the next record to read in it
	rbuf   []byte
	amu    sync.Mutex // serializes Acks
	alog   *ackLog
	aDirty bool

	mu       sync.Mutex
	changed  *sync.Cond // records appended or deleted, or state changed
	segs     []*segment // oldest first; the last one is w's
	acks     ackState
	next     uint64 // sequence number of the next Append
	readPos  uint64 // every record below it was read
	count    int64  // stored records not acknowledged
	bytes    int64  // their bytes
	unsynced int
	noWrites bool
	closed   bool
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
	q := &Queue{opts: opts, log: log, lockFile: lf, stopSync: make(chan struct{}), syncDone: make(chan struct{})}
	q.changed = sync.NewCond(&q.mu)
	if err := q.recover(); err != nil {
		q.closeFiles()
		return nil, fmt.Errorf("persistent queue: %s: %w", opts.Dir, err)
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
	acks, err := loadAcks(dir, q.log.Warn)
	if err != nil {
		return err
	}
	if err := q.migrateLegacy(&acks); err != nil {
		return err
	}
	segs, err := listSegments(dir)
	if err != nil {
		return err
	}
	var prev uint64 // last seq of the previous segment
	if acks.low > 0 {
		prev = acks.low - 1
	}
	var live []*segment
	for i, s := range segs {
		if s.first > 0 && s.first-1 > prev {
			prev = s.first - 1
		}
		var count, bytes int64
		last := i == len(segs)-1
		res, err := scanSegment(s.path, prev, func(seq uint64, payload []byte, _ int64) {
			if !acks.acked(seq) {
				count++
				bytes += int64(len(payload))
			}
		})
		if err != nil {
			return err
		}
		switch {
		case res.records == 0 && last && res.skipped <= segHeaderSize:
			// Created, its header torn by a crash: start it again.
			if err := writeFileSync(s.path, segHeader); err != nil {
				return err
			}
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
			kept, err := q.rewriteIntact(s, prev)
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
func (q *Queue) rewriteIntact(s *segment, prev uint64) (int64, error) {
	buf := append([]byte(nil), segHeader...)
	var kept int64
	if _, err := scanSegment(s.path, prev, func(seq uint64, payload []byte, _ int64) {
		buf = appendRecord(buf, seq, payload)
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

// openWriter opens the newest segment for appending, or starts one.
func (q *Queue) openWriter() error {
	if n := len(q.segs); n > 0 && q.segs[n-1].size < q.opts.SegmentBytes {
		f, err := os.OpenFile(q.segs[n-1].path, os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		q.w = f
		return nil
	}
	return q.roll()
}

// roll starts a new segment whose first record will be q.next.
func (q *Queue) roll() error {
	s := &segment{first: q.next, last: q.next - 1, path: filepath.Join(q.opts.Dir, segName(q.next)), size: segHeaderSize}
	f, err := os.OpenFile(s.path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(segHeader); err != nil {
		f.Close()
		os.Remove(s.path)
		return err
	}
	if err := syncDir(q.opts.Dir); err != nil {
		f.Close()
		return err
	}
	if q.w != nil {
		_ = q.w.Sync()
		q.w.Close()
	}
	q.w = f
	q.mu.Lock()
	q.segs = append(q.segs, s)
	q.mu.Unlock()
	return nil
}

// Len returns the records and bytes stored (read or not, not yet acknowledged).
func (q *Queue) Len() (records, bytes int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.count, q.bytes
}

// Append stores recs in order and returns once they are written (fsynced with
// Sync). It waits while the queue holds MaxBytes or more (an empty queue always
// takes a batch, however big), until ctx is done. A failed write leaves the
// queue as it was, so a later Append may succeed.
func (q *Queue) Append(ctx context.Context, recs [][]byte) error {
	if len(recs) == 0 {
		return nil
	}
	size := 0
	for _, r := range recs {
		if len(r) > maxRecord {
			return fmt.Errorf("persistent queue: a record of %d bytes is over the %d-byte limit", len(r), maxRecord)
		}
		size += len(r)
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
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		q.mu.Unlock()
		return err
	}
	first := q.next
	seg := q.segs[len(q.segs)-1]
	q.mu.Unlock()
	if seg.size >= q.opts.SegmentBytes {
		if err := q.roll(); err != nil {
			return fmt.Errorf("persistent queue: new segment: %w", err)
		}
		q.mu.Lock()
		seg = q.segs[len(q.segs)-1]
		q.mu.Unlock()
	}
	b := q.wbuf[:0]
	for i, r := range recs {
		b = appendRecord(b, first+uint64(i), r)
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
		return fmt.Errorf("persistent queue: append to %s: %w", seg.path, err)
	}
	if q.opts.Sync {
		if err := q.w.Sync(); err != nil {
			_ = q.w.Truncate(seg.size)
			return fmt.Errorf("persistent queue: fsync %s: %w", seg.path, err)
		}
	}
	q.mu.Lock()
	seg.size += int64(len(b))
	seg.last = first + uint64(len(recs)) - 1
	q.next += uint64(len(recs))
	q.count += int64(len(recs))
	q.bytes += int64(size)
	q.unsynced += len(recs)
	needSync := !q.opts.Sync && q.unsynced >= q.opts.SyncEvery
	if needSync {
		q.unsynced = 0
	}
	q.changed.Broadcast()
	q.mu.Unlock()
	if needSync {
		if err := q.w.Sync(); err != nil {
			return fmt.Errorf("persistent queue: fsync %s: %w", seg.path, err)
		}
	}
	return nil
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

func (q *Queue) syncLoop() {
	defer close(q.syncDone)
	if q.opts.Sync {
		return
	}
	t := time.NewTicker(q.opts.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-q.stopSync:
			return
		case <-t.C:
		}
		q.mu.Lock()
		dirty := q.unsynced > 0
		q.unsynced = 0
		q.mu.Unlock()
		q.amu.Lock()
		adirty := q.aDirty
		q.amu.Unlock()
		if dirty || adirty {
			_ = q.sync()
		}
	}
}

// Read returns up to max records not read before, in order, waiting for at
// least one. It returns io.EOF once CloseWrites was called and every record
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

// readUpTo reads records below bound that are not acknowledged, at most max.
func (q *Queue) readUpTo(bound uint64, limit int) ([]Record, error) {
	var out []Record
	for len(out) < limit {
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
		end, segFirst, segPath, before := seg.size, seg.first, seg.path, q.readPos
		q.mu.Unlock()
		if q.rfile == nil || q.rseg != segFirst {
			if q.rfile != nil {
				q.rfile.Close()
				q.rfile = nil
			}
			f, err := os.Open(segPath)
			if err != nil {
				return out, fmt.Errorf("persistent queue: read: %w", err)
			}
			q.rfile, q.rseg, q.roff = f, segFirst, segHeaderSize
		}
		var last uint64
		got := 0
		off, _, err := readRecordsAt(q.rfile, q.roff, end, bound, limit-len(out), &q.rbuf, func(seq uint64, payload []byte) {
			last = seq
			got++
			q.mu.Lock()
			acked := q.acks.acked(seq)
			q.mu.Unlock()
			if !acked {
				out = append(out, Record{Seq: seq, Data: append([]byte(nil), payload...)})
			}
		})
		if err != nil {
			return out, fmt.Errorf("persistent queue: read: %w", err)
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
		stuck := got == 0 && off < end
		if got == 0 && q.readPos == before {
			// Nothing more below bound exists: lost to damage at open.
			q.readPos = bound
		}
		q.mu.Unlock()
		if stuck {
			return out, fmt.Errorf("persistent queue: read: no record at offset %d of %s", off, segPath)
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
// bytes of data in all. Each record read must be acknowledged once.
func (q *Queue) Ack(seqs []uint64, bytes int64) error {
	if len(seqs) == 0 {
		return nil
	}
	q.amu.Lock()
	defer q.amu.Unlock()
	if err := q.alog.append(seqs); err != nil {
		return fmt.Errorf("persistent queue: acknowledge: %w", err)
	}
	if q.opts.Sync {
		if err := q.alog.f.Sync(); err != nil {
			return fmt.Errorf("persistent queue: acknowledge: fsync: %w", err)
		}
	} else {
		q.aDirty = true
	}
	q.mu.Lock()
	for _, s := range seqs {
		q.acks.add(s)
	}
	q.count -= int64(len(seqs))
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
	if q.rfile != nil {
		q.rfile.Close()
		q.rfile = nil
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
