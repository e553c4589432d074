package jdbc_test

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/tools/txtar"
	_ "modernc.org/sqlite"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	_ "github.com/pipelined/pipeline/plugins/all"
	"github.com/pipelined/pipeline/plugins/internal/testkit/pgtest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
)

var update = flag.Bool("update", false, "rewrite the want sections of testdata/*.txtar")

// sink is an output that keeps what it is given; while gate is open (not
// closed), its Writes wait, so nothing is acknowledged.
type sink struct {
	mu     sync.Mutex
	events []*event.Event
	gate   chan struct{}
	writes atomic.Int32
}

type sinkOptions struct {
	Token string `hcl:"token"`
}

type sinkOut struct{ s *sink }

var sinks sync.Map

func (o sinkOut) Connect(context.Context) error { return nil }
func (o sinkOut) Close(context.Context) error   { return nil }
func (o sinkOut) Write(ctx context.Context, evs []*event.Event) error {
	o.s.writes.Add(1)
	if o.s.gate != nil {
		select {
		case <-o.s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	o.s.mu.Lock()
	o.s.events = append(o.s.events, evs...)
	o.s.mu.Unlock()
	return nil
}

func (s *sink) got() []*event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*event.Event(nil), s.events...)
}

func init() {
	engine.RegisterOutput("jdbctest_sink", func(o sinkOptions, _ engine.Resources) (sinkOut, error) {
		v, ok := sinks.Load(o.Token)
		if !ok {
			return sinkOut{}, fmt.Errorf("no sink %q", o.Token)
		}
		return sinkOut{s: v.(*sink)}, nil
	})
}

var tokens atomic.Int64

// running is a pipeline of a jdbc input into a sink.
type running struct {
	pl   *engine.Pipeline
	done chan error
	logs *servertest.Output
	stop context.CancelFunc
}

// start loads conf (Logstash syntax, an input section) with a sink output.
func start(t *testing.T, conf string, s *sink) *running {
	t.Helper()
	tok := fmt.Sprintf("jdbc%d", tokens.Add(1))
	sinks.Store(tok, s)
	t.Cleanup(func() { sinks.Delete(tok) })
	src := conf + fmt.Sprintf("\noutput { jdbctest_sink { token => %q } }\n", tok)
	cfg, diags := dsl.LoadSource("jdbc.conf", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("load:\n%s\n%s", src, diags.Error())
	}
	logs := &servertest.Output{}
	pl, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Workers: 1, BatchSize: 2,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), DataDir: t.TempDir()})
	if diags.HasErrors() {
		t.Fatalf("build:\n%s\n%s", src, diags.Error())
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{pl: pl, done: make(chan error, 1), logs: logs, stop: cancel}
	go func() { r.done <- pl.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			pl.Abort()
		}
	})
	return r
}

// wait waits for a pipeline of finite inputs to end by itself.
func (r *running) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err
		if err != nil {
			t.Fatalf("pipeline: %v\nlogs:\n%s", err, r.logs)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("pipeline did not end within 60 s\nlogs:\n%s", servertest.Tail(r.logs.String(), 4000))
	}
}

// database is one database the golden files run against.
type database struct {
	user   string
	name   string
	url    string
	driver string
	db     *sql.DB
}

func sqliteDB(t *testing.T) *database {
	path := filepath.Join(t.TempDir(), "test.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &database{user: "sqlite", name: "sqlite", url: "jdbc:sqlite:" + path, driver: "org.sqlite.JDBC", db: db}
}

// startPG starts PostgreSQL for t and its subtests, or returns nil when it
// is not installed (outside CI: under CI that fails t).
func startPG(t *testing.T) *pgtest.Server {
	t.Helper()
	if !pgtest.Available() && os.Getenv("CI") != "true" {
		return nil
	}
	return pgtest.Start(t)
}

// postgresDB gives t a fresh schema of the server srv.
func postgresDB(t *testing.T, srv *pgtest.Server) *database {
	t.Helper()
	if srv == nil {
		servertest.Missing(t, "PostgreSQL is not installed (.ci/run installs Debian's postgresql)")
	}
	db := srv.DB(t)
	schema := fmt.Sprintf("t%d", tokens.Add(1))
	exec(t, db, "CREATE SCHEMA "+schema)
	db.Close()
	url := srv.JDBCURL() + "?currentSchema=" + schema + "&sslmode=disable"
	db2, err := sql.Open("pgx", strings.Replace(strings.Replace(url, "jdbc:postgresql://", "postgres://"+pgtest.User+"@", 1), "currentSchema", "search_path", 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db2.Close() })
	return &database{user: pgtest.User, name: "postgres", url: url, driver: "org.postgresql.Driver", db: db2}
}

func exec(t *testing.T, db *sql.DB, script string) {
	t.Helper()
	for _, stmt := range strings.Split(script, ";\n") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

func mustRef(s string) event.Ref { return event.MustRef(s) }

// jsonl renders events one JSON object a line, without the @timestamp and
// @version every event has.
func jsonl(evs []*event.Event) string {
	var b strings.Builder
	for _, e := range evs {
		c := e.Copy()
		c.Delete(event.MustRef("@timestamp"))
		c.Delete(event.MustRef("@version"))
		b.Write(c.AppendJSON(nil))
		b.WriteByte('\n')
	}
	return b.String()
}

func section(ar *txtar.Archive, name string) (string, bool) {
	for _, f := range ar.Files {
		if f.Name == name {
			return string(f.Data), true
		}
	}
	return "", false
}

// TestGolden runs every testdata/*.txtar against SQLite and PostgreSQL:
//
//   - setup.sql: SQL run first (statements end with ";" and a newline);
//   - pipeline.conf: the input, where @URL@, @DRIVER@, @STATE@ (the
//     last run file), @USER@ and @DIR@ (a directory holding the archive's files
//     named file:<name>) are replaced;
//   - state0: the last run file before the first run;
//   - then for run i = 1, 2, …: runI.sql (SQL run before it), wantI.jsonl
//     (its events; wantI.<database>.jsonl where they differ), stateI (the
//     last run file after it) or stateI.re (a regular expression it
//     matches), logI.re (a regular expression its log matches);
//   - databases: the databases to run against (default "sqlite postgres").
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txtar")
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	pg := startPG(t)
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		dbs := "sqlite postgres"
		if s, ok := section(ar, "databases"); ok {
			dbs = s
		}
		for _, dbName := range strings.Fields(dbs) {
			t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar")+"/"+dbName, func(t *testing.T) {
				var d *database
				if dbName == "sqlite" {
					d = sqliteDB(t)
				} else {
					d = postgresDB(t, pg)
				}
				if changed := runGolden(t, file, ar, d); changed && *update {
					if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	}
}

func runGolden(t *testing.T, file string, ar *txtar.Archive, d *database) (changed bool) {
	dir := t.TempDir()
	state := filepath.Join(dir, "last_run")
	for _, f := range ar.Files {
		if name, ok := strings.CutPrefix(f.Name, "file:"); ok {
			if err := os.WriteFile(filepath.Join(dir, name), f.Data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	if s, ok := section(ar, "state0"); ok {
		if err := os.WriteFile(state, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if s, ok := section(ar, "setup.sql"); ok {
		exec(t, d.db, s)
	}
	conf, ok := section(ar, "pipeline.conf")
	if !ok {
		t.Fatalf("%s: no pipeline.conf", file)
	}
	conf = strings.NewReplacer("@URL@", d.url, "@USER@", d.user, "@DRIVER@", d.driver, "@STATE@", state, "@DIR@", dir).Replace(conf)
	for i := 1; ; i++ {
		n := fmt.Sprint(i)
		want, ok := section(ar, "want"+n+"."+d.name+".jsonl")
		wantName := "want" + n + "." + d.name + ".jsonl"
		if !ok {
			want, ok = section(ar, "want"+n+".jsonl")
			wantName = "want" + n + ".jsonl"
		}
		if !ok {
			if i == 1 {
				t.Fatalf("%s: no want1.jsonl", file)
			}
			return changed
		}
		if s, ok := section(ar, "run"+n+".sql"); ok {
			exec(t, d.db, s)
		}
		s := &sink{}
		r := start(t, conf, s)
		r.wait(t)
		got := jsonl(s.got())
		if got != want {
			if *update {
				for k := range ar.Files {
					if ar.Files[k].Name == wantName {
						ar.Files[k].Data = []byte(got)
					}
				}
				changed = true
			} else {
				t.Errorf("run %d: events\n%s\nwant (%s)\n%s\nlogs:\n%s", i, got, wantName, want, servertest.Tail(r.logs.String(), 3000))
			}
		}
		if w, ok := section(ar, "state"+n); ok {
			b, _ := os.ReadFile(state)
			if string(b) != w {
				t.Errorf("run %d: last run file %q; want %q", i, b, w)
			}
		}
		if w, ok := section(ar, "state"+n+".re"); ok {
			b, _ := os.ReadFile(state)
			if !regexp.MustCompile(strings.TrimSpace(w)).Match(b) {
				t.Errorf("run %d: last run file %q; want it to match %s", i, b, w)
			}
		}
		if w, ok := section(ar, "log"+n+".re"); ok {
			if !regexp.MustCompile(strings.TrimSpace(w)).MatchString(r.logs.String()) {
				t.Errorf("run %d: log does not match %s:\n%s", i, w, servertest.Tail(r.logs.String(), 3000))
			}
		}
		if t.Failed() {
			return changed
		}
	}
}
