package correlate

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestTableAgainstMap: random inserts and removals by two rules' tables
// sharing one key index (with the index growing, probe runs shifted back
// on removal, long keys in the arena and its compaction, ids reused) find
// exactly what a Go map per rule holds, and the index holds exactly the
// keys some rule holds.
func TestTableAgainstMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ix := newKeyIndex()
	tbs := []*table{newTable(ix, 2, true, false), newTable(ix, 0, true, false)}
	refs := []map[string]uint32{{}, {}}
	key := func(n int) string {
		if n%3 == 0 {
			return fmt.Sprint(strings.Repeat("long-", 10), n) // in the arena
		}
		return fmt.Sprint("k", n)
	}
	for op := range 300000 {
		w := r.IntN(2)
		tb, ref := tbs[w], refs[w]
		k := key(r.IntN(5000))
		i, ok := tb.lookup(ix.hkey([]byte(k)))
		want, wantOK := ref[k]
		if ok != wantOK || (ok && i != want) {
			t.Fatalf("op %d: table %d: lookup %q = %d %v, want %d %v", op, w, k, i, ok, want, wantOK)
		}
		switch {
		case !ok:
			i = tb.insert(ix.hkey([]byte(k)))
			if o, ok := refs[1-w][k]; ok && o != i {
				t.Fatalf("op %d: %q has id %d in one table and %d in the other", op, k, i, o)
			}
			tb.setDesc(i, []byte(fmt.Sprint("desc of ", k, " in ", w)))
			ref[k] = i
		case r.IntN(2) == 0:
			if tb.key(i) != k || string(tb.desc(i)) != fmt.Sprint("desc of ", k, " in ", w) {
				t.Fatalf("slot %d holds %q %q", i, tb.key(i), tb.desc(i))
			}
			tb.remove(i)
			delete(ref, k)
		}
		if tb.live != len(ref) {
			t.Fatalf("op %d: %d live, want %d", op, tb.live, len(ref))
		}
	}
	union := map[string]bool{}
	for w, ref := range refs {
		for k, i := range ref {
			union[k] = true
			if j, ok := tbs[w].lookup(ix.hkey([]byte(k))); !ok || j != i || tbs[w].key(i) != k {
				t.Fatalf("%q: %d %v", k, j, ok)
			}
		}
	}
	if ix.live != len(union) {
		t.Errorf("index holds %d keys, the tables %d", ix.live, len(union))
	}
	for _, tb := range tbs {
		if tb.garbage > len(tb.arena)/2+1<<16 {
			t.Errorf("arena %d bytes, %d garbage: not compacted", len(tb.arena), tb.garbage)
		}
	}
	if ix.garbage > len(ix.arena)/2+1<<16 {
		t.Errorf("key arena %d bytes, %d garbage: not compacted", len(ix.arena), ix.garbage)
	}
	for _, tb := range tbs {
		tb.clear()
	}
	if ix.live != 0 || len(ix.free) != len(ix.keys) {
		t.Errorf("after clearing both tables the index holds %d keys, %d of %d ids free", ix.live, len(ix.free), len(ix.keys))
	}
}
