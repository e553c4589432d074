package nats

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/codecs/json"
	"github.com/pipelined/pipeline/plugins/internal/testkit/natstest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/testpki"
)

func newOutput(t *testing.T, opts string) (*Output, *servertest.Output) {
	t.Helper()
	logs := &servertest.Output{Limit: 1 << 20}
	out := plugintest.MustNew(t, New, opts, engine.Resources{ID: "out", Pipeline: "main",
		Codec: plugintest.MustCodec(t, json.New), Logger: slog.New(slog.NewTextHandler(logs, nil))})
	t.Cleanup(func() {
		_ = out.Close(context.Background())
		if t.Failed() {
			t.Logf("output log:\n%s", servertest.Tail(logs.String(), 4000))
		}
	})
	return out, logs
}

func jsOf(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func hostEvents(n int, host string) []*event.Event {
	var out []*event.Event
	for i := range n {
		e := event.NewMessage(fmt.Sprintf("line %d", i))
		_ = e.Set(event.MustRef("[host][name]"), host)
		_ = e.Set(event.MustRef("[id]"), fmt.Sprintf("%s-%d", host, i))
		out = append(out, e)
	}
	return out
}

func streamMsgs(t *testing.T, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// TestPublishAcknowledged: the output creates the stream, publishes each
// event to its rendered subject and returns once JetStream stored all of
// them; a batch published again with msg_id is stored once (Nats-Msg-Id
// deduplication).
func TestPublishAcknowledged(t *testing.T) {
	srv := natstest.Start(t)
	out, _ := newOutput(t, fmt.Sprintf(`servers = [%q]
subject = "logs.%%%%{[host][name]}"
msg_id = "%%%%{[id]}"
stream = "LOGS"
subjects = ["logs.>"]
storage = "memory"`, srv.URL()))
	if err := out.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	batch := append(hostEvents(300, "web1"), hostEvents(200, "db1")...)
	if err := out.Write(context.Background(), batch); err != nil {
		t.Fatalf("Write: %v", err)
	}
	js := jsOf(t, srv.URL())
	if n := streamMsgs(t, js, "LOGS"); n != 500 {
		t.Fatalf("stream holds %d messages; want 500", n)
	}
	// The same batch again (a retry after a lost acknowledgement): stored once.
	if err := out.Write(context.Background(), batch); err != nil {
		t.Fatalf("Write again: %v", err)
	}
	if n := streamMsgs(t, js, "LOGS"); n != 500 {
		t.Fatalf("after publishing the batch again the stream holds %d messages; want 500 (dedup by Nats-Msg-Id)", n)
	}
	s, _ := js.Stream(context.Background(), "LOGS")
	m, err := s.GetLastMsgForSubject(context.Background(), "logs.db1")
	if err != nil {
		t.Fatal(err)
	}
	e, err := event.FromJSON(m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := e.GetString(event.MustRef("[message]")); got != "line 199" || m.Header.Get(jetstream.MsgIDHeader) != "db1-199" {
		t.Errorf("last logs.db1 message %q with id %q; want \"line 199\" and db1-199", got, m.Header.Get(jetstream.MsgIDHeader))
	}
	// A missing msg_id field: published, without the header, and counted.
	e2 := event.NewMessage("no id")
	_ = e2.Set(event.MustRef("[host][name]"), "web2")
	if err := out.Write(context.Background(), []*event.Event{e2}); err != nil {
		t.Fatal(err)
	}
	if out.msgIDMissing.Load() != 1 || streamMsgs(t, js, "LOGS") != 501 {
		t.Errorf("msg_id_missing %d, stream %d; want 1 and 501", out.msgIDMissing.Load(), streamMsgs(t, js, "LOGS"))
	}
}

// TestFailures: an event over the server's max_payload or with a subject
// that cannot be published to fails for good (dead letter queue), the rest
// of the batch is stored; a subject no stream captures is retried, never
// dropped.
func TestFailures(t *testing.T) {
	srv := natstest.Start(t)
	out, _ := newOutput(t, fmt.Sprintf(`servers = [%q]
subject = "logs.%%%%{[host][name]}"
stream = "LOGS"
subjects = ["logs.>"]
ack_timeout = "2s"`, srv.URL()))
	if err := out.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	batch := hostEvents(3, "web1")
	_ = batch[1].Set(event.MustRef("[message]"), strings.Repeat("x", 2<<20)) // over the default 1 MiB max_payload
	_ = batch[2].Set(event.MustRef("[host][name]"), "two words")
	err := out.Write(context.Background(), batch)
	var be *engine.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 2 || !engine.IsPermanent(be.Failed[1]) || !engine.IsPermanent(be.Failed[2]) {
		t.Fatalf("Write: %v; want a BatchError failing events 1 and 2 for good", err)
	}
	if !strings.Contains(be.Failed[1].Error(), "size budget") || !strings.Contains(be.Failed[2].Error(), "white space") {
		t.Errorf("failures: %v / %v", be.Failed[1], be.Failed[2])
	}
	if n := streamMsgs(t, jsOf(t, srv.URL()), "LOGS"); n != 1 {
		t.Errorf("stream holds %d; want 1", n)
	}

	other, _ := newOutput(t, fmt.Sprintf("servers = [%q]\nsubject = \"nowhere.x\"\nack_timeout = \"1s\"", srv.URL()))
	if err := other.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	err = other.Write(context.Background(), hostEvents(2, "a"))
	if err == nil || engine.IsPermanent(err) || errors.As(err, &be) {
		t.Fatalf("Write to a subject no stream captures: %v; want a plain error (retry the batch)", err)
	}
}

// TestCoreNATS: with jetstream => false the output publishes with core NATS
// to a subscriber.
func TestCoreNATS(t *testing.T) {
	srv := natstest.Start(t)
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync("core.>")
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	out, _ := newOutput(t, fmt.Sprintf("servers = [%q]\nsubject = \"core.%%%%{[host][name]}\"\njetstream = false", srv.URL()))
	if err := out.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := out.Write(context.Background(), hostEvents(5, "h")); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if m.Subject != "core.h" {
			t.Errorf("subject %q", m.Subject)
		}
	}
}

// TestAuthSecretsNotShown: user/password and token authentication work,
// and a refused connection's error and log do not show the secret.
func TestAuthSecretsNotShown(t *testing.T) {
	srv := natstest.StartWith(t, func(o *natstest.Options) { o.Username, o.Password = "shipper", "s3cr3t-pw" })
	out, logs := newOutput(t, fmt.Sprintf("servers = [%q]\nsubject = \"a\"\njetstream = false\nuser = \"shipper\"\npassword = \"wrong-s3cr3t\"", srv.URL()))
	err := out.Connect(context.Background())
	if err == nil {
		t.Fatal("connected with a wrong password")
	}
	if strings.Contains(err.Error(), "wrong-s3cr3t") || strings.Contains(logs.String(), "wrong-s3cr3t") {
		t.Errorf("the password shows: %v\n%s", err, logs)
	}
	ok, _ := newOutput(t, fmt.Sprintf("servers = [%q]\nsubject = \"a\"\njetstream = false\nuser = \"shipper\"\npassword = \"s3cr3t-pw\"", srv.URL()))
	if err := ok.Connect(context.Background()); err != nil {
		t.Fatalf("right password: %v", err)
	}

	tok := natstest.StartWith(t, func(o *natstest.Options) { o.Authorization = "tok-123456" })
	bad, logs := newOutput(t, fmt.Sprintf("servers = [\"nats://user:tok-zzz@%s\"]\nsubject = \"a\"\njetstream = false", strings.TrimPrefix(tok.URL(), "nats://")))
	if err := bad.Connect(context.Background()); err == nil || strings.Contains(err.Error(), "tok-zzz") || strings.Contains(logs.String(), "tok-zzz") {
		t.Errorf("credentials in the URL: %v\n%s", err, logs)
	}
	good, _ := newOutput(t, fmt.Sprintf("servers = [%q]\nsubject = \"a\"\njetstream = false\ntoken = \"tok-123456\"", tok.URL()))
	if err := good.Connect(context.Background()); err != nil {
		t.Fatalf("token: %v", err)
	}
}

// TestCheckDiagnostics: `pipeline check` points at the option at fault.
func TestCheckDiagnostics(t *testing.T) {
	for _, tc := range []struct{ opts, want string }{
		{`subject = "a b"`, "white space"},
		{`subject = "logs.*"`, "wildcard"},
		{"subject = \"a\"\nservers = \"http://x:1\"", "unsupported scheme"},
		{"subject = \"a\"\nsubjects = [\"a\"]", "stream, which is not set"},
		{"subject = \"a\"\nstream = \"S\"\nsubjects = [\"a\"]\nreplicas = 7", "from 1 to 5"},
		{"subject = \"a\"\nstream = \"S\"\nstorage = \"disk\"", `"file" or "memory"`},
		{"subject = \"a\"\nuser = \"u\"", "together"},
		{"subject = \"a\"\ntoken = \"t\"\ncredentials = \"/x.creds\"", "one of"},
		{"subject = \"a\"\njetstream = false\nmsg_id = \"%%{id}\"", "jetstream is false"},
		{"subject = \"a\"\nssl_certificate_authorities = [\"/ca.pem\"]", "TLS is off"},
	} {
		diags := plugintest.BuildDiags(t, ir.Output, "nats", tc.opts)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s: diags %v; want %q", tc.opts, diags, tc.want)
		}
	}
	if diags := plugintest.BuildDiags(t, ir.Output, "nats", "servers = [\"tls://n1:4222\", \"tls://n2:4222\"]\nsubject = \"logs.%%{[host][name]}\"\nmsg_id = \"%%{[@metadata][fingerprint]}\"\nstream = \"LOGS\"\nsubjects = [\"logs.>\"]\nreplicas = 3\nmax_age = \"72h\"\ntoken = \"t0k\""); diags.HasErrors() {
		t.Errorf("typical configuration: %v", diags)
	}
}

// TestTLS: with ssl_enabled (or a tls:// server) the output verifies the
// server's certificate against ssl_certificate_authorities and presents
// its client certificate to a server that requires one (mTLS); an unknown
// CA is refused.
func TestTLS(t *testing.T) {
	ca := testpki.NewCA(t, "nats-ca")
	srvPair := ca.Server("127.0.0.1")
	cli := ca.Client("shipper")
	srv := natstest.StartWith(t, func(o *natstest.Options) {
		o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{srvPair.TLS}, ClientCAs: ca.Pool(), ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
		o.TLSVerify = true
		o.TLSTimeout = 5
	})
	url := strings.Replace(srv.URL(), "nats://", "tls://", 1)
	out, _ := newOutput(t, fmt.Sprintf("servers = [%q]\nsubject = \"tls.a\"\njetstream = false\nssl_certificate_authorities = [%q]\nssl_certificate = %q\nssl_key = %q", url, ca.File, cli.CertFile, cli.KeyFile))
	if err := out.Connect(context.Background()); err != nil {
		t.Fatalf("mTLS: %v", err)
	}
	if err := out.Write(context.Background(), hostEvents(1, "h")); err != nil {
		t.Fatal(err)
	}
	other := testpki.NewCA(t, "other-ca")
	bad, _ := newOutput(t, fmt.Sprintf("servers = [%q]\nsubject = \"tls.a\"\njetstream = false\nssl_enabled = true\nssl_certificate_authorities = [%q]\nssl_certificate = %q\nssl_key = %q", srv.URL(), other.File, cli.CertFile, cli.KeyFile))
	if err := bad.Connect(context.Background()); err == nil {
		t.Fatal("connected to a server whose CA is not trusted")
	}
	nocert, _ := newOutput(t, fmt.Sprintf("servers = [%q]\nsubject = \"tls.a\"\njetstream = false\nssl_certificate_authorities = [%q]", url, ca.File))
	if err := nocert.Connect(context.Background()); err == nil {
		t.Fatal("connected without the client certificate the server requires")
	}
}
