package jdbc

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// emitError is an emit that failed: the pipeline is aborting.
type emitError struct{ err error }

func (e emitError) Error() string { return e.err.Error() }
func (e emitError) Unwrap() error { return e.err }

// execute runs the statement once (with its retries and pages) and
// advances sql_last_value.
func (in *Input) execute(ctx context.Context, emit engine.EmitFunc) error {
	start := time.Now().UTC()
	mark := in.ledger.begin()
	attempts := max(in.o.StatementRetryAttempts, 1)
	for i := 1; ; i++ {
		last, err := in.query(ctx, emit, mark)
		if err == nil {
			if in.track == trackTime && !in.o.UseColumnValue {
				last = start
			}
			in.lastValue = last
			in.ledger.finish(mark, last)
			return nil
		}
		var ee emitError
		if errors.As(err, &ee) {
			return ee.err // aborted: nothing of this run is stored
		}
		if ctx.Err() != nil {
			in.ledger.finish(mark, nil) // stopping: what was read is delivered, read again next time
			return nil
		}
		in.log.Warn("jdbc: exception when executing the statement", "err", err)
		if i >= attempts {
			in.log.Error(fmt.Sprintf("jdbc: unable to execute the statement; tried %d times", attempts))
			in.ledger.finish(mark, nil)
			return nil
		}
		in.log.Error("jdbc: unable to execute the statement; trying again")
		if !sleep(ctx, in.o.StatementRetryAttemptsWaitTime) {
			in.ledger.finish(mark, nil)
			return nil
		}
	}
}

// bind returns the value of a named parameter.
func (in *Input) bind(name string, offset int) any {
	switch name {
	case "sql_last_value":
		return in.bindValue(in.lastValue)
	case "offset", "size":
		if in.o.JdbcPagingEnabled && in.o.JdbcPagingMode == "explicit" {
			if name == "size" {
				return int64(in.o.JdbcPageSize)
			}
			return int64(offset)
		}
	}
	if v, ok := in.o.Parameters.Get(name); ok {
		return v
	}
	return nil
}

// typedMarks compiles a prepared statement for PostgreSQL, which infers
// the type of a parameter from the statement alone ("? + ?" is ambiguous
// to it) where the JDBC driver sends each value's type: numbers are
// written into the statement as numeric literals (they are the formatted
// int64 or float64, nothing else), the other values are bound.
func (in *Input) typedMarks() query {
	var b strings.Builder
	var q query
	k := 0
	for _, p := range split(in.stmt) {
		switch {
		case p.param == "":
			b.WriteString(p.text)
		case p.param != "?":
			b.WriteString(":" + p.param)
		default:
			switch v := in.preparedValue(in.o.PreparedStatementBindValues[k]).(type) {
			case int64:
				b.WriteString("(" + strconv.FormatInt(v, 10) + ")")
			case float64:
				b.WriteString("(" + strconv.FormatFloat(v, 'g', -1, 64) + ")")
			default:
				q.args = append(q.args, "#"+strconv.Itoa(k))
				b.WriteString("$" + strconv.Itoa(len(q.args)))
			}
			k++
		}
	}
	q.sql = b.String()
	return q
}

// preparedValue is one of prepared_statement_bind_values: ":sql_last_value",
// or a number or a string as Logstash's config gives them (a value written
// as a number in the config is a number).
func (in *Input) preparedValue(v string) any {
	if v == ":sql_last_value" {
		return in.bindValue(in.lastValue)
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return f
	}
	return v
}

// bindValue is how sql_last_value goes to the driver: a time as a wall
// clock in the database zone.
func (in *Input) bindValue(v any) any {
	t, ok := v.(time.Time)
	if !ok {
		return v
	}
	switch {
	case in.dial.textTime:
		return t.In(in.dbZone).Format("2006-01-02 15:04:05.999999999")
	case in.dial.zoned:
		return t
	}
	return t.In(in.dbZone)
}

// query runs the statement (all its pages) and returns the sql_last_value
// it leaves.
func (in *Input) query(ctx context.Context, emit engine.EmitFunc, mark *runMark) (any, error) {
	q := compile(in.stmt, in.dial, in.o.UsePreparedStatements)
	if in.o.UsePreparedStatements && in.dial == postgres {
		q = in.typedMarks()
	}
	if !in.o.UsePreparedStatements {
		for _, n := range q.args {
			if in.bind(n, 0) == nil && n != "sql_last_value" {
				if _, ok := in.o.Parameters.Get(n); !ok {
					in.log.Warn("jdbc: the statement names a parameter that is not set; it is bound as NULL", "parameter", ":"+n)
				}
			}
		}
	}
	r := &reader{in: in, emit: emit, mark: mark, last: in.lastValue}
	args := func(offset int) []any {
		out := make([]any, len(q.args))
		for i, n := range q.args {
			if in.o.UsePreparedStatements {
				k, _ := strconv.Atoi(n[1:])
				v := in.o.PreparedStatementBindValues[k]
				out[i] = in.preparedValue(v)
				continue
			}
			out[i] = in.bind(n, offset)
		}
		return out
	}
	in.log.Log(ctx, in.sqlLevel, "jdbc: executing the statement", "statement", in.stmt, "sql_last_value", in.lastValue)
	switch {
	case !in.o.JdbcPagingEnabled:
		if _, err := r.run(ctx, q.sql, args(0)); err != nil {
			return nil, err
		}
	case in.o.JdbcPagingMode == "explicit":
		for offset := 0; ; offset += in.o.JdbcPageSize {
			n, err := r.run(ctx, q.sql, args(offset))
			if err != nil {
				return nil, err
			}
			if n != in.o.JdbcPageSize {
				break
			}
		}
	default:
		for offset := 0; ; offset += in.o.JdbcPageSize {
			sql := fmt.Sprintf("SELECT * FROM (%s) AS t1 LIMIT %d OFFSET %d", q.sql, in.o.JdbcPageSize, offset)
			n, err := r.run(ctx, sql, args(offset))
			if err != nil {
				return nil, err
			}
			if n < in.o.JdbcPageSize {
				break
			}
		}
	}
	if err := r.flush(); err != nil {
		return nil, err
	}
	return r.last, nil
}

// reader turns rows into events and emits them in batches.
type reader struct {
	in      *Input
	emit    engine.EmitFunc
	mark    *runMark
	batch   []*event.Event
	last    any
	warned  bool
	columns []column
}

func (r *reader) flush() error {
	if len(r.batch) == 0 {
		return nil
	}
	evs := r.batch
	r.batch = nil
	r.in.ledger.add(r.mark)
	mark, l := r.mark, &r.in.ledger
	if err := r.emit(engine.Batch{Events: evs, Ack: func(error) { l.done(mark) }}); err != nil {
		return emitError{err}
	}
	return nil
}

// run runs one query and returns the number of rows read.
func (r *reader) run(ctx context.Context, sql string, args []any) (int, error) {
	in := r.in
	rows, err := in.db.QueryContext(ctx, sql, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return 0, err
	}
	cols := make([]column, len(types))
	for i, t := range types {
		name := t.Name()
		if in.o.LowercaseColumnNames {
			name = strings.ToLower(name)
		}
		cols[i] = column{name: name, typeName: strings.ToUpper(t.DatabaseTypeName()), conv: in.allConv}
		if cv, ok := in.conv[name]; ok {
			cols[i].conv = cv
		}
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		n++
		m := make(map[string]any, len(cols))
		for i := range cols {
			m[cols[i].name] = in.value(&cols[i], vals[i])
		}
		if in.o.UseColumnValue {
			if v, ok := m[in.o.TrackingColumn]; !ok {
				if !r.warned {
					r.warned = true
					names := make([]string, len(cols))
					for i := range cols {
						names[i] = cols[i].name
					}
					in.log.Warn("jdbc: tracking_column not found in the rows", "tracking_column", in.o.TrackingColumn, "columns", strings.Join(names, ","))
				}
			} else if tv, ok := trackValue(in.track, v); ok {
				r.last = tv
			}
		}
		e, err := in.event(m)
		if err != nil {
			return n, err
		}
		r.batch = append(r.batch, e)
		if len(r.batch) >= in.batch {
			if err := r.flush(); err != nil {
				return n, err
			}
		}
	}
	return n, rows.Err()
}

// event makes the event of one row.
func (in *Input) event(m map[string]any) (*event.Event, error) {
	if !in.hasTgt {
		return event.FromMap(m)
	}
	e := event.New()
	if err := e.Set(in.target, m); err != nil {
		return nil, fmt.Errorf("jdbc: target: %w", err)
	}
	return e, nil
}
