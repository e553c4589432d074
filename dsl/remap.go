package dsl

import (
	"bytes"
	"reflect"
	"sort"

	"github.com/hashicorp/hcl/v2"
)

// lineIndex turns byte offsets of one source into hcl.Pos values, counting
// lines and columns the way hclsyntax does (columns are 1-based and count
// grapheme clusters).
type lineIndex struct {
	src   []byte
	lines []int // byte offset of the start of each line
}

func newLineIndex(src []byte) *lineIndex {
	li := &lineIndex{src: src, lines: []int{0}}
	for i, c := range src {
		if c == '\n' {
			li.lines = append(li.lines, i+1)
		}
	}
	return li
}

// pos returns the position of byte offset off.
func (li *lineIndex) pos(off int) hcl.Pos {
	off = max(0, min(off, len(li.src)))
	line := sort.Search(len(li.lines), func(i int) bool { return li.lines[i] > off }) - 1
	start := li.lines[line]
	col := 1
	if off > start {
		// Let hcl count the grapheme clusters between the start of the line
		// and off, as its scanner does. (RangeScanner indexes the fragment
		// with the start position's Byte, so that must be 0.)
		sc := hcl.NewRangeScannerFragment(li.src[start:off], "", hcl.Pos{Line: line + 1, Column: 1}, scanAll)
		for sc.Scan() {
			col = sc.Range().End.Column
		}
	}
	return hcl.Pos{Line: line + 1, Column: col, Byte: off}
}

// scanAll is a bufio.SplitFunc returning all remaining data as one token.
func scanAll(data []byte, atEOF bool) (int, []byte, error) {
	if len(data) == 0 {
		return 0, nil, nil
	}
	// Stop at a newline so a "\r" is never counted as a line break.
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i+1], nil
	}
	return len(data), data, nil
}

// posMapper rewrites every hcl.Pos in a value graph, each memory location
// once.
type posMapper struct {
	fn    func(hcl.Pos) hcl.Pos
	seen  map[seenKey]bool
	types map[reflect.Type]bool // containsPos cache
}

type seenKey struct {
	addr uintptr
	typ  reflect.Type
}

var (
	posType  = reflect.TypeFor[hcl.Pos]()
	diagType = reflect.TypeFor[hcl.Diagnostic]()
)

// remapPositions applies fn to every hcl.Pos reachable from root (a pointer)
// through exported fields, slices, maps and interfaces. Diagnostics inside
// the graph (hclsyntax.ExprSyntaxError.ParseDiags) are skipped: they are the
// parser's own diagnostics, remapped with remapDiags.
func remapPositions(root any, fn func(hcl.Pos) hcl.Pos) {
	m := &posMapper{fn: fn, seen: map[seenKey]bool{}, types: map[reflect.Type]bool{}}
	m.walk(reflect.ValueOf(root))
}

func (m *posMapper) walk(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() || v.Type().Elem() == diagType {
			return
		}
		k := seenKey{v.Pointer(), v.Type()}
		if m.seen[k] {
			return
		}
		m.seen[k] = true
		m.walk(v.Elem())
	case reflect.Interface:
		if v.IsNil() {
			return
		}
		e := v.Elem()
		if e.Kind() == reflect.Pointer {
			m.walk(e)
			return
		}
		if !v.CanSet() || !m.containsPos(e.Type()) {
			return
		}
		k := seenKey{v.Addr().Pointer(), v.Type()}
		if m.seen[k] {
			return // e.g. a Traversal slice shared by two nodes
		}
		m.seen[k] = true
		// A value (e.g. hcl.TraverseAttr in a Traversal): copy, remap, store.
		c := reflect.New(e.Type()).Elem()
		c.Set(e)
		m.walk(c)
		v.Set(c)
	case reflect.Struct:
		if v.Type() == posType {
			if !v.CanSet() {
				return
			}
			k := seenKey{v.Addr().Pointer(), posType}
			if m.seen[k] {
				return
			}
			m.seen[k] = true
			if p := v.Interface().(hcl.Pos); p != (hcl.Pos{}) {
				v.Set(reflect.ValueOf(m.fn(p)))
			}
			return
		}
		if !m.containsPos(v.Type()) {
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				m.walk(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		if !m.containsPos(v.Type().Elem()) {
			return
		}
		for i := 0; i < v.Len(); i++ {
			m.walk(v.Index(i))
		}
	case reflect.Map:
		if !m.containsPos(v.Type().Elem()) {
			return
		}
		iter := v.MapRange()
		for iter.Next() {
			e := iter.Value()
			if e.Kind() == reflect.Pointer || e.Kind() == reflect.Interface && !e.IsNil() && e.Elem().Kind() == reflect.Pointer {
				m.walk(e)
				continue
			}
			c := reflect.New(e.Type()).Elem()
			c.Set(e)
			m.walk(c)
			v.SetMapIndex(iter.Key(), c)
		}
	}
}

// containsPos reports whether values of type t may hold an hcl.Pos. It is
// an optimisation only: it prunes strings, numbers and cty values.
func (m *posMapper) containsPos(t reflect.Type) bool {
	r, ok := m.types[t]
	if !ok {
		r = containsPosMemo(t, map[reflect.Type]bool{})
		m.types[t] = r
	}
	return r
}

func containsPosMemo(t reflect.Type, visiting map[reflect.Type]bool) bool {
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return containsPosMemo(t.Elem(), visiting)
	case reflect.Struct:
		if t == posType {
			return true
		}
		if visiting[t] {
			return false // recursion: the other path decides
		}
		visiting[t] = true
		for i := 0; i < t.NumField(); i++ {
			if f := t.Field(i); f.IsExported() && containsPosMemo(f.Type, visiting) {
				return true
			}
		}
	}
	return false
}

// remapDiags replaces the Subject and Context of each diagnostic with a
// remapped copy. The ranges are copied first, because a diagnostic may point
// into an AST node that is remapped separately.
func remapDiags(diags hcl.Diagnostics, fn func(hcl.Pos) hcl.Pos) {
	for _, d := range diags {
		if d.Subject != nil {
			r := mapRange(*d.Subject, fn)
			d.Subject = &r
		}
		if d.Context != nil {
			r := mapRange(*d.Context, fn)
			d.Context = &r
		}
	}
}

func mapRange(r hcl.Range, fn func(hcl.Pos) hcl.Pos) hcl.Range {
	r.Start = fn(r.Start)
	r.End = fn(r.End)
	return r
}
