package correlate

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/atomicfile"
)

// stateFileVersion is the format of the state_path file: a JSON object
// {"version": 1, "rule_type", "watermark" (Unix ns of the newest event
// time seen), "keys": [key, …]} with the keys least recently seen first,
// each {"key", "key_bytes" (base64 of the key's exact bytes, only when they
// are not UTF-8: a key cut at its budget inside a character), "flags" (2 fired, 4 open/armed, 8 deadline set), "count",
// "first", "last", "fired_at", "deadline" (Unix ns), "times" (the
// counted times, Unix ns), "desc", "copied" (copy_fields and alert_fields
// values)}.
const stateFileVersion = 1

// The state file read at start is bounded by what encodeState can write for
// max_keys keys (stateBudget): a larger file is damaged (or of a rule with a
// much larger max_keys), moved aside without being read. One key's entry is
// at most stateEntryBytes + its key and description as JSON (each byte at
// most 6, \u00XX, plus quotes) + keep times + its copied values, which are
// stored only up to maxCopiedStateBytes (larger ones are left out of the
// file: the alert after a restart lacks them, logged). minStateFileBytes is
// the floor, for rules with a small max_keys.
const (
	stateHeaderBytes    = 256      // {"version":…,"rule_type":…,"watermark":…,"keys":[ … ]}
	stateEntryBytes     = 256      // an entry's names, flags and five int64s
	stateTimeBytes      = 21       // one counted time: an int64 and a comma
	maxCopiedStateBytes = 64 << 10 // one key's copied values, as JSON
	minStateFileBytes   = 1 << 20
)

// jsonTextBytes bounds a string of n bytes written as JSON.
func jsonTextBytes(n int) int64 { return 6*int64(n) + 2 }

// stateBudget is the most encodeState writes for max_keys keys of this
// rule, floored at minStateFileBytes. f.mu is held.
func (f *Filter) stateBudget() int64 {
	tb := f.t
	per := stateEntryBytes + jsonTextBytes(maxKeyBytes) + int64(base64.StdEncoding.EncodedLen(maxKeyBytes)) +
		int64(tb.keep)*stateTimeBytes
	if tb.withDesc {
		per += jsonTextBytes(maxDescBytes)
	}
	if tb.withCopied {
		per += maxCopiedStateBytes
	}
	return max(minStateFileBytes, stateHeaderBytes+int64(max(f.opts.MaxKeys, 1))*per)
}

// storeInterval is how often the state is stored while the pipeline runs
// (when it changed), so that a crash loses at most this much of it.
const storeInterval = time.Minute

// stateIO is the state file's bookkeeping; f.mu guards it but storeMu.
type stateIO struct {
	path      string
	loaded    bool
	dirty     bool
	lastStore time.Time
	// copiedLeftOut counts keys whose copied values were over
	// maxCopiedStateBytes at the last encodeState (f.mu).
	copiedLeftOut int
	wall          func() time.Time
	storeMu       sync.Mutex // one store at a time, in order
}

// initState resolves state_path: relative to <path.data>/plugins/filters/correlate/.
func (f *Filter) initState(r engine.Resources) error {
	f.st.wall = time.Now
	p := f.opts.StatePath
	if p == "" {
		f.st.loaded = true
		return nil
	}
	if !filepath.IsAbs(p) {
		dir := r.DataDir
		if dir == "" {
			dir = "data"
		}
		p = filepath.Join(dir, "plugins", "filters", "correlate", p)
	}
	if r.Shared != nil {
		if owner := r.Shared("correlate state_path "+filepath.Clean(p), func() any { return f }); owner != f {
			return &engine.FieldError{Field: "state_path", Err: fmt.Errorf("%s is the state_path of another correlate filter of the pipeline: each rule needs its own", p)}
		}
	}
	f.st.path = p
	return nil
}

// load reads the state file once, before the first event or flush (not
// when the filter is built, so that `check` leaves it alone). A file that
// cannot be read is moved aside, named in the log, and the rule starts
// empty. f.mu is held.
func (f *Filter) load() {
	if f.st.loaded {
		return
	}
	f.st.loaded = true
	path := f.st.path
	b, err := readLimited(path, f.stateBudget(), fmt.Sprintf("the budget of max_keys %d", f.opts.MaxKeys))
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var snap *snapshot
	if err == nil {
		snap, err = decodeState(b)
	}
	if err != nil {
		aside := fmt.Sprintf("%s.damaged-%s", path, f.st.wall().UTC().Format("20060102T150405Z"))
		if rerr := os.Rename(path, aside); rerr != nil {
			f.log.Error("correlate state file cannot be read, nor moved aside; starting without its state", "rule", f.rule, "path", path, "err", err, "move_err", rerr)
			return
		}
		f.log.Error("correlate state file cannot be read; moved aside, starting without its state", "rule", f.rule, "path", path, "moved_to", aside, "err", err)
		return
	}
	if snap.ruleType != f.opts.RuleType {
		f.log.Warn("correlate state file is of another rule type; starting without its state", "rule", f.rule, "path", path, "file_rule_type", snap.ruleType, "rule_type", f.opts.RuleType)
		return
	}
	f.apply(snap)
	f.log.Info("correlate state loaded", "rule", f.rule, "path", path, "keys", f.t.live)
}

// readLimited reads the file at path, refusing one over limit bytes (what
// names the limit's reason) without reading it when its size says so.
func readLimited(path string, limit int64, what string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	if fi, err := fh.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes, over %s (%d bytes)", path, fi.Size(), what, limit)
	}
	b, err := io.ReadAll(io.LimitReader(fh, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is over %s (%d bytes)", path, what, limit)
	}
	return b, nil
}

// snapshot is a decoded state file.
type snapshot struct {
	ruleType  string
	watermark int64
	keys      []savedKey
}

type savedKey struct {
	key, desc                          string
	flags                              uint8
	count, first, last, firedAt, dline int64
	times                              []int64
	copied                             []any
}

// decodeState parses a state file; any deviation from the format is an
// error.
func decodeState(b []byte) (*snapshot, error) {
	v, err := event.ParseStoredJSON(b)
	if err != nil {
		return nil, err
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	if ver, _ := doc["version"].(int64); ver != stateFileVersion {
		return nil, fmt.Errorf("not a correlate state file of version %d", stateFileVersion)
	}
	snap := &snapshot{}
	if snap.ruleType, ok = doc["rule_type"].(string); !ok {
		return nil, errors.New(`no "rule_type"`)
	}
	if snap.watermark, ok = doc["watermark"].(int64); !ok {
		return nil, errors.New(`no "watermark"`)
	}
	list, ok := doc["keys"].([]any)
	if !ok {
		return nil, errors.New(`no "keys" list`)
	}
	seen := make(map[string]bool, len(list))
	for n, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("key %d: not an object", n)
		}
		var k savedKey
		k.key, ok = m["key"].(string)
		if raw, has := m["key_bytes"]; ok && has {
			kb, isString := raw.(string)
			exact, err := base64.StdEncoding.DecodeString(kb)
			if !isString || err != nil {
				return nil, fmt.Errorf("key %d: key_bytes is not base64", n)
			}
			k.key = string(exact)
		}
		if !ok || len(k.key) > maxKeyBytes || seen[k.key] {
			return nil, fmt.Errorf("key %d: no key, a key over %d bytes, or a key twice", n, maxKeyBytes)
		}
		seen[k.key] = true
		if k.desc, ok = m["desc"].(string); !ok || len(k.desc) > maxDescBytes {
			return nil, fmt.Errorf("key %d: no desc or one over %d bytes", n, maxDescBytes)
		}
		flags, ok := m["flags"].(int64)
		if !ok || flags&^int64(fFired|fOpen|fDeadline) != 0 {
			return nil, fmt.Errorf("key %d: bad flags", n)
		}
		k.flags = uint8(flags)
		for _, fld := range []struct {
			name string
			dst  *int64
		}{{"count", &k.count}, {"first", &k.first}, {"last", &k.last}, {"fired_at", &k.firedAt}, {"deadline", &k.dline}} {
			if *fld.dst, ok = m[fld.name].(int64); !ok {
				return nil, fmt.Errorf("key %d: %s is not an integer", n, fld.name)
			}
		}
		if k.count < 0 {
			return nil, fmt.Errorf("key %d: negative count", n)
		}
		times, ok := m["times"].([]any)
		if !ok {
			return nil, fmt.Errorf("key %d: times is not a list", n)
		}
		for _, tv := range times {
			t, ok := tv.(int64)
			if !ok {
				return nil, fmt.Errorf("key %d: a time is not an integer", n)
			}
			k.times = append(k.times, t)
		}
		switch c := m["copied"].(type) {
		case nil:
		case []any:
			k.copied = c
		default:
			return nil, fmt.Errorf("key %d: copied is not a list", n)
		}
		snap.keys = append(snap.keys, k)
	}
	return snap, nil
}

// apply replaces the rule's state by snap's: the max_keys keys seen last,
// at most thresh counted times each (the latest). f.mu is held.
func (f *Filter) apply(snap *snapshot) {
	f.t.clear()
	tb := f.newTable()
	f.t = tb
	if snap.watermark > f.watermark {
		f.watermark = snap.watermark
	}
	keys := snap.keys
	if len(keys) > f.opts.MaxKeys {
		keys = keys[len(keys)-f.opts.MaxKeys:]
	}
	ncopied := len(f.copy) + len(f.fieldVals)
	for _, k := range keys {
		i := tb.insert(tb.ix.hkey([]byte(k.key)))
		if tb.withDesc {
			tb.setDesc(i, []byte(k.desc))
		}
		s := &tb.slots[i]
		s.flags |= k.flags
		s.count, s.first, s.last, s.firedAt, s.deadline = k.count, k.first, k.last, k.firedAt, k.dline
		if tb.keep > 0 {
			times := k.times
			if len(times) > tb.keep {
				times = times[len(times)-tb.keep:]
			}
			s.n = uint32(copy(tb.ring[int(i)*tb.keep:], times))
		}
		if tb.withCopied && len(k.copied) == ncopied {
			tb.copied[i] = k.copied
		}
		if s.flags&fDeadline != 0 {
			s.flags |= fQueued
			tb.pushDue(s.deadline, i)
		}
	}
}

// encodeState writes the rule's state. f.mu is held.
func (f *Filter) encodeState() []byte {
	tb := f.t
	f.st.copiedLeftOut = 0
	b := []byte(`{"version":` + strconv.Itoa(stateFileVersion) + `,"rule_type":`)
	b = event.AppendJSONValue(b, f.opts.RuleType)
	b = append(b, `,"watermark":`...)
	b = strconv.AppendInt(b, f.watermark, 10)
	b = append(b, `,"keys":[`...)
	order := make([]uint32, 0, tb.live)
	for i := range tb.slots {
		if tb.slots[i].flags&fLive != 0 {
			order = append(order, uint32(i))
		}
	}
	slices.SortFunc(order, func(x, y uint32) int { return cmp.Compare(tb.slots[x].seen, tb.slots[y].seen) })
	for n, i := range order {
		s := &tb.slots[i]
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n"+`{"key":`...)
		key := tb.key(i)
		b = event.AppendJSONValue(b, key)
		if !utf8.ValidString(key) {
			// JSON text cannot hold these bytes (they read back as
			// U+FFFD, longer than the budget and another key): the exact
			// bytes go beside the readable form.
			b = append(b, `,"key_bytes":"`...)
			b = base64.StdEncoding.AppendEncode(b, []byte(key))
			b = append(b, '"')
		}
		b = append(b, `,"desc":`...)
		// A description cut at its budget inside a character loses the
		// part of it, which would read back as U+FFFD, over the budget.
		b = event.AppendJSONValue(b, string(bytes.ToValidUTF8(tb.desc(i), nil)))
		b = append(b, `,"flags":`...)
		b = strconv.AppendInt(b, int64(s.flags&(fFired|fOpen|fDeadline)), 10)
		for _, fld := range []struct {
			name string
			v    int64
		}{{"count", s.count}, {"first", s.first}, {"last", s.last}, {"fired_at", s.firedAt}, {"deadline", s.deadline}} {
			b = append(b, `,"`...)
			b = append(b, fld.name...)
			b = append(b, `":`...)
			b = strconv.AppendInt(b, fld.v, 10)
		}
		b = append(b, `,"times":[`...)
		if tb.keep > 0 {
			for j, t := range tb.times(i) {
				if j > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendInt(b, t, 10)
			}
		}
		b = append(b, ']')
		if tb.withCopied && tb.copied[i] != nil {
			mark := len(b)
			b = append(b, `,"copied":`...)
			b = event.AppendJSONValue(b, tb.copied[i])
			if len(b)-mark > maxCopiedStateBytes {
				b = b[:mark] // within stateBudget; the count is logged by store
				f.st.copiedLeftOut++
			}
		}
		b = append(b, '}')
	}
	return append(b, "]}\n"...)
}

// storeNowAndThen stores the state when it changed and storeInterval
// passed since the last store.
func (f *Filter) storeNowAndThen() {
	if f.st.path == "" {
		return
	}
	f.mu.Lock()
	due := f.st.dirty && f.st.wall().Sub(f.st.lastStore) >= storeInterval
	f.mu.Unlock()
	if due {
		if err := f.store(); err != nil {
			f.log.Warn("correlate state not stored", "rule", f.rule, "err", err)
		}
	}
}

// store writes the state file (a new file renamed over the old one, so a
// crash leaves one or the other).
func (f *Filter) store() error {
	f.st.storeMu.Lock()
	defer f.st.storeMu.Unlock()
	f.mu.Lock()
	f.load()
	b := f.encodeState()
	f.st.dirty = false
	f.st.lastStore = f.st.wall()
	path, leftOut := f.st.path, f.st.copiedLeftOut
	f.mu.Unlock()
	if leftOut > 0 {
		f.log.Warn("correlate state: copy_fields/alert_fields values over the stored budget are left out; after a restart these keys' alerts lack them",
			"rule", f.rule, "path", path, "keys", leftOut, "budget_bytes", maxCopiedStateBytes)
	}
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		return fmt.Errorf("correlate: storing state to %s: %w", path, err)
	}
	return nil
}

// Close stores the state to state_path, when set.
func (f *Filter) Close() error {
	if f.st.path == "" {
		return nil
	}
	return f.store()
}
