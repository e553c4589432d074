package ruby

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"time"

	"github.com/pipelined/pipeline/engine/event"
)

// maxFrame bounds one message from the co-process, so that code returning a
// runaway event cannot make the engine allocate without limit.
const maxFrame = 256 << 20

// maxLogLine bounds one line the code prints; the rest of a longer line is
// skipped.
const maxLogLine = 8 << 10

// proc is one Ruby co-process: requests go to its fd 3, answers come from its
// fd 4, so that what the code prints cannot corrupt the protocol.
type proc struct {
	cmd  *exec.Cmd
	w    *os.File
	r    *bufio.Reader
	rf   *os.File
	buf  []byte
	done chan struct{} // closed when the process has been waited for
}

// start runs a co-process and sends it the filter's code.
func (f *Filter) start() (*proc, error) {
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	respR, respW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		closeAll(reqR, reqW, respR, respW)
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll(reqR, reqW, respR, respW, outR, outW)
		return nil, err
	}
	cmd := exec.Command(f.bin, "-e", shim)
	cmd.ExtraFiles = []*os.File{reqR, respW}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, outW, errW
	err = cmd.Start()
	closeAll(reqR, respW, outW, errW)
	if err != nil {
		closeAll(reqW, respR, outR, errR)
		return nil, fmt.Errorf("starting %s: %w", f.bin, err)
	}
	p := &proc{cmd: cmd, w: reqW, rf: respR, r: bufio.NewReaderSize(respR, 64<<10), done: make(chan struct{})}
	go relay(outR, f.log, slog.LevelInfo, "ruby stdout")
	go relay(errR, f.log, slog.LevelWarn, "ruby stderr")
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	resp, err := p.call(f.init)
	if err != nil {
		p.close()
		return nil, err
	}
	v, err := event.ParseJSON(resp)
	if err != nil {
		p.close()
		return nil, fmt.Errorf("ruby co-process: bad answer: %w", err)
	}
	m, _ := v.(map[string]any)
	if msg, ok := m["error"].(string); ok {
		p.close()
		return nil, fmt.Errorf("ruby: %s", msg)
	}
	if t, ok := m["tests"].(map[string]any); ok {
		f.log.Info("ruby script tests passed", "passed", t["passed"])
	}
	return p, nil
}

func closeAll(fs ...*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// call sends one frame and reads the answer.
func (p *proc) call(req []byte) ([]byte, error) {
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
func (p *proc) exitErr(err error) error {
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

// close ends the process: EOF on its requests makes the shim return; one
// that does not within a few seconds is killed.
func (p *proc) close() {
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
