package aggregate

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/atomicfile"
)

// maxMapsFileBytes bounds the aggregate_maps_path file read at start; a
// larger one is moved aside as damaged.
const maxMapsFileBytes = 1 << 30

// mapsFileVersion is the format of the aggregate_maps_path file: a JSON
// object {"version": 1, "patterns": {pattern: [task, …]}} where a task is
// {"id", "map" (Ruby's Marshal dump in base64), "created", "last",
// "created_sys", "last_sys" (RFC 3339 times), "timeout",
// "inactivity_timeout" (seconds or null)}, oldest first.
const mapsFileVersion = 1

// load reads the maps file once, before the first event or flush (not when
// the filter is built, so that `check` leaves it alone), and removes it, as
// Logstash. The caller holds st.mu.
func (f *Filter) load() {
	st := f.st
	if st.loaded {
		return
	}
	st.loaded = true
	if st.path == "" {
		return
	}
	n, err := st.read()
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		aside := fmt.Sprintf("%s.damaged-%s", st.path, time.Now().UTC().Format("20060102T150405Z"))
		if rerr := os.Rename(st.path, aside); rerr != nil {
			st.log.Error("aggregate maps file cannot be read, nor moved aside; starting without its maps", "path", st.path, "err", err, "move_err", rerr)
			return
		}
		st.log.Error("aggregate maps file cannot be read; moved aside, starting without its maps", "path", st.path, "moved_to", aside, "err", err)
		return
	}
	if err := os.Remove(st.path); err != nil {
		st.log.Warn("aggregate maps file read but not removed", "path", st.path, "err", err)
	}
	st.log.Info("Aggregate maps loaded from : "+st.path, "maps", n)
}

func (st *state) read() (int, error) {
	fh, err := os.Open(st.path)
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxMapsFileBytes+1))
	if err != nil {
		return 0, err
	}
	if len(b) > maxMapsFileBytes {
		return 0, fmt.Errorf("over the %d-byte limit", maxMapsFileBytes)
	}
	v, err := event.ParseJSON(b)
	if err != nil {
		return 0, err
	}
	doc, _ := v.(map[string]any)
	if ver, _ := doc["version"].(int64); ver != mapsFileVersion {
		return 0, fmt.Errorf("not a maps file of version %d", mapsFileVersion)
	}
	pats, ok := doc["patterns"].(map[string]any)
	if !ok {
		return 0, errors.New(`no "patterns" object`)
	}
	loaded := map[string][]*task{}
	n := 0
	for name, tv := range pats {
		list, ok := tv.([]any)
		if !ok {
			return 0, fmt.Errorf("pattern %q: not a list", name)
		}
		for _, x := range list {
			t, err := taskOf(x)
			if err != nil {
				return 0, fmt.Errorf("pattern %q: %w", name, err)
			}
			loaded[name] = append(loaded[name], t)
			n++
		}
	}
	for name, tasks := range loaded {
		pat := st.patterns[name]
		if pat == nil {
			pat = newPattern()
			st.patterns[name] = pat
		}
		for _, t := range tasks {
			pat.remove(t.id)
			pat.add(t)
		}
	}
	return n, nil
}

func taskOf(x any) (*task, error) {
	m, ok := x.(map[string]any)
	if !ok {
		return nil, errors.New("a task is not an object")
	}
	t := &task{}
	var ok1, ok2 bool
	t.id, ok1 = m["id"].(string)
	t.blob, ok2 = m["map"].(string)
	if !ok1 || !ok2 {
		return nil, errors.New(`a task without "id" or "map"`)
	}
	for _, f := range []struct {
		key string
		dst *time.Time
	}{{"created", &t.created}, {"last", &t.last}, {"created_sys", &t.createdSys}, {"last_sys", &t.lastSys}} {
		s, _ := m[f.key].(string)
		tt, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fmt.Errorf("task %q: %s: %w", t.id, f.key, err)
		}
		*f.dst = tt
	}
	t.timeout, t.inactivity = number(m["timeout"]), number(m["inactivity_timeout"])
	return t, nil
}

// store writes every map to the maps file (a new file renamed over, so a
// crash leaves the old one or the new one). The caller holds st.mu.
func (st *state) store() error {
	pats := map[string]any{}
	n := 0
	for name, pat := range st.patterns {
		var tasks []any
		for el := pat.tasks.Front(); el != nil; el = el.Next() {
			t := el.Value.(*task)
			tasks = append(tasks, map[string]any{
				"id": t.id, "map": t.blob,
				"created": t.created.Format(time.RFC3339Nano), "last": t.last.Format(time.RFC3339Nano),
				"created_sys": t.createdSys.Format(time.RFC3339Nano), "last_sys": t.lastSys.Format(time.RFC3339Nano),
				"timeout": floatOrNil(t.timeout), "inactivity_timeout": floatOrNil(t.inactivity),
			})
			n++
		}
		if len(tasks) > 0 {
			pats[name] = tasks
		}
	}
	if n == 0 {
		return nil
	}
	b := event.AppendJSONValue(nil, map[string]any{"version": int64(mapsFileVersion), "patterns": pats})
	if err := atomicfile.Write(st.path, b, 0o600); err != nil {
		return fmt.Errorf("aggregate: storing maps to %s: %w", st.path, err)
	}
	st.log.Info("Aggregate maps stored to : "+st.path, "maps", n)
	return nil
}
