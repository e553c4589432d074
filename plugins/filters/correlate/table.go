package correlate

import (
	"hash/maphash"
	"math"
)

// The rule's state is kept for low garbage-collection cost: the keys are
// in a keyIndex (shared by the rules of the pipeline with the same key
// template), which gives each an id, and each key's state is the slot of
// that id in a flat slice of structs without pointers (times as Unix
// nanoseconds, 64 bytes: one cache line); descriptions are bytes in an
// arena; SingleWithThreshold's counted times are a fixed run
// of keep int64s per slot in another flat slice. Eviction past max_keys is
// by the clock algorithm (second chance, an approximation of least
// recently seen that, unlike a linked list, does not touch two other keys'
// memory on every event), and the deadlines are a heap of pointer-free
// items. What still holds pointers is copy_fields' values,
// kept only when the rule has copy_fields or alert_fields.

// none is the nil slot index.
const none = ^uint32(0)

// Budgets of what is kept per key, from the events: a longer key or
// description is cut at the budget (a key that long is a misconfigured
// template; a description that long is cut in the alert).
const (
	maxKeyBytes  = 4 << 10
	maxDescBytes = 32 << 10
)

// slot flags.
const (
	fLive     = 1 << iota // the slot holds a key
	fFired                // SingleWithThreshold/Suppress: quiet window running from firedAt
	fOpen                 // PairWithWindow window open; Absence armed
	fDeadline             // deadline is set
	fQueued               // the slot has an item in the deadline heap
	fRef                  // seen since the clock hand last passed
)

// slot is one key's state, at its key's id.
type slot struct {
	seen        uint64 // order of the last sighting (stored state is in this order)
	gen         uint32 // bumped when the slot is freed: heap items of older generations are stale
	n           uint32 // SingleWithThreshold: counted times in the ring
	count       int64
	first, last int64
	firedAt     int64
	deadline    int64
	flags       uint8
}

// descRef is where a slot's description is (PairWithWindow and Absence
// keep one).
type descRef struct {
	hash     uint64 // of the description, to skip rewriting an unchanged one
	off, len uint32 // in the arena
}

// dueItem is a slot due at a time.
type dueItem struct {
	at   int64
	slot uint32
	gen  uint32
}

// table is one rule's keys.
type table struct {
	ix         *keyIndex
	slots      []slot // by key id; a slot is the rule's when fLive is set
	descs      []descRef
	arena      []byte // descriptions
	garbage    int    // arena bytes no longer referenced
	ring       []int64
	keep       int     // ring entries per slot (0: no ring)
	copied     [][]any // per slot, when the rule copies fields
	withDesc   bool
	withCopied bool
	hand       uint32 // the clock's
	seq        uint64 // sightings so far
	live       int
	due        []dueItem
}

func newTable(ix *keyIndex, keep int, withDesc, withCopied bool) *table {
	return &table{ix: ix, keep: keep, withDesc: withDesc, withCopied: withCopied}
}

// key is slot i's key.
func (t *table) key(i uint32) string { return t.ix.keyString(i) }

func (t *table) desc(i uint32) []byte {
	if !t.withDesc {
		return nil
	}
	d := &t.descs[i]
	return t.arena[d.off : d.off+d.len]
}

// times is slot i's ring of counted times, oldest first.
func (t *table) times(i uint32) []int64 {
	return t.ring[int(i)*t.keep : int(i)*t.keep+int(t.slots[i].n)]
}

// lookup finds key's slot.
func (t *table) lookup(key hkey) (uint32, bool) {
	i, ok := t.ix.lookup(key)
	if !ok || int(i) >= len(t.slots) || t.slots[i].flags&fLive == 0 {
		return none, false
	}
	return i, true
}

// touch marks i seen.
func (t *table) touch(i uint32) {
	s := &t.slots[i]
	s.flags |= fRef
	t.seq++
	s.seen = t.seq
}

// victim is the slot to evict: the first live one the clock's hand finds
// not seen since it last passed (clearing the marks it passes). There is
// at least one live slot.
func (t *table) victim() uint32 {
	for range 2*len(t.slots) + 1 {
		i := t.hand
		t.hand++
		if int(t.hand) >= len(t.slots) {
			t.hand = 0
		}
		s := &t.slots[i]
		if s.flags&fLive == 0 {
			continue
		}
		if s.flags&fRef != 0 {
			s.flags &^= fRef
			continue
		}
		return i
	}
	panic("correlate: no live key to evict")
}

// insert adds key (not the rule's) as the most recently seen slot.
func (t *table) insert(key hkey) uint32 {
	i := t.ix.acquire(key)
	if n := int(i) + 1; n > len(t.slots) {
		// Grown to the id (ids are dense: the index reuses freed ones).
		t.slots = extend(t.slots, n)
		if t.withDesc {
			t.descs = extend(t.descs, n)
		}
		if t.keep > 0 {
			t.ring = extend(t.ring, n*t.keep)
		}
		if t.withCopied {
			t.copied = extend(t.copied, n)
		}
	}
	t.slots[i] = slot{gen: t.slots[i].gen, flags: fLive}
	t.touch(i)
	t.live++
	return i
}

// remove forgets slot i.
func (t *table) remove(i uint32) {
	s := &t.slots[i]
	*s = slot{gen: s.gen + 1}
	if t.withDesc {
		t.garbage += int(t.descs[i].len)
		t.descs[i] = descRef{}
	}
	if t.withCopied {
		t.copied[i] = nil
	}
	t.live--
	t.ix.release(i)
}

// clear forgets all slots (giving their keys back to the index).
func (t *table) clear() {
	for i := range t.slots {
		if t.slots[i].flags&fLive != 0 {
			t.remove(uint32(i))
		}
	}
}

// setDesc keeps d as slot i's description. An unchanged one (same length
// and 64-bit seeded hash) is not rewritten, nor read: the common case of
// Absence, which keeps the last event's description, costs no access to
// the arena.
func (t *table) setDesc(i uint32, d []byte) {
	if len(d) > maxDescBytes {
		d = d[:maxDescBytes]
	}
	h := maphash.Bytes(t.ix.seed, d)
	if r := &t.descs[i]; r.hash == h && int(r.len) == len(d) {
		return
	}
	t.compactFor(len(d))
	r := &t.descs[i]
	t.garbage += int(r.len)
	r.hash = h
	r.off, r.len = uint32(len(t.arena)), uint32(len(d))
	t.arena = appendBytes(t.arena, d)
}

// compactFor makes room for n more arena bytes: when more than half of the
// arena is garbage (or offsets would overflow), the live bytes are copied
// to a new arena.
func (t *table) compactFor(n int) {
	if !(t.garbage > 1<<16 && t.garbage > len(t.arena)/2) && len(t.arena)+n < math.MaxUint32 {
		return
	}
	arena := make([]byte, 0, len(t.arena)-t.garbage+n)
	for i := range t.slots {
		if t.slots[i].flags&fLive == 0 {
			continue
		}
		r := &t.descs[i]
		d := t.arena[r.off : r.off+r.len]
		r.off = uint32(len(arena))
		arena = append(arena, d...)
	}
	t.arena, t.garbage = arena, 0
}

// extend returns s with length n (at least len(s)), the new elements zero,
// doubling the capacity when it grows: append grows a large slice by a
// quarter at a time, which for tables grown one key at a time to 100,000
// keys allocates (and copies) about five times their final size.
func extend[T any](s []T, n int) []T {
	if n <= cap(s) {
		old := len(s)
		s = s[:n]
		clear(s[old:])
		return s
	}
	g := make([]T, n, max(n, 2*cap(s), 64))
	copy(g, s)
	return g
}

// appendBytes is append(b, d...) with the capacity doubled when it grows
// (see extend).
func appendBytes(b, d []byte) []byte {
	n := len(b)
	b = extend(b, n+len(d))
	copy(b[n:], d)
	return b
}

// pushDue queues slot i at at.
func (t *table) pushDue(at int64, i uint32) {
	n := len(t.due)
	t.due = extend(t.due, n+1)
	t.due[n] = dueItem{at: at, slot: i, gen: t.slots[i].gen}
	t.up(len(t.due) - 1)
	if len(t.due) > 2*t.live+1024 {
		t.pruneDue()
	}
}

// popDue removes the earliest item.
func (t *table) popDue() dueItem {
	it := t.due[0]
	n := len(t.due) - 1
	t.due[0] = t.due[n]
	t.due = t.due[:n]
	if n > 0 {
		t.downFrom(0)
	}
	return it
}

// pruneDue drops the items of freed slots (left by evictions) and
// rebuilds the heap, so that it stays bounded by the live keys.
func (t *table) pruneDue() {
	keep := t.due[:0]
	for _, it := range t.due {
		if t.slots[it.slot].gen == it.gen {
			keep = append(keep, it)
		}
	}
	t.due = keep
	for i := len(t.due)/2 - 1; i >= 0; i-- {
		t.downFrom(i)
	}
}

func (t *table) up(j int) {
	d := t.due
	for j > 0 {
		p := (j - 1) / 2
		if d[p].at <= d[j].at {
			break
		}
		d[p], d[j] = d[j], d[p]
		j = p
	}
}

func (t *table) downFrom(i int) {
	d := t.due
	n := len(d)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		j := l
		if r := l + 1; r < n && d[r].at < d[l].at {
			j = r
		}
		if d[i].at <= d[j].at {
			return
		}
		d[i], d[j] = d[j], d[i]
		i = j
	}
}
