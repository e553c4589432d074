package aggregate

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// logBuf collects what the filters log.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// pipeline builds aggregate filters sharing one pipeline's state, as Build
// does, with a clock the test moves.
type pipeline struct {
	shared map[string]any
	log    *slog.Logger
	buf    *logBuf
	clock  time.Time
}

func newPipeline() *pipeline {
	b := &logBuf{}
	return &pipeline{shared: map[string]any{}, buf: b, log: slog.New(slog.NewTextHandler(b, nil)),
		clock: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (p *pipeline) filter(t *testing.T, o Options) *Filter {
	t.Helper()
	d := Options{}
	d.Defaults()
	if o.MapAction == "" {
		o.MapAction = d.MapAction
	}
	if o.MaxMaps == 0 {
		o.MaxMaps = d.MaxMaps
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	f, err := New(o, engine.Resources{Logger: p.log, Shared: func(k string, mk func() any) any {
		if v, ok := p.shared[k]; ok {
			return v
		}
		v := mk()
		p.shared[k] = v
		return v
	}})
	if err != nil {
		t.Fatal(err)
	}
	f.st.now = func() time.Time { return p.clock }
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func ev(fields map[string]any) *event.Event {
	e, err := event.FromMap(fields)
	if err != nil {
		panic(err)
	}
	return e
}

func get(e *event.Event, ref string) any {
	v, _ := e.Get(event.MustRef(ref))
	return v
}

// Maps written at shutdown are there at the next start, and the file is
// gone once read.
func TestMapsPersistAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maps")
	o := Options{TaskID: "%{id}", Code: "map['n'] = (map['n'] || 0) + 1; event.set('n', map['n'])", AggregateMapsPath: path}
	p := newPipeline()
	f := p.filter(t, o)
	for _, id := range []string{"a", "b", "a"} {
		if _, err := f.Filter(context.Background(), ev(map[string]any{"id": id}), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no maps file after close: %v", err)
	}
	f2 := newPipeline().filter(t, o)
	e := ev(map[string]any{"id": "a"})
	if _, err := f2.Filter(context.Background(), e, nil); err != nil || get(e, "n") != int64(3) {
		t.Fatalf("after restart n = %v (err %v); want 3", get(e, "n"), err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("maps file still there after it was read: %v", err)
	}
	if got := f2.pat.tasks.Len(); got != 2 {
		t.Fatalf("%d maps after restart; want 2", got)
	}
}

// A maps file that cannot be read is moved aside with an error naming both
// files, and the pipeline starts without maps.
func TestDamagedMapsFileIsQuarantined(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maps")
	if err := os.WriteFile(path, []byte(`{"version":1,"patterns":{"%{id}":[{"id":"a","map":`), 0o644); err != nil {
		t.Fatal(err)
	}
	p := newPipeline()
	f := p.filter(t, Options{TaskID: "%{id}", Code: "event.set('n', map.size)", AggregateMapsPath: path})
	e := ev(map[string]any{"id": "a"})
	if _, err := f.Filter(context.Background(), e, nil); err != nil || get(e, "n") != int64(0) {
		t.Fatalf("n = %v err %v; want an empty map", get(e, "n"), err)
	}
	aside, _ := filepath.Glob(path + ".damaged-*")
	if len(aside) != 1 {
		t.Fatalf("moved aside: %v", aside)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("damaged file still at its path: %v", err)
	}
	if log := p.buf.String(); !strings.Contains(log, path) || !strings.Contains(log, aside[0]) {
		t.Fatalf("log does not name both files:\n%s", log)
	}
}

// max_maps evicts the oldest map when a new task comes, pushing it when a
// push option is set, counted and logged.
func TestMaxMapsEvictsTheOldest(t *testing.T) {
	p := newPipeline()
	f := p.filter(t, Options{TaskID: "%{id}", Code: "map['id'] = event.get('id')", MaxMaps: 2, PushMapAsEventOnTimeout: true})
	var out []*event.Event
	for _, id := range []string{"a", "b", "c"} {
		var err error
		if out, err = f.Filter(context.Background(), ev(map[string]any{"id": id}), nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(out) != 2 || get(out[1], "id") != "a" {
		t.Fatalf("third task out = %d events (second %v); want the event and a's map", len(out), out)
	}
	if c := f.Counters(); c[4].Name != "maps_evicted" || c[4].Value != 1 {
		t.Fatalf("counters %+v", c)
	}
	if !strings.Contains(p.buf.String(), "max_maps") {
		t.Fatal("eviction not logged")
	}
}

// Flushes expire maps by the clock: timeout since the first event,
// inactivity since the last; only every inactivity_timeout/2.
func TestFlushExpiresByClock(t *testing.T) {
	p := newPipeline()
	timeout, inactivity := 100.0, 30.0
	f := p.filter(t, Options{TaskID: "%{id}", Code: "map['id'] = event.get('id')", PushMapAsEventOnTimeout: true, Timeout: &timeout, InactivityTimeout: &inactivity})
	flush := func() []string {
		var ids []string
		for _, e := range f.Flush(context.Background(), false, nil) {
			ids = append(ids, get(e, "id").(string))
		}
		return ids
	}
	f.Filter(context.Background(), ev(map[string]any{"id": "a"}), nil)
	f.Filter(context.Background(), ev(map[string]any{"id": "b"}), nil)
	if got := flush(); len(got) != 0 {
		t.Fatalf("first flush pushed %v", got)
	}
	for range 4 { // b stays active, a goes quiet
		p.clock = p.clock.Add(20 * time.Second)
		f.Filter(context.Background(), ev(map[string]any{"id": "b"}), nil)
		if got := flush(); len(got) > 0 {
			if p.clock.Sub(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) < 31*time.Second || got[0] != "a" || len(got) != 1 {
				t.Fatalf("at +%v pushed %v; want a once, after 30 s", p.clock.Sub(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)), got)
			}
		}
	}
	p.clock = p.clock.Add(30 * time.Second) // 110 s after b's first event
	if got := flush(); len(got) != 1 || got[0] != "b" {
		t.Fatalf("after timeout pushed %v; want b", got)
	}
	if f.pat.tasks.Len() != 0 {
		t.Fatalf("%d maps left", f.pat.tasks.Len())
	}
}

// A co-process that dies fails the event in flight (tagged, map unchanged)
// and the next event gets a new one.
func TestCoProcessCrashKeepsTheMap(t *testing.T) {
	p := newPipeline()
	f := p.filter(t, Options{TaskID: "%{id}", Code: "exit!(1) if event.get('die'); map['n'] = (map['n'] || 0) + 1; event.set('n', map['n'])"})
	for i, c := range []struct {
		die  bool
		want any
	}{{false, int64(1)}, {true, nil}, {false, int64(2)}} {
		e := ev(map[string]any{"id": "a", "die": c.die})
		out, err := f.Filter(context.Background(), e, nil)
		if len(out) != 1 || get(e, "n") != c.want || (c.die != (err != nil)) || c.die != e.HasTag("_aggregateexception") {
			t.Fatalf("event %d: n = %v, err %v, tags %v; want n %v", i, get(e, "n"), err, e.Tags(), c.want)
		}
	}
	if c := f.Counters(); c[5].Value != 1 {
		t.Fatalf("co_process_failures = %d; want 1", c[5].Value)
	}
}
