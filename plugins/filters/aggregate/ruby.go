package aggregate

import (
	"errors"
	"fmt"
	"time"

	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/rubyproc"
)

// result is what the code made of an event and its task's map.
type result struct {
	kept                bool           // the event was not cancelled (its content is in e)
	news                []*event.Event // new_event_block's events
	blob                string         // the map after the code
	timeout, inactivity *float64       // map_meta's
	err                 string         // the code's exception
}

// call sends one request to the filter's co-process (started when needed)
// and returns the answer; a co-process that fails is stopped, counted, and
// started again on the next call. The caller holds st.mu.
func (f *Filter) call(req []byte) (map[string]any, error) {
	if f.proc == nil {
		p, _, err := rubyproc.Start(f.bin, f.init, f.log)
		if err != nil {
			f.procFailures.Add(1)
			return nil, err
		}
		f.proc = p
	}
	resp, err := f.proc.Call(req)
	if err == nil && len(resp) > maxMapBytes*2 {
		err = fmt.Errorf("ruby co-process: an answer of %d bytes is over the %d-byte limit", len(resp), maxMapBytes*2)
	}
	var v any
	if err == nil {
		v, err = event.ParseJSON(resp)
	}
	if err != nil {
		f.proc.Close()
		f.proc = nil
		f.procFailures.Add(1)
		return nil, err
	}
	m, _ := v.(map[string]any)
	if msg, ok := m["error"].(string); ok {
		return nil, errors.New(msg)
	}
	return m, nil
}

// run runs the code on e with task t's map.
func (f *Filter) run(e *event.Event, t *task, sys time.Time) (result, error) {
	req := append(f.reqBuf[:0], `{"op":"aggregate","event":`...)
	req = rubyproc.AppendEvent(req, e)
	req = append(req, `,"map":`...)
	req = event.AppendJSONValue(req, t.blob)
	meta := map[string]any{
		"task_id": t.id, "created": t.created.UnixNano(), "last": t.last.UnixNano(),
		"created_diff": int64(sys.Sub(t.created) / time.Second), "last_diff": int64(sys.Sub(t.last) / time.Second),
		"timeout": floatOrNil(t.timeout), "inactivity_timeout": floatOrNil(t.inactivity),
	}
	req = append(req, `,"meta":`...)
	req = event.AppendJSONValue(req, meta)
	req = append(req, '}')
	f.reqBuf = req
	m, err := f.call(req)
	if err != nil {
		return result{}, err
	}
	var res result
	if o, ok := m["o"].(map[string]any); ok {
		e.Replace(rubyproc.FromWire(o))
		res.kept = true
	}
	if news, ok := m["n"].([]any); ok {
		for _, n := range news {
			if w, ok := n.(map[string]any); ok {
				res.news = append(res.news, e.Derive(rubyproc.FromWire(w)))
			}
		}
	}
	res.blob, _ = m["map"].(string)
	if len(res.blob) > maxMapBytes {
		return result{}, fmt.Errorf("the map of task %q is %d bytes, over the %d-byte limit", t.id, len(res.blob), maxMapBytes)
	}
	res.timeout, res.inactivity = number(m["timeout"]), number(m["inactivity_timeout"])
	res.err, _ = m["x"].(string)
	return res, nil
}

func floatOrNil(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func number(v any) *float64 {
	switch x := v.(type) {
	case float64:
		return &x
	case int64:
		f := float64(x)
		return &f
	}
	return nil
}

// pushTask makes the event of an expired or previous task's map
// (Logstash's create_timeout_event) and appends it to out; a map that
// cannot become an event is logged and counted.
func (f *Filter) pushTask(t *task, out []*event.Event) []*event.Event {
	req := map[string]any{"op": "timeout_event", "map": t.blob, "task_id": t.id, "tags": anySlice(f.o.TimeoutTags)}
	if f.o.TimeoutTaskIDField != "" {
		req["task_id_field"] = f.o.TimeoutTaskIDField
	}
	m, err := f.call(event.AppendJSONValue(nil, req))
	if err != nil {
		f.timeoutCodeErrors.Add(1)
		f.errs.Log(f.log, "aggregate map not pushed: it could not become an event", err, "task_id", t.id)
		return out
	}
	o, _ := m["o"].(map[string]any)
	if o == nil {
		return out
	}
	e := rubyproc.FromWire(o)
	if x, ok := m["x"].(string); ok {
		f.timeoutCodeErrors.Add(1)
		f.errs.Log(f.log, "Aggregate exception occurred", errors.New("timeout_code: "+x), "task_id", t.id)
	}
	f.pushed.Add(1)
	return append(out, e)
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
