// Package rubyproc runs Ruby co-processes for the plugins that take Ruby
// code (the ruby and aggregate filters): Debian's ruby (or $PIPELINE_RUBY)
// running shim.rb, which provides Logstash's Ruby API (LogStash::Event,
// LogStash::Timestamp, @logger, new_event_block) and answers requests of
// length-prefixed JSON on fd 3 and 4, and the wire form of events.
package rubyproc

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"time"

	"github.com/pipelined/pipeline/engine/childenv"
	"github.com/pipelined/pipeline/engine/event"
)

//go:embed shim.rb
var shim string

// Binary is the Ruby interpreter: $PIPELINE_RUBY or ruby on PATH.
func Binary() (string, error) {
	name := os.Getenv("PIPELINE_RUBY")
	if name == "" {
		name = "ruby"
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("Ruby code runs with a Ruby interpreter, and %q was not found (install Ruby, e.g. the Debian package ruby, or set PIPELINE_RUBY): %w", name, err)
	}
	return p, nil
}

// JavaOnly finds what only JRuby runs.
var JavaOnly = regexp.MustCompile(`\bjava_import\b|\bJava::|\brequire\s*\(?\s*['"]java['"]|\.to_java\b|\bJRuby\b|\bjava\.(lang|util|io|net|nio|time|text|security)\.[A-Z]`)

// maxFrame bounds one message from the co-process, so that code returning a
// runaway event cannot make the engine allocate without limit.
const maxFrame = 256 << 20

// maxLogLine bounds one line the code prints; the rest of a longer line is
// skipped.
const maxLogLine = 8 << 10

// Proc is one Ruby co-process: requests go to its fd 3, answers come from its
// fd 4, so that what the code prints cannot corrupt the protocol. It serves
// one caller at a time.
type Proc struct {
	cmd  *exec.Cmd
	w    *os.File
	r    *bufio.Reader
	rf   *os.File
	Buf  []byte        // a request buffer the caller may reuse
	done chan struct{} // closed when the process has been waited for
}

// Done is closed once the process has ended and been waited for.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Start runs a co-process of bin and sends it init, the request that sets
// it up (the code to run); it returns the answer to init, which must not
// hold an "error".
func Start(bin string, init []byte, log *slog.Logger) (*Proc, map[string]any, error) {
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	respR, respW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		closeAll(reqR, reqW, respR, respW)
		return nil, nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll(reqR, reqW, respR, respW, outR, outW)
		return nil, nil, err
	}
	cmd := exec.Command(bin, "-e", shim)
	cmd.ExtraFiles = []*os.File{reqR, respW}
	cmd.Env = childenv.Environ() // without the engine's secrets
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, outW, errW
	err = cmd.Start()
	closeAll(reqR, respW, outW, errW)
	if err != nil {
		closeAll(reqW, respR, outR, errR)
		return nil, nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p := &Proc{cmd: cmd, w: reqW, rf: respR, r: bufio.NewReaderSize(respR, 64<<10), done: make(chan struct{})}
	go relay(outR, log, slog.LevelInfo, "ruby stdout")
	go relay(errR, log, slog.LevelWarn, "ruby stderr")
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	resp, err := p.Call(init)
	if err != nil {
		p.Close()
		return nil, nil, err
	}
	v, err := event.ParseJSON(resp)
	if err != nil {
		p.Close()
		return nil, nil, fmt.Errorf("ruby co-process: bad answer: %w", err)
	}
	m, _ := v.(map[string]any)
	if msg, ok := m["error"].(string); ok {
		p.Close()
		return nil, nil, fmt.Errorf("ruby: %s", msg)
	}
	return p, m, nil
}

func closeAll(fs ...*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// Call sends one frame and reads the answer.
func (p *Proc) Call(req []byte) ([]byte, error) {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(req)))
	if _, err := p.w.Write(append(hdr[:], req...)); err != nil {
		return nil, p.exitErr(err)
	}
	if _, err := io.ReadFull(p.r, hdr[:]); err != nil {
		return nil, p.exitErr(err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrame {
		return nil, fmt.Errorf("ruby co-process: an answer of %d bytes is over the %d-byte limit", n, maxFrame)
	}
	resp := make([]byte, n)
	if _, err := io.ReadFull(p.r, resp); err != nil {
		return nil, p.exitErr(err)
	}
	return resp, nil
}

// exitErr explains a broken pipe by how the process ended, when it did.
func (p *Proc) exitErr(err error) error {
	select {
	case <-p.done:
	case <-time.After(time.Second):
		return fmt.Errorf("ruby co-process: %w", err)
	}
	if st := p.cmd.ProcessState; st != nil {
		return fmt.Errorf("ruby co-process ended (%s)", st)
	}
	return fmt.Errorf("ruby co-process: %w", err)
}

// Close ends the process: EOF on its requests makes the shim return; one
// that does not within a few seconds is killed.
func (p *Proc) Close() {
	p.w.Close()
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.rf.Close()
}

// relay logs what the co-process prints, line by line. Lines the shim's
// @logger writes start with \x01 and the level.
func relay(r *os.File, log *slog.Logger, level slog.Level, what string) {
	defer r.Close()
	br := bufio.NewReaderSize(r, maxLogLine)
	for {
		line, err := br.ReadSlice('\n')
		long := errors.Is(err, bufio.ErrBufferFull)
		if len(line) > 0 {
			emit(log, level, what, line, long)
		}
		for long {
			_, err = br.ReadSlice('\n')
			long = errors.Is(err, bufio.ErrBufferFull)
		}
		if err != nil {
			return
		}
	}
}

func emit(log *slog.Logger, level slog.Level, what string, line []byte, truncated bool) {
	s := string(line)
	if n := len(s); n > 0 && s[n-1] == '\n' {
		s = s[:n-1]
	}
	if len(s) > 1 && s[0] == 1 {
		lvl, msg, _ := cut(s[1:])
		switch lvl {
		case "trace", "debug":
			level = slog.LevelDebug
		case "info":
			level = slog.LevelInfo
		case "warn":
			level = slog.LevelWarn
		default:
			level = slog.LevelError
		}
		what, s = "ruby filter", msg
	}
	if truncated {
		log.Log(context.Background(), level, what, "line", s, "truncated_at", maxLogLine)
		return
	}
	log.Log(context.Background(), level, what, "line", s)
}

func cut(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// ErrorLog logs the first error and then at most one a minute with the
// count of those not logged, so that code failing on every event cannot
// flood the log.
type ErrorLog struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// Log logs msg and err, unless one was logged less than a minute ago.
func (l *ErrorLog) Log(log *slog.Logger, msg string, err error, args ...any) {
	l.mu.Lock()
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < time.Minute {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	log.Error(msg, append([]any{"err", err, "not_logged_since_last", n}, args...)...)
}
