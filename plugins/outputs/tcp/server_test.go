package tcp

import (
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"
)

// flakyListener fails its first Accepts as a process out of file
// descriptors does (a fake for this unit test of accept alone).
type flakyListener struct {
	net.Listener
	fails int
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails > 0 {
		l.fails--
		return nil, errors.New("accept tcp: too many open files")
	}
	return l.Listener.Accept()
}

// A failed Accept that is not the listener's closing does not end server
// mode's accepting: the next client is still taken.
func TestAcceptSurvivesErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{log: slog.New(slog.DiscardHandler)}
	s.ln, s.clients, s.done = ln, map[net.Conn]bool{}, make(chan struct{})
	go s.accept(&flakyListener{Listener: ln, fails: 3})
	defer s.close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		s.mu.Lock()
		n := len(s.clients)
		s.mu.Unlock()
		if n == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the client was never accepted after failed Accepts")
		}
	}
}
