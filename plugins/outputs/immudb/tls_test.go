package immudb

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/outputs/immudb/immudbtest"
)

// testPKI makes a CA and a certificate it signs, for 127.0.0.1, and writes
// the PEM files to dir.
func testPKI(t *testing.T, dir string) (ca *x509.CertPool, server, client tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	ca = x509.NewCertPool()
	ca.AddCert(caCert)
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caDER)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) tls.Certificate {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			KeyUsage: x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(key)
		write(name+".pem", "CERTIFICATE", der)
		write(name+".key", "EC PRIVATE KEY", kder)
		c, err := tls.LoadX509KeyPair(filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return ca, leaf("server", 2, x509.ExtKeyUsageServerAuth), leaf("client", 3, x509.ExtKeyUsageClientAuth)
}

// TestServerMutualTLS: the output reaches a server that requires a client
// certificate, and is refused without one.
func TestServerMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, serverCert, _ := testPKI(t, dir)
	srv := immudbtest.StartTLS(t, &tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca,
		MinVersion:   tls.VersionTLS12,
	})
	var o Options
	o.Defaults()
	o.Mode, o.Host, o.Port, o.Timeout = "server", srv.Host, srv.Port, 30
	o.SSLEnabled = true
	o.SSLCertificateAuthorities = []string{filepath.Join(dir, "ca.pem")}
	o.SSLCertificate, o.SSLKey = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	out, err := New(o, engine.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := out.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	evs := testEvents(t, 50, "tls")
	writeAll(t, out, evs, 50)
	checkRows(t, allRows(t, out), evs)
	_ = out.Close(ctx)

	o.SSLCertificate, o.SSLKey = "", ""
	noCert, _ := New(o, engine.Resources{})
	if err := noCert.Connect(ctx); err == nil {
		_ = noCert.Close(ctx)
		t.Fatal("connected without a client certificate")
	}
}
