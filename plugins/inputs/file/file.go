// Package file implements Logstash's file input: it follows files matching
// glob patterns (tail mode) or reads them once (read mode), line by line, and
// remembers in a sincedb how far each file was read.
//
// Positions are those the pipeline acknowledged: with the memory queue a
// line's offset is recorded only after every event of its batch was delivered
// (or kept in the dead letter queue); with the persisted queue
// (queue.type: persisted), as in Logstash, once the queue holds the batch
// (written, and fsynced as queue.checkpoint.writes says): the queue owns the
// events from then on. A restart neither loses nor re-reads an acknowledged
// line (it may read again lines that were in flight at a crash: at least
// once). The sincedb uses Logstash's format (inode, major and minor device,
// position, last active time, path) and is written every
// sincedb_write_interval and at shutdown, atomically (a temporary file
// renamed over it); with the persisted queue also within 0.1 s of an
// acknowledgement that moved a position, so a crash (SIGKILL) re-reads next
// to nothing the queue already holds, where waiting for the interval re-read
// up to 15 s of lines.
//
// A file is known by its inode and device, as in Logstash: a file renamed by
// log rotation is read to its end under its new name, and the new file at
// the old path is read from its beginning; a file whose size falls below the
// position read (copytruncate, or truncated in place) is read again from its
// start. In tail mode start_position applies only to files found at the first
// discovery and never seen before; files that appear later are read from
// their beginning. Patterns may hold one "**" (any depth of directories).
//
// Multiline events (stack traces) need the multiline codec, which this
// engine does not have yet: each line is one event.
package file

import (
	"cmp"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
)

func init() {
	engine.RegisterInput("file", New, engine.WithDefaultCodec("plain"))
}

// Options configures the file input.
type Options struct {
	// Path are the files to read: absolute paths or glob patterns
	// ("/var/log/*.log", "/var/log/**/*.log").
	Path engine.StringList `hcl:"path"`
	// Exclude are glob patterns matched against file names (not paths) to
	// leave out, e.g. "*.gz".
	Exclude engine.StringList `hcl:"exclude,optional"`
	// Mode is "tail" (follow files as they grow) or "read" (read each file
	// once, then apply file_completed_action).
	Mode string `hcl:"mode,optional"`
	// StartPosition is where tail mode starts on a file seen for the first
	// time at startup: "end" or "beginning".
	StartPosition string `hcl:"start_position,optional"`
	// SincedbPath is the file holding the positions; "/dev/null" (or "NUL")
	// keeps none. Default: <path.data>/plugins/inputs/file/.sincedb_<hash of
	// the patterns>.
	SincedbPath string `hcl:"sincedb_path,optional"`
	// SincedbWriteInterval is how often the positions are written.
	SincedbWriteInterval engine.Seconds `hcl:"sincedb_write_interval,optional"`
	// SincedbCleanAfter forgets the position of a file not seen for this
	// long.
	SincedbCleanAfter engine.Days `hcl:"sincedb_clean_after,optional"`
	// StatInterval is how often files are checked for new data.
	StatInterval engine.Seconds `hcl:"stat_interval,optional"`
	// DiscoverInterval is how often, in stat intervals, the patterns are
	// expanded again to find new files.
	DiscoverInterval int `hcl:"discover_interval,optional"`
	// CloseOlder closes a file that has not grown for this long (it is
	// opened again when it grows).
	CloseOlder engine.Seconds `hcl:"close_older,optional"`
	// IgnoreOlder skips files last modified longer ago than this.
	IgnoreOlder engine.Seconds `hcl:"ignore_older,optional"`
	// MaxOpenFiles bounds the files open at once; the others wait.
	MaxOpenFiles int `hcl:"max_open_files,optional"`
	// Delimiter separates lines.
	Delimiter string `hcl:"delimiter,optional"`
	// FileCompletedAction is what read mode does with a file read to its
	// end and acknowledged: "delete", "log" (append its path to
	// file_completed_log_path) or "log_and_delete".
	FileCompletedAction string `hcl:"file_completed_action,optional"`
	// FileCompletedLogPath is the file the "log" actions append to.
	FileCompletedLogPath string `hcl:"file_completed_log_path,optional"`
	// ExitAfterRead ends the input (read mode) once every file is done.
	ExitAfterRead bool `hcl:"exit_after_read,optional"`
	// FileChunkSize is the size of one read.
	FileChunkSize engine.Bytes `hcl:"file_chunk_size,optional"`
	// FileChunkCount is accepted for compatibility; reads are not limited
	// per file.
	FileChunkCount int `hcl:"file_chunk_count,optional"`
	// FileSortBy orders the files read mode reads: "last_modified" or
	// "path".
	FileSortBy string `hcl:"file_sort_by,optional"`
	// FileSortDirection is "asc" or "desc".
	FileSortDirection string `hcl:"file_sort_direction,optional"`
	// CheckArchiveValidity is accepted for compatibility (gzip files are not
	// read).
	CheckArchiveValidity bool `hcl:"check_archive_validity,optional"`
	// MaxLineBytes bounds one line held in memory; a longer line is passed
	// on in pieces of this size (ours, not Logstash's).
	MaxLineBytes engine.Bytes `hcl:"max_line_bytes,optional"`
	ecs.Compatibility
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Mode = "tail"
	o.StartPosition = "end"
	o.SincedbWriteInterval = engine.Seconds(15 * time.Second)
	o.SincedbCleanAfter = engine.Days(14 * 24 * time.Hour)
	o.StatInterval = engine.Seconds(time.Second)
	o.DiscoverInterval = 15
	o.CloseOlder = engine.Seconds(time.Hour)
	o.MaxOpenFiles = 4095
	o.Delimiter = "\n"
	o.FileChunkSize = 32 << 10
	o.FileChunkCount = 140737488355327
	o.FileSortBy = "last_modified"
	o.FileSortDirection = "asc"
	o.MaxLineBytes = 32 << 20
	o.Compatibility.Defaults()
}

func fieldErr(field, format string, args ...any) error {
	return &engine.FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Validate checks the options.
func (o *Options) Validate() error {
	if len(o.Path) == 0 {
		return fieldErr("path", "give at least one file or pattern")
	}
	relative := ""
	for _, p := range o.Path {
		if !filepath.IsAbs(p) && relative == "" {
			relative = p
		}
		if strings.Count(p, "**") > 1 {
			return fieldErr("path", "%q: one \"**\" per pattern is supported", p)
		}
		if _, err := filepath.Match(strings.ReplaceAll(p, "**", "x"), ""); err != nil {
			return fieldErr("path", "%q: %v", p, err)
		}
	}
	for _, p := range o.Exclude {
		if _, err := filepath.Match(p, ""); err != nil {
			return fieldErr("exclude", "%q: %v", p, err)
		}
	}
	switch {
	case o.Mode != "tail" && o.Mode != "read":
		return fieldErr("mode", "is \"tail\" or \"read\", not %q", o.Mode)
	case o.StartPosition != "end" && o.StartPosition != "beginning":
		return fieldErr("start_position", "is \"end\" or \"beginning\", not %q", o.StartPosition)
	case o.Delimiter == "":
		return fieldErr("delimiter", "must not be empty")
	case o.StatInterval <= 0:
		return fieldErr("stat_interval", "must be positive")
	case o.DiscoverInterval <= 0:
		return fieldErr("discover_interval", "must be positive")
	case o.MaxOpenFiles <= 0:
		return fieldErr("max_open_files", "must be positive")
	case o.FileChunkSize <= 0:
		return fieldErr("file_chunk_size", "must be positive")
	case o.MaxLineBytes <= 0:
		return fieldErr("max_line_bytes", "must be positive")
	case o.FileSortBy != "last_modified" && o.FileSortBy != "path":
		return fieldErr("file_sort_by", "is \"last_modified\" or \"path\", not %q", o.FileSortBy)
	case o.FileSortDirection != "asc" && o.FileSortDirection != "desc":
		return fieldErr("file_sort_direction", "is \"asc\" or \"desc\", not %q", o.FileSortDirection)
	}
	if o.FileCompletedAction != "" {
		switch o.FileCompletedAction {
		case "delete", "log", "log_and_delete":
		default:
			return fieldErr("file_completed_action", "is \"delete\", \"log\" or \"log_and_delete\", not %q", o.FileCompletedAction)
		}
		if strings.HasPrefix(o.FileCompletedAction, "log") && o.FileCompletedLogPath == "" {
			return fieldErr("file_completed_log_path", "is needed with file_completed_action %q", o.FileCompletedAction)
		}
	}
	if err := o.Compatibility.Validate(); err != nil {
		return err
	}
	if relative != "" {
		// Logstash's file input raises this in register (file.rb: "File
		// paths must be absolute, relative path specified"), at start.
		return engine.AtStart(fieldErr("path", "%q is relative; the file input takes absolute paths, as Logstash does", relative))
	}
	return nil
}

// Input is the file input.
type Input struct {
	o       Options
	codec   engine.Codec
	log     *slog.Logger
	sincedb string // "" keeps no positions
	host    string
	batch   int
	ecs     bool
}

// New builds a file input.
func New(o Options, r engine.Resources) (*Input, error) {
	log := cmp.Or(r.Logger, slog.Default())
	in := &Input{o: o, codec: r.Codec, log: log, batch: cmp.Or(r.BatchSize, 125), ecs: o.Compatibility.ECS()}
	if in.o.FileCompletedAction == "" {
		in.o.FileCompletedAction = "delete"
	}
	switch o.SincedbPath {
	case "/dev/null", "NUL":
	case "":
		sum := md5.Sum([]byte(strings.Join(o.Path, ",")))
		in.sincedb = filepath.Join(cmp.Or(r.DataDir, "data"), "plugins", "inputs", "file", ".sincedb_"+hex.EncodeToString(sum[:]))
	default:
		in.sincedb = o.SincedbPath
	}
	in.host, _ = os.Hostname()
	if in.codec == nil {
		return nil, errors.New("file: no codec")
	}
	return in, nil
}

// Run follows the files until ctx is done (tail mode) or every file was read
// (read mode with exit_after_read).
func (in *Input) Run(ctx context.Context, emit engine.EmitFunc) error {
	w, err := newWatcher(in, emit)
	if err != nil {
		return err
	}
	return w.run(ctx)
}

// globAll expands a pattern with at most one "**" (any number of
// directories, none included).
func globAll(pattern string) ([]string, error) {
	i := strings.Index(pattern, "**")
	if i < 0 {
		return filepath.Glob(pattern)
	}
	root := filepath.Dir(pattern[:i] + "x")
	rest := strings.TrimPrefix(pattern[i+2:], string(filepath.Separator))
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return nil
			}
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		segs := strings.Split(rel, string(filepath.Separator))
		for k := range segs {
			if ok, _ := filepath.Match(rest, filepath.Join(segs[k:]...)); ok {
				out = append(out, p)
				break
			}
		}
		return nil
	})
	return out, err
}
