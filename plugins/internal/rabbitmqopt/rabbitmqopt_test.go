package rabbitmqopt

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

func TestAddresses(t *testing.T) {
	c := Connection{Host: engine.StringList{"a", "b:5673", "::1", "[::1]:5674"}, Port: 5672}
	got := strings.Join(c.Addresses(), ",")
	if want := "a:5672,b:5673,[::1]:5672,[::1]:5674"; got != want {
		t.Fatalf("Addresses = %s; want %s", got, want)
	}
}

func TestQueueArguments(t *testing.T) {
	c := Connection{Arguments: engine.Hash{{Key: "x-max-length", Value: "10"}, {Key: "x-queue-type", Value: "quorum"}, {Key: "x-single-active-consumer", Value: "true"}}}
	args := c.QueueArguments()
	if args["x-max-length"] != int64(10) || args["x-queue-type"] != "quorum" || args["x-single-active-consumer"] != true {
		t.Fatalf("QueueArguments = %#v", args)
	}
	if (Connection{}).QueueArguments() != nil {
		t.Fatal("no arguments must give a nil table")
	}
}

// TestBackoff: the wait starts at connect_retry_interval, doubles, stops at
// eight times it (a minute at most unless the interval is longer), and
// starts over after Reset.
func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		seconds float64
		want    []time.Duration
	}{
		{1, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}},
		{10, []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, time.Minute, time.Minute}},
		{120, []time.Duration{2 * time.Minute, 2 * time.Minute}},
	} {
		b := NewBackoff(tc.seconds)
		for i, w := range tc.want {
			if got := b.Next(); got != w {
				t.Fatalf("interval %v: wait %d = %v; want %v", tc.seconds, i, got, w)
			}
		}
		b.Reset()
		if got := b.Next(); got != tc.want[0] {
			t.Fatalf("after Reset: %v", got)
		}
	}
}

// TestDialErrorsHidePassword: a failed connection names the host and user,
// never the password.
func TestDialErrorsHidePassword(t *testing.T) {
	c := Connection{Host: engine.StringList{"127.0.0.1:1"}, Port: 5672, User: "u", Password: "s3cr3t-pw", Vhost: "/"}
	c.Defaults()
	c.Host, c.User, c.Password = engine.StringList{"127.0.0.1:1"}, "u", "s3cr3t-pw"
	var tl TLS
	tl.Defaults()
	var tc tlsopt.Client
	tc.Defaults()
	d, err := NewDialer(c, tl, tc, "test")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = d.Dial(context.Background())
	if err == nil || strings.Contains(err.Error(), "s3cr3t-pw") || !strings.Contains(err.Error(), "amqp://u@127.0.0.1:1/") {
		t.Fatalf("Dial error = %v", err)
	}
}

func TestTLSValidate(t *testing.T) {
	on, off := true, false
	for _, tc := range []struct {
		name string
		tls  TLS
		c    tlsopt.Client
		want string
	}{
		{"ok", TLS{SSL: &on, SSLVersion: "TLSv1.3"}, tlsopt.Client{}, ""},
		{"disagree", TLS{SSL: &on, SSLVersion: "TLSv1.2"}, tlsopt.Client{SSLEnabled: &off}, "disagree"},
		{"version", TLS{SSL: &on, SSLVersion: "TLSv1"}, tlsopt.Client{}, "unsupported value"},
		{"p12 without password", TLS{SSL: &on, SSLVersion: "TLSv1.2", SSLCertificatePath: "c.p12"}, tlsopt.Client{}, "together"},
		{"p12 and pem", TLS{SSL: &on, SSLVersion: "TLSv1.2", SSLCertificatePath: "c.p12", SSLCertificatePassword: "p"}, tlsopt.Client{SSLCertificate: "c.pem", SSLKey: "k.pem"}, "not both"},
	} {
		err := tc.tls.Validate(tc.c)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: Validate = %v; want %q", tc.name, err, tc.want)
		}
	}
}
