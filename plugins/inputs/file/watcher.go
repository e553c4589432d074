package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

var (
	pathRef    = event.MustRef("path")
	hostRef    = event.MustRef("host")
	ecsPathRef = event.MustRef("[log][file][path]")
	ecsHostRef = event.MustRef("[host][name]")
)

// tracked is one file being read, known by its identity.
type tracked struct {
	id       fileID
	path     string
	f        *os.File
	readPos  int64  // the next byte to read
	partial  []byte // an unterminated line read so far
	gen      int    // bumped when the file is read again from its start
	grew     time.Time
	rotated  bool // its path names another file now: read to the end, then forget
	complete bool // read mode: done and its action applied

	// Updated by acknowledgements (w.mu).
	committed int64
	pending   []*pendingBatch
}

type pendingBatch struct {
	gen   int
	end   int64
	acked bool
}

type watcher struct {
	in   *Input
	emit engine.EmitFunc
	db   *sincedb

	mu sync.Mutex // files' committed and pending, db
	// storeMu orders sincedb writes: each renders under mu and writes (with
	// an fsync) outside it, so the readers do not wait on the disk, and a
	// newer content is never overwritten by an older one.
	storeMu sync.Mutex
	files   map[fileID]*tracked
	stopped bool
	open    int
	buf     []byte

	// queued: the pipeline acknowledges a batch once its persisted queue
	// holds it (engine.AckedAtQueueWrite). An acknowledgement that moves a
	// position then signals dirty, and the positions are written within
	// queuedSincedbGap instead of at the next sincedb_write_interval, so a
	// crash re-reads next to nothing the queue already holds.
	queued bool
	dirty  chan struct{}
}

// queuedSincedbGap is the most time between an acknowledgement from the
// persisted queue and the sincedb write that records it, and the least time
// between two such writes (sincedb_write_interval, if shorter, wins).
const queuedSincedbGap = 100 * time.Millisecond

func newWatcher(in *Input, emit engine.EmitFunc) (*watcher, error) {
	db, err := loadSincedb(in.sincedb, in.log)
	if err != nil {
		return nil, err
	}
	return &watcher{in: in, emit: emit, db: db, files: map[fileID]*tracked{}}, nil
}

func (w *watcher) run(ctx context.Context) error {
	o := &w.in.o
	if engine.AckedAtQueueWrite(ctx) {
		w.queued = true
		w.dirty = make(chan struct{}, 1)
		fctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go w.writeQueued(fctx, min(queuedSincedbGap, o.SincedbWriteInterval.D()), done)
		defer func() { cancel(); <-done }()
	}
	w.discover(true)
	tick := time.NewTicker(o.StatInterval.D())
	defer tick.Stop()
	lastWrite := time.Now()
	for n := 1; ; n++ {
		if err := w.pollAll(ctx); err != nil {
			w.shutdown()
			return err
		}
		if o.Mode == "read" && o.ExitAfterRead && w.allComplete() {
			w.shutdown()
			return nil
		}
		select {
		case <-ctx.Done():
			w.shutdown()
			return nil
		case <-tick.C:
		}
		if n%o.DiscoverInterval == 0 {
			w.discover(false)
		}
		if time.Since(lastWrite) >= o.SincedbWriteInterval.D() {
			w.writeSincedb()
			lastWrite = time.Now()
		}
	}
}

// writeQueued writes the sincedb when an acknowledgement from the persisted
// queue moved a position, at most once per gap, until ctx is done (then
// shutdown and later acknowledgements write it).
func (w *watcher) writeQueued(ctx context.Context, gap time.Duration, done chan<- struct{}) {
	defer close(done)
	defer func() {
		if perr := engine.Recovered(recover(), w.in.log, "file sincedb writer"); perr != nil {
			w.in.log.Error("file: the sincedb is written every sincedb_write_interval only", "err", perr)
		}
	}()
	t := time.NewTimer(gap)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.dirty:
		}
		w.writeSincedb()
		t.Reset(gap)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// shutdown closes the files and writes the positions; acknowledgements that
// come later (the pipeline drains after Run returns) write them again.
func (w *watcher) shutdown() {
	w.mu.Lock()
	w.stopped = true
	for _, tf := range w.files {
		w.closeFile(tf)
	}
	w.mu.Unlock()
	w.writeSincedb()
}

func (w *watcher) closeFile(tf *tracked) {
	if tf.f != nil {
		tf.f.Close()
		tf.f = nil
		w.open--
	}
}

func (w *watcher) excluded(path string) bool {
	base := filepath.Base(path)
	for _, p := range w.in.o.Exclude {
		if ok, _ := filepath.Match(p, base); ok {
			return true
		}
	}
	return false
}

// discover expands the patterns and starts tracking new files.
func (w *watcher) discover(first bool) {
	o := &w.in.o
	type found struct {
		path string
		fi   os.FileInfo
	}
	var all []found
	for _, pat := range o.Path {
		paths, err := globAll(pat)
		if err != nil {
			w.in.log.Warn("file: bad pattern", "path", pat, "err", err)
			continue
		}
		for _, p := range paths {
			if w.excluded(p) {
				continue
			}
			fi, err := os.Stat(p)
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			all = append(all, found{p, fi})
		}
	}
	if o.Mode == "read" {
		slices.SortStableFunc(all, func(a, b found) int {
			c := 0
			if o.FileSortBy == "path" {
				c = cmpString(a.path, b.path)
			} else {
				c = a.fi.ModTime().Compare(b.fi.ModTime())
			}
			if o.FileSortDirection == "desc" {
				c = -c
			}
			return c
		})
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, fd := range all {
		id, ok := identity(fd.fi)
		if !ok {
			continue
		}
		if tf := w.files[id]; tf != nil {
			tf.path = fd.path // renamed, and still matching
			continue
		}
		tf := &tracked{id: id, path: fd.path, grew: time.Now()}
		size := fd.fi.Size()
		switch pos, seen := w.db.position(id); {
		case seen && pos <= size:
			tf.readPos = pos
		case seen:
			tf.readPos = 0 // truncated while we were away
		case o.IgnoreOlder > 0 && time.Since(fd.fi.ModTime()) > o.IgnoreOlder.D():
			tf.readPos = size
		case o.Mode == "tail" && first && o.StartPosition == "end":
			tf.readPos = size
		}
		tf.committed = tf.readPos
		w.files[id] = tf
		w.db.set(id, tf.readPos, fd.path)
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// pollAll reads what each file has new.
func (w *watcher) pollAll(ctx context.Context) error {
	w.mu.Lock()
	files := make([]*tracked, 0, len(w.files))
	for _, tf := range w.files {
		files = append(files, tf)
	}
	w.mu.Unlock()
	slices.SortFunc(files, func(a, b *tracked) int { return cmpString(a.path, b.path) })
	for _, tf := range files {
		if ctx.Err() != nil {
			return nil
		}
		if err := w.poll(ctx, tf); err != nil {
			return err
		}
	}
	return nil
}

// poll reads tf from its position to its end, emitting batches.
func (w *watcher) poll(ctx context.Context, tf *tracked) error {
	o := &w.in.o
	if tf.complete {
		return nil
	}
	// Has the path moved on to another file (rotation by rename)?
	if !tf.rotated {
		if fi, err := os.Stat(tf.path); err != nil || !sameFile(fi, tf.id) {
			tf.rotated = true
		}
	}
	if tf.f == nil {
		if w.open >= o.MaxOpenFiles {
			return nil
		}
		f, err := os.Open(tf.path)
		if err != nil {
			if tf.rotated {
				w.forget(tf)
			}
			return nil
		}
		if fi, err := f.Stat(); err != nil || !sameFile(fi, tf.id) {
			f.Close()
			if tf.rotated {
				w.forget(tf)
			}
			return nil
		}
		tf.f = f
		w.open++
	}
	fi, err := tf.f.Stat()
	if err != nil {
		w.closeFile(tf)
		return nil
	}
	size := fi.Size()
	if size < tf.readPos {
		w.in.log.Warn("file: the file is shorter than the position read; reading it again from the start (truncated or copytruncate)",
			"path", tf.path, "size", size, "position", tf.readPos)
		w.mu.Lock()
		tf.gen++
		tf.readPos, tf.partial, tf.committed, tf.pending = 0, nil, 0, nil
		w.db.set(tf.id, 0, tf.path)
		w.mu.Unlock()
	}
	if size > tf.readPos {
		tf.grew = time.Now()
		if err := w.readToEnd(ctx, tf, size); err != nil {
			return err
		}
	}
	switch {
	case tf.rotated:
		// Read to its end under its new name: nothing more will come.
		w.closeFile(tf)
		w.forget(tf)
	case o.Mode == "read" && tf.readPos >= size:
		w.completeIfAcked(tf)
	case time.Since(tf.grew) > o.CloseOlder.D():
		w.closeFile(tf)
	}
	return nil
}

// forget stops tracking tf; its position stays in the sincedb, so the file
// is not read again if a pattern finds it under another name.
func (w *watcher) forget(tf *tracked) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.files[tf.id] == tf {
		delete(w.files, tf.id)
	}
}

// readToEnd reads tf from readPos up to size.
func (w *watcher) readToEnd(ctx context.Context, tf *tracked, size int64) error {
	o := &w.in.o
	delim := []byte(o.Delimiter)
	chunk := int(o.FileChunkSize)
	if cap(w.buf) < chunk {
		w.buf = make([]byte, chunk)
	}
	var batch []*event.Event
	var batchEnd int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := w.emitBatch(tf, batch, batchEnd)
		batch = nil
		return err
	}
	for tf.readPos < size && ctx.Err() == nil {
		n, err := tf.f.ReadAt(w.buf[:min(int64(chunk), size-tf.readPos)], tf.readPos)
		if n == 0 {
			if err != nil && !errors.Is(err, io.EOF) {
				w.in.log.Warn("file: read failed", "path", tf.path, "err", err)
			}
			break
		}
		data := w.buf[:n]
		base := tf.readPos
		tf.readPos += int64(n)
		start := 0
		for {
			i := bytes.Index(data[start:], delim)
			if i < 0 {
				break
			}
			line := data[start : start+i]
			if len(tf.partial) > 0 {
				tf.partial = append(tf.partial, line...)
				line = tf.partial
			}
			end := base + int64(start+i+len(delim))
			batch = append(batch, w.decode(tf, line)...)
			batchEnd = end
			tf.partial = tf.partial[:0]
			start += i + len(delim)
			if len(batch) >= w.in.batch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		tf.partial = append(tf.partial, data[start:]...)
		if len(tf.partial) > int(o.MaxLineBytes) {
			// Pass a runaway line on in pieces rather than hold it all.
			batch = append(batch, w.decode(tf, tf.partial)...)
			batchEnd = tf.readPos
			tf.partial = tf.partial[:0]
		}
	}
	if o.Mode == "read" && tf.readPos >= size && len(tf.partial) > 0 {
		// Read mode ends a file's last line at its end.
		batch = append(batch, w.decode(tf, tf.partial)...)
		batchEnd = tf.readPos
		tf.partial = tf.partial[:0]
	}
	return flush()
}

// decode turns one line into events with the codec.
func (w *watcher) decode(tf *tracked, line []byte) []*event.Event {
	d := w.in.codec.NewDecoder(bytes.NewReader(line))
	var out []*event.Event
	for range 1 << 16 {
		e, err := d.Decode()
		if err != nil {
			break
		}
		if w.in.ecs {
			_ = e.Set(ecsPathRef, tf.path)
			if w.in.host != "" {
				_ = e.Set(ecsHostRef, w.in.host)
			}
		} else {
			_ = e.Set(pathRef, tf.path)
			if w.in.host != "" {
				_ = e.Set(hostRef, w.in.host)
			}
		}
		out = append(out, e)
	}
	return out
}

// emitBatch hands events to the pipeline; their acknowledgement moves the
// file's committed position to end.
func (w *watcher) emitBatch(tf *tracked, events []*event.Event, end int64) error {
	w.mu.Lock()
	pb := &pendingBatch{gen: tf.gen, end: end}
	tf.pending = append(tf.pending, pb)
	w.mu.Unlock()
	err := w.emit(engine.Batch{Events: events, Ack: func(error) { w.acked(tf, pb) }})
	if err != nil {
		return fmt.Errorf("file: %w", err)
	}
	return nil
}

// acked records an acknowledged batch: the committed position advances over
// every batch acknowledged in order.
func (w *watcher) acked(tf *tracked, pb *pendingBatch) {
	w.mu.Lock()
	pb.acked = true
	moved := false
	for len(tf.pending) > 0 && tf.pending[0].acked {
		p := tf.pending[0]
		tf.pending = tf.pending[1:]
		if p.gen == tf.gen {
			tf.committed = p.end
			w.db.set(tf.id, p.end, tf.path)
			moved = true
		}
	}
	stopped := w.stopped
	w.mu.Unlock()
	if stopped {
		w.writeSincedb()
	} else if moved && w.queued {
		select {
		case w.dirty <- struct{}{}:
		default: // a write is due already
		}
	}
}

// completeIfAcked applies file_completed_action once everything read from
// the file was acknowledged.
func (w *watcher) completeIfAcked(tf *tracked) {
	w.mu.Lock()
	done := len(tf.pending) == 0 && len(tf.partial) == 0
	w.mu.Unlock()
	if !done {
		return
	}
	o := &w.in.o
	w.closeFile(tf)
	tf.complete = true
	if o.FileCompletedAction == "log" || o.FileCompletedAction == "log_and_delete" {
		f, err := os.OpenFile(o.FileCompletedLogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err == nil {
			_, err = f.WriteString(tf.path + "\n")
			f.Close()
		}
		if err != nil {
			w.in.log.Warn("file: cannot log a completed file", "path", tf.path, "log", o.FileCompletedLogPath, "err", err)
		}
	}
	if o.FileCompletedAction == "delete" || o.FileCompletedAction == "log_and_delete" {
		if err := os.Remove(tf.path); err != nil {
			w.in.log.Warn("file: cannot delete a completed file", "path", tf.path, "err", err)
		}
	}
	w.writeSincedb()
}

func (w *watcher) allComplete() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, tf := range w.files {
		if !tf.complete {
			return false
		}
	}
	return true
}

func (w *watcher) writeSincedb() {
	w.storeMu.Lock()
	defer w.storeMu.Unlock()
	w.mu.Lock()
	b := w.db.render(w.in.o.SincedbCleanAfter.D())
	w.mu.Unlock()
	if err := w.db.store(b); err != nil {
		w.in.log.Warn("file: cannot write the sincedb", "path", w.in.sincedb, "err", err)
	}
}
