package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

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
	q, err := pq.Open(pq.Options{Dir: filepath.Clean(s.Path), MaxBytes: maxBytes,
		Sync: s.CheckpointWrites == 1, SyncEvery: s.CheckpointWrites,
		Logger: p.log})
	if err != nil {
		return err
	}
	if n, b := q.Len(); n > 0 {
		p.log.Warn("persisted queue holds events from a previous run; they are processed first", "events", n, "bytes", b, "path", s.Path)
	}
	p.pq = q
	p.pqView.Store(q)
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

// emitPersisted writes a batch to the persisted queue and then acknowledges it
// to the input: from then on the queue owns the events.
func (u *inputUnit) emitPersisted(b Batch) error {
	p := u.pl
	// One buffer for the batch, sliced per record: one allocation, not one
	// per event.
	recs := make([][]byte, len(b.Events))
	ends := make([]int, len(b.Events))
	var buf []byte
	for i, e := range b.Events {
		u.decorate(e)
		buf = e.AppendJSONWithMetadata(buf)
		ends[i] = len(buf)
	}
	from := 0
	for i, end := range ends {
		recs[i] = buf[from:end:end]
		from = end
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := context.AfterFunc(p.abortCtx, cancel)
	defer stop()
	start := time.Now()
	if err := p.appendRetrying(ctx, recs); err != nil {
		return err
	}
	u.out.Add(int64(len(recs)))
	p.stats.In.Add(int64(len(recs)))
	d := int64(time.Since(start))
	p.pushNanos.Add(d)
	u.pushNanos.Add(d)
	if b.Ack != nil {
		p.stats.AcksFired.Add(1)
		b.Ack(nil)
	}
	return nil
}

// appendRetrying appends to the persisted queue, retrying a failed write
// (a full or failing disk) with capped backoff until it succeeds or the
// pipeline is aborted: the input waits, as for a full queue, instead of
// failing its source for the rest of the run, and its sender is acknowledged
// only once the events are on disk.
func (p *Pipeline) appendRetrying(ctx context.Context, recs [][]byte) error {
	backoff := 10 * time.Millisecond
	for attempt := 1; ; attempt++ {
		var err error
		if p.appendFault != nil {
			err = p.appendFault()
		}
		if err == nil {
			err = p.pq.Append(ctx, recs)
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
// was damaged) is logged, counted as failed and deleted.
func (p *Pipeline) readQueue(ctx context.Context) {
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
		var size int64
		evs := make([]*event.Event, 0, len(recs))
		for i, r := range recs {
			seqs[i] = r.Seq
			size += int64(len(r.Data))
			e, err := event.FromStoredJSON(r.Data)
			if err != nil {
				p.stats.Failed.Add(1)
				p.log.Error("persisted queue record unreadable; deleted", "seq", r.Seq, "err", err)
				continue
			}
			evs = append(evs, e)
		}
		q := p.pq
		done := func(error) {
			if err := q.Ack(seqs, size); err != nil {
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
