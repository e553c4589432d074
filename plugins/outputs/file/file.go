// Package file implements the file output, like Logstash's: it appends events to
// files through its codec, json_lines by default (one JSON object per line).
//
// path is a sprintf template rendered per event, so fields and the event time
// can choose the file: "/var/log/app/%{[host][name]}/%{+YYYY-MM-dd}.log". A
// relative path is taken from the working directory. Missing directories are
// created. As in Logstash, an absolute path must not start with a dynamic part
// ("/%{dir}/x.log" is refused), and an event whose rendered path leaves the
// static part of the path (the "file root", e.g. through "../" in a field) is
// written to filename_failure in the file root instead. Files stay open for
// reuse and are closed once they were not written to for stale_cleanup_interval
// seconds (checked when batches are written), and all at Close.
//
// Durability differs from Logstash in one way: every Write flushes what it wrote
// to the operating system before it returns, so flush_interval is accepted but
// not used (the engine acknowledges a batch only after its Write returned).
// Data is not fsynced. With a line codec (json_lines, line), a file whose last
// line has no newline when it is opened — the end of a Write cut short by a
// kill or a crash, whose batch is then delivered again — has that partial line
// cut, so every line stays whole (the cut is logged with its byte count).
//
// With write_behavior "overwrite", each Write truncates each file it writes to
// and leaves only the last event of the batch for that file in it, as Logstash
// does per batch. With gzip, each Write appends one complete gzip member, so the
// file is always a valid (multi-member) gzip stream.
//
// Failure semantics: if opening or writing a file fails, Write returns the error
// and the engine retries the whole batch; before returning, Write truncates the
// files it had written to back to their size before the batch, so a retry does
// not leave partial or duplicated lines (another process appending to the same
// file at the same time would lose its data in that case). A deleted file is
// created again (create_if_deleted) or its events go to filename_failure.
package file

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

func init() {
	engine.RegisterOutput("file", New, engine.WithDefaultCodec("json_lines"))
}

// Options configures the file output.
type Options struct {
	// Path is the file to write, a sprintf template rendered per event, such as
	// "/var/log/app-%{+YYYY-MM-dd}.log". An absolute path must not start with a
	// dynamic part.
	Path string `hcl:"path"`
	// CreateIfDeleted creates a file again when it was deleted while open. When
	// false, events for a file that does not exist go to filename_failure.
	CreateIfDeleted bool `hcl:"create_if_deleted,optional"`
	// DirMode is the permission of created directories, in octal digits as
	// Logstash writes them (0750), or -1 for the system default (0777 less the
	// umask). The umask applies.
	DirMode int `hcl:"dir_mode,optional"`
	// FileMode is the permission of created files, in octal digits (0640), or -1
	// for the system default (0666 less the umask). The umask applies.
	FileMode int `hcl:"file_mode,optional"`
	// FilenameFailure is the file, inside the static part of path, that receives
	// events whose rendered path would leave it.
	FilenameFailure string `hcl:"filename_failure,optional"`
	// FlushInterval is accepted for compatibility and ignored: every Write is
	// flushed to the operating system before it returns.
	FlushInterval float64 `hcl:"flush_interval,optional"`
	// Gzip compresses the output; each batch is appended as one gzip member.
	Gzip bool `hcl:"gzip,optional"`
	// StaleCleanupInterval is how often, in seconds, files that were not written
	// to since the previous check are closed.
	StaleCleanupInterval float64 `hcl:"stale_cleanup_interval,optional"`
	// WriteBehavior is "append" (add events at the end of the file) or
	// "overwrite" (each batch replaces the file's content with its last event
	// for that file).
	WriteBehavior string `hcl:"write_behavior,optional"`
}

// DocTitle names the options where another plugin embeds them (the csv
// output).
func (Options) DocTitle() string { return "File output options" }

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.CreateIfDeleted = true
	o.DirMode = -1
	o.FileMode = -1
	o.FilenameFailure = "_filepath_failures"
	o.FlushInterval = 2
	o.StaleCleanupInterval = 10
	o.WriteBehavior = "append"
}

// Validate checks the options.
func (o *Options) Validate() error {
	if strings.TrimSpace(o.Path) == "" {
		return &engine.FieldError{Field: "path", Err: errors.New("must not be empty")}
	}
	if _, err := event.ParseTemplate(o.Path); err != nil {
		return &engine.FieldError{Field: "path", Err: err}
	}
	if _, err := parseMode(o.DirMode, 0o777); err != nil {
		return &engine.FieldError{Field: "dir_mode", Err: err}
	}
	if _, err := parseMode(o.FileMode, 0o666); err != nil {
		return &engine.FieldError{Field: "file_mode", Err: err}
	}
	if o.FilenameFailure == "" {
		return &engine.FieldError{Field: "filename_failure", Err: errors.New("must not be empty")}
	}
	if o.FlushInterval < 0 {
		return &engine.FieldError{Field: "flush_interval", Err: errors.New("must not be negative")}
	}
	if o.StaleCleanupInterval < 0 {
		return &engine.FieldError{Field: "stale_cleanup_interval", Err: errors.New("must not be negative")}
	}
	switch o.WriteBehavior {
	case "append", "overwrite":
	default:
		return &engine.FieldError{Field: "write_behavior", Err: fmt.Errorf("unsupported value %q: want \"append\" or \"overwrite\"", o.WriteBehavior)}
	}
	return nil
}

// parseMode reads a permission written with octal digits (750 for 0750; a value
// with an 8 or a 9 is taken as the number itself, 488 for 0750); -1 is def.
func parseMode(v int, def os.FileMode) (os.FileMode, error) {
	if v == -1 {
		return def, nil
	}
	if v < 0 {
		return 0, errors.New("must be -1 or a permission such as 0640")
	}
	m := uint64(v)
	if octal, err := strconv.ParseUint(strconv.Itoa(v), 8, 32); err == nil {
		m = octal
	}
	if m > 0o7777 {
		return 0, fmt.Errorf("%d is not a permission such as 0640", v)
	}
	mode := os.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= os.ModeSticky
	}
	return mode, nil
}

// Output is the file output.
type Output struct {
	codec           engine.Codec
	path            event.Template
	fixed           string // the path when it has no references
	dynamic         bool
	root            string // the static directory prefix of path
	failurePath     string
	createIfDeleted bool
	dirMode         os.FileMode
	fileMode        os.FileMode
	gzip            bool
	lines           bool // the codec writes one event per line: a torn last line can be cut on open
	overwrite       bool
	staleInterval   time.Duration
	log             *slog.Logger

	files     map[string]*file // open files by path
	lastClean time.Time

	// Per-Write state, reused.
	batch   map[string]*file // files already looked up in this Write
	touched []*file          // files written to in this Write, in order
	failed  int              // events sent to the failure file in this Write
	par     []*chunk         // encodeParallel's buffers, reused
}

// file is one open output file.
type file struct {
	path   string
	f      *os.File
	info   fs.FileInfo
	cw     *countingWriter
	bw     *bufio.Writer
	gz     *gzip.Writer // nil without gzip
	enc    engine.Encoder
	mark   int64        // size before this Write
	last   *event.Event // overwrite: the event to write
	active bool         // written to since the last stale check
}

// countingWriter tracks the size of a file opened for appending.
type countingWriter struct {
	f    *os.File
	size int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.f.Write(p)
	c.size += int64(n)
	return n, err
}

var _ engine.Output = (*Output)(nil)

// New builds a file output. r.Codec must be set; the engine always passes one.
func New(o Options, r engine.Resources) (*Output, error) {
	if r.Codec == nil {
		return nil, errors.New("file: no codec")
	}
	abs, err := filepath.Abs(o.Path)
	if err != nil {
		return nil, &engine.FieldError{Field: "path", Err: err}
	}
	tmpl, err := event.ParseTemplate(abs)
	if err != nil {
		return nil, &engine.FieldError{Field: "path", Err: err}
	}
	dirMode, _ := parseMode(o.DirMode, 0o777)
	fileMode, _ := parseMode(o.FileMode, 0o666)
	out := &Output{
		codec:           r.Codec,
		lines:           encodesLines(r.Codec),
		path:            tmpl,
		dynamic:         !tmpl.IsConstant(),
		createIfDeleted: o.CreateIfDeleted,
		dirMode:         dirMode,
		fileMode:        fileMode,
		gzip:            o.Gzip,
		overwrite:       o.WriteBehavior == "overwrite",
		staleInterval:   time.Duration(o.StaleCleanupInterval * float64(time.Second)),
		log:             r.Logger,
		files:           map[string]*file{},
		batch:           map[string]*file{},
	}
	if out.log == nil {
		out.log = slog.New(slog.DiscardHandler)
	}
	if out.dynamic {
		// The file root is the directories before the first dynamic part.
		parts := strings.Split(abs, string(filepath.Separator))
		i := 0
		for i < len(parts) && !strings.Contains(parts[i], "%{") {
			i++
		}
		if i <= 1 {
			return nil, &engine.FieldError{Field: "path", Err: fmt.Errorf("%q: the starting part of the path should not be dynamic", o.Path)}
		}
		out.root = strings.Join(parts[:i], string(filepath.Separator))
	} else {
		out.fixed = abs
		out.root = filepath.Dir(abs)
	}
	out.failurePath = filepath.Join(out.root, o.FilenameFailure)
	return out, nil
}

// encodesLines tells whether the codec ends every event with a newline
// (json_lines, line), by encoding one probe event.
func encodesLines(c engine.Codec) bool {
	var b bytes.Buffer
	enc := c.NewEncoder(&b)
	if enc == nil || enc.Encode(event.NewMessage("probe")) != nil {
		return false
	}
	return b.Len() > 0 && b.Bytes()[b.Len()-1] == '\n'
}

// Connect does nothing: files are opened when first written to.
func (o *Output) Connect(context.Context) error { return nil }

// Write writes the events to their files and flushes them to the operating
// system. On error the files written to are truncated back and the error is
// returned, for the engine to retry the batch.
func (o *Output) Write(_ context.Context, events []*event.Event) error {
	clear(o.batch)
	o.touched = o.touched[:0]
	o.failed = 0
	if !o.dynamic && !o.overwrite && len(events) >= 2*minEncodeChunk && runtime.GOMAXPROCS(0) > 1 {
		f, err := o.fileFor(o.fixed)
		if err != nil {
			return o.abort(err)
		}
		if err := o.encodeParallel(f, events); err != nil {
			return o.abort(fmt.Errorf("file: write %s: %w", f.path, err))
		}
		events = nil // written
	}
	for _, e := range events {
		f, err := o.fileFor(o.eventPath(e))
		if err != nil {
			return o.abort(err)
		}
		if o.overwrite {
			f.last = e
			continue
		}
		if err := f.enc.Encode(e); err != nil {
			return o.abort(fmt.Errorf("file: write %s: %w", f.path, err))
		}
	}
	if o.overwrite {
		for _, f := range o.touched {
			if err := f.f.Truncate(0); err != nil {
				return o.abort(fmt.Errorf("file: truncate %s: %w", f.path, err))
			}
			f.cw.size, f.mark = 0, 0
			if err := f.enc.Encode(f.last); err != nil {
				return o.abort(fmt.Errorf("file: write %s: %w", f.path, err))
			}
			f.last = nil
		}
	}
	for _, f := range o.touched {
		if f.gz != nil {
			if err := f.gz.Close(); err != nil {
				return o.abort(fmt.Errorf("file: write %s: %w", f.path, err))
			}
		}
		if err := f.bw.Flush(); err != nil {
			return o.abort(fmt.Errorf("file: write %s: %w", f.path, err))
		}
	}
	if o.failed > 0 {
		o.log.Warn("events tried to write outside the file root or to a deleted file, wrote them to the failure file",
			"count", o.failed, "filename", o.failurePath)
	}
	o.closeStale(time.Now())
	return nil
}

// minEncodeChunk is the fewest events worth encoding on a goroutine of their own.
const minEncodeChunk = 128

// encodeParallel encodes events in chunks on several goroutines, each into a
// buffer of its own, and writes the buffers to f in order. Encoding is most of
// this output's CPU, and the output is the one stage of a pipeline that must
// run alone to keep order.
func (o *Output) encodeParallel(f *file, events []*event.Event) error {
	parts := min(runtime.GOMAXPROCS(0), len(events)/minEncodeChunk)
	for len(o.par) < parts {
		c := &chunk{}
		c.enc = o.codec.NewEncoder(&c.buf)
		o.par = append(o.par, c)
	}
	size := (len(events) + parts - 1) / parts
	var wg sync.WaitGroup
	for i, c := range o.par[:parts] {
		lo, hi := i*size, min((i+1)*size, len(events))
		wg.Go(func() {
			c.buf.Reset()
			c.err = nil
			// The codec runs on this goroutine, which the engine does not
			// guard: a panic fails the Write (as a *engine.PanicError, which
			// fails the batch for good) instead of ending the process.
			defer func() {
				if perr := engine.Recovered(recover(), o.log, "file output encoder"); perr != nil {
					c.err = perr
				}
			}()
			for _, e := range events[lo:hi] {
				if c.err = c.enc.Encode(e); c.err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	var w io.Writer = f.bw
	if f.gz != nil {
		w = f.gz
	}
	for _, c := range o.par[:parts] {
		if c.err != nil {
			return c.err
		}
		if _, err := w.Write(c.buf.Bytes()); err != nil {
			return err
		}
		if c.buf.Cap() > 4<<20 { // one huge batch must not pin its memory
			c.buf = bytes.Buffer{}
			c.enc = o.codec.NewEncoder(&c.buf)
		}
	}
	return nil
}

// chunk is one goroutine's share of encodeParallel.
type chunk struct {
	buf bytes.Buffer
	enc engine.Encoder
	err error
}

// eventPath renders the event's file path; a path leaving the file root, or a
// missing file when files must not be created again, is the failure path.
func (o *Output) eventPath(e *event.Event) string {
	if !o.dynamic {
		return o.fixed
	}
	p := filepath.Clean(o.path.Render(e))
	if !strings.HasPrefix(p, o.root+string(filepath.Separator)) {
		o.failed++
		return o.failurePath
	}
	return p
}

// fileFor returns the open file for path, opening it (and creating its
// directory) as needed, once per Write.
func (o *Output) fileFor(path string) (*file, error) {
	if f := o.batch[path]; f != nil {
		return f, nil
	}
	f := o.files[path]
	info, err := os.Stat(path)
	switch {
	case err == nil && f != nil && os.SameFile(info, f.info):
		// Still the file we have open.
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("file: %w", err)
	case err != nil && !o.createIfDeleted && path != o.failurePath:
		// Deleted or never there, and not to be created: use the failure file.
		o.failed++
		return o.fileFor(o.failurePath)
	default:
		if f != nil {
			o.closeFile(f)
		}
		if f, err = o.open(path); err != nil {
			return nil, err
		}
		o.files[path] = f
	}
	o.batch[path] = f
	o.touched = append(o.touched, f)
	f.mark = f.cw.size
	f.active = true
	if f.gz != nil {
		f.gz.Reset(f.bw)
	}
	return f, nil
}

func (o *Output) open(path string) (*file, error) {
	if err := os.MkdirAll(filepath.Dir(path), o.dirMode); err != nil {
		return nil, fmt.Errorf("file: create directory: %w", err)
	}
	fd, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, o.fileMode)
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	info, err := fd.Stat()
	if err != nil {
		fd.Close()
		return nil, fmt.Errorf("file: %w", err)
	}
	size := info.Size()
	if o.lines && !o.gzip && !o.overwrite && size > 0 {
		if size, err = o.cutTornLine(fd, path, size); err != nil {
			fd.Close()
			return nil, err
		}
	}
	f := &file{path: path, f: fd, info: info, cw: &countingWriter{f: fd, size: size}}
	f.bw = bufio.NewWriterSize(f.cw, 64<<10)
	if o.gzip {
		f.gz = gzip.NewWriter(f.bw)
		f.enc = o.codec.NewEncoder(f.gz)
	} else {
		f.enc = o.codec.NewEncoder(f.bw)
	}
	return f, nil
}

// maxTornLineScan bounds how far back open looks for the end of the last
// complete line; a longer torn tail is left alone (and logged).
const maxTornLineScan = 64 << 20

// cutTornLine truncates a line-oriented file whose last line has no newline:
// that line is the torn end of a Write the process did not finish (killed
// mid-batch), whose batch was therefore never acknowledged and is delivered
// again. Appending to it would glue the next event onto half a line.
func (o *Output) cutTornLine(fd *os.File, path string, size int64) (int64, error) {
	r, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("file: %w", err)
	}
	defer r.Close()
	buf := make([]byte, 64<<10)
	end := size
	for end > 0 && size-end < maxTornLineScan {
		n := int64(len(buf))
		if end < n {
			n = end
		}
		if _, err := r.ReadAt(buf[:n], end-n); err != nil {
			return 0, fmt.Errorf("file: read %s: %w", path, err)
		}
		if end == size && buf[n-1] == '\n' {
			return size, nil
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			end = end - n + int64(i) + 1
			return o.truncateTail(fd, path, size, end)
		}
		end -= n
	}
	if end == 0 {
		return o.truncateTail(fd, path, size, 0)
	}
	o.log.Warn("file ends with an incomplete line longer than the scan limit; appending after it", "path", path, "limit_bytes", maxTornLineScan)
	return size, nil
}

func (o *Output) truncateTail(fd *os.File, path string, size, end int64) (int64, error) {
	if err := fd.Truncate(end); err != nil {
		return 0, fmt.Errorf("file: cut the incomplete last line of %s: %w", path, err)
	}
	o.log.Warn("cut an incomplete last line left by an interrupted write; its batch is delivered again", "path", path, "bytes", size-end)
	return end, nil
}

// abort undoes the current Write: the files written to are truncated back to
// their size before it and closed, so that the retried batch starts clean.
func (o *Output) abort(err error) error {
	for _, f := range o.touched {
		f.bw.Reset(f.cw) // drop what was not written yet
		if terr := f.f.Truncate(f.mark); terr != nil {
			o.log.Error("cannot truncate file back after a failed write; it may hold a partial batch",
				"path", f.path, "err", terr)
		}
		f.gz = nil
		o.closeFile(f)
	}
	clear(o.batch)
	o.touched = o.touched[:0]
	return err
}

// closeFile closes f without writing anything more and forgets it.
func (o *Output) closeFile(f *file) {
	if err := f.f.Close(); err != nil {
		o.log.Warn("closing file", "path", f.path, "err", err)
	}
	if o.files[f.path] == f {
		delete(o.files, f.path)
	}
}

// closeStale closes files not written to since the previous check, every
// staleInterval.
func (o *Output) closeStale(now time.Time) {
	if o.lastClean.IsZero() {
		o.lastClean = now
		return
	}
	if now.Sub(o.lastClean) < o.staleInterval {
		return
	}
	o.lastClean = now
	for _, f := range o.files {
		if !f.active {
			o.log.Debug("closing stale file", "path", f.path)
			o.closeFile(f)
			continue
		}
		f.active = false
	}
}

// Close closes every open file. Everything was flushed by Write already.
func (o *Output) Close(context.Context) error {
	var errs []error
	for _, f := range o.files {
		if err := f.f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("file: close %s: %w", f.path, err))
		}
	}
	clear(o.files)
	return errors.Join(errs...)
}
