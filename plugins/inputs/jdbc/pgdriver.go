package jdbc

import (
	"context"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// The PostgreSQL database/sql driver of this input: pgx's wire protocol
// (pgconn: TLS, SCRAM, several hosts, target_session_attrs) without pgx's
// type system (pgtype), which was half of the size this input added to the
// binary (#23). Every value comes back in PostgreSQL's text format and is
// turned into the Go value pgx's database/sql driver gave for that type, so
// that the events are the same; types pgx gave as strings are PostgreSQL's
// own text (as the JDBC driver's getString, which Sequel uses).

// pgConnector opens pgconn connections with one configuration.
type pgConnector struct{ cfg *pgconn.Config }

// pgStartupParams are the session settings the JDBC driver sends at
// startup, which the text values below are read with: ISO dates, and floats
// that read back to the same value (PostgreSQL < 12 rounds without it).
var pgStartupParams = map[string]string{"DateStyle": "ISO", "extra_float_digits": "3"}

func newPGConnector(cfg *pgconn.Config) pgConnector {
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	for k, v := range pgStartupParams {
		if _, ok := cfg.RuntimeParams[k]; !ok {
			cfg.RuntimeParams[k] = v
		}
	}
	return pgConnector{cfg: cfg}
}

func (p pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	c, err := pgconn.ConnectConfig(ctx, p.cfg)
	if err != nil {
		return nil, err
	}
	return &pgConn{c: c}, nil
}

func (p pgConnector) Driver() driver.Driver { return pgDriver{} }

// pgDriver only serves database/sql's Driver(); connections come from
// pgConnector.
type pgDriver struct{}

func (pgDriver) Open(string) (driver.Conn, error) {
	return nil, errors.New("jdbc: the PostgreSQL driver opens connections through its connector")
}

// pgConn is one connection.
type pgConn struct{ c *pgconn.PgConn }

var (
	_ driver.QueryerContext                 = (*pgConn)(nil)
	_ driver.ExecerContext                  = (*pgConn)(nil)
	_ driver.Pinger                         = (*pgConn)(nil)
	_ driver.Validator                      = (*pgConn)(nil)
	_ driver.SessionResetter                = (*pgConn)(nil)
	_ driver.NamedValueChecker              = (*pgConn)(nil)
	_ driver.ConnBeginTx                    = (*pgConn)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*pgRows)(nil)
)

func (c *pgConn) Prepare(query string) (driver.Stmt, error) {
	return &pgStmt{c: c, query: query}, nil
}

func (c *pgConn) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.c.Close(ctx)
}

func (c *pgConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *pgConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	stmt := "BEGIN"
	if opts.ReadOnly {
		stmt += " READ ONLY"
	}
	if _, err := c.ExecContext(ctx, stmt, nil); err != nil {
		return nil, err
	}
	return pgTx{c}, nil
}

func (c *pgConn) Ping(ctx context.Context) error {
	if c.c.IsClosed() {
		return driver.ErrBadConn
	}
	return c.c.Ping(ctx)
}

func (c *pgConn) IsValid() bool { return !c.c.IsClosed() }

func (c *pgConn) ResetSession(context.Context) error {
	if c.c.IsClosed() {
		return driver.ErrBadConn
	}
	return nil
}

// CheckNamedValue takes what database/sql's default conversion gives.
func (c *pgConn) CheckNamedValue(nv *driver.NamedValue) error {
	v, err := driver.DefaultParameterConverter.ConvertValue(nv.Value)
	nv.Value = v
	return err
}

func (c *pgConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if c.c.IsClosed() {
		return nil, driver.ErrBadConn
	}
	vals, formats, err := pgArgs(args)
	if err != nil {
		return nil, err
	}
	tag, err := c.c.ExecParams(ctx, query, vals, nil, formats, nil).Close()
	if err != nil {
		return nil, err
	}
	return driver.RowsAffected(tag.RowsAffected()), nil
}

func (c *pgConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if c.c.IsClosed() {
		return nil, driver.ErrBadConn
	}
	vals, formats, err := pgArgs(args)
	if err != nil {
		return nil, err
	}
	rr := c.c.ExecParams(ctx, query, vals, nil, formats, nil)
	fds := rr.FieldDescriptions()
	if fds == nil {
		if _, err := rr.Close(); err != nil {
			return nil, err
		}
		return &pgRows{rr: rr, closed: true}, nil
	}
	return &pgRows{rr: rr, fds: fds}, nil
}

// pgArgs writes the arguments in PostgreSQL's text format, with their
// types left for the server to infer from the statement (as a prepared
// statement does); []byte goes as binary, as the raw bytes.
func pgArgs(args []driver.NamedValue) ([][]byte, []int16, error) {
	if len(args) == 0 {
		return nil, nil, nil
	}
	vals := make([][]byte, len(args))
	formats := make([]int16, len(args))
	for i, a := range args {
		switch v := a.Value.(type) {
		case nil:
		case int64:
			vals[i] = strconv.AppendInt(nil, v, 10)
		case float64:
			vals[i] = pgFloat(v)
		case bool:
			vals[i] = []byte(strconv.FormatBool(v))
		case string:
			vals[i] = []byte(v)
		case []byte:
			vals[i], formats[i] = v, 1
			if v == nil {
				vals[i] = []byte{}
			}
		case time.Time:
			vals[i] = pgTime(v)
		default:
			return nil, nil, fmt.Errorf("jdbc: cannot bind a %T to a PostgreSQL parameter", a.Value)
		}
	}
	return vals, formats, nil
}

func pgFloat(f float64) []byte {
	switch {
	case math.IsNaN(f):
		return []byte("NaN")
	case math.IsInf(f, 1):
		return []byte("Infinity")
	case math.IsInf(f, -1):
		return []byte("-Infinity")
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64)
}

// pgTime writes t with its offset, to the microsecond (truncated, as pgx
// did): a timestamptz parameter is that instant, a timestamp parameter
// that wall clock.
func pgTime(t time.Time) []byte {
	t = t.Truncate(time.Microsecond)
	y := t.Year()
	bc := y <= 0
	if bc {
		t = t.AddDate(1-2*y, 0, 0) // year 0 is 1 BC
	}
	layout := "2006-01-02 15:04:05.999999-07:00"
	if _, off := t.Zone(); off%60 != 0 {
		layout += ":00"
	}
	b := t.AppendFormat(nil, layout)
	if bc {
		b = append(b, " BC"...)
	}
	return b
}

// pgStmt is a statement database/sql prepared: it runs as an unnamed one.
type pgStmt struct {
	c     *pgConn
	query string
}

func (s *pgStmt) Close() error  { return nil }
func (s *pgStmt) NumInput() int { return -1 }
func (s *pgStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.c.ExecContext(context.Background(), s.query, named(args))
}
func (s *pgStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.c.QueryContext(context.Background(), s.query, named(args))
}
func (s *pgStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.c.ExecContext(ctx, s.query, args)
}
func (s *pgStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.c.QueryContext(ctx, s.query, args)
}

func named(args []driver.Value) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, a := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return nv
}

type pgTx struct{ c *pgConn }

func (t pgTx) Commit() error {
	_, err := t.c.ExecContext(context.Background(), "COMMIT", nil)
	return err
}

func (t pgTx) Rollback() error {
	_, err := t.c.ExecContext(context.Background(), "ROLLBACK", nil)
	return err
}

// pgRows reads one result.
type pgRows struct {
	rr     *pgconn.ResultReader
	fds    []pgconn.FieldDescription
	closed bool
}

func (r *pgRows) Columns() []string {
	names := make([]string, len(r.fds))
	for i, fd := range r.fds {
		names[i] = fd.Name
	}
	return names
}

func (r *pgRows) ColumnTypeDatabaseTypeName(i int) string {
	oid := r.fds[i].DataTypeOID
	if n, ok := pgTypeNames[oid]; ok {
		return strings.ToUpper(n)
	}
	return strconv.FormatUint(uint64(oid), 10)
}

func (r *pgRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	_, err := r.rr.Close()
	return err
}

func (r *pgRows) Next(dest []driver.Value) error {
	if r.closed {
		return io.EOF
	}
	if !r.rr.NextRow() {
		r.closed = true
		if _, err := r.rr.Close(); err != nil {
			return err
		}
		return io.EOF
	}
	for i, raw := range r.rr.Values() {
		if raw == nil {
			dest[i] = nil
			continue
		}
		v, err := pgValue(r.fds[i].DataTypeOID, raw)
		if err != nil {
			return fmt.Errorf("convert field %d failed: %w", i, err)
		}
		dest[i] = v
	}
	return nil
}

// The type OIDs of PostgreSQL's catalog that pgValue reads.
const (
	boolOID        = 16
	byteaOID       = 17
	int8OID        = 20
	int2OID        = 21
	int4OID        = 23
	oidOID         = 26
	xidOID         = 28
	cidOID         = 29
	jsonOID        = 114
	xmlOID         = 142
	float4OID      = 700
	float8OID      = 701
	dateOID        = 1082
	timestampOID   = 1114
	timestamptzOID = 1184
	jsonbOID       = 3802
)

// pgValue turns one value in text format into the Go value pgx's
// database/sql driver gave for its type: bool, int64, float64, []byte
// (bytea, json, jsonb, xml), time.Time (date, timestamp in UTC; the string
// "infinity" or "-infinity" for those), and a string for every other type.
func pgValue(oid uint32, raw []byte) (driver.Value, error) {
	s := string(raw)
	switch oid {
	case boolOID:
		return s == "t" || s == "true", nil
	case byteaOID:
		return pgBytea(raw)
	case int2OID, int4OID, int8OID, oidOID, xidOID, cidOID:
		return strconv.ParseInt(s, 10, 64)
	case float4OID:
		f, err := strconv.ParseFloat(s, 32)
		return f, err
	case float8OID:
		return strconv.ParseFloat(s, 64)
	case jsonOID, jsonbOID, xmlOID:
		return []byte(s), nil
	case dateOID, timestampOID, timestamptzOID:
		if s == "infinity" || s == "-infinity" {
			return s, nil
		}
		return pgParseTime(s, oid == timestamptzOID)
	}
	return s, nil
}

// pgBytea reads bytea's hex format (\x…) or its escape format.
func pgBytea(raw []byte) ([]byte, error) {
	if len(raw) >= 2 && raw[0] == '\\' && raw[1] == 'x' {
		out := make([]byte, hex.DecodedLen(len(raw)-2))
		_, err := hex.Decode(out, raw[2:])
		return out, err
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			out = append(out, raw[i])
			continue
		}
		if i+1 < len(raw) && raw[i+1] == '\\' {
			out = append(out, '\\')
			i++
			continue
		}
		if i+4 > len(raw) {
			return nil, errors.New("bad bytea escape")
		}
		n, err := strconv.ParseUint(string(raw[i+1:i+4]), 8, 8)
		if err != nil {
			return nil, fmt.Errorf("bad bytea escape: %w", err)
		}
		out = append(out, byte(n))
		i += 3
	}
	return out, nil
}

// pgParseTime reads a date, timestamp or timestamptz in DateStyle ISO:
// "2026-12-07", "2026-12-07 15:08:30.123", "2026-12-07 15:08:30.123+05:30",
// with " BC" after a year before 1. A timestamptz is that instant, the
// others a wall clock in UTC.
func pgParseTime(s string, zoned bool) (time.Time, error) {
	in := s
	bc := strings.HasSuffix(s, " BC")
	s = strings.TrimSuffix(s, " BC")
	// Years past 9999 have more digits: time.Parse reads four.
	extra := 0
	if dash := strings.IndexByte(s, '-'); dash > 4 {
		y, err := strconv.Atoi(s[:dash])
		if err != nil {
			return time.Time{}, fmt.Errorf("bad time %q", in)
		}
		extra, s = y-2000, "2000"+s[dash:]
	}
	layout := "2006-01-02"
	if len(s) > 10 {
		layout = "2006-01-02 15:04:05.999999999"
	}
	var t time.Time
	var err error
	if zoned {
		// The offset is ±hh, ±hh:mm or ±hh:mm:ss after the time.
		i := strings.LastIndexAny(s, "+-")
		if i < 11 {
			return time.Time{}, fmt.Errorf("bad timestamptz %q", in)
		}
		off := s[i:]
		switch len(off) {
		case 3:
			off += ":00:00"
		case 6:
			off += ":00"
		}
		t, err = time.Parse(layout+"-07:00:00", s[:i]+off)
	} else {
		t, err = time.ParseInLocation(layout, s, time.UTC)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("bad time %q", in)
	}
	if extra != 0 {
		t = t.AddDate(extra, 0, 0)
	}
	if bc {
		t = t.AddDate(1-2*t.Year(), 0, 0) // 1 BC is year 0
	}
	return t, nil
}

// pgTypeNames are the names pgx gave the types of PostgreSQL's catalog
// (ColumnTypeDatabaseTypeName); others are named by their OID, as pgx did.
var pgTypeNames = map[uint32]string{
	16: "bool", 17: "bytea", 18: "char", 19: "name", 20: "int8", 21: "int2", 23: "int4", 25: "text",
	26: "oid", 27: "tid", 28: "xid", 29: "cid", 114: "json", 142: "xml", 600: "point", 601: "lseg",
	602: "path", 603: "box", 604: "polygon", 628: "line", 650: "cidr", 700: "float4", 701: "float8",
	705: "unknown", 718: "circle", 774: "macaddr8", 829: "macaddr", 869: "inet", 1033: "aclitem",
	1042: "bpchar", 1043: "varchar", 1082: "date", 1083: "time", 1114: "timestamp", 1184: "timestamptz",
	1186: "interval", 1560: "bit", 1562: "varbit", 1700: "numeric", 2249: "record", 2950: "uuid",
	3614: "tsvector", 3802: "jsonb", 4072: "jsonpath", 5069: "xid8",
	3904: "int4range", 3906: "numrange", 3908: "tsrange", 3910: "tstzrange", 3912: "daterange", 3926: "int8range",
	1000: "_bool", 1001: "_bytea", 1002: "_char", 1003: "_name", 1005: "_int2", 1007: "_int4", 1009: "_text",
	1014: "_bpchar", 1015: "_varchar", 1016: "_int8", 1021: "_float4", 1022: "_float8", 1028: "_oid",
	1115: "_timestamp", 1182: "_date", 1183: "_time", 1185: "_timestamptz", 1187: "_interval",
	1231: "_numeric", 2951: "_uuid", 199: "_json", 3807: "_jsonb", 143: "_xml", 1041: "_inet", 651: "_cidr",
}
