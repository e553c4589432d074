// Package pgtest starts a private PostgreSQL cluster for tests: initdb in
// a temporary directory, then postgres on a free loopback port with its
// socket in that directory, trust authentication for the user "pipeline"
// and fsync off (the lifecycle is servertest's: stopped at the end of the
// test, its output logged when the test failed).
//
// PostgreSQL refuses to run as root: as root, initdb and postgres run as
// the "postgres" user that Debian's package creates. The binaries are found
// in $PG_BINDIR, else the newest /usr/lib/postgresql/<version>/bin, else
// PATH. Without them the test is skipped, except under CI (CI=true), where
// that is a failure: .ci/run installs Debian's postgresql package.
package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
)

// User is the superuser of the cluster (no password: trust).
const User = "pipeline"

// Server is a running PostgreSQL.
type Server struct {
	*servertest.Server
}

// binDir finds the directory of initdb and postgres.
func binDir() string {
	if d := os.Getenv("PG_BINDIR"); d != "" {
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

// Start initialises a cluster and starts it for t.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := binDir()
	initdb := servertest.Require(t, "initdb (PostgreSQL)", "", filepath.Join(bin, "initdb"))
	postgres := servertest.Require(t, "postgres", "", filepath.Join(bin, "postgres"))
	var cred *syscall.Credential
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			servertest.Missing(t, "running as root and there is no postgres user to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	cmd := exec.Command(initdb, "-D", data, "-U", User, "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	s := &Server{servertest.Start(t, servertest.Config{
		Name: "postgres",
		Command: func(port int) *exec.Cmd {
			c := exec.Command(postgres, "-D", data, "-p", strconv.Itoa(port), "-F",
				"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+dir,
				"-c", "full_page_writes=off", "-c", "synchronous_commit=off", "-c", "TimeZone=UTC")
			c.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
			return c
		},
		Ready:        ready,
		StartTimeout: 30 * time.Second,
	})}
	return s
}

func dsn(addr string) string {
	return fmt.Sprintf("postgres://%s@%s/postgres?sslmode=disable", User, addr)
}

func ready(addr string) bool {
	db, err := sql.Open("pgx", dsn(addr))
	if err != nil {
		return false
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return db.PingContext(ctx) == nil
}

// JDBCURL is the server's database "postgres" as a JDBC URL.
func (s *Server) JDBCURL() string {
	return "jdbc:postgresql://" + s.Addr() + "/postgres"
}

// DB opens a connection pool to the database "postgres", closed when t ends.
func (s *Server) DB(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn(s.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Available reports whether PostgreSQL's binaries are installed.
func Available() bool {
	d := binDir()
	if d == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(d, "postgres"))
	return err == nil
}
