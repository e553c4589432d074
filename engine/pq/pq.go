// Package pq is a pipeline's persistent queue: records appended by inputs are
// stored in a file before Append returns, read back in order by the pipeline,
// and deleted only when acknowledged, so whatever was appended and not yet
// acknowledged survives a crash and is read again after a restart.
//
// The store is one bbolt file (queue.db in the queue directory): a B+tree
// keyed by a 64-bit sequence number, written in one transaction per Append and
// one per Ack. bbolt was chosen for atomic transactions and out-of-order
// deletes (acknowledgements come in any order) with a small dependency; its
// file does not shrink, but freed pages are reused, so the file stays around
// the largest backlog it held (bounded by MaxBytes).
//
// Durability: with Sync (Logstash's queue.checkpoint.writes: 1) every Append
// and Ack is fsynced before it returns; without it the data is written to the
// operating system before Append returns — it survives the process being
// killed, not a power cut — and fsynced every SyncEvery records or
// SyncInterval.
package pq

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
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
}

// Record is one stored record.
type Record struct {
	Seq  uint64
	Data []byte
}

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("persistent queue closed")

var bucket = []byte("events")

// Queue is a persistent queue. Its methods are safe for concurrent use.
type Queue struct {
	db   *bolt.DB
	opts Options
	wmu  sync.Mutex // serializes Appends, so sequence numbers follow commit order

	mu       sync.Mutex
	changed  *sync.Cond // records appended or deleted, or state changed
	next     uint64     // sequence number of the next Append
	readPos  uint64     // sequence number Read starts from
	count    int64      // stored records
	bytes    int64      // stored bytes
	unsynced int
	noWrites bool // CloseWrites was called
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
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("persistent queue: %w", err)
	}
	path := filepath.Join(opts.Dir, "queue.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, NoSync: !opts.Sync, NoFreelistSync: true})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			err = fmt.Errorf("%s is locked by another process: give each pipeline its own path.queue", path)
		}
		return nil, fmt.Errorf("persistent queue: open %s: %w", path, err)
	}
	q := &Queue{db: db, opts: opts, stopSync: make(chan struct{}), syncDone: make(chan struct{})}
	q.changed = sync.NewCond(&q.mu)
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		c := b.Cursor()
		first := true
		for k, v := c.First(); k != nil; k, v = c.Next() {
			seq := binary.BigEndian.Uint64(k)
			if first {
				q.readPos, first = seq, false
			}
			q.count++
			q.bytes += int64(len(v))
			q.next = seq + 1
		}
		// Continue the numbering past records deleted before, so a number is
		// never reused.
		q.next = max(q.next, b.Sequence()+1)
		if first {
			q.readPos = q.next
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("persistent queue: %s: %w", path, err)
	}
	go q.syncLoop()
	return q, nil
}

// Len returns the records and bytes stored (read or not, not yet acknowledged).
func (q *Queue) Len() (records, bytes int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.count, q.bytes
}

// Append stores recs in order and returns once they are written (fsynced with
// Sync). It waits while the queue holds MaxBytes or more (an empty queue always
// takes a batch, however big), until ctx is done.
func (q *Queue) Append(ctx context.Context, recs [][]byte) error {
	if len(recs) == 0 {
		return nil
	}
	size := 0
	for _, r := range recs {
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
	q.mu.Unlock()
	err := q.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		var key [8]byte
		for i, r := range recs {
			binary.BigEndian.PutUint64(key[:], first+uint64(i))
			if err := b.Put(key[:], r); err != nil {
				return err
			}
		}
		return b.SetSequence(first + uint64(len(recs)) - 1)
	})
	if err != nil {
		return fmt.Errorf("persistent queue: append: %w", err)
	}
	q.mu.Lock()
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
		return q.sync()
	}
	return nil
}

func (q *Queue) sync() error {
	if err := q.db.Sync(); err != nil {
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
		if dirty {
			_ = q.sync()
		}
	}
}

// Read returns up to max records not read before, in order, waiting for at
// least one. It returns io.EOF once CloseWrites was called and every record
// was read, or when the queue is closed; ctx.Err() when ctx is done first.
func (q *Queue) Read(ctx context.Context, max int) ([]Record, error) {
	q.mu.Lock()
	stop := context.AfterFunc(ctx, func() { q.mu.Lock(); q.changed.Broadcast(); q.mu.Unlock() })
	defer stop()
	for q.readPos >= q.next && !q.noWrites && !q.closed && ctx.Err() == nil {
		q.changed.Wait()
	}
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
	from, to := q.readPos, min(q.next, q.readPos+uint64(max))
	q.readPos = to
	q.mu.Unlock()
	out := make([]Record, 0, to-from)
	err := q.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		var key [8]byte
		binary.BigEndian.PutUint64(key[:], from)
		for k, v := c.Seek(key[:]); k != nil; k, v = c.Next() {
			seq := binary.BigEndian.Uint64(k)
			if seq >= to {
				break
			}
			out = append(out, Record{Seq: seq, Data: append([]byte(nil), v...)})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("persistent queue: read: %w", err)
	}
	return out, nil
}

// Ack deletes acknowledged records: seqs as Read returned them, of bytes
// bytes of data in all. Each record read must be acknowledged once (the
// queue keeps no per-record state in memory, so its footprint does not grow
// with the backlog).
func (q *Queue) Ack(seqs []uint64, bytes int64) error {
	if len(seqs) == 0 {
		return nil
	}
	err := q.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		var key [8]byte
		for _, s := range seqs {
			binary.BigEndian.PutUint64(key[:], s)
			if err := b.Delete(key[:]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("persistent queue: acknowledge: %w", err)
	}
	q.mu.Lock()
	q.count -= int64(len(seqs))
	q.bytes -= bytes
	q.changed.Broadcast()
	q.mu.Unlock()
	return nil
}

// CloseWrites tells readers that nothing more will be appended: Read returns
// io.EOF once every record was read.
func (q *Queue) CloseWrites() {
	q.mu.Lock()
	q.noWrites = true
	q.changed.Broadcast()
	q.mu.Unlock()
}

// Close fsyncs and closes the file. Records not acknowledged stay for the
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
	return errors.Join(err, q.db.Close())
}
