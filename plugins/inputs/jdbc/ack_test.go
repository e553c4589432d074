package jdbc_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
)

func trackingConf(d *database, state, extra string) string {
	return fmt.Sprintf(`input {
  jdbc {
    jdbc_driver_class => %q
    jdbc_connection_string => %q
    jdbc_user => %q
    statement => "SELECT id, v FROM t WHERE id > :sql_last_value ORDER BY id"
    use_column_value => true
    tracking_column => "id"
    last_run_metadata_path => %q
    %s
  }
}`, d.driver, d.url, d.user, state, extra)
}

func ids(t *testing.T, s *sink) string {
	t.Helper()
	var out []string
	for _, e := range s.got() {
		v, _ := e.Get(mustRef("id"))
		out = append(out, fmt.Sprint(v))
	}
	return strings.Join(out, ",")
}

func readState(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// TestRestartAfterAck shows that sql_last_value is stored only once the
// pipeline acknowledged the events of a run: rows delivered are not read
// again after a restart, rows that were read but never acknowledged (the
// output held them when the pipeline was aborted, as in a crash) are.
func TestRestartAfterAck(t *testing.T) {
	pg := startPG(t)
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			d := sqliteDB(t)
			if name == "postgres" {
				d = postgresDB(t, pg)
			}
			state := filepath.Join(t.TempDir(), "last_run")
			exec(t, d.db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v VARCHAR(5));\nINSERT INTO t VALUES (1, 'a');\nINSERT INTO t VALUES (2, 'b');\nINSERT INTO t VALUES (3, 'c');\n")
			conf := trackingConf(d, state, "")

			// 1: delivered and acknowledged.
			s1 := &sink{}
			start(t, conf, s1).wait(t)
			if got := ids(t, s1); got != "1,2,3" {
				t.Fatalf("run 1 read %s; want 1,2,3", got)
			}
			if got := readState(t, state); got != "--- 3\n" {
				t.Fatalf("after run 1 the last run file is %q; want \"--- 3\\n\"", got)
			}

			// 2: read, but the output holds them; then the pipeline is
			// aborted, so they are never acknowledged.
			exec(t, d.db, "INSERT INTO t VALUES (4, 'd');\nINSERT INTO t VALUES (5, 'e');\n")
			s2 := &sink{gate: make(chan struct{})}
			r2 := start(t, conf, s2)
			servertest.Poll(func() bool { return s2.writes.Load() > 0 }, 20*time.Second)
			if s2.writes.Load() == 0 {
				t.Fatalf("run 2 wrote nothing\nlogs:\n%s", r2.logs)
			}
			if got := readState(t, state); got != "--- 3\n" {
				t.Fatalf("while run 2 is not acknowledged the last run file is %q; want \"--- 3\\n\"", got)
			}
			r2.stop()
			r2.pl.Abort()
			select {
			case <-r2.done:
			case <-time.After(20 * time.Second):
				t.Fatal("run 2 did not stop after Abort")
			}
			if got := readState(t, state); got != "--- 3\n" {
				t.Fatalf("after the aborted run 2 the last run file is %q; want \"--- 3\\n\"", got)
			}

			// 3: the unacknowledged rows are read again, the others not.
			s3 := &sink{}
			start(t, conf, s3).wait(t)
			if got := ids(t, s3); got != "4,5" {
				t.Fatalf("run 3 read %s; want 4,5 (the rows run 2 never delivered)", got)
			}
			if got := readState(t, state); got != "--- 5\n" {
				t.Fatalf("after run 3 the last run file is %q; want \"--- 5\\n\"", got)
			}
		})
	}
}

// TestSchedule runs the statement every second (a 6-field cron line) and
// reads rows added between runs; cancelling stops it between runs.
func TestSchedule(t *testing.T) {
	d := sqliteDB(t)
	state := filepath.Join(t.TempDir(), "last_run")
	exec(t, d.db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v VARCHAR(5));\nINSERT INTO t VALUES (1, 'a');\n")
	s := &sink{}
	r := start(t, trackingConf(d, state, `schedule => "* * * * * *"`), s)
	servertest.Poll(func() bool { return len(s.got()) >= 1 }, 20*time.Second)
	exec(t, d.db, "INSERT INTO t VALUES (2, 'b');\nINSERT INTO t VALUES (3, 'c');\n")
	servertest.Poll(func() bool { return len(s.got()) >= 3 }, 20*time.Second)
	if got := ids(t, s); got != "1,2,3" {
		t.Fatalf("read %s; want 1,2,3\nlogs:\n%s", got, r.logs)
	}
	servertest.Poll(func() bool { return readState(t, state) == "--- 3\n" }, 10*time.Second)
	if got := readState(t, state); got != "--- 3\n" {
		t.Fatalf("the last run file is %q; want \"--- 3\\n\"", got)
	}
	r.stop()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("pipeline: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the scheduled input did not stop")
	}
	if n := strings.Count(r.logs.String(), "jdbc: executing the statement"); n < 2 {
		t.Errorf("the statement ran %d times; want at least 2", n)
	}
}

// TestPasswordNeverShown connects with a wrong password to a server that
// refuses it, and looks for the password in the log and the error.
func TestPasswordNeverShown(t *testing.T) {
	pg := startPG(t)
	if pg == nil {
		servertest.Missing(t, "PostgreSQL is not installed")
	}
	const secret = "s3cret-pa55word"
	conf := fmt.Sprintf(`input { jdbc {
    jdbc_driver_class => "org.postgresql.Driver"
    jdbc_connection_string => "jdbc:postgresql://%s/nosuchdb?sslmode=disable&password=%s"
    jdbc_user => "nosuchuser"
    jdbc_password => %q
    statement => "SELECT 1"
    record_last_run => false
} }`, pg.Addr(), secret, secret)
	s := &sink{}
	r := start(t, conf, s)
	var err error
	select {
	case err = <-r.done:
		r.done <- err
	case <-time.After(30 * time.Second):
		t.Fatal("pipeline did not end")
	}
	if err == nil {
		t.Fatal("the pipeline succeeded with a user that does not exist")
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(r.logs.String(), secret) {
		t.Fatalf("the password is shown:\nerr: %v\nlogs:\n%s", err, r.logs)
	}
	if !strings.Contains(r.logs.String(), "unable to connect") {
		t.Fatalf("no connection error logged:\n%s", r.logs)
	}
}
