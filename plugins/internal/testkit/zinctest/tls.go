package zinctest

import (
	"crypto/tls"
	"io"
	"log"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/pipelined/pipeline/plugins/internal/testkit/testpki"
)

// TLSProxy puts the server behind a TLS-terminating reverse proxy presenting
// a server certificate for 127.0.0.1 that ca issues, stopped when t ends, and returns the proxy's
// Elasticsearch API URL: "https://127.0.0.1:port/es". Basic authentication
// passes through to the server, which checks it.
func (s *Server) TLSProxy(t testing.TB, ca *testpki.CA) string {
	t.Helper()
	target, _ := url.Parse("http://" + s.Addr())
	p := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	p.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server("127.0.0.1").TLS}}
	p.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	p.StartTLS()
	t.Cleanup(p.Close)
	return p.URL + "/es"
}
