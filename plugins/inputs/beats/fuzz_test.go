package beats

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

var (
	fuzzOnce sync.Once
	fuzzAddr string
)

// fuzzServer starts one beats input for the whole fuzzing run; its emit
// acknowledges every batch at once.
func fuzzServer(t *testing.T) string {
	fuzzOnce.Do(func() {
		ch := make(chan net.Addr, 1)
		listenAddrs.Store("fuzz", ch)
		in := plugintest.MustNew(t, New, "host = \"127.0.0.1\"\nport = 0\nclient_inactivity_timeout = 2\nmax_frame_bytes = 65536\nmax_window_size = 1000",
			engine.Resources{ID: "fuzz"})
		go func() {
			_ = in.Run(context.Background(), func(b engine.Batch) error {
				if b.Ack != nil {
					b.Ack(nil)
				}
				return nil
			})
		}()
		fuzzAddr = (<-ch).String()
	})
	return fuzzAddr
}

// FuzzConnection feeds arbitrary bytes to a connection of a running beats
// input: it must never panic, and must close or answer every connection.
func FuzzConnection(f *testing.F) {
	f.Add(append(window(1), jsonFrame(1, []byte(`{"message":"hi"}`))...))
	f.Add(append(window(2), compressed(f, append(jsonFrame(1, []byte(`{"a":1}`)), jsonFrame(2, []byte(`{"b":[1,2]}`))...))...))
	f.Add([]byte("GET / HTTP/1.0\r\n\r\n"))
	f.Add(window(1 << 30))
	f.Add(append(window(1), '2', 'C', 0, 0, 0, 4, 1, 2, 3, 4))
	f.Add(append(window(1), '2', 'J', 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff))
	f.Add(append(window(0), window(1)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		addr := fuzzServer(t)
		// The count is process-wide: other tests of the package recover
		// panics on purpose (TestHandlerPanic): count what this connection adds.
		before := engine.PanicsRecovered()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(data); err != nil {
			return // the server closed first
		}
		_ = c.(*net.TCPConn).CloseWrite()
		if _, err := io.Copy(io.Discard, c); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("connection neither answered nor closed within 10 s")
			}
		}
		// Panics are recovered (the process lives), which would hide the
		// bugs fuzzing looks for: any is a failure here.
		if n := engine.PanicsRecovered() - before; n != 0 {
			t.Fatalf("%d panics recovered (see the log)", n)
		}
	})
}

var (
	fuzzV1Once sync.Once
	fuzzV1Addr string
)

// FuzzConnectionV1 is FuzzConnection for lumberjack v1 (NewV1, the
// lumberjack input's server, here without TLS): key/value data frames,
// plain or compressed, checked against the budgets before go-lumber reads
// them.
func FuzzConnectionV1(f *testing.F) {
	v1Data := func(seq uint32, kv ...string) []byte {
		b := append([]byte("1D"), byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq))
		n := uint32(len(kv) / 2)
		b = append(b, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		for _, s := range kv {
			l := uint32(len(s))
			b = append(append(b, byte(l>>24), byte(l>>16), byte(l>>8), byte(l)), s...)
		}
		return b
	}
	f.Add(append([]byte{'1', 'W', 0, 0, 0, 1}, v1Data(1, "line", "hi", "host", "a")...))
	f.Add(append([]byte{'1', 'W', 0, 0, 0, 1}, '1', 'D', 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff))
	f.Add(append([]byte{'1', 'W', 0, 0, 0, 1}, '1', 'C', 0, 0, 0, 4, 1, 2, 3, 4))
	f.Add([]byte("2W\x00\x00\x00\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzV1Once.Do(func() {
			ch := make(chan net.Addr, 1)
			listenAddrs.Store("fuzzv1", ch)
			in, err := NewV1(V1Config{Addr: "127.0.0.1:0", Timeout: 2 * time.Second}, engine.Resources{ID: "fuzzv1"})
			if err != nil {
				t.Fatal(err)
			}
			in.maxFrame, in.maxWinB, in.maxPending = 65536, 65536, 1<<20
			go func() {
				_ = in.Run(context.Background(), func(b engine.Batch) error {
					if b.Ack != nil {
						b.Ack(nil)
					}
					return nil
				})
			}()
			fuzzV1Addr = (<-ch).String()
		})
		before := engine.PanicsRecovered()
		c, err := net.Dial("tcp", fuzzV1Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(data); err != nil {
			return
		}
		_ = c.(*net.TCPConn).CloseWrite()
		if _, err := io.Copy(io.Discard, c); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("connection neither answered nor closed within 10 s")
			}
		}
		if n := engine.PanicsRecovered() - before; n != 0 {
			t.Fatalf("%d panics recovered (see the log)", n)
		}
	})
}
