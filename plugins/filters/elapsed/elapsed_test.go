package elapsed

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

func startEvent(t *testing.T, id string, at time.Time) *event.Event {
	t.Helper()
	e := event.NewMessage("start")
	e.SetTimestamp(at)
	e.AddTag("start")
	_ = e.Set(event.MustRef("id"), id)
	return e
}

// TestFlushExpires is Logstash's "#flush" spec: every flush ages the start
// events by 5 s, those reaching timeout (30 s) are forgotten and reported
// by an event tagged elapsed_expired_error with host, the id, elapsed_time
// (the age) and elapsed_timestamp_start.
func TestFlushExpires(t *testing.T) {
	f := plugintest.MustNew(t, New, `start_tag = "start"
end_tag = "end"
unique_id_field = "id"
timeout = 30`, engine.Resources{})
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	ctx := context.Background()
	f.Filter(ctx, startEvent(t, "1", t0), nil)
	f.Filter(ctx, startEvent(t, "2", t0.Add(time.Second)), nil)
	for i := 0; i < 5; i++ {
		if out := f.Flush(ctx, false, nil); len(out) != 0 {
			t.Fatalf("flush %d expired %d events; want none before 30 s", i+1, len(out))
		}
	}
	f.Filter(ctx, startEvent(t, "3", t0.Add(2*time.Second)), nil) // age 0
	out := f.Flush(ctx, false, nil)
	if len(out) != 2 {
		t.Fatalf("flush 6 expired %d events; want 2", len(out))
	}
	host, _ := os.Hostname()
	for i, e := range out {
		id, _ := e.GetString(event.MustRef("id"))
		age, _ := e.Get(elapsedTimeRef)
		start, _ := e.Get(timestampRef)
		h, _ := e.GetString(hostRef)
		if id != []string{"1", "2"}[i] || age != int64(30) || !start.(time.Time).Equal(t0.Add(time.Duration(i)*time.Second)) || h != host ||
			!e.HasTag(TagElapsed) || !e.HasTag(TagExpired) {
			t.Errorf("expired event %d = %s", i, e.AppendJSON(nil))
		}
	}
	if len(f.starts) != 1 {
		t.Fatalf("remembered %d start events; want 1 (id 3)", len(f.starts))
	}
}

// TestNoPeriodicFlush: with periodic_flush false only the final flush ages
// the start events.
func TestNoPeriodicFlush(t *testing.T) {
	f := plugintest.MustNew(t, New, `start_tag = "start"
end_tag = "end"
unique_id_field = "id"
timeout = 5
periodic_flush = false`, engine.Resources{})
	ctx := context.Background()
	f.Filter(ctx, startEvent(t, "1", time.Now()), nil)
	if out := f.Flush(ctx, false, nil); len(out) != 0 {
		t.Fatalf("periodic flush expired %d events; want none", len(out))
	}
	if out := f.Flush(ctx, true, nil); len(out) != 1 {
		t.Fatalf("final flush expired %d events; want 1", len(out))
	}
}

// TestStartBudget: past MaxStartEvents, new start events are not
// remembered, counted as start_events_dropped.
func TestStartBudget(t *testing.T) {
	f := plugintest.MustNew(t, New, `start_tag = "start"
end_tag = "end"
unique_id_field = "id"`, engine.Resources{})
	f.maxStarts = 2
	for _, id := range []string{"a", "b", "c", "a"} {
		f.Filter(context.Background(), startEvent(t, id, time.Now()), nil)
	}
	if len(f.starts) != 2 {
		t.Fatalf("remembered %d; want 2", len(f.starts))
	}
	if c := f.Counters(); c[0].Value != 1 {
		t.Fatalf("Counters() = %+v; want start_events_dropped 1", c)
	}
}

// TestNewEventOnMatch is Logstash's spec "new_event_on_match": the end event
// is left as it is and a new event with the elapsed fields and host follows
// it; keep_start_event "last" measures from the second start event.
func TestNewEventOnMatch(t *testing.T) {
	f := plugintest.MustNew(t, New, `start_tag = "start"
end_tag = "end"
unique_id_field = "[task][id]"
new_event_on_match = true
keep_start_event = "last"`, engine.Resources{})
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	mk := func(tag string, d time.Duration) *event.Event {
		e := event.NewMessage(tag)
		e.SetTimestamp(t0.Add(d))
		e.AddTag(tag)
		_ = e.Set(event.MustRef("[task][id]"), int64(7))
		return e
	}
	ctx := context.Background()
	f.Filter(ctx, mk("start", 0), nil)
	f.Filter(ctx, mk("start", 2500*time.Millisecond), nil)
	end := mk("end", 4*time.Second)
	out, err := f.Filter(ctx, end, nil)
	if err != nil || len(out) != 2 || out[0] != end {
		t.Fatalf("Filter(end) = %d events, %v; want the end event and a new one", len(out), err)
	}
	if end.HasTag(TagMatch) {
		t.Errorf("the end event was changed: %s", end.AppendJSON(nil))
	}
	n := out[1]
	host, _ := os.Hostname()
	h, _ := n.GetString(hostRef)
	el, _ := n.Get(elapsedTimeRef)
	id, _ := n.Get(event.MustRef("[task][id]"))
	start, _ := n.Get(timestampRef)
	if h != host || el != 1.5 || id != int64(7) || !start.(time.Time).Equal(t0.Add(2500*time.Millisecond)) || !n.HasTag(TagElapsed) || !n.HasTag(TagMatch) {
		t.Errorf("new event = %s", n.AppendJSON(nil))
	}
}
