package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	"github.com/pipelined/pipeline/engine/atrest"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/internal/ack"
	"github.com/pipelined/pipeline/engine/pq"
)

// QueueSettings choose the queue between a pipeline's inputs and its filters,
// as Logstash's queue.* settings.
type QueueSettings struct {
	// Type is "memory" (the default: a bounded channel; an input's
	// acknowledgement waits for the outputs) or "persisted" (events are written
	// to a file under Path before the input's acknowledgement, and removed when
	// the outputs acknowledge them; a restart reads what is left).
	Type string
	// Path is the directory of the persisted queue (Logstash's
	// path.queue/<pipeline id>).
	Path string
	// MaxBytes bounds the persisted queue (default 1 GiB): inputs wait while
	// it holds more.
	MaxBytes int64
	// CheckpointWrites is how many events may be written between two fsyncs
	// (default 1024); 1 fsyncs every write before the input's acknowledgement.
	CheckpointWrites int
	// Drain makes a pipeline stopped by a signal deliver everything in the
	// persisted queue before exiting; by default what is left waits on disk
	// for the next start.
	Drain bool
	// EncryptionKeyPath, if set, encrypts the persisted queue's records
	// with the AES-256-GCM key in that file (or env:NAME, see
	// atrest.LoadKey); EncryptionOldKeyPath is the key records written
	// before a rotation are read with.
	EncryptionKeyPath    string
	EncryptionOldKeyPath string
}

// DefaultQueueMaxBytes is queue.max_bytes's default, as in Logstash.
const DefaultQueueMaxBytes = 1 << 30

func (q QueueSettings) persisted() bool { return q.Type == "persisted" }

func (q QueueSettings) validate() error {
	switch q.Type {
	case "", "memory":
		return nil
	case "persisted":
		if q.Path == "" {
			return errors.New("queue.type persisted needs path.queue")
		}
		return nil
	}
	return fmt.Errorf("queue.type %q: want memory or persisted", q.Type)
}

// openQueue opens the persisted queue of a pipeline about to run.
func (p *Pipeline) openQueue() error {
	s := p.settings.Queue
	if !s.persisted() {
		return nil
	}
	maxBytes := s.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultQueueMaxBytes
	}
	keys, err := atrest.Load(s.EncryptionKeyPath, []string{s.EncryptionOldKeyPath}, func(m string) { p.log.Warn("persisted queue: " + m) })
	if err != nil {
		return fmt.Errorf("persisted queue: queue.encryption_key_path: %w", err)
	}
	q, err := pq.Open(pq.Options{Dir: filepath.Clean(s.Path), MaxBytes: maxBytes,
		Sync: s.CheckpointWrites == 1, SyncEvery: s.CheckpointWrites,
		Logger: p.log, Keys: keys})
	if err != nil {
		return err
	}
	if n, b := q.Len(); n > 0 {
		p.log.Warn("persisted queue holds events from a previous run; they are processed first", "events", n, "bytes", b, "path", s.Path)
	}
	p.pq = q
	p.pqMaxBytes = maxBytes
	p.pqView.Store(q)
	p.commits = make(chan *pendingBatch, commitQueue)
	p.commitDone = make(chan struct{})
	return nil
}

// QueueLen returns the events and bytes in the persisted queue (read or not,
// not yet acknowledged), or zeros with the memory queue.
func (p *Pipeline) QueueLen() (events, bytes int64) {
	if q := p.pqView.Load(); q != nil { // safe while Run runs
		return q.Len()
	}
	return 0, 0
}

// emitPersisted encodes a batch for the persisted queue and hands it to the
// group committer, which writes it and then acknowledges it to the input:
// from then on the queue owns the events.
//
// A batch with an Ack is handed over and emit returns at once: the input
// learns that the queue holds the events from the Ack alone, so it can emit
// its next batch while the committer writes (and groups) this one. A batch
// without an Ack is different: its input takes emit's return as the queue
// holding the events (the pipeline input acknowledges the upstream
// pipeline's batch then, which deletes the events from that pipeline's
// persisted queue), so emit returns only once the committer has written it
// (fsynced with checkpoint.writes 1).
func (u *inputUnit) emitPersisted(b Batch) error {
	p := u.pl
	// One record per chunk of batch_size events, in one pooled buffer.
	bp := encBufs.Get().(*[]byte)
	buf, recs, counts := encodeBatch((*bp)[:0], b.Events, p.settings.BatchSize, u.decorate)
	pb := &pendingBatch{u: u, bp: bp, buf: buf, recs: recs, counts: counts, events: b.Events, n: int64(len(b.Events)), ack: b.Ack}
	if b.Ack == nil {
		pb.written = make(chan error, 1)
	}
	start := time.Now()
	select {
	case p.commits <- pb:
	case <-p.abort:
		return ErrAborted
	}
	var err error
	if pb.written != nil {
		select {
		case err = <-pb.written:
		case <-p.abort:
			err = ErrAborted
		}
	}
	d := int64(time.Since(start))
	p.pushNanos.Add(d)
	u.pushNanos.Add(d)
	return err
}

// commitQueue is how many emitted batches may wait for the group committer.
const commitQueue = 16

// pendingBatch is an emitted batch on its way to the group committer.
type pendingBatch struct {
	u      *inputUnit
	bp     *[]byte // the pooled buffer buf came from
	buf    []byte
	recs   [][]byte
	counts []uint32
	// events are the batch's events, counts[i] of them in recs[i], in
	// order: once written, they are handed to the reader as they are
	// (see hotRecords).
	events []*event.Event
	n      int64
	ack    func(error)
	// written, for a batch without an Ack, receives the committer's
	// result: emit waits for it (see emitPersisted).
	written chan error
}

func putEncBuf(bp *[]byte, buf []byte) {
	if cap(buf) <= 4<<20 {
		*bp = buf[:0]
		encBufs.Put(bp)
	}
}

// committer writes the batches emitted to the persisted queue: what
// arrived while the previous write (and, with queue.checkpoint.writes 1, its
// fsync) ran is written with one write and one fsync (a group commit), then
// each sender is acknowledged. The inputs go on encoding and emitting
// meanwhile, so one sender with many batches in flight, or many senders, are
// not bound to one write and fsync each; no sender is acknowledged before its
// events are written (fsynced with checkpoint.writes 1), and no event is
// readable before.
func (p *Pipeline) committer() {
	defer close(p.commitDone)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := context.AfterFunc(p.abortCtx, cancel)
	defer stop()
	// A group stays well below queue.max_bytes, so that it is not held back
	// until the queue is empty (an append bigger than the room left waits
	// for that) nor overshoots the bound by much.
	limit := maxRecordBytes
	if mb := p.pqMaxBytes / 4; mb > 0 && mb < int64(limit) {
		limit = int(mb)
	}
	var group []*pendingBatch
	var recs [][]byte
	var counts []uint32
	for b := range p.commits {
		group = append(group[:0], b)
		recs = append(recs[:0], b.recs...)
		counts = append(counts[:0], b.counts...)
		bytes := len(b.buf)
	more:
		for bytes < limit {
			select {
			case b, ok := <-p.commits:
				if !ok {
					break more
				}
				group = append(group, b)
				recs = append(recs, b.recs...)
				counts = append(counts, b.counts...)
				bytes += len(b.buf)
			default:
				break more
			}
		}
		// The events are kept for the reader before it can read the
		// records (a record read first would be decoded).
		err := p.appendRetrying(ctx, recs, counts, func(first uint64) { p.hot.put(first, group) })
		for _, b := range group {
			putEncBuf(b.bp, b.buf)
			// Aborted (err != nil): the senders are not acknowledged.
			if err == nil {
				b.u.out.Add(b.n)
				p.stats.In.Add(b.n)
				if b.ack != nil {
					p.stats.AcksFired.Add(1)
					b.ack(nil)
				}
			}
			if b.written != nil {
				b.written <- err
			}
		}
		clear(group)
		clear(recs)
	}
}

// appendRetrying appends to the persisted queue, retrying a failed write
// (a full or failing disk) with capped backoff until it succeeds or the
// pipeline is aborted: the input waits, as for a full queue, instead of
// failing its source for the rest of the run, and its sender is acknowledged
// only once the events are on disk.
func (p *Pipeline) appendRetrying(ctx context.Context, recs [][]byte, counts []uint32, written func(first uint64)) error {
	backoff := 10 * time.Millisecond
	for attempt := 1; ; attempt++ {
		var err error
		if p.appendFault != nil {
			err = p.appendFault()
		}
		if err == nil {
			_, err = p.pq.AppendNSeq(ctx, recs, counts, written)
		}
		if err == nil {
			if attempt > 1 {
				p.queueFailing.Store(false)
				p.log.Info("persisted queue write recovered", "attempts", attempt)
			}
			return nil
		}
		if p.abortCtx.Err() != nil {
			return ErrAborted
		}
		p.stats.QueueWriteErrors.Add(1)
		p.queueFailing.Store(true)
		if attempt == 1 || attempt%100 == 0 {
			p.log.Error("persisted queue write failed; the input waits and the write is retried", "attempt", attempt, "err", err)
		}
		select {
		case <-time.After(backoff):
		case <-p.abortCtx.Done():
			return ErrAborted
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// readQueue feeds the workers from the persisted queue until it is drained
// (after CloseWrites) or ctx is done. Each chunk is deleted from the queue
// when its events are acknowledged; a record that no longer parses (the file
// was damaged) is logged with its file and offset, its events that do not
// decode are counted as failed, and it is deleted.
func (p *Pipeline) readQueue(ctx context.Context) {
	var dec event.BinaryDecoder
	for {
		recs, err := p.pq.Read(ctx, p.settings.BatchSize)
		if err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return
			}
			// A read error (an I/O error of the disk) is retried: stopping
			// the reader would stall the pipeline for the rest of the run.
			p.stats.QueueReadErrors.Add(1)
			p.log.Error("persisted queue read failed; retrying in 1s", "err", err)
			select {
			case <-time.After(time.Second):
				continue
			case <-ctx.Done():
				return
			case <-p.abort:
				return
			}
		}
		seqs := make([]uint64, len(recs))
		var size, entries int64
		for _, r := range recs {
			entries += int64(r.N)
		}
		evs := make([]*event.Event, 0, entries)
		add := func(e *event.Event) { evs = append(evs, e) }
		for i, r := range recs {
			seqs[i] = r.Seq
			size += int64(len(r.Data))
			if hot := p.hot.take(r.Seq); len(hot) == int(r.N) {
				// Written in this run and still in memory: the events
				// as the input emitted them, which the record on disk
				// holds too, are not decoded again.
				evs = append(evs, hot...)
				continue
			}
			got, err := decodeRecord(&dec, r.Data, add)
			if err != nil || got != int(r.N) {
				lost := max(int64(r.N)-int64(got), 0)
				p.stats.Failed.Add(lost)
				p.log.Error("persisted queue record unreadable; its undecodable events are counted as failed and deleted",
					"path", r.Path, "offset", r.Off, "seq", r.Seq, "events", r.N, "decoded", got, "err", err)
			}
		}
		q := p.pq
		done := func(error) {
			if err := q.AckN(seqs, entries, size); err != nil {
				p.log.Error("persisted queue: cannot delete acknowledged events; they will be processed again after a restart", "err", err)
			}
		}
		if len(evs) == 0 {
			done(nil)
			continue
		}
		tr := ack.New(len(evs), done, &p.stats.AcksFired)
		for _, e := range evs {
			e.SetAcker(tr)
		}
		select {
		case p.queue <- chunk{events: evs}:
			p.queued.Add(int64(len(evs)))
		case <-p.abort:
			return
		}
	}
}

// hotRecords keeps the events of the records the committer wrote in this
// run, until the reader reaches them: the reader hands those events on as
// they are instead of decoding them again from the record (which it still
// reads, so that what it hands on is what is on disk and acknowledged by
// sequence number as any record). It holds at most hotLimit events; past
// it, or for a record the reader has already passed, nothing is kept, and
// the reader decodes the record as after a restart.
type hotRecords struct {
	mu     sync.Mutex
	m      map[uint64][]*event.Event
	events int
	// read is one past the highest sequence number the reader asked for:
	// records below it are never kept (the reader passed them).
	read uint64
}

// hotLimit bounds the events hotRecords keeps: a backlog beyond it is read
// back from disk, so memory does not grow with the backlog.
const hotLimit = 8192

// put keeps the events of the records of group, whose first record is seq
// first, the records following in order.
func (h *hotRecords) put(first uint64, group []*pendingBatch) {
	h.mu.Lock()
	defer h.mu.Unlock()
	seq := first
	for _, b := range group {
		evs := b.events
		for _, c := range b.counts {
			n := int(c)
			if n > len(evs) {
				return // not as encoded: keep nothing more
			}
			if seq >= h.read && h.events+n <= hotLimit {
				if h.m == nil {
					h.m = make(map[uint64][]*event.Event)
				}
				h.m[seq] = evs[:n:n]
				h.events += n
			}
			evs = evs[n:]
			seq++
		}
	}
}

// take returns (and forgets) the events of record seq, or nil.
func (h *hotRecords) take(seq uint64) []*event.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.read = max(h.read, seq+1)
	evs, ok := h.m[seq]
	if ok {
		delete(h.m, seq)
		h.events -= len(evs)
	}
	return evs
}
