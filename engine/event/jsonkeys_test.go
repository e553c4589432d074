package event

import (
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"
)

// sortedJSON is jsonAppendObject without the key table: the general path.
func sortedJSON(m map[string]any) string {
	kvs := make([]jsonKV, 0, len(m))
	for k, v := range m {
		kvs = append(kvs, jsonKV{k, v})
	}
	return string(appendSortedObject(nil, kvs))
}

// TestKnownKeysSameOutput encodes objects whose keys the table learns (the
// same string objects again and again, as compiled references give), with
// keys that need escaping, keys with the same bytes at different addresses,
// keys sharing long prefixes and nested objects, and checks every encoding
// against the general path's, before and after the keys are learnt.
func TestKnownKeysSameOutput(t *testing.T) {
	pool := []string{"@timestamp", "@version", "message", "host", "facility", "facility_label",
		"severity", "severity_label", "timestamp", "timestamp8601", "a\"b", "ü", "\x01ctl", "a", "ab", "a\\",
		"tags", "log", "\u2028", "zz", "Z", "_@timestamp"}
	// The same bytes at another address (both may be learnt; one object
	// holds only one of them).
	for _, k := range []string{"message", "host", "a"} {
		pool = append(pool, strings.Clone(k))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	vals := []any{"x", int64(-3), 1.5, true, nil, []any{"a", int64(1)}, time.Unix(1, 0).UTC(), "line\n\"q\""}
	randMap := func(depth int) map[string]any {
		m := map[string]any{}
		n := 1 + rng.IntN(16)
		for range n {
			k := pool[rng.IntN(len(pool))]
			if _, dup := m[strings.Clone(k)]; dup {
				continue // a key with the same bytes is already there
			}
			var v any = vals[rng.IntN(len(vals))]
			if depth > 0 && rng.IntN(4) == 0 {
				sub := map[string]any{}
				for range 1 + rng.IntN(3) {
					sub[pool[rng.IntN(len(pool))]] = vals[rng.IntN(len(vals))]
				}
				v = sub
			}
			m[k] = v
		}
		return m
	}
	hits := 0
	for i := range 3000 {
		m := randMap(1)
		want := sortedJSON(m)
		for range 2 {
			if got := string(jsonAppendObject(nil, m)); got != want {
				t.Fatalf("object %d: %s\nwant %s", i, got, want)
			}
		}
		kvs := make([]jsonKV, 0, len(m))
		for k, v := range m {
			kvs = append(kvs, jsonKV{k, v})
		}
		if _, ok := appendKnownObject(nil, kvs); ok {
			hits++
		}
	}
	if hits == 0 && !keysFroze.Load() {
		t.Error("the table never learnt the pool's keys")
	}
	// Keys never seen at their address: the general path, same output.
	m := map[string]any{}
	for _, k := range pool {
		m[strings.Clone(k)+"!"] = int64(1)
	}
	if got, want := string(jsonAppendObject(nil, m)), sortedJSON(m); got != want {
		t.Errorf("fresh keys: %s\nwant %s", got, want)
	}
}

// TestKnownKeysConcurrent encodes from several goroutines while the table
// learns (for the race detector) and checks the output.
func TestKnownKeysConcurrent(t *testing.T) {
	keys := []string{"k01", "k02", "k03", "k04", "k05", "k06", "k07", "k08", "k09", "k10"}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				m := map[string]any{}
				for j, k := range keys {
					if (i+j+g)%3 != 0 {
						m[k] = int64(j)
					}
				}
				m[strings.Clone("fresh")] = "v" // a key never learnt
				if i%2 == 0 {
					delete(m, "fresh")
				}
				if got, want := string(jsonAppendObject(nil, m)), sortedJSON(m); got != want {
					t.Errorf("%s\nwant %s", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkKnownKeys encodes a flat syslog event with its keys in the table
// and, as the peer in the same run, through the general path (sort and
// quote); it reports the ratio of their times.
func BenchmarkKnownKeys(b *testing.B) {
	e := NewMessageAt("Accepted publickey for deploy from 10.1.2.3 port 51234 ssh2\n", time.Unix(1764000000, 0))
	for _, kv := range []struct {
		k string
		v any
	}{{"host", "127.0.0.1"}, {"timestamp", "Nov 24 03:26:46"}, {"logsource", "web-07"}, {"program", "sshd"},
		{"pid", "28472"}, {"priority", int64(86)}, {"severity", int64(6)}, {"facility", int64(10)},
		{"facility_label", "security/authorization"}, {"severity_label", "Informational"}} {
		_ = e.Set(MustRef(kv.k), kv.v)
	}
	for range 3 {
		_ = e.AppendJSON(nil) // learn the keys
	}
	kvs := make([]jsonKV, 0, 16)
	var buf []byte
	var tKnown, tSorted time.Duration
	for b.Loop() {
		start := time.Now()
		for range 100 {
			buf = e.AppendJSON(buf[:0])
		}
		mid := time.Now()
		for range 100 {
			kvs = kvs[:0]
			for k, v := range e.fields {
				kvs = append(kvs, jsonKV{k, v})
			}
			buf = appendSortedObject(buf[:0], kvs)
		}
		tKnown += mid.Sub(start)
		tSorted += time.Since(mid)
	}
	b.ReportMetric(float64(tKnown.Nanoseconds())/float64(100*b.N), "known-ns/event")
	b.ReportMetric(float64(tSorted.Nanoseconds())/float64(100*b.N), "sorted-ns/event")
	b.ReportMetric(tSorted.Seconds()/tKnown.Seconds(), "speedup")
}

// FuzzKnownKeys: objects with keys from the input (split at NUL bytes),
// the same key bytes always the same string object for the first 48 keys
// (as compiled references), encode as the general path does, every time.
func FuzzKnownKeys(f *testing.F) {
	f.Add([]byte("message\x00host\x00@timestamp\x00a\"b\x00\xff\xfe"))
	f.Add([]byte("facility\x00facility_label\x00severity\x00severity_label"))
	interned := map[string]string{}
	f.Fuzz(func(t *testing.T, data []byte) {
		m := map[string]any{}
		for i, k := range strings.Split(string(data), "\x00") {
			if s, ok := interned[k]; ok {
				k = s
			} else if len(interned) < 48 {
				interned[k] = k
			}
			m[k] = int64(i)
		}
		want := sortedJSON(m)
		for range 3 {
			if got := string(jsonAppendObject(nil, m)); got != want {
				t.Fatalf("%q\nwant %q", got, want)
			}
		}
	})
}

// TestMessageAtBlock: an event from NewMessageAtBlock, its strings boxed in
// the block and its @timestamp set twice (the block's slot, then as
// SetTimestamp), holds what the same calls on NewMessageAtSized give.
func TestMessageAtBlock(t *testing.T) {
	read := time.Date(2026, 12, 8, 1, 2, 3, 456789, time.UTC)
	e, sb := NewMessageAtBlock("m", read, 12)
	f := NewMessageAtSized("m", read, 12)
	for i := range MaxBlockStrings + 2 { // beyond the block: any(s)
		k := "k" + string(rune('a'+i))
		_ = e.Set(MustRef(k), sb.Box(k+"v"))
		_ = f.Set(MustRef(k), k+"v")
	}
	if got, want := string(e.AppendJSON(nil)), string(f.AppendJSON(nil)); got != want {
		t.Fatalf("%s\nwant %s", got, want)
	}
	t1 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	e.SetTimestampFrom(sb, t1)
	f.SetTimestamp(t1)
	if got, want := string(e.AppendJSON(nil)), string(f.AppendJSON(nil)); got != want {
		t.Fatalf("%s\nwant %s", got, want)
	}
	if ts := e.Timestamp(); !ts.Equal(t1) || ts.Location() != time.UTC {
		t.Errorf("@timestamp %v", ts)
	}
	t2 := t1.Add(time.Hour)
	e.SetTimestampFrom(sb, t2) // the slot is used: as SetTimestamp
	if ts := e.Timestamp(); !ts.Equal(t2) {
		t.Errorf("@timestamp %v after a second set", ts)
	}
	var nilStrings *Strings
	e.SetTimestampFrom(nilStrings, t1)
	if ts := e.Timestamp(); !ts.Equal(t1) {
		t.Errorf("@timestamp %v with a nil Strings", ts)
	}
}

// TestKnownKeysCandidateNotKept: a key missed once (a candidate for the
// table) does not keep its bytes in memory. A decoded event's keys share
// its document's arena, so candidates that held their keys kept up to
// maxCandidates whole documents alive until the table froze.
func TestKnownKeysCandidateNotKept(t *testing.T) {
	// The table's state as the package's other tests left it, restored
	// after: this test needs it learning, with no candidate.
	keysMu.Lock()
	savedKeys, savedFroze, savedSeen := keys.Load(), keysFroze.Load(), keysSeen
	keys.Store(nil)
	keysFroze.Store(false)
	keysSeen = map[keyID]int{}
	keysMu.Unlock()
	t.Cleanup(func() {
		keysMu.Lock()
		keys.Store(savedKeys)
		keysFroze.Store(savedFroze)
		keysSeen = savedSeen
		keysMu.Unlock()
	})

	freed := make(chan struct{})
	func() {
		doc := make([]byte, 1<<20) // a document's arena
		copy(doc, "host")
		runtime.AddCleanup(&doc[0], func(ch chan struct{}) { close(ch) }, freed)
		key := unsafe.String(&doc[0], 4)
		_ = jsonAppendObject(nil, map[string]any{key: "x"})
	}()
	keysMu.Lock()
	n := len(keysSeen)
	keysMu.Unlock()
	if n != 1 {
		t.Fatalf("%d candidates, want the key missed once", n)
	}
	for range 20 {
		runtime.GC()
		select {
		case <-freed:
			return
		default:
		}
		runtime.Gosched()
	}
	select {
	case <-freed:
	case <-time.After(10 * time.Second):
		t.Fatal("the candidate key's document is still in memory after 20 collections")
	}
}
