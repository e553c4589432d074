package ruby

import (
	"fmt"

	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/rubyproc"
)

// result is what the code made of one event.
type result struct {
	orig *event.Event   // the event's new content; nil if cancelled
	news []*event.Event // events the code created
	err  string         // the exception, if the code raised one
	tag  bool           // the event could not be sent back and is tagged here
}

// decodeResponse reads the answer to a message of n events: one result
// each, in order.
func decodeResponse(b []byte, n int) ([]result, error) {
	v, err := event.ParseJSON(b)
	if err != nil {
		return nil, fmt.Errorf("ruby co-process: bad answer: %w", err)
	}
	m, _ := v.(map[string]any)
	if msg, ok := m["error"].(string); ok {
		return nil, fmt.Errorf("ruby co-process: %s", msg)
	}
	rs, _ := m["r"].([]any)
	if len(rs) != n {
		return nil, fmt.Errorf("ruby co-process: want %d results, got %d", n, len(rs))
	}
	out := make([]result, n)
	for i, x := range rs {
		r, _ := x.(map[string]any)
		out[i] = decodeResult(r)
	}
	return out, nil
}

func decodeResult(r map[string]any) result {
	var res result
	if o, ok := r["o"].(map[string]any); ok {
		res.orig = rubyproc.FromWire(o)
	}
	news, _ := r["n"].([]any)
	for _, n := range news {
		if w, ok := n.(map[string]any); ok {
			res.news = append(res.news, rubyproc.FromWire(w))
		}
	}
	res.err, _ = r["x"].(string)
	res.tag, _ = r["tag"].(bool)
	return res
}
