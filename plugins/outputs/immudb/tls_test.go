package immudb

import (
	"context"
	"crypto/tls"
	"testing"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/testkit/immudbtest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/testpki"
)

// TestServerMutualTLS: the output reaches a server that requires a client
// certificate, and is refused without one.
func TestServerMutualTLS(t *testing.T) {
	ca := testpki.NewCA(t, "test CA")
	client := ca.Client("client")
	srv := immudbtest.StartTLS(t, &tls.Config{
		Certificates: []tls.Certificate{ca.Server("server").TLS},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.Pool(),
		MinVersion:   tls.VersionTLS12,
	})
	var o Options
	o.Defaults()
	o.Mode, o.Host, o.Port, o.Timeout = "server", srv.Host, srv.Port, 30
	on := true
	o.SSLEnabled = &on
	o.SSLCertificateAuthorities = []string{ca.File}
	o.SSLCertificate, o.SSLKey = client.CertFile, client.KeyFile
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
