package throttle

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

func at(t *testing.T, sec int64, key string) *event.Event {
	t.Helper()
	e := event.NewMessage(key)
	e.SetTimestamp(time.Unix(sec, 0))
	return e
}

// throttled runs e through f and says whether it was throttled.
func throttled(t *testing.T, f *Filter, e *event.Event) bool {
	t.Helper()
	out, err := f.Filter(context.Background(), e, nil)
	if len(out) != 1 || out[0] != e {
		t.Fatalf("Filter passed on %d events; want e", len(out))
	}
	if err != nil && !errors.Is(err, engine.ErrNotApplied) {
		t.Fatalf("Filter error = %v", err)
	}
	return err == nil
}

// TestMemoryControl: the flush runs on the injected clock every 5 s, forgets
// keys idle (in event time) for more than max_age, and shrinks max_age by 5 %
// while max_counters is exceeded, growing it back once it is not.
func TestMemoryControl(t *testing.T) {
	f := plugintest.MustNew(t, New, `key = "%%{message}"
after_count = 1
period = "10"
max_age = 100
max_counters = 3`, engine.Resources{})
	now := time.Unix(1000, 0)
	f.SetClock(func() time.Time { return now })

	throttled(t, f, at(t, 0, "old")) // first call flushes (nothing to do yet)
	throttled(t, f, at(t, 10, "a"))
	throttled(t, f, at(t, 20, "a"))
	throttled(t, f, at(t, 500, "b"))
	if len(f.keys) != 3 {
		t.Fatalf("keys before the flush = %d; want 3 (no flush within 5 s)", len(f.keys))
	}
	now = now.Add(5 * time.Second)
	throttled(t, f, at(t, 500, "b"))
	if _, ok := f.keys["old"]; ok || len(f.keys) != 1 {
		t.Fatalf("keys after the flush = %v; want only b (older than max_age before 500)", f.keys)
	}
	// Four counters for b (slots 500..530) exceed max_counters 3.
	for s := int64(510); s <= 530; s += 10 {
		throttled(t, f, at(t, s, "b"))
	}
	now = now.Add(5 * time.Second)
	throttled(t, f, at(t, 530, "b"))
	if f.maxAge != 95 {
		t.Fatalf("max_age = %d; want 95 after max_counters was exceeded", f.maxAge)
	}
	// A new period far ahead: b's older slots are forgotten, one counter is
	// left, under 80 % of max_counters (2, in integers as Ruby): max_age grows back.
	throttled(t, f, at(t, 10000, "b"))
	now = now.Add(5 * time.Second)
	throttled(t, f, at(t, 10000, "b"))
	if f.maxAge != 100 {
		t.Fatalf("max_age = %d; want 100 again", f.maxAge)
	}
}

// TestNoPeriodicFlush: with periodic_flush false idle keys stay.
func TestNoPeriodicFlush(t *testing.T) {
	f := plugintest.MustNew(t, New, `key = "%%{message}"
max_age = 10
periodic_flush = false`, engine.Resources{})
	now := time.Unix(0, 0)
	f.SetClock(func() time.Time { now = now.Add(time.Minute); return now })
	throttled(t, f, at(t, 0, "a"))
	throttled(t, f, at(t, 1000, "b"))
	throttled(t, f, at(t, 2000, "c"))
	if len(f.keys) != 3 {
		t.Fatalf("keys = %d; want 3", len(f.keys))
	}
}

// TestKeyBudget: past MaxKeys distinct keys, keys are forgotten to make
// room, counted and reported.
func TestKeyBudget(t *testing.T) {
	f := plugintest.MustNew(t, New, `key = "%%{message}"
after_count = 1`, engine.Resources{})
	f.maxKeys = 3
	for i, k := range []string{"a", "b", "c", "d", "e"} {
		throttled(t, f, at(t, int64(i), k))
	}
	if len(f.keys) != 3 {
		t.Fatalf("keys = %d; want 3", len(f.keys))
	}
	c := f.Counters()
	if len(c) != 1 || c[0].Name != "keys_evicted" || c[0].Value != 2 {
		t.Fatalf("Counters() = %+v; want keys_evicted 2", c)
	}
}

func TestLeadingInt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{{"60", 60, true}, {" 60s", 60, true}, {"1_000", 1000, true}, {"-5", -5, true}, {"abc", 0, false}, {"", 0, false}, {"+7x", 7, true}} {
		got, ok := leadingInt(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("leadingInt(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
