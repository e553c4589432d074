package kafka

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/pipelined/pipeline/plugins/internal/testkit/testpki"
)

// TestSASLOverTLS: security_protocol SASL_SSL with PLAIN and SCRAM
// credentials from sasl_jaas_config, the broker's certificate checked
// against ssl_certificate_authorities or a PEM ssl_truststore_location; a
// wrong password or an untrusted CA fails Connect.
func TestSASLOverTLS(t *testing.T) {
	ca := testpki.NewCA(t, "kafka-ca")
	srv := ca.Server("127.0.0.1")
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "logs"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{srv.TLS}}),
		kfake.EnableSASL(), kfake.Superuser("PLAIN", "plainuser", "pw1"), kfake.Superuser("SCRAM-SHA-256", "scramuser", "pw2"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	other := testpki.NewCA(t, "other")
	jaas := func(mod, user, pass string) string {
		return fmt.Sprintf(`sasl_jaas_config = "org.apache.kafka.common.security.%s required username='%s' password='%s';"`, mod, user, pass)
	}
	for _, tc := range []struct {
		name, opts string
		ok         bool
	}{
		{"plain", "sasl_mechanism = \"PLAIN\"\n" + jaas("plain.PlainLoginModule", "plainuser", "pw1") + fmt.Sprintf("\nssl_certificate_authorities = [%q]", ca.File), true},
		{"scram truststore", "sasl_mechanism = \"SCRAM-SHA-256\"\n" + jaas("scram.ScramLoginModule", "scramuser", "pw2") + fmt.Sprintf("\nssl_truststore_location = %q\nssl_truststore_type = \"PEM\"", ca.File), true},
		{"no name check", "sasl_mechanism = \"PLAIN\"\n" + jaas("plain.PlainLoginModule", "plainuser", "pw1") + fmt.Sprintf("\nssl_certificate_authorities = [%q]\nssl_endpoint_identification_algorithm = \"\"", ca.File), true},
		{"wrong password", "sasl_mechanism = \"PLAIN\"\n" + jaas("plain.PlainLoginModule", "plainuser", "nope") + fmt.Sprintf("\nssl_certificate_authorities = [%q]", ca.File), false},
		{"untrusted", "sasl_mechanism = \"PLAIN\"\n" + jaas("plain.PlainLoginModule", "plainuser", "pw1") + fmt.Sprintf("\nssl_certificate_authorities = [%q]", other.File), false},
		{"untrusted, no name check", "sasl_mechanism = \"PLAIN\"\n" + jaas("plain.PlainLoginModule", "plainuser", "pw1") + fmt.Sprintf("\nssl_certificate_authorities = [%q]\nssl_endpoint_identification_algorithm = \"\"", other.File), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOutput(t, addr, "topic_id = \"logs\"\nsecurity_protocol = \"SASL_SSL\"\n"+tc.opts)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := o.Connect(ctx)
			defer o.Close(ctx)
			if !tc.ok {
				if err == nil {
					t.Fatal("Connect succeeded")
				}
				if strings.Contains(err.Error(), "nope") {
					t.Fatalf("the password is in the error: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := o.Write(ctx, events(0, 3)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
