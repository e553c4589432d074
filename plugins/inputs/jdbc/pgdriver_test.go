package jdbc

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the reference: pgx's own database/sql driver

	"github.com/pipelined/pipeline/plugins/internal/testkit/pgtest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
)

// pgTypesQuery selects a value of each type whose Go value the driver
// chooses, and the text forms that need care (infinity, BC, years past
// 9999, NaN).
const pgTypesQuery = `SELECT true AS bo, false AS bf, '\x00ff5c'::bytea AS by, 1::int2 AS i2, 2::int4 AS i4,
 9007199254740993::int8 AS i8, 1.1::float4 AS f4, 1.5::float8 AS f8, 0.1::float8 AS f8b, 'NaN'::float8 AS fnan,
 '-Infinity'::float8 AS finf, 12.25::numeric AS nu, 'héllo'::text AS te, 'x'::varchar(3) AS vc, 'ab'::char(3) AS ch,
 '2026-12-07'::date AS da, 'infinity'::date AS dinf, '12345-01-01'::date AS dbig,
 '2026-12-07 15:08:30.123456'::timestamp AS ts, '0044-03-15 10:00:00 BC'::timestamp AS tsbc,
 '-infinity'::timestamp AS tsinf, '2026-12-07 15:08:30.123456+05:30'::timestamptz AS tz,
 '1850-01-01 00:00:00+00'::timestamptz AS tzlmt, 'infinity'::timestamptz AS tzinf,
 '{"a": 1}'::json AS js, '{"a": 1}'::jsonb AS jb, '<a>1</a>'::xml AS xm, 26::oid AS oi,
 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS uu, NULL::int4 AS nul, 'abc'::name AS nm`

// TestPGDriverMatchesPgx reads the same row through this input's driver
// and through pgx's database/sql driver, with a real server, in the
// session settings that change PostgreSQL's text output: every value and
// type name must be what pgx gave.
func TestPGDriverMatchesPgx(t *testing.T) {
	if !pgtest.Available() && os.Getenv("CI") != "true" {
		servertest.Missing(t, "PostgreSQL is not installed (.ci/run installs Debian's postgresql)")
	}
	srv := pgtest.Start(t)
	dsn := fmt.Sprintf("postgres://%s@%s/postgres?sslmode=disable", pgtest.User, srv.Addr())
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ours := sql.OpenDB(newPGConnector(cfg))
	defer ours.Close()
	ref, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	for _, session := range []string{"", "SET TimeZone = 'Europe/Amsterdam'", "SET TimeZone = 'America/St_Johns'",
		"SET bytea_output = 'escape'"} {
		t.Run(session, func(t *testing.T) {
			got := readRow(ctx, t, ours, session, pgTypesQuery)
			want := readRow(ctx, t, ref, session, pgTypesQuery)
			compareRows(t, got, want)
		})
	}

	// Parameters: the server infers their types from the statement, as it
	// does for pgx's prepared statements; times keep their instant (tz) or
	// their wall clock (timestamp).
	zone := time.FixedZone("x", 5*3600+30*60)
	tm := time.Date(2026, 12, 7, 15, 8, 30, 123456789, zone)
	args := []any{tm, tm, int64(-42), 0.1, "it's", true, []byte{0, 0xff}, nil, time.Date(-43, 3, 15, 10, 0, 0, 0, time.UTC)}
	q := `SELECT $1::timestamptz AS a, $2::timestamp AS b, $3::int8 AS c, $4::float8 AS d, $5::text AS e,
 $6::bool AS f, $7::bytea AS g, $8::text AS h, $9::timestamp AS i`
	compareRows(t, readRow(ctx, t, ours, "", q, args...), readRow(ctx, t, ref, "", q, args...))

	// An error of the server is the query's error; the connection stays.
	if _, err := ours.QueryContext(ctx, "SELECT nonsense FROM nowhere"); err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("bad query: %v", err)
	}
	if err := ours.PingContext(ctx); err != nil {
		t.Errorf("ping after an error: %v", err)
	}
	c, err := ours.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "CREATE TEMP TABLE pgd (n int)"); err != nil {
		t.Fatal(err)
	}
	res, err := c.ExecContext(ctx, "INSERT INTO pgd VALUES ($1), ($2)", int64(1), int64(2))
	if n, _ := res.RowsAffected(); err != nil || n != 2 {
		t.Errorf("insert: %v rows, %v", n, err)
	}
}

type pgRow struct {
	names, types []string
	vals         []any
}

func readRow(ctx context.Context, t *testing.T, db *sql.DB, session, q string, args ...any) pgRow {
	t.Helper()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if session != "" {
		if _, err := c.ExecContext(ctx, session); err != nil {
			t.Fatal(err)
		}
		defer c.ExecContext(ctx, "RESET ALL")
	}
	rows, err := c.QueryContext(ctx, q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	var r pgRow
	for _, ct := range cts {
		r.names = append(r.names, ct.Name())
		r.types = append(r.types, ct.DatabaseTypeName())
	}
	r.vals = make([]any, len(cts))
	ptrs := make([]any, len(cts))
	for i := range ptrs {
		ptrs[i] = &r.vals[i]
	}
	if !rows.Next() {
		t.Fatalf("no row: %v", rows.Err())
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	if rows.Next() {
		t.Fatal("two rows")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return r
}

func compareRows(t *testing.T, got, want pgRow) {
	t.Helper()
	if !reflect.DeepEqual(got.names, want.names) || !reflect.DeepEqual(got.types, want.types) {
		t.Errorf("columns %v %v, pgx gave %v %v", got.names, got.types, want.names, want.types)
	}
	for i := range want.vals {
		g, w := got.vals[i], want.vals[i]
		if gt, ok := g.(time.Time); ok {
			if wt, ok := w.(time.Time); !ok || !gt.Equal(wt) {
				t.Errorf("%s: %T %v, pgx gave %T %v", want.names[i], g, g, w, w)
			}
			continue
		}
		if gf, ok := g.(float64); ok && gf != gf {
			if wf, ok := w.(float64); ok && wf != wf {
				continue // NaN
			}
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: %T %#v, pgx gave %T %#v", want.names[i], g, g, w, w)
		}
	}
}
