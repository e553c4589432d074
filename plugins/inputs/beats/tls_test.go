package beats

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	lumberclient "github.com/elastic/go-lumber/client/v2"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/plugintest"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files.
type testPKI struct {
	dir                       string
	caFile, certFile, keyFile string
	pool                      *x509.CertPool
	client                    tls.Certificate
	otherClient               tls.Certificate // signed by another CA
	caCert                    *x509.Certificate
	caKey                     *ecdsa.PrivateKey
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir()}
	var caDER []byte
	p.caCert, p.caKey, caDER = newCA(t, "test CA")
	p.pool = x509.NewCertPool()
	p.pool.AddCert(p.caCert)
	p.caFile = writePEM(t, p.dir, "ca.pem", "CERTIFICATE", caDER)
	certDER, keyDER := leaf(t, p.caCert, p.caKey, "server", true)
	p.certFile = writePEM(t, p.dir, "server.pem", "CERTIFICATE", certDER)
	p.keyFile = writePEM(t, p.dir, "server.key", "PRIVATE KEY", keyDER)
	p.client = tlsCert(t)(leaf(t, p.caCert, p.caKey, "beat", false))
	otherCA, otherKey, _ := newCA(t, "other CA")
	p.otherClient = tlsCert(t)(leaf(t, otherCA, otherKey, "intruder", false))
	return p
}

func newCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key, der
}

func leaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, server bool) (certDER, keyDER []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	}
	certDER, err = x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err = x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return certDER, keyDER
}

func tlsCert(t *testing.T) func(certDER, keyDER []byte) tls.Certificate {
	return func(certDER, keyDER []byte) tls.Certificate {
		c, err := tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	f := filepath.Join(dir, name)
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func (p *testPKI) options(auth string) string {
	return fmt.Sprintf("ssl_enabled = true\nssl_certificate = %q\nssl_key = %q\nssl_certificate_authorities = [%q]\nssl_client_authentication = %q",
		p.certFile, p.keyFile, p.caFile, auth)
}

// send dials with TLS and sends n events; it returns the Send error.
func (p *testPKI) send(addr string, certs []tls.Certificate, n int) error {
	cfg := &tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1",
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
		if n := h.sink.count(); n != 100 {
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
		if n := h.sink.count(); n != 10 {
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
		cfg := &tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1", MaxVersion: tls.VersionTLS12}
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
	logs := &logBuffer{}
	opts := fmt.Sprintf("port = 0\nssl = true\nssl_certificate = %q\nssl_key = %q\nssl_certificate_authorities = [%q]\nssl_verify_mode = \"force_peer\"",
		p.certFile, p.keyFile, p.caFile)
	in := plugintest.MustNew(t, New, opts, engine.Resources{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if in.tls == nil || in.tls.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Fatalf("tls %+v; want client certificates required", in.tls)
	}
	if !containsAll(logs.String(), "ssl is deprecated", "ssl_verify_mode is deprecated") {
		t.Errorf("logs %q: want both deprecation warnings", logs)
	}
	if _, err := New(plugintest.NewOptions[Options](t, "port = 1\nssl_enabled = true\nssl_certificate = \"/nonexistent\"\nssl_key = \"/nonexistent\""), engine.Resources{}); fieldOf(err) != "ssl_certificate" {
		t.Errorf("missing certificate file: %v", err)
	}
}
