package immudb

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/codenotary/immudb/embedded/store"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

func init() { engine.RegisterOutput("immudb", New) }

// Defaults shared by the output and `pipeline verify`.
const (
	DefaultPath     = "data/immudb"
	DefaultPort     = 3322
	DefaultDatabase = "logs_immudb"
	DefaultTable    = "logs"
	DefaultUser     = "immudb"
	// MinRetention and MinTruncationFrequency are immudb's minimums.
	MinRetention           = 24 * time.Hour
	MinTruncationFrequency = time.Hour
)

// Options configures the immudb output.
type Options struct {
	// Mode is "embedded" (an immudb store inside this process, in path) or
	// "server" (an immudb server reached over gRPC at host and port).
	Mode string `hcl:"mode,optional"`
	// Path is the directory of the embedded store (mode "embedded"). It is
	// created when missing.
	Path string `hcl:"path,optional"`
	// Host is the immudb server (mode "server").
	Host string `hcl:"host,optional"`
	// Port is the immudb server's gRPC port.
	Port int `hcl:"port,optional"`
	// Username logs in to the server.
	Username string `hcl:"username,optional"`
	// Password is the password of username. It is never logged.
	Password string `hcl:"password,optional"`
	// Database is the server database holding the table.
	Database string `hcl:"database,optional"`
	// The ssl_* options: TLS to the server (mode "server").
	tlsopt.Client
	// SSLServerName is the name checked against the server's certificate;
	// default host.
	SSLServerName string `hcl:"ssl_server_name,optional"`
	// Table is the table the rows go to.
	Table string `hcl:"table,optional"`
	// CreateTable creates the table when it does not exist.
	CreateTable bool `hcl:"create_table,optional"`
	// CreateDatabase creates the server database when it does not exist, with
	// retention_period and truncation_frequency (mode "server").
	CreateDatabase bool `hcl:"create_database,optional"`
	// RetentionPeriod is how long the database created by create_database
	// keeps values, as a duration such as "24h" or "720h" (at least 24h).
	RetentionPeriod string `hcl:"retention_period,optional"`
	// TruncationFrequency is how often immudb truncates values older than
	// retention_period (at least "1h").
	TruncationFrequency string `hcl:"truncation_frequency,optional"`
	// KeyFormat is "python" (the value is json.dumps(event, sort_keys=True) as
	// the Python consumer wrote it, byte for byte) or "json" (the engine's
	// compact JSON with sorted keys). The key is the SHA-256 hex of the value.
	KeyFormat string `hcl:"key_format,optional"`
	// ValueMaxLength is the size of the value column in bytes. A longer value
	// is never truncated: its event fails permanently (dead letter queue).
	ValueMaxLength int `hcl:"value_max_length,optional"`
	// BatchSize is the most rows written in one immudb transaction; a larger
	// Write is split. immudb servers accept 1024 entries per transaction by
	// default: when a server refuses a transaction as too large, the output
	// halves it until the server accepts it.
	BatchSize int `hcl:"batch_size,optional"`
	// Synced makes the embedded store fsync every transaction before Write
	// returns. Turning it off is faster and may lose the last writes on a
	// machine crash.
	Synced bool `hcl:"synced,optional"`
	// Timeout bounds connecting and each request to the server, in seconds.
	Timeout int `hcl:"timeout,optional"`
}

// Defaults sets the defaults.
func (o *Options) Defaults() {
	o.Mode = "embedded"
	o.Path = DefaultPath
	o.Host = "127.0.0.1"
	o.Port = DefaultPort
	o.Username = DefaultUser
	o.Password = "immudb"
	o.Database = DefaultDatabase
	o.Table = DefaultTable
	o.CreateTable = true
	o.CreateDatabase = true
	o.RetentionPeriod = "24h"
	o.TruncationFrequency = "1h"
	o.KeyFormat = "python"
	o.ValueMaxLength = 10000
	o.BatchSize = 1000
	o.Synced = true
	o.Timeout = 10
	o.Client.Defaults()
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks the options.
func (o *Options) Validate() error {
	fe := func(f, msg string, a ...any) error { return &engine.FieldError{Field: f, Err: fmt.Errorf(msg, a...)} }
	switch o.Mode {
	case "embedded":
		if strings.TrimSpace(o.Path) == "" {
			return fe("path", "must not be empty in embedded mode")
		}
	case "server":
		if strings.TrimSpace(o.Host) == "" {
			return fe("host", "must not be empty in server mode")
		}
		if !identRE.MatchString(o.Database) {
			return fe("database", "%q is not a valid database name (letters, digits, _)", o.Database)
		}
	default:
		return fe("mode", "unsupported value %q: want \"embedded\" or \"server\"", o.Mode)
	}
	if o.Port < 1 || o.Port > 65535 {
		return fe("port", "must be between 1 and 65535")
	}
	if !identRE.MatchString(o.Table) {
		return fe("table", "%q is not a valid table name (letters, digits, _)", o.Table)
	}
	if _, _, err := o.retention(); err != nil {
		return err
	}
	switch o.KeyFormat {
	case "python", "json":
	default:
		return fe("key_format", "unsupported value %q: want \"python\" or \"json\"", o.KeyFormat)
	}
	if o.ValueMaxLength < 2 || o.ValueMaxLength > 1<<24 {
		return fe("value_max_length", "must be between 2 and %d", 1<<24)
	}
	if o.BatchSize < 1 || o.BatchSize > 100000 {
		return fe("batch_size", "must be between 1 and 100000")
	}
	if err := o.Client.Validate(o.Client.Enabled()); err != nil {
		return err
	}
	if o.Timeout < 1 {
		return fe("timeout", "must be at least 1")
	}
	return nil
}

// retention parses retention_period and truncation_frequency.
func (o *Options) retention() (period, freq time.Duration, err error) {
	period, err = time.ParseDuration(o.RetentionPeriod)
	if err != nil {
		return 0, 0, &engine.FieldError{Field: "retention_period", Err: fmt.Errorf("%q is not a duration such as \"24h\"", o.RetentionPeriod)}
	}
	if period < MinRetention {
		return 0, 0, &engine.FieldError{Field: "retention_period", Err: fmt.Errorf("%s is below immudb's minimum of 24h", period)}
	}
	freq, err = time.ParseDuration(o.TruncationFrequency)
	if err != nil {
		return 0, 0, &engine.FieldError{Field: "truncation_frequency", Err: fmt.Errorf("%q is not a duration such as \"1h\"", o.TruncationFrequency)}
	}
	if freq < MinTruncationFrequency {
		return 0, 0, &engine.FieldError{Field: "truncation_frequency", Err: fmt.Errorf("%s is below immudb's minimum of 1h", freq)}
	}
	return period, freq, nil
}

// Output is the immudb output.
type Output struct {
	o      Options
	log    *slog.Logger
	db     backend
	python bool
	batch  int // rows per transaction: batch_size, or less when the server refuses it

	// Per-Write state, reused.
	buf  []byte
	rows []row
}

// row is one distinct value of a Write and the events that produced it.
type row struct {
	key, value string
	idx        []int
}

var _ engine.Output = (*Output)(nil)

// New builds an immudb output. It opens nothing: Connect does.
func New(o Options, r engine.Resources) (*Output, error) {
	out := &Output{o: o, log: r.Logger, python: o.KeyFormat == "python"}
	if out.log == nil {
		out.log = slog.New(slog.DiscardHandler)
	}
	return out, nil
}

// Connect opens the embedded store or connects to the server, creating the
// database and table when asked to.
func (o *Output) Connect(ctx context.Context) error {
	if o.db != nil {
		_ = o.db.close()
		o.db = nil
	}
	db, err := open(ctx, o.o, o.log)
	if err != nil {
		return err
	}
	if o.o.CreateTable {
		if err := db.exec(ctx, createTableSQL(o.o.Table, o.o.ValueMaxLength), nil); err != nil {
			_ = db.close()
			return fmt.Errorf("immudb %s: create table %s: %w", db.where(), o.o.Table, err)
		}
	}
	o.db = db
	o.log.Info("immudb ready", "where", db.where(), "table", o.o.Table)
	return nil
}

func createTableSQL(table string, valueMax int) string {
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (log_key VARCHAR[64] PRIMARY KEY, value VARCHAR[%d])", table, valueMax)
}

// Format appends the stored value of e in the output's key_format.
func (o *Output) format(dst []byte, e *event.Event) []byte {
	if o.python {
		return AppendPython(dst, e)
	}
	return e.AppendJSON(dst)
}

// Write stores the events, one transaction per batch_size rows.
func (o *Output) Write(ctx context.Context, events []*event.Event) error {
	if o.db == nil {
		return fmt.Errorf("immudb: %w", engine.ErrNotConnected)
	}
	failed := map[int]error{}
	o.rows = o.rows[:0]
	seen := make(map[string]int, len(events))
	for i, e := range events {
		o.buf = o.format(o.buf[:0], e)
		if len(o.buf) > o.o.ValueMaxLength {
			failed[i] = engine.Permanent(fmt.Errorf("immudb: value of %d bytes is longer than value_max_length %d (the %s.value column); not truncated",
				len(o.buf), o.o.ValueMaxLength, o.o.Table))
			continue
		}
		key := Key(o.buf)
		if j, ok := seen[key]; ok { // the same event twice in one batch: one row
			o.rows[j].idx = append(o.rows[j].idx, i)
			continue
		}
		seen[key] = len(o.rows)
		o.rows = append(o.rows, row{key: key, value: string(o.buf), idx: []int{i}})
	}
	if o.batch == 0 {
		o.batch = o.o.BatchSize
	}
	for start := 0; start < len(o.rows); {
		chunk := o.rows[start:min(start+o.batch, len(o.rows))]
		err := o.insert(ctx, chunk, failed)
		if err != nil && len(chunk) > 1 && strings.Contains(err.Error(), store.ErrMaxTxEntriesLimitExceeded.Error()) {
			// The server accepts fewer entries per transaction than
			// batch_size: use smaller transactions from now on.
			o.batch = len(chunk) / 2
			o.log.Warn("immudb refused a transaction of this many rows; using smaller ones",
				"rows", len(chunk), "now", o.batch, "where", o.db.where())
			continue
		}
		if err != nil {
			return err // the whole Write again: rows already stored count as delivered then
		}
		start += len(chunk)
	}
	if len(failed) > 0 {
		return &engine.BatchError{Failed: failed}
	}
	return nil
}

// insert stores chunk in one transaction. When some keys already exist (a
// replay), it compares their stored values: equal ones are delivered,
// different ones fail permanently, and the others are inserted.
func (o *Output) insert(ctx context.Context, chunk []row, failed map[int]error) error {
	err := o.db.exec(ctx, insertSQL(o.o.Table, len(chunk)), insertParams(chunk))
	if err == nil {
		return nil
	}
	if !o.db.isDuplicate(err) {
		return o.describe(err)
	}
	var missing []row
	for _, r := range chunk {
		v, ok, err := o.db.lookup(ctx, o.o.Table, r.key)
		if err != nil {
			return o.describe(err)
		}
		switch {
		case !ok:
			missing = append(missing, r)
		case v != r.value:
			ferr := engine.Permanent(fmt.Errorf("immudb: table %s already has a row with log_key %s and a different value: the store was altered or another writer used this key", o.o.Table, r.key))
			for _, i := range r.idx {
				failed[i] = ferr
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := o.db.exec(ctx, insertSQL(o.o.Table, len(missing)), insertParams(missing)); err != nil {
		// Another writer stored one of these keys meanwhile: the engine
		// retries the Write and the comparison above sorts it out.
		return o.describe(err)
	}
	return nil
}

func (o *Output) describe(err error) error {
	if o.db.isConnErr(err) {
		return fmt.Errorf("immudb %s: %w: %w", o.db.where(), engine.ErrNotConnected, err)
	}
	return fmt.Errorf("immudb %s: table %s: %w", o.db.where(), o.o.Table, err)
}

func insertSQL(table string, n int) string {
	var b strings.Builder
	b.Grow(40 + n*20)
	b.WriteString("INSERT INTO ")
	b.WriteString(table)
	b.WriteString(" (log_key, value) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		is := strconv.Itoa(i)
		b.WriteString("(@k" + is + ",@v" + is + ")")
	}
	return b.String()
}

func insertParams(rows []row) map[string]any {
	p := make(map[string]any, 2*len(rows))
	for i, r := range rows {
		is := strconv.Itoa(i)
		p["k"+is] = r.key
		p["v"+is] = r.value
	}
	return p
}

// Close closes the store or the connection.
func (o *Output) Close(context.Context) error {
	if o.db == nil {
		return nil
	}
	err := o.db.close()
	o.db = nil
	return err
}
