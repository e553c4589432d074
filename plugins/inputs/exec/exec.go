// Package exec implements the exec input, like Logstash's: it runs a shell
// command every interval seconds, or on a cron schedule, and decodes what the
// command wrote on its standard output with its codec (plain by default: the
// whole output is one event's message).
//
// The command runs through /bin/sh -c, as Logstash's Open3.popen2 does for a
// command line with shell syntax; its standard error is not captured (it goes
// to the pipeline's standard error). Each event gets, unless already set by
// the codec:
//
//   - without ECS: host (this machine's name), command, [@metadata][exit_status]
//     and [@metadata][duration] (seconds, a float);
//   - with ECS (v1, v8): [host][name], [process][command_line],
//     [process][exit_code], and [@metadata][input][exec][process][elapsed_time]
//     (Logstash's value: the run's duration in seconds × 1,000,000).
//
// A command killed by a signal has exit status -1 here (Logstash's is nil).
// With interval, the next run starts interval seconds after the previous one
// started, or at once when the run took longer (logged). With schedule, runs
// happen at the cron times (rufus-scheduler syntax: 5 fields, or 6 with
// seconds, and an optional time zone); a run still going at a scheduled time
// delays the next one.
//
// Output size budget: a run's standard output is read up to max_output_bytes
// (MaxOutputBytes, 64 MiB by default; Logstash has no limit); beyond it the
// command is killed, what was read is decoded, and the overflow is logged.
// Stopping the pipeline kills a command still running.
package exec

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	osexec "os/exec"
	"syscall"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/childenv"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/cron"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
)

func init() {
	engine.RegisterInput("exec", New, engine.WithDefaultCodec("plain"))
}

// DefaultMaxOutputBytes is the default budget of one run's standard output.
const DefaultMaxOutputBytes = 64 << 20

// Options configures the exec input.
type Options struct {
	// Command is the command line to run, through /bin/sh -c.
	Command string `hcl:"command"`
	// Interval is the time between the starts of two runs, in seconds. Set
	// interval or schedule, not both.
	Interval *float64 `hcl:"interval,optional"`
	// Schedule is a cron line ("*/5 * * * *", or 6 fields with seconds, and
	// an optional time zone) at whose times the command runs.
	Schedule string `hcl:"schedule,optional"`
	// MaxOutputBytes bounds the standard output read from one run; the
	// command is killed when it writes more (not a Logstash option).
	MaxOutputBytes int64 `hcl:"max_output_bytes,optional"`
	// ecs_compatibility chooses the field names (see the package doc).
	ecs.Compatibility
}

// Defaults sets the defaults.
func (o *Options) Defaults() {
	o.MaxOutputBytes = DefaultMaxOutputBytes
	o.Compatibility.Defaults()
}

// Validate checks the options.
func (o *Options) Validate() error {
	if o.Command == "" {
		return &engine.FieldError{Field: "command", Err: errors.New("must not be empty")}
	}
	if (o.Interval == nil) == (o.Schedule == "") {
		return &engine.FieldError{Field: "interval", Err: errors.New("either 'interval' or 'schedule' option must be defined, not both")}
	}
	if o.Interval != nil && *o.Interval < 0 {
		return &engine.FieldError{Field: "interval", Err: errors.New("must not be negative")}
	}
	if o.Schedule != "" {
		if _, err := cron.Parse(o.Schedule); err != nil {
			return &engine.FieldError{Field: "schedule", Err: err}
		}
	}
	if o.MaxOutputBytes < 1 {
		return &engine.FieldError{Field: "max_output_bytes", Err: errors.New("must be at least 1")}
	}
	return o.Compatibility.Validate()
}

// Input is the exec input.
type Input struct {
	command  string
	interval time.Duration
	sched    *cron.Schedule
	maxOut   int64
	codec    engine.Codec
	batch    int
	log      *slog.Logger
	hostname string

	hostRef, cmdRef, exitRef, elapsedRef, durationRef event.Ref
	ecs                                               bool
}

var _ engine.Input = (*Input)(nil)

// New builds an exec input. r.Codec must be set; the engine always passes one.
func New(o Options, r engine.Resources) (*Input, error) {
	if r.Codec == nil {
		return nil, errors.New("exec: no codec")
	}
	in := &Input{
		command: o.Command,
		maxOut:  o.MaxOutputBytes,
		codec:   r.Codec,
		batch:   max(r.BatchSize, 1),
		log:     r.Logger,
		ecs:     o.Compatibility.ECS(),
	}
	if in.log == nil {
		in.log = slog.New(slog.DiscardHandler)
	}
	if o.Interval != nil {
		in.interval = time.Duration(*o.Interval * float64(time.Second))
	} else {
		in.sched, _ = cron.Parse(o.Schedule)
	}
	in.hostname, _ = os.Hostname()
	if in.ecs {
		in.hostRef = event.MustRef("[host][name]")
		in.cmdRef = event.MustRef("[process][command_line]")
		in.exitRef = event.MustRef("[process][exit_code]")
		in.elapsedRef = event.MustRef("[@metadata][input][exec][process][elapsed_time]")
	} else {
		in.hostRef = event.MustRef("host")
		in.cmdRef = event.MustRef("command")
		in.exitRef = event.MustRef("[@metadata][exit_status]")
		in.durationRef = event.MustRef("[@metadata][duration]")
	}
	return in, nil
}

// Run runs the command on its interval or schedule until ctx is done.
func (in *Input) Run(ctx context.Context, emit engine.EmitFunc) error {
	for {
		var wait time.Duration
		if in.sched != nil {
			now := time.Now()
			next := in.sched.Next(now)
			if next.IsZero() {
				return nil // the schedule has no more times
			}
			wait = next.Sub(now)
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
		start := time.Now()
		if err := in.execute(ctx, emit); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		if in.sched == nil {
			took := time.Since(start)
			rest := in.interval - took
			if rest <= 0 {
				in.log.Warn("execution ran longer than the interval; skipping sleep", "command", in.command, "duration", took, "interval", in.interval)
				continue
			}
			t := time.NewTimer(rest)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
	}
}

// limitedBuffer keeps up to max bytes and reports overflow.
type limitedBuffer struct {
	buf      bytes.Buffer
	max      int64
	overflow bool
	cancel   context.CancelFunc
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	room := b.max - int64(b.buf.Len())
	if int64(len(p)) > room {
		b.buf.Write(p[:max(room, 0)])
		if !b.overflow {
			b.overflow = true
			b.cancel() // kill the command
		}
		return 0, errors.New("output budget exceeded")
	}
	return b.buf.Write(p)
}

// execute runs the command once and emits the events of its output.
func (in *Input) execute(ctx context.Context, emit engine.EmitFunc) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := &limitedBuffer{max: in.maxOut, cancel: cancel}
	cmd := osexec.CommandContext(runCtx, "/bin/sh", "-c", in.command)
	cmd.Stdout = out
	cmd.Stderr = os.Stderr
	cmd.Stdin = nil
	cmd.Env = childenv.Environ() // without the engine's secrets
	// Kill the whole process group: the shell's children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	duration := time.Since(start)
	if ctx.Err() != nil {
		return nil // stopping: the run's output is incomplete
	}
	exit := -1
	if cmd.ProcessState != nil {
		exit = cmd.ProcessState.ExitCode()
	} else if err != nil {
		in.log.Error("error while running command", "command", in.command, "err", err)
		return nil
	}
	if out.overflow {
		in.log.Error("command wrote more than max_output_bytes; it was killed and its output cut", "command", in.command, "max_output_bytes", in.maxOut)
	}
	in.log.Debug("command completed", "command", in.command, "duration", duration, "exit_status", exit)
	return in.emitOutput(out.buf.Bytes(), exit, duration, emit)
}

// emitOutput decodes the output and emits its events with the run's fields.
func (in *Input) emitOutput(output []byte, exit int, duration time.Duration, emit engine.EmitFunc) error {
	dec := in.codec.NewDecoder(bytes.NewReader(output))
	var b engine.Batch
	secs := duration.Seconds()
	for {
		e, err := dec.Decode()
		if err == io.EOF {
			break
		}
		if err != nil {
			in.log.Error("decoding the command's output", "command", in.command, "err", err)
			break
		}
		setIfMissing(e, in.hostRef, in.hostname)
		setIfMissing(e, in.cmdRef, in.command)
		setIfMissing(e, in.exitRef, int64(exit))
		if in.ecs {
			_ = e.Set(in.elapsedRef, int64(secs*1_000_000))
		} else {
			_ = e.Set(in.durationRef, secs)
		}
		b.Events = append(b.Events, e)
		if len(b.Events) >= in.batch {
			if err := emit(b); err != nil {
				return err
			}
			b = engine.Batch{}
		}
	}
	if len(b.Events) > 0 {
		return emit(b)
	}
	return nil
}

func setIfMissing(e *event.Event, r event.Ref, v any) {
	if _, ok := e.Get(r); !ok {
		_ = e.Set(r, v)
	}
}
