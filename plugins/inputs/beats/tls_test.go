package beats

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	lumberclient "github.com/elastic/go-lumber/client/v2"
	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/testkit/inputtest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/testpki"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, and a client certificate of another CA.
type testPKI struct {
	ca          *testpki.CA
	server      testpki.Pair
	client      tls.Certificate
	otherClient tls.Certificate // signed by another CA
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	ca := testpki.NewCA(t, "test CA")
	return &testPKI{
		ca:          ca,
		server:      ca.Server("server"),
		client:      ca.Client("beat").TLS,
		otherClient: testpki.NewCA(t, "other CA").Client("intruder").TLS,
	}
}

func (p *testPKI) options(auth string) string {
	return fmt.Sprintf("ssl_enabled = true\nssl_certificate = %q\nssl_key = %q\nssl_certificate_authorities = [%q]\nssl_client_authentication = %q",
		p.server.CertFile, p.server.KeyFile, p.ca.File, auth)
}

// send dials with TLS and sends n events; it returns the Send error.
func (p *testPKI) send(addr string, certs []tls.Certificate, n int) error {
	cfg := &tls.Config{RootCAs: p.ca.Pool(), ServerName: "127.0.0.1",
		// Send the certificate even when its CA is not one the server asks for.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if len(certs) == 0 {
				return &tls.Certificate{}, nil
			}
			return &certs[0], nil
		}}
	c, err := lumberclient.SyncDialWith(func(network, a string) (net.Conn, error) {
		return tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, network, a, cfg)
	}, addr, lumberclient.Timeout(5*time.Second))
	if err != nil {
		return err
	}
	defer c.Close()
	got, err := c.Send(beatEvents(0, n))
	if err == nil && got != n {
		err = fmt.Errorf("ACK of %d; want %d", got, n)
	}
	return err
}

func TestTLS(t *testing.T) {
	p := newPKI(t)

	t.Run("required", func(t *testing.T) {
		h := start(t, p.options("required"), nil, "")
		if err := p.send(h.addr, []tls.Certificate{p.client}, 100); err != nil {
			t.Fatalf("client with a certificate: %v", err)
		}
		if err := p.send(h.addr, nil, 5); err == nil {
			t.Fatal("a client without a certificate delivered")
		}
		if err := p.send(h.addr, []tls.Certificate{p.otherClient}, 5); err == nil {
			t.Fatal("a client with a certificate of another CA delivered")
		}
		if n := h.sink.Len(); n != 100 {
			t.Fatalf("%d events; want 100", n)
		}
		waitFor(t, 5*time.Second, "the refusal to be logged", func() bool {
			return strings.Contains(h.logs.String(), "certificate")
		})
		// A plain-text client is refused too, and does not disturb TLS clients.
		if err := plainSend(h.addr); err == nil {
			t.Fatal("a plain-text client delivered")
		}
		if err := p.send(h.addr, []tls.Certificate{p.client}, 1); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("none", func(t *testing.T) {
		h := start(t, p.options("none"), nil, "")
		if err := p.send(h.addr, nil, 10); err != nil {
			t.Fatalf("client without a certificate: %v", err)
		}
		if n := h.sink.Len(); n != 10 {
			t.Fatalf("%d events; want 10", n)
		}
	})

	t.Run("optional", func(t *testing.T) {
		h := start(t, p.options("optional"), nil, "")
		if err := p.send(h.addr, nil, 1); err != nil {
			t.Fatalf("client without a certificate: %v", err)
		}
		if err := p.send(h.addr, []tls.Certificate{p.client}, 1); err != nil {
			t.Fatalf("client with a valid certificate: %v", err)
		}
		if err := p.send(h.addr, []tls.Certificate{p.otherClient}, 1); err == nil {
			t.Fatal("a client with a certificate of another CA delivered")
		}
	})

	t.Run("protocols", func(t *testing.T) {
		h := start(t, p.options("none")+"\nssl_supported_protocols = [\"TLSv1.3\"]", nil, "")
		cfg := &tls.Config{RootCAs: p.ca.Pool(), ServerName: "127.0.0.1", MaxVersion: tls.VersionTLS12}
		c, err := tls.Dial("tcp", h.addr, cfg)
		if err == nil {
			err = c.Handshake()
			c.Close()
		}
		if err == nil {
			t.Fatal("TLS 1.2 handshake succeeded with only TLSv1.3 allowed")
		}
	})
}

func plainSend(addr string) error {
	c, err := lumberclient.SyncDial(addr, lumberclient.Timeout(5*time.Second))
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Send(beatEvents(0, 1))
	return err
}

// TestDeprecatedNames: Logstash 7's ssl and ssl_verify_mode work, with a
// warning each.
func TestDeprecatedNames(t *testing.T) {
	p := newPKI(t)
	logs := &inputtest.LogBuffer{}
	opts := fmt.Sprintf("port = 0\nssl = true\nssl_certificate = %q\nssl_key = %q\nssl_certificate_authorities = [%q]\nssl_verify_mode = \"force_peer\"",
		p.server.CertFile, p.server.KeyFile, p.ca.File)
	in := plugintest.MustNew(t, New, opts, engine.Resources{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if in.tls == nil || in.tls.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Fatalf("tls %+v; want client certificates required", in.tls)
	}
	// Build warns once per deprecated name, naming the replacement.
	var warned []string
	for _, d := range plugintest.BuildDiags(t, ir.Input, "beats", opts) {
		if d.Severity == hcl.DiagWarning {
			warned = append(warned, d.Detail)
		}
	}
	if w := strings.Join(warned, "\n"); !containsAll(w, "deprecated ssl; it still works, but use ssl_enabled instead", "deprecated ssl_verify_mode; it still works, but use ssl_client_authentication instead") {
		t.Errorf("warnings %q: want both deprecations", w)
	}
	if _, err := New(plugintest.NewOptions[Options](t, "port = 1\nssl_enabled = true\nssl_certificate = \"/nonexistent\"\nssl_key = \"/nonexistent\""), engine.Resources{}); fieldOf(err) != "ssl_certificate" {
		t.Errorf("missing certificate file: %v", err)
	}
}
