// Package supervisor runs a process's pipelines: it builds them, opens their
// dead letter queues, serves the monitoring API and the status line, replaces
// a pipeline when its configuration changes, and drains or aborts on signals.
// It receives the configuration loader as a function, so the engine never
// depends on a front-end (dsl).
package supervisor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/dlq"
	"github.com/pipelined/pipeline/engine/monitor"
)

// Loader loads the whole configuration `run` was given: once at the start,
// and again at each reload check.
type Loader func() (*ir.Config, hcl.Diagnostics)

// buildFunc builds one pipeline exactly as `check` and the first start do,
// with its dead letter queue not yet opened (nil when it has none).
type buildFunc func(p *ir.Pipeline) (*engine.Pipeline, *dlq.Deferred, hcl.Diagnostics)

// configFingerprint identifies a whole configuration by the content of its
// files (and, for a broken one, by what is wrong with it), so that a file
// rewritten with the same bytes is no change and one edited within the same
// second is.
func configFingerprint(cfg *ir.Config, diags hcl.Diagnostics) string {
	h := sha256.New()
	if cfg != nil {
		names := make([]string, 0, len(cfg.Files))
		for n := range cfg.Files {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(h, "%s\x00%d\x00", n, len(cfg.Files[n].Bytes))
			h.Write(cfg.Files[n].Bytes)
		}
	}
	for _, d := range diags {
		fmt.Fprintf(h, "%d\x00%s\x00%s\x00", d.Severity, d.Summary, d.Detail)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// pipelineFiles are the files a pipeline's blocks were read from.
func pipelineFiles(p *ir.Pipeline) []string {
	var files []string
	add := func(r hcl.Range) {
		if r.Filename != "" && !slices.Contains(files, r.Filename) {
			files = append(files, r.Filename)
		}
	}
	var walk func([]ir.Node)
	walk = func(ns []ir.Node) {
		for _, n := range ns {
			switch n := n.(type) {
			case *ir.Plugin:
				add(n.Range)
			case *ir.If:
				add(n.Range)
				for _, b := range n.Branches {
					walk(b.Body)
				}
				walk(n.Else)
			}
		}
	}
	add(p.Range)
	for _, in := range p.Inputs {
		add(in.Range)
	}
	walk(p.Filters)
	walk(p.Outputs)
	sort.Strings(files)
	return files
}

// notReloadable returns the pipeline's first input that cannot run twice in
// one process, or nil (Logstash, too, does not reload pipelines with stdin).
func notReloadable(p *ir.Pipeline) *ir.Plugin {
	for _, in := range p.Inputs {
		if in.Type == "stdin" {
			return in
		}
	}
	return nil
}

// pipelineFingerprint identifies one pipeline's definition: its id, its
// settings and the content of the files its blocks come from. A pipeline is
// replaced only when this changes, so editing one pipeline of pipelines.yml
// leaves the others running (a file shared by two pipelines restarts both).
func pipelineFingerprint(cfg *ir.Config, p *ir.Pipeline) string {
	h := sha256.New()
	settings, _ := json.Marshal(p.Settings) // json follows the *bool settings
	fmt.Fprintf(h, "%s\x00%s\x00", p.Name, settings)
	for _, n := range pipelineFiles(p) {
		var src []byte
		if f := cfg.Files[n]; f != nil {
			src = f.Bytes
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(src))
		h.Write(src)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// generation is one run of a pipeline: a reload replaces it with a new one
// built from the new configuration.
type generation struct {
	id    string
	fp    string
	files []string
	// fixed is the input, if any, that cannot be stopped and started again
	// in one process (stdin: a read cannot be interrupted, so a second
	// generation would race the first one's reader for lines).
	fixed  *ir.Plugin
	pl     *engine.Pipeline
	dlq    *dlq.Writer
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned; err is then set
	err    error
	// replaced is set before a reload stops the generation, so its end is
	// not taken for the pipeline finishing by itself.
	replaced bool
}

// supervisor runs the pipelines, replaces them when their configuration
// changes, and stops them on SIGINT/SIGTERM.
type supervisor struct {
	load      Loader
	static    bool        // the configuration is a string (-e): nothing to reload
	bus       *engine.Bus // the pipelines' bus; nil in tests without one
	build     buildFunc
	logger    *slog.Logger
	automatic bool
	interval  time.Duration

	ctx   context.Context // cancelled by the first SIGINT/SIGTERM
	ended chan struct{}   // a generation's Run returned

	mu       sync.Mutex
	gens     map[string]*generation // running, by pipeline id
	order    []string               // pipeline ids in configuration order
	finished map[string]string      // fingerprints of pipelines that ended by themselves
	reloads  map[string]*monitor.Reloads
	node     monitor.Reloads
	errs     []error
	lastSeen string // fingerprint of the last configuration acted on
}

func newSupervisor(load Loader, static bool, build buildFunc, reload ir.ReloadSettings, logger *slog.Logger) *supervisor {
	automatic := reload.Automatic != nil && *reload.Automatic
	return &supervisor{load: load, static: static, build: build, logger: logger, automatic: automatic, interval: reload.Interval,
		ended: make(chan struct{}, 1), gens: map[string]*generation{}, finished: map[string]string{},
		reloads: map[string]*monitor.Reloads{}}
}

// sources lists the running pipelines for the monitoring API and the status
// line, following reloads.
func (s *supervisor) sources() []monitor.Source {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []monitor.Source
	for _, id := range s.order {
		if g := s.gens[id]; g != nil {
			out = append(out, monitor.Source{Pipeline: g.pl, DLQ: g.dlq, Reloads: s.reloadsOf(id)})
		}
	}
	return out
}

// reloadsOf returns the pipeline's reload counts; call with mu held.
func (s *supervisor) reloadsOf(id string) *monitor.Reloads {
	r := s.reloads[id]
	if r == nil {
		r = &monitor.Reloads{}
		s.reloads[id] = r
	}
	return r
}

// run starts the pipelines of cfg (built and not yet started) and supervises
// them until every one has stopped. startServices starts the monitoring API
// and the status line and returns their stop function.
func (s *supervisor) run(cfg *ir.Config, pipelines []*engine.Pipeline, dlqs []*dlq.Deferred,
	startServices func(get func() []monitor.Source, node *monitor.Reloads) (stop func())) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.ctx = ctx
	s.lastSeen = configFingerprint(cfg, nil)
	byName := map[string]*ir.Pipeline{}
	for _, p := range cfg.Pipelines {
		byName[p.Name] = p
	}
	// Every dead letter queue opens before any pipeline starts, so a bad one
	// leaves nothing half-started.
	writers := make([]*dlq.Writer, len(pipelines))
	for i, pl := range pipelines {
		if dlqs[i] == nil {
			continue
		}
		w, err := dlqs[i].Open()
		if err != nil {
			for _, w := range writers[:i] {
				closeDLQ(w, s.logger)
			}
			s.logger.Error("cannot open the dead letter queue; nothing was started", "pipeline", pl.Name(), "err", err)
			return engine.ExitRuntime
		}
		writers[i] = w
	}
	stopServices := startServices(s.sources, &s.node)
	defer stopServices()

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	hup := make(chan struct{}, 1)
	sigDone := make(chan struct{})
	defer close(sigDone)
	go s.signals(sigs, hup, cancel, sigDone)

	for i, pl := range pipelines {
		p := byName[pl.Name()]
		s.start(pl, writers[i], cfg, p)
	}
	// Starting the services and the pipelines ran code that runs once.
	releaseExecutablePages()
	var tick <-chan time.Time
	if s.automatic {
		t := time.NewTicker(s.interval)
		defer t.Stop()
		tick = t.C
		s.logger.Info("configuration reload is automatic", "interval", s.interval)
	}
	for {
		select {
		case <-hup:
			if s.static {
				s.logger.Warn("SIGHUP received, but there is nothing to reload: the configuration was given with -e")
				continue
			}
			s.logger.Info("SIGHUP received; checking the configuration for changes")
			s.reload(true)
		case <-tick:
			s.reload(false)
		case <-s.ended:
		}
		if s.reap() == 0 {
			break
		}
	}
	if err := errors.Join(s.errs...); err != nil {
		s.logger.Error("pipeline failed", "err", strings.ReplaceAll(err.Error(), "\n", "; "))
		return engine.ExitRuntime
	}
	return engine.ExitOK
}

// signals handles the signals: SIGHUP asks for a reload check; the first
// SIGINT or SIGTERM drains every pipeline (inputs stop, in-flight events are
// delivered); a second one aborts, leaving undelivered batches
// unacknowledged.
func (s *supervisor) signals(sigs <-chan os.Signal, hup chan<- struct{}, cancel context.CancelFunc, done <-chan struct{}) {
	draining := false
	for {
		select {
		case <-done:
			return
		case sig := <-sigs:
			switch {
			case sig == syscall.SIGHUP:
				select {
				case hup <- struct{}{}:
				default: // a check is already pending
				}
			case !draining:
				draining = true
				s.logger.Info("signal received; draining (send again to force)", "signal", sig.String())
				if s.bus != nil {
					// Pipelines stop senders first: one listening on an
					// address keeps receiving until its senders drained.
					s.bus.Shutdown()
				}
				cancel()
			default:
				s.logger.Warn("second signal; aborting, undelivered events stay unacknowledged", "signal", sig.String())
				s.mu.Lock()
				for _, g := range s.gens {
					g.pl.Abort()
				}
				s.mu.Unlock()
			}
		}
	}
}

// start runs a built pipeline as a new generation.
func (s *supervisor) start(pl *engine.Pipeline, w *dlq.Writer, p *ir.Config, ip *ir.Pipeline) {
	ctx, cancel := context.WithCancel(s.ctx)
	g := &generation{id: pl.Name(), fp: pipelineFingerprint(p, ip), files: pipelineFiles(ip), fixed: notReloadable(ip),
		pl: pl, dlq: w, cancel: cancel, done: make(chan struct{})}
	s.mu.Lock()
	s.gens[g.id] = g
	delete(s.finished, g.id)
	if !slices.Contains(s.order, g.id) {
		s.order = append(s.order, g.id)
	}
	s.mu.Unlock()
	go func() {
		g.err = pl.Run(ctx)
		cancel()
		close(g.done)
		select {
		case s.ended <- struct{}{}:
		default:
		}
	}()
}

// reap forgets the generations that ended by themselves and returns how many
// pipelines still run.
func (s *supervisor) reap() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, g := range s.gens {
		select {
		case <-g.done:
		default:
			continue
		}
		if g.replaced {
			continue // the reload that stopped it takes care of it
		}
		delete(s.gens, id)
		s.finished[id] = g.fp
		if g.err != nil {
			s.errs = append(s.errs, fmt.Errorf("pipeline %s: %w", id, g.err))
		}
		closeDLQ(g.dlq, s.logger)
	}
	return len(s.gens)
}

func closeDLQ(w *dlq.Writer, logger *slog.Logger) {
	if w == nil {
		return
	}
	if err := w.Close(); err != nil {
		logger.Error("closing the dead letter queue failed", "path", w.Dir(), "err", err)
	}
}

// change is what a reload does to one pipeline.
type change struct {
	id  string
	cfg *ir.Config
	p   *ir.Pipeline // nil: the pipeline was removed
	pl  *engine.Pipeline
	q   *dlq.Deferred
}

// reload loads the configuration again and, when it changed, applies it:
// each changed pipeline is built first; one that does not build is refused
// (its diagnostics logged, a failure counted) and its running generation left
// alone; one that builds replaces its running generation once that has
// drained. Pipelines whose definition did not change keep running; removed
// ones are drained; new ones start. force (SIGHUP) checks even a
// configuration that was already refused.
func (s *supervisor) reload(force bool) {
	if s.ctx.Err() != nil {
		return // shutting down
	}
	cfg, diags := s.load()
	fp := configFingerprint(cfg, diags)
	if fp == s.lastSeen && !force {
		return
	}
	s.lastSeen = fp
	if diags.HasErrors() {
		s.refuse(cfg, diags, nil)
		return
	}
	if len(cfg.Pipelines) == 0 {
		s.refuse(cfg, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "No pipelines found",
			Detail: "The new configuration defines no pipeline; the running ones keep running."}}, nil)
		return
	}
	if len(diags) > 0 {
		s.logDiags(cfg, diags, slog.LevelWarn, "")
	}
	s.mu.Lock()
	running := map[string]*generation{}
	for id, g := range s.gens {
		running[id] = g
	}
	finished := maps(s.finished)
	s.mu.Unlock()

	var changes []change
	refused := 0
	seen := map[string]bool{}
	for _, p := range cfg.Pipelines {
		seen[p.Name] = true
		pfp := pipelineFingerprint(cfg, p)
		if g := running[p.Name]; g != nil && g.fp == pfp {
			continue
		}
		if g := running[p.Name]; g == nil && finished[p.Name] == pfp {
			continue // it ran to its end; only a change starts it again
		}
		if g := running[p.Name]; g != nil && g.fixed != nil {
			d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Pipeline not reloadable",
				Detail: fmt.Sprintf("Pipeline %q reads stdin, which cannot be stopped and read again by a new pipeline; restart the process to change it.", p.Name)}
			if in := notReloadable(p); in != nil {
				d.Subject = in.TypeRange.Ptr()
			}
			s.refuse(cfg, hcl.Diagnostics{d}, []string{p.Name})
			refused++
			continue
		}
		pl, q, d := s.build(p)
		if d.HasErrors() || pl == nil {
			s.refuse(cfg, d, []string{p.Name})
			refused++
			continue
		}
		if len(d) > 0 {
			s.logDiags(cfg, d, slog.LevelWarn, p.Name)
		}
		changes = append(changes, change{id: p.Name, cfg: cfg, p: p, pl: pl, q: q})
	}
	for id := range running {
		if !seen[id] {
			changes = append(changes, change{id: id})
		}
	}
	if d := s.checkBus(cfg, running, changes); d.HasErrors() {
		s.refuse(cfg, d, nil)
		return
	} else if len(d) > 0 {
		s.logDiags(cfg, d, slog.LevelWarn, "")
	}
	for _, c := range changes {
		s.apply(c)
	}
	if len(changes) == 0 && refused == 0 {
		s.logger.Info("configuration checked; no pipeline changed")
	}
}

// checkBus checks the addresses of the pipelines the configuration will run
// once the changes are applied: the changed ones as built, the others as
// running. Two pipelines listening on one address refuse the whole reload.
func (s *supervisor) checkBus(cfg *ir.Config, running map[string]*generation, changes []change) hcl.Diagnostics {
	built := map[string]*engine.Pipeline{}
	for _, c := range changes {
		built[c.id] = c.pl
	}
	var pls []*engine.Pipeline
	for _, p := range cfg.Pipelines {
		if pl, ok := built[p.Name]; ok {
			if pl != nil {
				pls = append(pls, pl)
			}
		} else if g := running[p.Name]; g != nil {
			pls = append(pls, g.pl)
		}
	}
	return engine.CheckBus(pls)
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// apply stops the pipeline's running generation, if any, waits until it has
// drained and released its persisted queue, dead letter queue and listening
// ports, then starts the new one, if any.
func (s *supervisor) apply(c change) {
	s.mu.Lock()
	old := s.gens[c.id]
	if old != nil {
		old.replaced = true
	}
	r := s.reloadsOf(c.id)
	s.mu.Unlock()
	if old != nil {
		verb := "replacing"
		if c.pl == nil {
			verb = "stopping removed"
		}
		s.logger.Info(verb+" pipeline; draining it first", "pipeline", c.id)
		old.cancel()
		<-old.done // bounded by the drain; a second SIGINT/SIGTERM aborts it
		s.mu.Lock()
		delete(s.gens, c.id)
		if old.err != nil {
			s.errs = append(s.errs, fmt.Errorf("pipeline %s: %w", c.id, old.err))
		}
		s.mu.Unlock()
		closeDLQ(old.dlq, s.logger)
	}
	if c.pl == nil {
		s.logger.Info("pipeline removed from the configuration; stopped", "pipeline", c.id)
		return
	}
	if s.ctx.Err() != nil {
		s.logger.Info("shutting down; the new pipeline is not started", "pipeline", c.id)
		return
	}
	var w *dlq.Writer
	if c.q != nil {
		var err error
		if w, err = c.q.Open(); err != nil {
			msg := fmt.Sprintf("cannot open the dead letter queue: %v", err)
			s.logger.Error("reload failed; the pipeline is not running; retried at the next check", "pipeline", c.id, "err", msg)
			r.Failed(msg)
			s.node.Failed(msg)
			// The old generation is gone: never exit 0 for this, and let the
			// next check try again although the files did not change.
			s.mu.Lock()
			s.errs = append(s.errs, fmt.Errorf("pipeline %s: %s", c.id, msg))
			s.mu.Unlock()
			s.lastSeen = ""
			return
		}
	}
	s.start(c.pl, w, c.cfg, c.p)
	r.Succeeded()
	s.node.Succeeded()
	if old != nil {
		s.logger.Info("pipeline reloaded", "pipeline", c.id)
	} else {
		s.logger.Info("pipeline added by a reload; started", "pipeline", c.id)
	}
}

// refuse reports a configuration that does not load or build: its
// diagnostics at error level, and a failure counted for the pipelines it
// concerns (ids, or those whose files the errors are in, or else all).
func (s *supervisor) refuse(cfg *ir.Config, diags hcl.Diagnostics, ids []string) {
	lines := s.logDiags(cfg, diags, slog.LevelError, strings.Join(ids, ","))
	msg := strings.Join(lines, "; ")
	s.mu.Lock()
	if ids == nil {
		for id, g := range s.gens {
			for _, d := range diags {
				if d.Subject != nil && slices.Contains(g.files, d.Subject.Filename) {
					ids = append(ids, id)
					break
				}
			}
		}
	}
	if ids == nil {
		for id := range s.gens {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		s.reloadsOf(id).Failed(msg)
	}
	s.mu.Unlock()
	s.node.Failed(msg)
	sort.Strings(ids)
	s.logger.Error("configuration reload refused; the running pipelines keep running unchanged",
		"errors", CountErrors(diags), "pipelines", strings.Join(ids, ","))
}

// logDiags logs each diagnostic on one line, "file:line:col: severity:
// summary: detail" as `pipeline check` prints it, and returns those lines.
func (s *supervisor) logDiags(cfg *ir.Config, diags hcl.Diagnostics, level slog.Level, pipeline string) []string {
	var lines []string
	for _, d := range diags {
		if level == slog.LevelError && d.Severity != hcl.DiagError {
			continue
		}
		var b strings.Builder
		WriteDiagnostics(&b, cfg, hcl.Diagnostics{d})
		first, rest, _ := strings.Cut(b.String(), "\n")
		line := first
		if d.Detail != "" {
			line += ": " + d.Detail
		}
		lines = append(lines, line)
		args := []any{"diagnostic", first}
		if pipeline != "" {
			args = append(args, "pipeline", pipeline)
		}
		if rest = strings.TrimRight(rest, "\n"); rest != "" {
			args = append(args, "detail", rest)
		}
		s.logger.Log(context.Background(), level, "configuration reload", args...)
	}
	return lines
}
