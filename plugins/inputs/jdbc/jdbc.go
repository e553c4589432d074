// Package jdbc implements Logstash's jdbc input: it runs an SQL statement
// once, or on a cron schedule, and makes one event of each row, its columns
// as fields.
//
// # Drivers
//
// Logstash loads a JDBC driver (jdbc_driver_library, jdbc_driver_class);
// this input has Go drivers built in and reads the same
// jdbc_connection_string forms: jdbc:postgresql://host:port/db (pgx's pgconn),
// jdbc:mysql://host:port/db and jdbc:mariadb:// (go-sql-driver/mysql) and
// jdbc:sqlite:/path/to/file.db (modernc.org/sqlite, no C library).
// jdbc_driver_library is accepted and ignored: no jar is loaded.
// jdbc_driver_class must name a driver of the same database
// (org.postgresql.Driver; com.mysql.jdbc.Driver, com.mysql.cj.jdbc.Driver or
// org.mariadb.jdbc.Driver; org.sqlite.JDBC; a "Java::" prefix is allowed);
// any other class (Oracle, SQL Server, DB2…) is refused by `pipeline check`,
// as there is no Go driver for it here. JDBC URL properties that have a Go
// equivalent are mapped (PostgreSQL: sslmode, ssl=true, sslrootcert,
// sslcert, sslkey, ApplicationName, currentSchema, connectTimeout, options;
// MySQL: useSSL, sslMode, connectTimeout, socketTimeout); the others are
// named in a warning when the input starts. jdbc_user and jdbc_password (or
// the content of jdbc_password_filepath, trimmed) go to the driver, never into a
// log line or an error.
//
// # Statement and parameters
//
// statement (or statement_filepath) is sent as written except for named
// parameters, Sequel's ":name": :sql_last_value, the keys of parameters,
// and with explicit paging :offset and :size are bound as parameters of the
// query (never pasted into its text); a ":name" inside quotes or comments,
// and PostgreSQL's "::type" casts, are left alone. A ":name" that is none
// of these is bound as NULL, as Sequel does, with a warning. The values of
// parameters are bound as text (databases convert them where a number is
// compared). With use_prepared_statements the statement's "?" marks take
// prepared_statement_bind_values in order, ":sql_last_value" among them.
//
// # sql_last_value and acknowledgements
//
// sql_last_value starts at 0 (use_column_value with a numeric
// tracking_column_type) or 1970-01-01T00:00:00Z, or at the value stored in
// last_run_metadata_path (default <path.data>/plugins/inputs/jdbc/logstash_jdbc_last_run,
// shared by every jdbc input that does not set its own, as in Logstash).
// After a run it is the tracking column of the last row read
// (use_column_value; rows whose column is missing or of the wrong type keep
// the previous value, with one warning per run), or the time the run started.
// The next run binds that value; it is stored only once the pipeline has
// acknowledged every event of that run and of the runs before it, so a
// crash or kill re-reads rows that were not delivered and never skips one
// (at least once). The file is written atomically (a temporary file synced
// and renamed) in Logstash's YAML form ("--- 42", "--- 2026-12-07
// 15:08:30.000000000 Z"); Logstash's own files are read. A file that cannot
// be read as a value is reported with its path and the input starts from
// the initial value. clean_run deletes it at start; record_last_run =>
// false neither reads nor writes it.
//
// # Values
//
// Integers are integers, floats and DECIMAL/NUMERIC columns floats (a
// DECIMAL beyond float precision is rounded), text is text (converted to
// UTF-8 with charset or columns_charset), booleans are booleans, NULL is a
// nil field (kept, as Logstash keeps it), and TIMESTAMP, DATETIME and DATE
// columns are times, shown as Logstash's timestamps. A time without a zone
// is read in jdbc_default_timezone (a "[dst_enabled_on_overlap:…]" suffix is
// accepted and ignored), else in UTC, or the machine's zone with
// plugin_timezone => "local"; a timestamp sql_last_value is bound in that
// zone too. Column names are lower-cased unless lowercase_column_names is
// false; with target the columns go under that field.
//
// # Schedule
//
// schedule is a rufus-scheduler cron line: 5 fields, or 6 with seconds
// first, an optional zone ("0 6 * * * America/Chicago"), names, L, #n and
// the @daily-like shorthands (package cron says which forms). Without a
// schedule the statement runs once and the input ends, so a pipeline of
// only finite inputs stops once the rows are delivered. A run that is still
// going when the next one is due delays it (runs never overlap).
//
// # Paging and large results
//
// Rows stream from the database as the pipeline takes them (emit blocks
// while the pipeline is full: back-pressure holds the cursor). With
// jdbc_paging_enabled the statement is read in pages of jdbc_page_size:
// "auto" wraps it as SELECT * FROM (statement) AS t1 LIMIT n OFFSET m (no
// count query first, unlike Sequel; it stops at a short page), "explicit"
// binds :size and :offset in the statement as written. jdbc_fetch_size is
// accepted: the Go drivers stream rows and have no fetch size to set.
//
// # Connections
//
// One connection is kept between runs. connection_retry_attempts bounds the
// attempts to connect (jdbc_pool_timeout seconds each,
// connection_retry_attempts_wait_time apart); without a schedule a failure
// ends the input with the error, with one the next run tries again. A
// failing statement is tried statement_retry_attempts times and then logged;
// sql_last_value is kept. jdbc_validate_connection pings the connection
// before a run when it was last checked more than jdbc_validation_timeout
// seconds ago. sequel_opts is accepted and ignored (Sequel's own options).
// sql_log_level is the level the statement is logged at.
package jdbc

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/charset"
	"github.com/pipelined/pipeline/plugins/internal/cron"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
)

func init() {
	engine.RegisterInput("jdbc", New, engine.WithDefaultCodec("plain"))
}

// Options configures the jdbc input.
type Options struct {
	// JdbcConnectionString is the JDBC URL of the database:
	// jdbc:postgresql://host:port/db, jdbc:mysql://host:port/db (or
	// jdbc:mariadb://) or jdbc:sqlite:/path/to/file.db.
	JdbcConnectionString string `hcl:"jdbc_connection_string"`
	// JdbcDriverClass is the JDBC driver class Logstash would load; it must
	// name a driver of the URL's database (org.postgresql.Driver,
	// com.mysql.jdbc.Driver, com.mysql.cj.jdbc.Driver,
	// org.mariadb.jdbc.Driver, org.sqlite.JDBC, with or without "Java::").
	// The Go driver built in is used.
	JdbcDriverClass string `hcl:"jdbc_driver_class"`
	// JdbcDriverLibrary is the path of the JDBC driver's jar: accepted and
	// ignored (the drivers are built in).
	JdbcDriverLibrary string `hcl:"jdbc_driver_library,optional"`
	// JdbcUser is the database user.
	JdbcUser string `hcl:"jdbc_user"`
	// JdbcPassword is the user's password.
	JdbcPassword string `hcl:"jdbc_password,optional"`
	// JdbcPasswordFilepath is a file whose content (trimmed) is the
	// password; not with jdbc_password.
	JdbcPasswordFilepath string `hcl:"jdbc_password_filepath,optional"`
	// Statement is the SQL to run; named parameters are written :name.
	Statement string `hcl:"statement,optional"`
	// StatementFilepath is a file holding the statement; not with statement.
	StatementFilepath string `hcl:"statement_filepath,optional"`
	// Parameters are values for the statement's named parameters,
	// e.g. { "target_id" => "321" } for :target_id.
	Parameters engine.Hash `hcl:"parameters,optional"`
	// Schedule is when to run the statement, a cron line ("* * * * *":
	// every minute); without it the statement runs once.
	Schedule string `hcl:"schedule,optional"`
	// LastRunMetadataPath is the file keeping sql_last_value. Default:
	// <path.data>/plugins/inputs/jdbc/logstash_jdbc_last_run.
	LastRunMetadataPath string `hcl:"last_run_metadata_path,optional"`
	// UseColumnValue makes sql_last_value the tracking_column of the last
	// row, instead of the time of the last run.
	UseColumnValue bool `hcl:"use_column_value,optional"`
	// TrackingColumn is the column tracked with use_column_value.
	TrackingColumn string `hcl:"tracking_column,optional"`
	// TrackingColumnType is the tracking column's type: "numeric" or
	// "timestamp".
	TrackingColumnType string `hcl:"tracking_column_type,optional"`
	// CleanRun forgets the stored sql_last_value at start.
	CleanRun bool `hcl:"clean_run,optional"`
	// RecordLastRun stores sql_last_value in last_run_metadata_path.
	RecordLastRun bool `hcl:"record_last_run,optional"`
	// LowercaseColumnNames lower-cases the column names.
	LowercaseColumnNames bool `hcl:"lowercase_column_names,optional"`
	// Charset is the encoding of the text columns, converted to UTF-8;
	// empty: already UTF-8.
	Charset string `hcl:"charset,optional"`
	// ColumnsCharset is the encoding of given columns, over charset:
	// { "column0" => "ISO-8859-1" }.
	ColumnsCharset engine.Hash `hcl:"columns_charset,optional"`
	// JdbcPagingEnabled reads the result in pages of jdbc_page_size.
	JdbcPagingEnabled bool `hcl:"jdbc_paging_enabled,optional"`
	// JdbcPagingMode is "auto" (the statement is wrapped with LIMIT and
	// OFFSET) or "explicit" (the statement uses :size and :offset).
	JdbcPagingMode string `hcl:"jdbc_paging_mode,optional"`
	// JdbcPageSize is the number of rows of a page.
	JdbcPageSize int `hcl:"jdbc_page_size,optional"`
	// JdbcFetchSize is accepted: the Go drivers stream rows.
	JdbcFetchSize int `hcl:"jdbc_fetch_size,optional"`
	// JdbcValidateConnection checks the connection before a run.
	JdbcValidateConnection bool `hcl:"jdbc_validate_connection,optional"`
	// JdbcValidationTimeout is how often, in seconds, the connection is
	// checked with jdbc_validate_connection.
	JdbcValidationTimeout float64 `hcl:"jdbc_validation_timeout,optional"`
	// JdbcPoolTimeout bounds, in seconds, one attempt to connect.
	JdbcPoolTimeout float64 `hcl:"jdbc_pool_timeout,optional"`
	// JdbcDefaultTimezone is the zone of the database's zone-less times,
	// e.g. "Europe/Paris".
	JdbcDefaultTimezone string `hcl:"jdbc_default_timezone,optional"`
	// PluginTimezone is "utc" or "local": the zone of zone-less times when
	// jdbc_default_timezone is not set.
	PluginTimezone string `hcl:"plugin_timezone,optional"`
	// SequelOpts are Sequel's options: accepted and ignored.
	SequelOpts engine.Hash `hcl:"sequel_opts,optional"`
	// SqlLogLevel is the level the statement is logged at: "fatal",
	// "error", "warn", "info" or "debug".
	SqlLogLevel string `hcl:"sql_log_level,optional"`
	// ConnectionRetryAttempts is how many times to try to connect.
	ConnectionRetryAttempts int `hcl:"connection_retry_attempts,optional"`
	// ConnectionRetryAttemptsWaitTime is the seconds between attempts to
	// connect.
	ConnectionRetryAttemptsWaitTime float64 `hcl:"connection_retry_attempts_wait_time,optional"`
	// StatementRetryAttempts is how many times to try a failing statement.
	StatementRetryAttempts int `hcl:"statement_retry_attempts,optional"`
	// StatementRetryAttemptsWaitTime is the seconds between statement
	// attempts.
	StatementRetryAttemptsWaitTime float64 `hcl:"statement_retry_attempts_wait_time,optional"`
	// UsePreparedStatements binds prepared_statement_bind_values to the
	// statement's "?" marks.
	UsePreparedStatements bool `hcl:"use_prepared_statements,optional"`
	// PreparedStatementName names the prepared statement.
	PreparedStatementName string `hcl:"prepared_statement_name,optional"`
	// PreparedStatementBindValues are the values of the "?" marks, in
	// order; ":sql_last_value" is sql_last_value.
	PreparedStatementBindValues engine.StringList `hcl:"prepared_statement_bind_values,optional"`
	// Target is the field the columns go under; empty: the event's root.
	Target string `hcl:"target,optional"`
	ecs.Compatibility
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.TrackingColumnType = trackNumeric
	o.RecordLastRun = true
	o.LowercaseColumnNames = true
	o.JdbcPagingMode = "auto"
	o.JdbcPageSize = 100000
	o.JdbcValidationTimeout = 3600
	o.JdbcPoolTimeout = 5
	o.PluginTimezone = "utc"
	o.SqlLogLevel = "info"
	o.ConnectionRetryAttempts = 1
	o.ConnectionRetryAttemptsWaitTime = 0.5
	o.StatementRetryAttempts = 1
	o.StatementRetryAttemptsWaitTime = 0.5
	o.Compatibility.Defaults()
}

func fieldErr(field, format string, args ...any) error {
	return &engine.FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Validate checks the options (no I/O).
func (o *Options) Validate() error {
	if err := o.validateOptions(); err != nil {
		return err
	}
	// Logstash loads the driver class in register and the JDBC driver
	// reads the URL when it connects: logstash -t accepts both, and the
	// pipeline fails when it starts.
	c, err := parseConn(o.JdbcConnectionString)
	if err != nil {
		return engine.AtStart(fieldErr("jdbc_connection_string", "%v", err))
	}
	d, ok := dialectOfClass(o.JdbcDriverClass)
	switch {
	case !ok:
		return engine.AtStart(fieldErr("jdbc_driver_class", "no Go driver for %q; this input has drivers for %s", o.JdbcDriverClass, driverClasses()))
	case d != c.d:
		return engine.AtStart(fieldErr("jdbc_driver_class", "%q is not a driver for %s URLs (%s)", o.JdbcDriverClass, "jdbc:"+c.d.names[0]+":", strings.Join(c.d.classes, ", ")))
	}
	return nil
}

// validateOptions checks the options that Logstash's configuration test
// checks too.
func (o *Options) validateOptions() error {
	switch {
	case (o.Statement == "") == (o.StatementFilepath == ""):
		return fieldErr("statement", "set either statement or statement_filepath, not both")
	case o.UseColumnValue && o.TrackingColumn == "":
		return fieldErr("tracking_column", "must be set when use_column_value is true")
	case o.JdbcPassword != "" && o.JdbcPasswordFilepath != "":
		return fieldErr("jdbc_password_filepath", "set only one of jdbc_password and jdbc_password_filepath")
	case o.TrackingColumnType != trackNumeric && o.TrackingColumnType != trackTime:
		return fieldErr("tracking_column_type", "is \"numeric\" or \"timestamp\", not %q", o.TrackingColumnType)
	case o.PluginTimezone != "utc" && o.PluginTimezone != "local":
		return fieldErr("plugin_timezone", "is \"utc\" or \"local\", not %q", o.PluginTimezone)
	case o.JdbcPagingMode != "auto" && o.JdbcPagingMode != "explicit":
		return fieldErr("jdbc_paging_mode", "is \"auto\" or \"explicit\", not %q", o.JdbcPagingMode)
	case o.JdbcPageSize <= 0:
		return fieldErr("jdbc_page_size", "must be positive")
	case o.JdbcFetchSize < 0:
		return fieldErr("jdbc_fetch_size", "must not be negative")
	case o.JdbcPoolTimeout <= 0:
		return fieldErr("jdbc_pool_timeout", "must be positive")
	case o.JdbcValidationTimeout < 0:
		return fieldErr("jdbc_validation_timeout", "must not be negative")
	case o.ConnectionRetryAttemptsWaitTime < 0:
		return fieldErr("connection_retry_attempts_wait_time", "must not be negative")
	case o.StatementRetryAttemptsWaitTime < 0:
		return fieldErr("statement_retry_attempts_wait_time", "must not be negative")
	case o.UsePreparedStatements && o.PreparedStatementName == "":
		return fieldErr("prepared_statement_name", "must name the prepared statement (use_prepared_statements is true)")
	case o.UsePreparedStatements && o.JdbcPagingEnabled:
		return fieldErr("jdbc_paging_enabled", "paging cannot be used with prepared statements")
	case o.UsePreparedStatements && o.Statement != "" && marks(o.Statement) != len(o.PreparedStatementBindValues):
		return fieldErr("prepared_statement_bind_values", "has %d values for %d \"?\" in the statement", len(o.PreparedStatementBindValues), marks(o.Statement))
	}
	if _, ok := logLevels[o.SqlLogLevel]; !ok {
		return fieldErr("sql_log_level", "is one of fatal, error, warn, info, debug, not %q", o.SqlLogLevel)
	}
	if o.Schedule != "" {
		if _, err := cron.Parse(o.Schedule); err != nil {
			return fieldErr("schedule", "%v", err)
		}
	}
	if o.JdbcDefaultTimezone != "" {
		if _, err := loadZone(o.JdbcDefaultTimezone); err != nil {
			return fieldErr("jdbc_default_timezone", "%v", err)
		}
	}
	if o.Charset != "" {
		if _, err := charset.Lookup(o.Charset); err != nil {
			return fieldErr("charset", "%v", err)
		}
	}
	for _, e := range o.ColumnsCharset {
		if _, err := charset.Lookup(e.Value); err != nil {
			return fieldErr("columns_charset", "column %q: %v", e.Key, err)
		}
	}
	if o.Target != "" {
		if _, err := event.ParseRef(o.Target); err != nil {
			return fieldErr("target", "%v", err)
		}
	}
	return o.Compatibility.Validate()
}

var logLevels = map[string]slog.Level{
	"fatal": slog.LevelError, "error": slog.LevelError, "warn": slog.LevelWarn,
	"info": slog.LevelInfo, "debug": slog.LevelDebug,
}

// loadZone reads a zone name, without Logstash's "[…]" extensions.
func loadZone(name string) (*time.Location, error) {
	if i := strings.IndexByte(name, '['); i >= 0 {
		name = name[:i]
	}
	if name == "" || strings.EqualFold(name, "local") {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return l, nil
}

// Input is the jdbc input.
type Input struct {
	o        Options
	log      *slog.Logger
	dial     *dialect
	conn     *conn
	password string
	stmt     string
	sched    *cron.Schedule
	dbZone   *time.Location
	target   event.Ref
	hasTgt   bool
	track    string // trackNumeric or trackTime
	state    *stateFile
	batch    int
	sqlLevel slog.Level
	conv     map[string]func([]byte) []byte // by column name
	allConv  func([]byte) []byte

	db          *sql.DB
	lastChecked time.Time
	lastValue   any // sql_last_value in memory
	ledger      ledger
	stateMu     sync.Mutex
}

var _ engine.Input = (*Input)(nil)

// New builds the input: it reads statement_filepath and
// jdbc_password_filepath (as Logstash does at register) and connects to
// nothing.
func New(o Options, r engine.Resources) (*Input, error) {
	log := cmp.Or(r.Logger, slog.Default())
	c, _ := parseConn(o.JdbcConnectionString)
	in := &Input{o: o, log: log, dial: c.d, conn: c, stmt: o.Statement, batch: cmp.Or(r.BatchSize, 125),
		sqlLevel: logLevels[o.SqlLogLevel], password: o.JdbcPassword, track: trackTime}
	if o.StatementFilepath != "" {
		b, err := os.ReadFile(o.StatementFilepath)
		if err != nil {
			return nil, &engine.FieldError{Field: "statement_filepath", Err: err}
		}
		in.stmt = string(b)
		if o.UsePreparedStatements && marks(in.stmt) != len(o.PreparedStatementBindValues) {
			return nil, fieldErr("prepared_statement_bind_values", "has %d values for %d \"?\" in %s", len(o.PreparedStatementBindValues), marks(in.stmt), o.StatementFilepath)
		}
	}
	in.stmt = trimStatement(in.stmt)
	if o.JdbcPasswordFilepath != "" {
		b, err := os.ReadFile(o.JdbcPasswordFilepath)
		if err != nil {
			return nil, &engine.FieldError{Field: "jdbc_password_filepath", Err: err}
		}
		in.password = strings.TrimSpace(string(b))
	}
	if o.Schedule != "" {
		in.sched, _ = cron.Parse(o.Schedule)
	}
	switch {
	case o.JdbcDefaultTimezone != "":
		in.dbZone, _ = loadZone(o.JdbcDefaultTimezone)
	case o.PluginTimezone == "local":
		in.dbZone = time.Local
	default:
		in.dbZone = time.UTC
	}
	if o.Target != "" {
		in.target, in.hasTgt = event.MustRef(o.Target), true
	} else if o.Compatibility.ECS() {
		log.Info("ECS compatibility is enabled but target is not set: the columns become fields at the root of the event, where they may clash with the Elastic Common Schema; set target to avoid that")
	}
	if o.UseColumnValue && o.TrackingColumnType == trackNumeric {
		in.track = trackNumeric
	}
	if o.RecordLastRun {
		p := o.LastRunMetadataPath
		if p == "" {
			p = filepath.Join(cmp.Or(r.DataDir, "data"), "plugins", "inputs", "jdbc", "logstash_jdbc_last_run")
		} else if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return nil, fieldErr("last_run_metadata_path", "%s is a directory; it must name a file", p)
		}
		in.state = &stateFile{path: p}
		in.ledger.write = in.store
	}
	if o.Charset != "" {
		cv, _ := charset.Lookup(o.Charset)
		in.allConv = cv
	}
	if len(o.ColumnsCharset) > 0 {
		in.conv = map[string]func([]byte) []byte{}
		for _, e := range o.ColumnsCharset {
			cv, _ := charset.Lookup(e.Value)
			in.conv[e.Key] = cv
		}
	}
	return in, nil
}

// store writes sql_last_value; called by the ledger once acknowledged.
func (in *Input) store(v any) {
	if err := in.state.write(v); err != nil {
		in.log.Error("jdbc: cannot write sql_last_value; it is written again after the next run", "last_run_metadata_path", in.state.path, "err", err)
	}
}

// loadState sets the initial sql_last_value.
func (in *Input) loadState() {
	in.lastValue = initialValue(in.track)
	if in.state == nil {
		return
	}
	if in.o.CleanRun {
		if err := os.Remove(in.state.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			in.log.Warn("jdbc: clean_run: cannot remove the last run file", "last_run_metadata_path", in.state.path, "err", err)
		}
		return
	}
	v, err := in.state.read()
	switch {
	case err != nil:
		in.log.Error("jdbc: the last run file is damaged; starting from the initial sql_last_value", "last_run_metadata_path", in.state.path, "err", err, "sql_last_value", in.lastValue)
	case v == nil:
	case in.track == trackNumeric:
		if _, isTime := v.(time.Time); isTime {
			in.log.Warn("jdbc: the last run file holds a time, not a number; starting from 0", "last_run_metadata_path", in.state.path)
			return
		}
		in.lastValue = v
	default:
		t, isTime := v.(time.Time)
		if !isTime {
			in.log.Warn("jdbc: the last run file holds a number, not a time; starting from 1970-01-01", "last_run_metadata_path", in.state.path)
			return
		}
		in.lastValue = t
	}
}

// Run runs the statement once, or on every tick of the schedule until ctx
// is done.
func (in *Input) Run(ctx context.Context, emit engine.EmitFunc) error {
	in.loadState()
	if in.o.JdbcDriverLibrary != "" {
		in.log.Debug("jdbc: jdbc_driver_library is ignored; the Go driver is built in", "jdbc_driver_library", in.o.JdbcDriverLibrary)
	}
	defer func() {
		if in.db != nil {
			in.db.Close()
		}
	}()
	if in.sched == nil {
		if err := in.connect(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		return in.execute(ctx, emit)
	}
	for {
		now := time.Now()
		next := in.sched.Next(now)
		if next.IsZero() {
			return nil
		}
		t := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		if err := in.connect(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			in.log.Error("jdbc: cannot connect; trying again at the next scheduled run", "err", err)
			continue
		}
		if err := in.execute(ctx, emit); err != nil {
			return err
		}
	}
}

// connect opens the connection (once) and checks it: at the first run,
// and with jdbc_validate_connection when it was checked long enough ago.
func (in *Input) connect(ctx context.Context) error {
	if in.db != nil {
		if !in.o.JdbcValidateConnection || time.Since(in.lastChecked) < time.Duration(in.o.JdbcValidationTimeout*float64(time.Second)) {
			return nil
		}
	} else {
		cn, dropped, err := in.conn.connector(in.o.JdbcUser, in.password, in.dbZone)
		if err != nil {
			return err
		}
		if len(dropped) > 0 {
			in.log.Warn("jdbc: connection properties without a Go equivalent are ignored", "properties", strings.Join(dropped, ","))
		}
		in.db = sql.OpenDB(cn)
		in.db.SetMaxOpenConns(1)
		in.db.SetMaxIdleConns(1)
	}
	attempts := max(in.o.ConnectionRetryAttempts, 1)
	var err error
	for i := 1; i <= attempts; i++ {
		pctx, cancel := context.WithTimeout(ctx, time.Duration(in.o.JdbcPoolTimeout*float64(time.Second)))
		err = in.db.PingContext(pctx)
		cancel()
		if err == nil {
			in.lastChecked = time.Now()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if i < attempts {
			in.log.Error("jdbc: unable to connect to the database; trying again", "err", err, "attempt", i)
			if !sleep(ctx, in.o.ConnectionRetryAttemptsWaitTime) {
				return ctx.Err()
			}
		}
	}
	return fmt.Errorf("jdbc: unable to connect to %s (tried %d times): %w", redactConn(in.o.JdbcConnectionString), attempts, err)
}

func sleep(ctx context.Context, seconds float64) bool {
	t := time.NewTimer(time.Duration(seconds * float64(time.Second)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
