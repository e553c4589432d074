package correlate

import (
	"bytes"
	"hash/maphash"
	"math"
)

// The rule's state is kept for low garbage-collection cost: the keys are
// bytes in one arena, found through a map from their hash to a slot (a map
// without pointers, which the collector does not scan), and each key's
// state is a slot in a flat slice of structs without pointers (times as
// Unix nanoseconds); SingleWithThreshold's counted times are a fixed run
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

// slot is one key's state.
type slot struct {
	hash           uint64
	keyOff, keyLen uint32 // key bytes in the arena, or in inl when short
	descOff        uint32 // description bytes in the arena
	descLen        uint32
	seen           uint64 // order of the last sighting (stored state is in this order)
	descHash       uint64 // of the description, to skip rewriting an unchanged one
	gen            uint32 // bumped when the slot is freed: heap items of older generations are stale
	n              uint32 // SingleWithThreshold: counted times in the ring
	flags          uint8
	count          int64
	first, last    int64
	firedAt        int64
	deadline       int64
	inl            [inlineKey]byte
}

// inlineKey is the longest key kept in its slot rather than in the arena
// (one cache miss less per lookup).
const inlineKey = 32

// dueItem is a slot due at a time.
type dueItem struct {
	at   int64
	slot uint32
	gen  uint32
}

// table is one rule's keys.
type table struct {
	seed       maphash.Seed
	idx        []uint32 // open addressing, linear probing: tag<<24 | slot+1 (entry); 0 empty
	slots      []slot
	free       []uint32
	arena      []byte
	garbage    int // arena bytes no longer referenced
	ring       []int64
	keep       int     // ring entries per slot (0: no ring)
	copied     [][]any // per slot, when the rule copies fields
	withCopied bool
	hand       uint32 // the clock's
	seq        uint64 // sightings so far
	live       int
	due        []dueItem
}

func newTable(keep int, withCopied bool) *table {
	return &table{seed: maphash.MakeSeed(), idx: make([]uint32, 1024), keep: keep, withCopied: withCopied}
}

func (t *table) key(i uint32) []byte {
	s := &t.slots[i]
	if s.keyLen <= inlineKey {
		return s.inl[:s.keyLen]
	}
	return t.arena[s.keyOff : s.keyOff+s.keyLen]
}

// home is where hash h's probe sequence starts.
func (t *table) home(h uint64) int { return int(h) & (len(t.idx) - 1) }

// maxSlots is how many slots an index entry can name (24 bits).
const maxSlots = 1<<24 - 2

// entry is the index entry of slot i of hash h: the hash's top 8 bits
// (most probes of other keys are told apart without reading their slot)
// and i+1.
func entry(h uint64, i uint32) uint32 { return uint32(h>>56)<<24 | (i + 1) }

// entSlot is the slot an index entry names.
func entSlot(e uint32) uint32 { return e&(1<<24-1) - 1 }

// find is the index position holding key (hash h), or the empty position
// where it would go.
func (t *table) find(h uint64, key []byte) (int, bool) {
	mask := len(t.idx) - 1
	tag := uint32(h>>56) << 24
	for p := t.home(h); ; p = (p + 1) & mask {
		e := t.idx[p]
		if e == 0 {
			return p, false
		}
		if e&^(1<<24-1) == tag {
			i := entSlot(e)
			if s := &t.slots[i]; s.hash == h && bytes.Equal(t.key(i), key) {
				return p, true
			}
		}
	}
}

// grow doubles the index.
func (t *table) grow() {
	old := t.idx
	t.idx = make([]uint32, 2*len(old))
	mask := len(t.idx) - 1
	for _, e := range old {
		if e == 0 {
			continue
		}
		p := t.home(t.slots[entSlot(e)].hash)
		for t.idx[p] != 0 {
			p = (p + 1) & mask
		}
		t.idx[p] = e
	}
}

// unindex empties position p, moving later entries of the probe run back
// (deletion without tombstones).
func (t *table) unindex(p int) {
	mask := len(t.idx) - 1
	for q := (p + 1) & mask; t.idx[q] != 0; q = (q + 1) & mask {
		h := t.home(t.slots[entSlot(t.idx[q])].hash)
		// The entry at q may move to p when its home is not in (p, q].
		if (q > p && (h <= p || h > q)) || (q < p && (h <= p && h > q)) {
			t.idx[p] = t.idx[q]
			p = q
		}
	}
	t.idx[p] = 0
}

func (t *table) desc(i uint32) []byte {
	s := &t.slots[i]
	return t.arena[s.descOff : s.descOff+s.descLen]
}

// times is slot i's ring of counted times, oldest first.
func (t *table) times(i uint32) []int64 {
	return t.ring[int(i)*t.keep : int(i)*t.keep+int(t.slots[i].n)]
}

// lookup finds key's slot.
func (t *table) lookup(key []byte) (uint32, bool) {
	if len(key) > maxKeyBytes {
		key = key[:maxKeyBytes]
	}
	p, ok := t.find(maphash.Bytes(t.seed, key), key)
	if !ok {
		return none, false
	}
	return entSlot(t.idx[p]), true
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

// insert adds key (not present) as the most recently seen slot.
func (t *table) insert(key []byte) uint32 {
	if len(key) > maxKeyBytes {
		key = key[:maxKeyBytes]
	}
	var i uint32
	if n := len(t.free); n > 0 {
		i = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		i = uint32(len(t.slots))
		t.slots = append(t.slots, slot{})
		if t.keep > 0 {
			t.ring = append(t.ring, make([]int64, t.keep)...)
		}
		if t.withCopied {
			t.copied = append(t.copied, nil)
		}
	}
	if len(key) > inlineKey {
		t.compactFor(len(key))
	}
	h := maphash.Bytes(t.seed, key)
	gen := t.slots[i].gen
	t.slots[i] = slot{hash: h, keyLen: uint32(len(key)), gen: gen, flags: fLive}
	if len(key) <= inlineKey {
		copy(t.slots[i].inl[:], key)
	} else {
		t.slots[i].keyOff = uint32(len(t.arena))
		t.arena = append(t.arena, key...)
	}
	if 2*(t.live+1) > len(t.idx) {
		t.grow()
	}
	p, _ := t.find(h, key)
	t.idx[p] = entry(h, i)
	t.touch(i)
	t.live++
	return i
}

// remove forgets slot i.
func (t *table) remove(i uint32) {
	s := &t.slots[i]
	if p, ok := t.find(s.hash, t.key(i)); ok {
		t.unindex(p)
	}
	if s.keyLen > inlineKey {
		t.garbage += int(s.keyLen)
	}
	t.garbage += int(s.descLen)
	*s = slot{gen: s.gen + 1}
	if t.withCopied {
		t.copied[i] = nil
	}
	t.free = append(t.free, i)
	t.live--
}

// setDesc keeps d as slot i's description. An unchanged one (same length
// and 64-bit seeded hash) is not rewritten, nor read: the common case of
// Absence, which keeps the last event's description, costs no access to
// the arena.
func (t *table) setDesc(i uint32, d []byte) {
	if len(d) > maxDescBytes {
		d = d[:maxDescBytes]
	}
	h := maphash.Bytes(t.seed, d)
	if s := &t.slots[i]; s.descHash == h && int(s.descLen) == len(d) {
		return
	}
	t.compactFor(len(d))
	s := &t.slots[i]
	t.garbage += int(s.descLen)
	s.descHash = h
	s.descOff, s.descLen = uint32(len(t.arena)), uint32(len(d))
	t.arena = append(t.arena, d...)
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
		s := &t.slots[i]
		if s.flags&fLive == 0 {
			continue
		}
		if s.keyLen > inlineKey {
			k := t.key(uint32(i))
			s.keyOff = uint32(len(arena))
			arena = append(arena, k...)
		}
		d := t.desc(uint32(i))
		s.descOff = uint32(len(arena))
		arena = append(arena, d...)
	}
	t.arena, t.garbage = arena, 0
}

// pushDue queues slot i at at.
func (t *table) pushDue(at int64, i uint32) {
	t.due = append(t.due, dueItem{at: at, slot: i, gen: t.slots[i].gen})
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
