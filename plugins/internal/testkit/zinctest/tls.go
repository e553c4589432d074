package zinctest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a certificate authority generated for one test, with a server
// certificate it signed for 127.0.0.1.
type CA struct {
	// File is the CA certificate, PEM, in the test's temporary directory.
	File string
	// Server is the server certificate and key for 127.0.0.1.
	Server tls.Certificate
}

// NewCA generates a CA named name and a server certificate for 127.0.0.1.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), name+"-ca.crt")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &CA{File: f, Server: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
}

// TLSProxy puts the server behind a TLS-terminating reverse proxy presenting
// ca's server certificate, stopped when t ends, and returns the proxy's
// Elasticsearch API URL: "https://127.0.0.1:port/es". Basic authentication
// passes through to the server, which checks it.
func (s *Server) TLSProxy(t testing.TB, ca *CA) string {
	t.Helper()
	target, _ := url.Parse("http://" + s.Addr())
	p := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	p.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server}}
	p.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	p.StartTLS()
	t.Cleanup(p.Close)
	return p.URL + "/es"
}
