package translate

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/pipelined/pipeline/engine/event"
)

// maxYAMLNodes bounds the values built from one YAML file, aliases expanded,
// so that a small file of nested aliases cannot exhaust memory. A variable
// so that tests can lower it.
var maxYAMLNodes = 10_000_000

// fileSource is a dictionary file and its reload state.
type fileSource struct {
	path       string
	kind       string // yaml, json or csv
	replace    bool
	codePoints int
	interval   time.Duration
	logger     *slog.Logger

	next    atomic.Int64 // UnixNano of the next check
	running atomic.Bool  // a reload is under way
	mtime   time.Time    // of the file last read; owned by the reload holding running
}

// maybeReload starts a background reload when the interval has passed and
// none is running. Events never wait for it.
func (s *fileSource) maybeReload(f *Filter) {
	if s.interval <= 0 {
		return
	}
	now := time.Now()
	if now.UnixNano() < s.next.Load() || !s.running.CompareAndSwap(false, true) {
		return
	}
	s.next.Store(now.Add(s.interval).UnixNano())
	go func() {
		defer s.running.Store(false)
		defer func() {
			if p := recover(); p != nil {
				s.logger.Error("translate: dictionary reload panicked, continuing with old dictionary", "path", s.path, "panic", fmt.Sprint(p))
			}
		}()
		s.reload(f)
	}()
}

// reload reads the file again (only when it changed, for short intervals, as
// Logstash) and swaps the dictionary; on failure the old one stays.
func (s *fileSource) reload(f *Filter) {
	if s.interval <= 300*time.Second {
		fi, err := os.Stat(s.path)
		if err == nil && fi.ModTime().Equal(s.mtime) {
			return
		}
	}
	d, err := s.load(f.dict.Load(), f.exact, f.regex)
	if err != nil {
		s.logger.Warn("translate: dictionary file read failure, continuing with old dictionary", "path", s.path, "error", err.Error())
		return
	}
	f.dict.Store(d)
	s.logger.Debug("translate: dictionary reloaded", "path", s.path, "entries", len(d.keys))
}

// load reads the file into a new dictionary, merged over old unless replace
// (or old is nil).
func (s *fileSource) load(old *dictionary, exact, regex bool) (*dictionary, error) {
	fh, err := os.Open(s.path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > DictionaryFileBudget {
		return nil, fmt.Errorf("%s holds %d bytes, over the budget of %d", s.path, fi.Size(), DictionaryFileBudget)
	}
	data, err := io.ReadAll(io.LimitReader(fh, DictionaryFileBudget+1))
	if err != nil {
		return nil, err
	}
	if len(data) > DictionaryFileBudget {
		return nil, fmt.Errorf("%s grew over the budget of %d bytes", s.path, DictionaryFileBudget)
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	var keys []string
	vals := map[string]any{}
	if !s.replace && old != nil {
		keys = slices.Clone(old.keys)
		for k, v := range old.vals {
			vals[k] = v
		}
	}
	put := func(k string, v any) {
		if _, ok := vals[k]; !ok {
			keys = append(keys, k)
		}
		vals[k] = v
	}
	switch s.kind {
	case "yaml":
		err = s.readYAML(data, put)
	case "json":
		err = readJSON(data, put)
	case "csv":
		err = readCSV(data, put)
	}
	if err != nil {
		return nil, fmt.Errorf("%w when loading dictionary file at %s", err, s.path)
	}
	d, err := newDictionary(keys, vals, exact, regex)
	if err != nil {
		return nil, fmt.Errorf("%w when loading dictionary file at %s", err, s.path)
	}
	s.mtime = fi.ModTime()
	return d, nil
}

func (s *fileSource) readYAML(data []byte, put func(string, any)) error {
	if n := utf8.RuneCount(data); n > s.codePoints {
		return fmt.Errorf("the incoming YAML document exceeds the limit: %d code points", s.codePoints)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil // empty file: empty dictionary
	}
	root := doc.Content[0]
	for root.Kind == yaml.AliasNode {
		root = root.Alias
	}
	budget := maxYAMLNodes
	switch root.Kind {
	case yaml.MappingNode:
		return yamlPairs(root, put, &budget)
	case yaml.SequenceNode: // an !!omap written as a list of one-pair maps
		for _, el := range root.Content {
			if el.Kind != yaml.MappingNode {
				return fmt.Errorf("line %d: a dictionary list must hold mappings", el.Line)
			}
			if err := yamlPairs(el, put, &budget); err != nil {
				return err
			}
		}
		return nil
	case yaml.ScalarNode:
		if root.Tag == "!!null" {
			return nil
		}
	}
	return fmt.Errorf("line %d: the dictionary must be a mapping", root.Line)
}

func yamlPairs(m *yaml.Node, put func(string, any), budget *int) error {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, err := yamlValue(m.Content[i], budget)
		if err != nil {
			return err
		}
		v, err := yamlValue(m.Content[i+1], budget)
		if err != nil {
			return err
		}
		put(toS(k), v)
	}
	return nil
}

func yamlValue(n *yaml.Node, budget *int) (any, error) {
	*budget--
	if *budget < 0 {
		return nil, fmt.Errorf("the YAML document expands to more than %d values", maxYAMLNodes)
	}
	switch n.Kind {
	case yaml.AliasNode:
		return yamlValue(n.Alias, budget)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, err := yamlValue(n.Content[i], budget)
			if err != nil {
				return nil, err
			}
			v, err := yamlValue(n.Content[i+1], budget)
			if err != nil {
				return nil, err
			}
			m[toS(k)] = v
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := yamlValue(c, budget)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, err
		}
		nv, err := event.Normalize(v)
		if err != nil {
			return n.Value, nil // a value the event cannot hold stays text
		}
		return nv, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
}

func readJSON(data []byte, put func(string, any)) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("the JSON dictionary must be an object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		v, err := event.ParseJSON(raw)
		if err != nil {
			return err
		}
		put(key, v)
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON dictionary")
	}
	return nil
}

func readCSV(data []byte, put func(string, any)) error {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var v any // Ruby's CSV gives nil for a missing (or empty) column
		if len(rec) > 1 && rec[1] != "" {
			v = rec[1]
		}
		put(rec[0], v)
	}
}
