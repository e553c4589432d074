package supervisor

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/dlq"
	"github.com/pipelined/pipeline/engine/monitor"
)

// Options are what `run` and `check` were given, flags already validated.
type Options struct {
	// Load loads the configuration, at the start and at each reload check.
	Load Loader
	// Source names the configuration in messages (the -f path).
	Source string
	// Static is true when the configuration is a string (-e): SIGHUP has
	// nothing to reload.
	Static bool
	// Check only loads and builds the configuration and reports.
	Check bool
	// Workers and BatchSize come from the flags; 0: the pipeline's own
	// setting, else the default.
	Workers, BatchSize int
	// Settings are the process's settings and every pipeline's defaults
	// (the flags under Logstash's names).
	Settings ir.ProcessSettings
	Logger   *slog.Logger
	Version  string // reported by the monitoring API
	Registry *engine.Registry
}

// Run loads and builds every pipeline and, unless o.Check, runs them under
// supervision until they all stop. Diagnostics go to stderr, "Configuration
// OK" to stdout. It returns the process's exit code.
func Run(o Options, stdout, stderr io.Writer) int {
	reg := o.Registry
	if reg == nil {
		reg = engine.Default
	}
	ps, logger := o.Settings, o.Logger
	cfg, diags := o.Load()
	// One bus for the process: pipeline outputs reach the pipeline inputs
	// of every pipeline, across reloads.
	bus := engine.NewBus()
	settings := engine.Settings{Workers: o.Workers, BatchSize: o.BatchSize, Logger: logger, DataDir: ps.DataPath, Bus: bus, Check: o.Check}
	build := func(p *ir.Pipeline) (*engine.Pipeline, *dlq.Deferred, hcl.Diagnostics) {
		es := settings
		s := p.Settings.Or(ps.Pipeline)
		if w := cmp.Or(o.Workers, s.Workers, runtime.NumCPU()); s.Ordered == "true" && w != 1 {
			// As Logstash, which refuses to start such a pipeline: order
			// is kept with one worker only.
			return nil, nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "pipeline.ordered: true needs one worker",
				Detail:  fmt.Sprintf("Pipeline %q would run %d workers; give it pipeline.workers: 1 (-w 1), or pipeline.ordered: auto.", p.Name, w),
				Subject: p.Range.Ptr()}}
		}
		if o.Check {
			// The start reads the keys; check must fail where it would.
			if d := keyDiags(p.Name, s); d.HasErrors() {
				return nil, nil, d
			}
		}
		es.Queue = queueSettings(s.Queue, p.Name, ps.DataPath)
		q := deadLetterQueue(ps.DataPath, p.Name, s.DeadLetterQueue, logger)
		if q != nil {
			es.DeadLetter = q
		}
		// The pipeline's own settings over logstash.yml's and the flags'
		// (workers, batch size and delay); a copy, so the configuration's
		// fingerprint stays the pipeline's own.
		pc := *p
		pc.Settings = s
		pl, d := engine.Build(&pc, reg, es)
		return pl, q, d
	}
	var (
		pipelines []*engine.Pipeline
		dlqs      []*dlq.Deferred
	)
	if cfg != nil {
		for _, p := range cfg.Pipelines {
			pl, q, d := build(p)
			diags = append(diags, d...)
			if pl != nil {
				pipelines = append(pipelines, pl)
				dlqs = append(dlqs, q)
			}
		}
	}
	if !diags.HasErrors() {
		diags = append(diags, engine.CheckBus(pipelines)...)
	}
	if diags.HasErrors() {
		WriteDiagnostics(stderr, cfg, diags)
		fmt.Fprintf(stderr, "%d error(s) found; nothing was started.\n", CountErrors(diags))
		return engine.ExitConfig
	}
	if len(diags) > 0 {
		WriteDiagnostics(stderr, cfg, diags)
	}
	if o.Check {
		fmt.Fprintln(stdout, "Configuration OK")
		return engine.ExitOK
	}
	if len(pipelines) == 0 {
		fmt.Fprintln(stderr, "pipeline: no pipelines found in", o.Source)
		return engine.ExitConfig
	}
	defer SetMemorySoftLimit(ps.MemorySoftLimit, logger)()
	defer releaseStartupPages(logger)()
	sv := newSupervisor(o.Load, o.Static, build, ps.Reload, logger)
	sv.bus = bus
	return sv.run(cfg, pipelines, dlqs,
		func(get func() []monitor.Source, node *monitor.Reloads) func() {
			return startServices(ps, get, node, sv.automatic, o.Version, logger)
		})
}

// CountErrors returns how many of diags are errors.
func CountErrors(diags hcl.Diagnostics) int {
	n := 0
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			n++
		}
	}
	return n
}

// WriteDiagnostics prints each diagnostic as "file:line:col: severity:
// summary", its detail, and the source line with the range underlined.
func WriteDiagnostics(w io.Writer, cfg *ir.Config, diags hcl.Diagnostics) {
	diags = slices.Clone(diags)
	// Front-end and engine errors interleave in file order.
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		if a == nil || b == nil {
			return a != nil
		}
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
	for _, d := range diags {
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		if d.Subject == nil {
			fmt.Fprintf(w, "%s: %s\n", sev, d.Summary)
		} else {
			s := d.Subject
			fmt.Fprintf(w, "%s:%d:%d: %s: %s\n", s.Filename, s.Start.Line, s.Start.Column, sev, d.Summary)
		}
		if d.Detail != "" {
			fmt.Fprintf(w, "    %s\n", d.Detail)
		}
		if d.Subject != nil && cfg != nil {
			if f := cfg.Files[d.Subject.Filename]; f != nil {
				writeSnippet(w, f.Bytes, *d.Subject)
			}
		}
	}
}

func writeSnippet(w io.Writer, src []byte, r hcl.Range) {
	lines := strings.Split(string(src), "\n")
	if r.Start.Line < 1 || r.Start.Line > len(lines) {
		return
	}
	line := strings.TrimRight(lines[r.Start.Line-1], "\r")
	fmt.Fprintf(w, "%5d | %s\n", r.Start.Line, line)
	width := 1
	if r.End.Line == r.Start.Line && r.End.Column > r.Start.Column {
		width = r.End.Column - r.Start.Column
	}
	pad := make([]byte, 0, r.Start.Column)
	for i, c := range []rune(line) {
		if i >= r.Start.Column-1 {
			break
		}
		if c == '\t' {
			pad = append(pad, '\t')
		} else {
			pad = append(pad, ' ')
		}
	}
	fmt.Fprintf(w, "      | %s%s\n", pad, strings.Repeat("^", width))
}
