package ir

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Settings are per-pipeline runtime settings, decoded and checked once by
// DecodeSettingsHCL or SetSetting; zero values mean "not set here" (the
// command line's value, or the default, applies).
type Settings struct {
	Workers    int
	BatchSize  int
	BatchDelay time.Duration
	// OnPermanentFailure is what happens to events an output refuses for
	// good when no dead letter queue takes them: "acknowledge" (the default,
	// as Logstash: counted, logged and acknowledged to the input) or "hold"
	// (retried until the output takes them; the pipeline stalls).
	OnPermanentFailure string
	// Ordered is pipeline.ordered: "auto" (the default), "true" or
	// "false". Events keep their order with one worker; "true" refuses a
	// pipeline with more, as Logstash refuses to start.
	Ordered string
	// ECSCompatibility is pipeline.ecs_compatibility: "disabled", "v1" or
	// "v8", the ecs_compatibility of every plugin of the pipeline that has
	// the option and does not set it itself; "" leaves each plugin's own
	// default (v8, as Logstash 8).
	ECSCompatibility string
	// DeadLetterQueue holds the dead_letter_queue.* settings.
	DeadLetterQueue DeadLetterQueueSettings
	// Queue holds the queue.* and path.queue settings.
	Queue QueueSettings
}

// QueueSettings are Logstash's queue.* and path.queue settings of one
// pipeline.
type QueueSettings struct {
	Type             string // "memory" or "persisted"
	Path             string // path.queue; the queue is <Path>/<pipeline id>
	MaxBytes         int64  // bytes
	PageCapacity     int64  // bytes; accepted, no effect (see the docs)
	CheckpointWrites int
	Drain            *bool
	// EncryptionKeyPath (queue.encryption_key_path) is the key file, or
	// env:NAME, of AES-256-GCM encryption at rest; EncryptionOldKeyPath
	// the key of records written before a key rotation.
	EncryptionKeyPath    string
	EncryptionOldKeyPath string
}

// DeadLetterQueueSettings are Logstash's dead_letter_queue.* and
// path.dead_letter_queue settings of one pipeline.
type DeadLetterQueueSettings struct {
	Enable        *bool
	Path          string // path.dead_letter_queue; the queue is <Path>/<pipeline id>
	MaxBytes      int64
	StoragePolicy string // "drop_newer" or "drop_older"
	FlushInterval time.Duration
	RetainAge     time.Duration // dead_letter_queue.retain.age
	// EncryptionKeyPath and EncryptionOldKeyPath are as the queue's.
	EncryptionKeyPath    string
	EncryptionOldKeyPath string
}

// Or returns s with every setting s leaves unset taken from d: a pipeline's
// own settings over the command line's.
func (s Settings) Or(d Settings) Settings {
	q, dq := s.Queue, d.Queue
	l, dl := s.DeadLetterQueue, d.DeadLetterQueue
	return Settings{
		Workers:            cmp.Or(s.Workers, d.Workers),
		BatchSize:          cmp.Or(s.BatchSize, d.BatchSize),
		BatchDelay:         cmp.Or(s.BatchDelay, d.BatchDelay),
		OnPermanentFailure: cmp.Or(s.OnPermanentFailure, d.OnPermanentFailure),
		Ordered:            cmp.Or(s.Ordered, d.Ordered),
		ECSCompatibility:   cmp.Or(s.ECSCompatibility, d.ECSCompatibility),
		Queue: QueueSettings{Type: cmp.Or(q.Type, dq.Type), Path: cmp.Or(q.Path, dq.Path),
			MaxBytes: cmp.Or(q.MaxBytes, dq.MaxBytes), PageCapacity: cmp.Or(q.PageCapacity, dq.PageCapacity),
			CheckpointWrites: cmp.Or(q.CheckpointWrites, dq.CheckpointWrites), Drain: cmp.Or(q.Drain, dq.Drain),
			EncryptionKeyPath:    cmp.Or(q.EncryptionKeyPath, dq.EncryptionKeyPath),
			EncryptionOldKeyPath: cmp.Or(q.EncryptionOldKeyPath, dq.EncryptionOldKeyPath)},
		DeadLetterQueue: DeadLetterQueueSettings{Enable: cmp.Or(l.Enable, dl.Enable), Path: cmp.Or(l.Path, dl.Path),
			MaxBytes: cmp.Or(l.MaxBytes, dl.MaxBytes), StoragePolicy: cmp.Or(l.StoragePolicy, dl.StoragePolicy),
			FlushInterval: cmp.Or(l.FlushInterval, dl.FlushInterval), RetainAge: cmp.Or(l.RetainAge, dl.RetainAge),
			EncryptionKeyPath:    cmp.Or(l.EncryptionKeyPath, dl.EncryptionKeyPath),
			EncryptionOldKeyPath: cmp.Or(l.EncryptionOldKeyPath, dl.EncryptionOldKeyPath)},
	}
}

// setting is one setting of S (Settings or ProcessSettings): where an HCL
// pipeline block writes it, the name Logstash gives it (pipelines.yml,
// logstash.yml, the command line), how its value reads and which field
// holds it.
type setting[S any] struct {
	block string // "" (the pipeline block itself), "queue" or "dead_letter_queue"
	attr  string // its argument name in that block; "" if HCL does not write it
	name  string // Logstash's dotted name
	kind  kind
	field func(*S) any // a pointer to the field
}

// settings is the one table of pipeline settings, in the order messages
// list them.
var settings = []setting[Settings]{
	{"", "workers", "pipeline.workers", positiveInt, func(s *Settings) any { return &s.Workers }},
	{"", "batch_size", "pipeline.batch.size", positiveInt, func(s *Settings) any { return &s.BatchSize }},
	{"", "batch_delay", "pipeline.batch.delay", delay, func(s *Settings) any { return &s.BatchDelay }},
	{"", "on_permanent_failure", "pipeline.on_permanent_failure", oneOf("acknowledge", "hold"), func(s *Settings) any { return &s.OnPermanentFailure }},
	{"", "ordered", "pipeline.ordered", oneOf("auto", "true", "false"), func(s *Settings) any { return &s.Ordered }},
	{"", "ecs_compatibility", "pipeline.ecs_compatibility", oneOf("disabled", "v1", "v8"), func(s *Settings) any { return &s.ECSCompatibility }},
	{"queue", "type", "queue.type", oneOf("memory", "persisted"), func(s *Settings) any { return &s.Queue.Type }},
	{"queue", "path", "path.queue", directory, func(s *Settings) any { return &s.Queue.Path }},
	{"queue", "max_bytes", "queue.max_bytes", size, func(s *Settings) any { return &s.Queue.MaxBytes }},
	{"queue", "page_capacity", "queue.page_capacity", size, func(s *Settings) any { return &s.Queue.PageCapacity }},
	{"queue", "checkpoint_writes", "queue.checkpoint.writes", checkpoints, func(s *Settings) any { return &s.Queue.CheckpointWrites }},
	{"queue", "drain", "queue.drain", boolean, func(s *Settings) any { return &s.Queue.Drain }},
	{"queue", "encryption_key_path", "queue.encryption_key_path", keyPath, func(s *Settings) any { return &s.Queue.EncryptionKeyPath }},
	{"queue", "encryption_old_key_path", "queue.encryption_old_key_path", keyPath, func(s *Settings) any { return &s.Queue.EncryptionOldKeyPath }},
	{"dead_letter_queue", "enable", "dead_letter_queue.enable", boolean, func(s *Settings) any { return &s.DeadLetterQueue.Enable }},
	{"dead_letter_queue", "path", "path.dead_letter_queue", directory, func(s *Settings) any { return &s.DeadLetterQueue.Path }},
	{"dead_letter_queue", "max_bytes", "dead_letter_queue.max_bytes", size, func(s *Settings) any { return &s.DeadLetterQueue.MaxBytes }},
	{"dead_letter_queue", "storage_policy", "dead_letter_queue.storage_policy", oneOf("drop_newer", "drop_older"), func(s *Settings) any { return &s.DeadLetterQueue.StoragePolicy }},
	{"dead_letter_queue", "flush_interval", "dead_letter_queue.flush_interval", millis, func(s *Settings) any { return &s.DeadLetterQueue.FlushInterval }},
	{"dead_letter_queue", "retain_age", "dead_letter_queue.retain.age", age, func(s *Settings) any { return &s.DeadLetterQueue.RetainAge }},
	{"dead_letter_queue", "encryption_key_path", "dead_letter_queue.encryption_key_path", keyPath, func(s *Settings) any { return &s.DeadLetterQueue.EncryptionKeyPath }},
	{"dead_letter_queue", "encryption_old_key_path", "dead_letter_queue.encryption_old_key_path", keyPath, func(s *Settings) any { return &s.DeadLetterQueue.EncryptionOldKeyPath }},
}

// SettingNames returns the argument names of the settings of an HCL block:
// "" for the pipeline block itself, "queue" or "dead_letter_queue".
func SettingNames(block string) []string {
	var names []string
	for _, st := range settings {
		if st.block == block {
			names = append(names, st.attr)
		}
	}
	return names
}

// LogstashSettingNames returns the dotted names SetSetting takes.
func LogstashSettingNames() []string {
	names := make([]string, len(settings))
	for i, st := range settings {
		names[i] = st.name
	}
	return names
}

// SetSetting sets the setting with Logstash's dotted name (e.g.
// "queue.max_bytes") from its text as pipelines.yml, logstash.yml or the
// command line writes it. ok is false for an unknown name; err, for a bad
// value, says what the value should be ("write a size such as 1024mb").
// detail is the diagnostic's text for a bad value.
func (s *Settings) SetSetting(name, text string) (ok bool, detail string, err error) {
	return setText(settings, s, name, text)
}

// setText sets the setting of table named name in s from text.
func setText[S any](table []setting[S], s *S, name, text string) (ok bool, detail string, err error) {
	i := slices.IndexFunc(table, func(st setting[S]) bool { return st.name == name })
	if i < 0 {
		return false, "", nil
	}
	st := table[i]
	if !st.kind.fromText(text, st.field(s)) {
		return true, st.kind.detail(name, text, true), errors.New(st.kind.hint)
	}
	return true, "", nil
}

// DecodeSettingsHCL decodes the settings of an HCL pipeline block: its own
// arguments and its queue and dead_letter_queue blocks. It returns the
// other blocks (inputs, filters, outputs, ifs), for the caller to walk.
// Diagnostics are in source order.
func DecodeSettingsHCL(body *hclsyntax.Body) (Settings, []*hclsyntax.Block, hcl.Diagnostics) {
	var s Settings
	diags := s.decodeAttrs("", body)
	var rest []*hclsyntax.Block
	first := map[string]*hclsyntax.Block{}
	for _, b := range body.Blocks {
		if b.Type != "queue" && b.Type != "dead_letter_queue" {
			rest = append(rest, b)
			continue
		}
		if f := first[b.Type]; f != nil {
			diags = append(diags, errorAt(b.DefRange(), "Duplicate "+b.Type+" block",
				"A pipeline has one %s block; the first is at line %d.", b.Type, f.DefRange().Start.Line))
			continue
		}
		first[b.Type] = b
		if len(b.Labels) > 0 {
			example := map[string]string{"queue": `type = "persisted"`, "dead_letter_queue": "enable = true"}[b.Type]
			diags = append(diags, errorAt(b.LabelRanges[0], "Extraneous label",
				"A %s block has no labels: %s { %s }.", b.Type, b.Type, example))
		}
		for _, nb := range b.Body.Blocks {
			diags = append(diags, errorAt(nb.TypeRange, "Unsupported block type",
				"A %s block holds only the settings %s.", b.Type, strings.Join(SettingNames(b.Type), ", ")))
		}
		diags = append(diags, s.decodeAttrs(b.Type, b.Body)...)
	}
	// Every diagnostic here has a subject.
	sort.SliceStable(diags, func(i, j int) bool { return diags[i].Subject.Start.Byte < diags[j].Subject.Start.Byte })
	return s, rest, diags
}

// decodeAttrs decodes the arguments of one block of settings.
func (s *Settings) decodeAttrs(block string, body *hclsyntax.Body) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, a := range body.Attributes {
		i := slices.IndexFunc(settings, func(st setting[Settings]) bool { return st.block == block && st.attr == a.Name })
		if i < 0 {
			diags = append(diags, unsupported(block, a))
			continue
		}
		st := settings[i]
		if d, text, ok := st.kind.fromHCL(a.Expr, st.field(s)); d.HasErrors() {
			diags = append(diags, d...)
		} else if !ok {
			diags = append(diags, errorAt(a.Expr.Range(), "Invalid value", "%s", st.kind.detail(a.Name, text, false)))
		}
	}
	return diags
}

// unsupported reports an argument that is no setting of block.
func unsupported(block string, a *hclsyntax.Attribute) *hcl.Diagnostic {
	names := SettingNames(block)
	detail := fmt.Sprintf("An argument named %q is not expected here.", a.Name)
	best := Suggest(a.Name, names)
	what := "A " + block + " block"
	if block == "" {
		what = "A pipeline block"
	}
	if best != "" {
		detail += fmt.Sprintf(" Did you mean %q?", best)
	} else {
		detail += " " + what + " takes the settings " + strings.Join(names, ", ") + "."
	}
	return errorAt(a.NameRange, "Unsupported argument", "%s", detail)
}

// Suggest returns the candidate closest to given, if it is close enough to
// be a likely typo, or "": the "Did you mean" of every diagnostic about a
// name.
func Suggest(given string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := levenshtein.Distance(given, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

func errorAt(r hcl.Range, summary, format string, args ...any) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: r.Ptr()}
}

// SettingsHCL lists the settings s sets as an HCL pipeline block writes
// them, in table order: the block ("" for the pipeline block itself), the
// argument and its value (an int, a bool or a string).
func SettingsHCL(s Settings) []SettingHCL {
	var out []SettingHCL
	for _, st := range settings {
		if v, ok := st.kind.toHCL(st.field(&s)); ok {
			out = append(out, SettingHCL{Block: st.block, Name: st.attr, Value: v})
		}
	}
	return out
}

// SettingHCL is one setting as an HCL pipeline block writes it.
type SettingHCL struct {
	Block, Name string
	Value       any // int, bool or string
}

// kind is how the value of a setting reads: from an HCL expression (decoded
// with gohcl into the Go type HCL writes it as, then checked), from text
// (pipelines.yml, logstash.yml, flags), and back to HCL.
type kind struct {
	// fromHCL decodes expr into dst (a pointer to the field); it returns
	// gohcl's diagnostics, or, when the value is bad, false and the value
	// as text.
	fromHCL func(expr hcl.Expression, dst any) (diags hcl.Diagnostics, text string, ok bool)
	// fromText reads text into dst; false when it is bad.
	fromText func(text string, dst any) bool
	// toHCL returns the value of the field dst points to as HCL writes it;
	// false when it is unset.
	toHCL func(dst any) (any, bool)
	// bad is the diagnostic's detail for a bad value: %[1]s is the
	// setting's name, %[2]q the value (a detail without it gets "; %q is
	// not." for a value written as text, where the types of HCL do not
	// show what was wrong).
	bad string
	// badText, if set, replaces bad for text, which writes the value
	// differently from HCL.
	badText string
	// hint says what a good value looks like, for command-line errors.
	hint string
}

func (k kind) detail(name, value string, text bool) string {
	bad := k.bad
	if text && k.badText != "" {
		bad = k.badText
	}
	if strings.Contains(bad, "%[2]q") {
		return fmt.Sprintf(bad, name, value)
	}
	d := fmt.Sprintf(bad, name)
	if text && value != "" {
		d = strings.TrimSuffix(d, ".") + fmt.Sprintf("; %q is not.", value)
	}
	return d
}

// typed builds a kind whose value HCL writes as R (int, string or bool)
// and the field holds as T; check turns a written value into the field's,
// false when it is bad, and show turns it back.
func typed[R comparable, T comparable](parse func(string) (R, error), check func(R) (T, bool), show func(T) R, bad, hint string) kind {
	var zero T
	return kind{
		fromHCL: func(expr hcl.Expression, dst any) (hcl.Diagnostics, string, bool) {
			var r R
			if d := gohcl.DecodeExpression(expr, nil, &r); d.HasErrors() {
				return d, "", false
			}
			v, ok := check(r)
			if ok {
				*dst.(*T) = v
			}
			return nil, fmt.Sprint(r), ok
		},
		fromText: func(text string, dst any) bool {
			r, err := parse(text)
			if err != nil {
				return false
			}
			v, ok := check(r)
			if ok {
				*dst.(*T) = v
			}
			return ok
		},
		toHCL: func(dst any) (any, bool) {
			v := *dst.(*T)
			if v == zero {
				return nil, false
			}
			return show(v), true
		},
		bad: bad, hint: hint,
	}
}

func str(s string) (string, error) { return s, nil }
func same[T any](v T) T            { return v }

var (
	positiveInt = typed(strconv.Atoi, func(n int) (int, bool) { return n, n > 0 }, same[int],
		"%[1]s must be a positive whole number.", "give a whole number above 0")
	checkpoints = typed(strconv.Atoi, func(n int) (int, bool) { return n, n > 0 }, same[int],
		"%[1]s is a positive number of events (1 = fsync every write).", "give a number of events above 0")
	// delay is pipeline.batch.delay: HCL writes a duration ("50ms"),
	// Logstash a number of milliseconds.
	delay = kind{
		fromHCL: typed(str, func(s string) (time.Duration, bool) {
			d, err := time.ParseDuration(s)
			return d, err == nil && d >= 0
		}, time.Duration.String, "", "").fromHCL,
		fromText: typed(strconv.Atoi, func(ms int) (time.Duration, bool) {
			return time.Duration(ms) * time.Millisecond, ms >= 0
		}, func(d time.Duration) int { return int(d.Milliseconds()) }, "", "").fromText,
		toHCL:   func(dst any) (any, bool) { d := *dst.(*time.Duration); return d.String(), d != 0 },
		bad:     `%[1]s must be a duration, e.g. "50ms"; %[2]q is not.`,
		badText: "%[1]s is in milliseconds, e.g. 50, not %[2]q.",
		hint:    "give milliseconds, e.g. 50",
	}
	millis = typed(strconv.Atoi, func(ms int) (time.Duration, bool) { return time.Duration(ms) * time.Millisecond, ms > 0 },
		func(d time.Duration) int { return int(d.Milliseconds()) },
		"%[1]s is a positive number of milliseconds, e.g. 5000.", "give milliseconds above 0")
	size = typed(str, func(s string) (int64, bool) { n, err := ParseByteSize(s); return n, err == nil && n > 0 },
		func(n int64) string { return fmt.Sprintf("%db", n) },
		`%[1]s must be a positive size such as "1024mb"; %[2]q is not.`, "write a size such as 1024mb")
	age = typed(str, func(s string) (time.Duration, bool) { d, err := ParseAge(s); return d, err == nil }, FormatAge,
		`%[1]s is a whole number with d, h, m or s, e.g. "5d"; %[2]q is not.`, "write a whole number with d, h, m or s, e.g. 5d")
	directory = typed(str, func(s string) (string, bool) { return s, s != "" }, same[string],
		"%[1]s must name a directory.", "name a directory")
	// keyPath is an encryption key's file, or env:NAME.
	keyPath = typed(str, func(s string) (string, bool) { return s, strings.TrimSpace(s) != "" }, same[string],
		"%[1]s must name a key file (or env:NAME, a variable holding the key).", "name a key file or env:NAME")
	boolean = typed(strconv.ParseBool, func(b bool) (*bool, bool) { return &b, true },
		func(b *bool) bool { return *b }, `%[1]s is true or false, not %[2]q.`, "use true or false")
)

// oneOf is a string setting with a fixed set of values.
func oneOf(values ...string) kind {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = strconv.Quote(v)
	}
	return typed(str, func(s string) (string, bool) { return s, slices.Contains(values, s) }, same[string],
		"%[1]s is "+strings.Join(quoted, " or ")+", not %[2]q.", "use "+strings.Join(values, " or "))
}
