package netserver

import (
	"context"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"
)

// keepAlive reports SO_KEEPALIVE of the server side of a connection.
func keepAlive(t *testing.T, c net.Conn) bool {
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	_ = raw.Control(func(fd uintptr) {
		v, err = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
	})
	if err != nil {
		t.Fatal(err)
	}
	return v != 0
}

// NoKeepAlive turns Go's default keep-alive probes off on accepted
// connections (the tcp input's tcp_keep_alive => false, Logstash's default).
func TestKeepAlive(t *testing.T) {
	for _, off := range []bool{true, false} {
		got := make(chan bool, 1)
		s := &TCP{Addr: "127.0.0.1:0", Name: "test", Log: slog.New(slog.DiscardHandler), NoKeepAlive: off,
			Handle: func(c *Conn) error { got <- keepAlive(t, c.Conn); return nil }}
		ln, err := net.Listen("tcp", "127.0.0.1:0") // a free port for Run to bind
		if err != nil {
			t.Fatal(err)
		}
		s.Addr = ln.Addr().String()
		ln.Close()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		a := s.Addr
		var c net.Conn
		for i := 0; i < 100; i++ {
			if c, err = net.Dial("tcp", a); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		select {
		case on := <-got:
			if on == off {
				t.Errorf("NoKeepAlive %v: SO_KEEPALIVE on = %v", off, on)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no connection handled")
		}
		c.Close()
		cancel()
		<-done
	}
}
