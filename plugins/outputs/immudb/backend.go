package immudb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/codenotary/immudb/embedded/sql"
	"github.com/codenotary/immudb/embedded/store"
	"github.com/codenotary/immudb/pkg/api/schema"
	"github.com/codenotary/immudb/pkg/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/pipelined/pipeline/engine"
)

// backend is the embedded store or a server connection.
type backend interface {
	exec(ctx context.Context, stmt string, params map[string]any) error
	// lookup returns the value stored under key.
	lookup(ctx context.Context, table, key string) (string, bool, error)
	// scan calls fn for up to limit rows of source (a table, possibly with a
	// SINCE/UNTIL TX period) with log_key > after, in key order.
	scan(ctx context.Context, source, after string, limit int, fn func(key, value string) error) (int, error)
	isDuplicate(err error) bool
	isConnErr(err error) bool
	where() string
	close() error
}

func open(ctx context.Context, o Options, log *slog.Logger) (backend, error) {
	if o.Mode == "server" {
		return dialServer(ctx, o, log, "")
	}
	return openEmbedded(o, log)
}

// sqlPrefix is the key prefix of SQL data in the store, the one immudb's
// databases use.
var sqlPrefix = []byte{2}

// embedded is an in-process immudb store with its SQL engine.
type embedded struct {
	path string
	st   *store.ImmuStore
	eng  *sql.Engine
}

// slogAdapter sends immudb's log lines to the plugin's logger: its errors and
// warnings as such, the rest at debug level.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Errorf(f string, v ...any) {
	a.l.Error(fmt.Sprintf(f, v...), "component", "immudb")
}
func (a slogAdapter) Warningf(f string, v ...any) {
	a.l.Warn(fmt.Sprintf(f, v...), "component", "immudb")
}
func (a slogAdapter) Infof(f string, v ...any) {
	a.l.Debug(fmt.Sprintf(f, v...), "component", "immudb")
}
func (a slogAdapter) Debugf(f string, v ...any) {
	a.l.Debug(fmt.Sprintf(f, v...), "component", "immudb")
}
func (a slogAdapter) Close() error { return nil }

func storeOptions(o Options, log *slog.Logger) *store.Options {
	maxValue := max(store.DefaultMaxValueLen, o.ValueMaxLength+4096) // the row encoding adds a little
	return store.DefaultOptions().
		WithMultiIndexing(true).
		WithSynced(o.Synced).
		WithMaxValueLen(maxValue).
		WithMaxTxEntries(max(store.DefaultMaxTxEntries, o.BatchSize)).
		WithLogger(slogAdapter{log})
}

func openEmbedded(o Options, log *slog.Logger) (*embedded, error) {
	if err := os.MkdirAll(o.Path, 0o750); err != nil {
		return nil, fmt.Errorf("immudb: embedded store: %w", err)
	}
	st, err := store.Open(o.Path, storeOptions(o, log))
	if err != nil {
		return nil, fmt.Errorf("immudb: open embedded store %s (is another process using it?): %w", o.Path, err)
	}
	eng, err := sql.NewEngine(st, sql.DefaultOptions().WithPrefix(sqlPrefix))
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("immudb: embedded store %s: %w", o.Path, err)
	}
	return &embedded{path: o.Path, st: st, eng: eng}, nil
}

func (e *embedded) exec(ctx context.Context, stmt string, params map[string]any) error {
	_, _, err := e.eng.Exec(ctx, nil, stmt, params)
	return err
}

func (e *embedded) lookup(ctx context.Context, table, key string) (string, bool, error) {
	var v string
	found := false
	_, err := e.query(ctx, "SELECT value FROM "+table+" WHERE log_key = @k", map[string]any{"k": key}, func(vals []sql.TypedValue) error {
		v, _ = vals[0].RawValue().(string)
		found = true
		return nil
	})
	return v, found, err
}

func (e *embedded) scan(ctx context.Context, source, after string, limit int, fn func(key, value string) error) (int, error) {
	return e.query(ctx, "SELECT log_key, value FROM "+source+" WHERE log_key > @a ORDER BY log_key LIMIT "+strconv.Itoa(limit),
		map[string]any{"a": after}, func(vals []sql.TypedValue) error {
			k, _ := vals[0].RawValue().(string)
			v, _ := vals[1].RawValue().(string)
			return fn(k, v)
		})
}

func (e *embedded) query(ctx context.Context, q string, params map[string]any, fn func([]sql.TypedValue) error) (int, error) {
	r, err := e.eng.Query(ctx, nil, q, params)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	n := 0
	for {
		row, err := r.Read(ctx)
		if errors.Is(err, sql.ErrNoMoreRows) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
		if err := fn(row.ValuesByPosition); err != nil {
			return n, err
		}
	}
}

func (e *embedded) isDuplicate(err error) bool { return errors.Is(err, store.ErrKeyAlreadyExists) }
func (e *embedded) isConnErr(err error) bool   { return errors.Is(err, store.ErrAlreadyClosed) }
func (e *embedded) where() string              { return "embedded " + e.path }
func (e *embedded) close() error               { return e.st.Close() }

// server is a session with an immudb server.
type server struct {
	addr     string
	database string
	c        client.ImmuClient
	stateDir string
	ownState bool          // stateDir is a temporary directory to remove on close
	timeout  time.Duration // bounds each request, as documented for timeout
}

// dialServer opens a session on o.Database, creating it first when
// create_database is set. stateDir is where the client keeps the server's
// trusted state; "" uses a temporary directory (the output does no verified
// reads).
func dialServer(ctx context.Context, o Options, log *slog.Logger, stateDir string) (*server, error) {
	s := &server{addr: net.JoinHostPort(o.Host, strconv.Itoa(o.Port)), database: o.Database, stateDir: stateDir,
		timeout: time.Duration(o.Timeout) * time.Second}
	if s.stateDir == "" {
		d, err := os.MkdirTemp("", "immudb-client-")
		if err != nil {
			return nil, err
		}
		s.stateDir, s.ownState = d, true
	} else if err := os.MkdirAll(stateDir, 0o750); err != nil {
		return nil, err
	}
	opts := client.DefaultOptions().
		WithAddress(o.Host).WithPort(o.Port).
		WithDir(s.stateDir).
		WithMetrics(false).
		WithHeartBeatFrequency(30 * time.Second).
		WithMaxRecvMsgSize(64 << 20)
	if o.Client.Enabled() {
		creds, err := tlsCredentials(o)
		if err != nil {
			s.cleanup()
			return nil, err
		}
		opts = opts.WithDialOptions([]grpc.DialOption{grpc.WithTransportCredentials(creds)})
	}
	s.c = client.NewClient().WithOptions(opts)
	// timeout bounds each step: creating a database takes a while.
	step := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(ctx, time.Duration(o.Timeout)*time.Second)
	}
	if o.CreateDatabase {
		tctx, cancel := step()
		defer cancel()
		if err := s.c.OpenSession(tctx, []byte(o.Username), []byte(o.Password), "defaultdb"); err != nil {
			s.cleanup()
			return nil, s.wrapConn(err)
		}
		tctx2, cancel2 := step()
		defer cancel2()
		err := s.ensureDatabase(tctx2, o, log)
		tctx3, cancel3 := step()
		defer cancel3()
		_ = s.c.CloseSession(tctx3)
		if err != nil {
			s.cleanup()
			return nil, err
		}
	}
	tctx, cancel := step()
	defer cancel()
	if err := s.c.OpenSession(tctx, []byte(o.Username), []byte(o.Password), o.Database); err != nil {
		s.cleanup()
		return nil, s.wrapConn(err)
	}
	return s, nil
}

func (s *server) ensureDatabase(ctx context.Context, o Options, log *slog.Logger) error {
	list, err := s.c.DatabaseListV2(ctx)
	if err != nil {
		return s.wrapConn(err)
	}
	for _, d := range list.Databases {
		if d.Name == o.Database {
			return nil
		}
	}
	period, freq, err := o.retention()
	if err != nil {
		return err
	}
	_, err = s.c.CreateDatabaseV2(ctx, o.Database, &schema.DatabaseNullableSettings{
		TruncationSettings: &schema.TruncationNullableSettings{
			RetentionPeriod:     &schema.NullableMilliseconds{Value: period.Milliseconds()},
			TruncationFrequency: &schema.NullableMilliseconds{Value: freq.Milliseconds()},
		},
	})
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		return fmt.Errorf("immudb %s: create database %s: %w", s.addr, o.Database, err)
	}
	if err == nil {
		log.Info("created immudb database", "database", o.Database, "retention_period", period, "truncation_frequency", freq)
	}
	return nil
}

func tlsCredentials(o Options) (credentials.TransportCredentials, error) {
	cfg, err := o.Client.Config()
	if err != nil {
		return nil, fmt.Errorf("immudb: %w", err)
	}
	cfg.ServerName = o.SSLServerName
	if cfg.ServerName == "" {
		cfg.ServerName = o.Host
	}
	return credentials.NewTLS(cfg), nil
}

func (s *server) wrapConn(err error) error {
	if s.isConnErr(err) {
		return fmt.Errorf("immudb %s: %w: %w", s.addr, engine.ErrNotConnected, err)
	}
	return fmt.Errorf("immudb %s database %s: %w", s.addr, s.database, err)
}

// bound limits one request to the timeout option (none when it is unset).
func (s *server) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

func (s *server) exec(ctx context.Context, stmt string, params map[string]any) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.c.SQLExec(ctx, stmt, params)
	return err
}

func (s *server) lookup(ctx context.Context, table, key string) (string, bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := s.c.SQLQuery(ctx, "SELECT value FROM "+table+" WHERE log_key = @k", map[string]any{"k": key}, false)
	if err != nil {
		return "", false, err
	}
	if len(res.Rows) == 0 {
		return "", false, nil
	}
	return res.Rows[0].Values[0].GetS(), true, nil
}

func (s *server) scan(ctx context.Context, source, after string, limit int, fn func(key, value string) error) (int, error) {
	res, err := s.c.SQLQuery(ctx, "SELECT log_key, value FROM "+source+" WHERE log_key > @a ORDER BY log_key LIMIT "+strconv.Itoa(limit),
		map[string]any{"a": after}, false)
	if err != nil {
		return 0, err
	}
	for i, r := range res.Rows {
		if err := fn(r.Values[0].GetS(), r.Values[1].GetS()); err != nil {
			return i + 1, err
		}
	}
	return len(res.Rows), nil
}

func (s *server) isDuplicate(err error) bool {
	return err != nil && strings.Contains(err.Error(), store.ErrKeyAlreadyExists.Error())
}

func (s *server) isConnErr(err error) bool {
	if errors.Is(err, client.ErrNotConnected) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	// The client turns gRPC statuses into its own errors, keeping only the
	// message: a lost connection or a session the server no longer knows
	// (it restarted) both need a new session.
	msg := err.Error()
	for _, s := range []string{"connection error", "transport is closing", "error reading from server",
		"connection refused", "session not found", "no sessions", "not connected", "Unavailable"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func (s *server) where() string { return s.addr + " database " + s.database }

func (s *server) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.c.CloseSession(ctx)
	s.cleanup()
	return err
}

func (s *server) cleanup() {
	if s.ownState {
		_ = os.RemoveAll(s.stateDir)
	}
}
