package servertest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the tests run this binary as a small server: with
// SERVERTEST_PORT set it listens there (SERVERTEST_IGNORE_TERM: and ignores
// SIGTERM) until it is signalled.
func TestMain(m *testing.M) {
	if port := os.Getenv("SERVERTEST_PORT"); port != "" {
		l, err := net.Listen("tcp", "127.0.0.1:"+port)
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println("listening on", l.Addr())
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		if os.Getenv("SERVERTEST_IGNORE_TERM") != "" {
			signal.Ignore(syscall.SIGTERM)
			time.Sleep(time.Minute)
		}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		<-sig
		fmt.Println("stopping")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func self(port int, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), fmt.Sprintf("SERVERTEST_PORT=%d", port)), env...)
	return cmd
}

// TestStartStopRestart: the server answers after Start and Restart (on the
// same port), not after Stop, and its output is kept.
func TestStartStopRestart(t *testing.T) {
	s := Start(t, Config{Name: "self", Command: func(port int) *exec.Cmd { return self(port) }})
	if !Dials(s.Addr()) {
		t.Fatal("no answer after Start")
	}
	if want := "listening on " + s.Addr(); !strings.Contains(s.Log(), want) {
		t.Errorf("log %q lacks %q", s.Log(), want)
	}
	s.Stop()
	if Dials(s.Addr()) {
		t.Fatal("answer after Stop")
	}
	if !strings.Contains(s.Log(), "stopping") {
		t.Errorf("SIGTERM did not stop the server gracefully: %q", s.Log())
	}
	s.Stop() // a second Stop does nothing
	port := s.Port()
	s.Restart()
	if !Dials(s.Addr()) || s.Port() != port {
		t.Fatalf("no answer on port %d after Restart (port now %d)", port, s.Port())
	}
}

// TestStopKillsAfterGrace: a process that ignores SIGTERM is killed once the
// grace period is over.
func TestStopKillsAfterGrace(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	p, err := StartProcess(self(port, "SERVERTEST_IGNORE_TERM=1"), 0)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if err := p.WaitReady(func() bool { return Dials(addr) }, 10*time.Second, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p.Stop(syscall.SIGTERM, 200*time.Millisecond)
	if d := time.Since(start); d < 200*time.Millisecond || d > 5*time.Second {
		t.Errorf("Stop took %v; want the grace period, then a kill", d)
	}
	select {
	case <-p.Exited():
	default:
		t.Error("Stop returned before the process exited")
	}
}

// TestWaitReadyExit: a process that exits before it is ready is reported with
// its output.
func TestWaitReadyExit(t *testing.T) {
	p, err := StartProcess(exec.Command("sh", "-c", "echo no config; exit 3"), 0)
	if err != nil {
		t.Fatal(err)
	}
	err = p.WaitReady(func() bool { return false }, 10*time.Second, 10*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "exited: no config") {
		t.Fatalf("WaitReady = %v; want the exit with the output", err)
	}
}

func TestOutputLimit(t *testing.T) {
	o := &Output{Limit: 5}
	for _, s := range []string{"abc", "defg", "h"} {
		if n, err := o.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if o.String() != "abcde" {
		t.Errorf("kept %q; want the first 5 bytes", o.String())
	}
	if got := Tail("0123456789", 3); got != "…789" {
		t.Errorf("Tail = %q", got)
	}
}

func TestFind(t *testing.T) {
	t.Setenv("SERVERTEST_BIN", "")
	if got := Find("SERVERTEST_BIN", "/nonexistent/x", "sh"); !strings.HasSuffix(got, "/sh") {
		t.Errorf("Find = %q; want sh from PATH", got)
	}
	t.Setenv("SERVERTEST_BIN", "/nonexistent/x")
	if got := Find("SERVERTEST_BIN", "sh"); got != "" {
		t.Errorf("Find with an env naming nothing = %q; want \"\"", got)
	}
	t.Setenv("SERVERTEST_BIN", os.Args[0])
	if got := Find("SERVERTEST_BIN", "sh"); got != os.Args[0] {
		t.Errorf("Find = %q; want the env's %q", got, os.Args[0])
	}
}
