package beats

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"fmt"
	"strings"
	"testing"

	lumberclient "github.com/elastic/go-lumber/client/v2"

	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/testpki"
)

// enrich: by default the sender's address is in [@metadata]; with
// ssl_peer_metadata the verified client certificate's subject says which
// agent sent each event (under ECS names, or Logstash's legacy ones).
func TestEnrich(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	srv := ca.Server("centre")
	cli := ca.ClientSubject(pkix.Name{CommonName: "agent-7", Organization: []string{"pipeline"}})
	tlsOpts := fmt.Sprintf("ssl_enabled = true\nssl_certificate = %q\nssl_key = %q\nssl_client_authentication = \"required\"\nssl_certificate_authorities = [%q]",
		srv.CertFile, srv.KeyFile, ca.File)
	for _, tc := range []struct{ opts, ip, subject, status string }{
		{tlsOpts, "[@metadata][input][beats][host][ip]", "", ""},
		{tlsOpts + "\nenrich = [\"ssl_peer_metadata\", \"source_metadata\"]", "[@metadata][input][beats][host][ip]", "[@metadata][input][beats][tls][client][subject]", "verified"},
		{tlsOpts + "\nenrich = \"all\"\necs_compatibility = \"disabled\"", "[@metadata][ip_address]", "[@metadata][tls_peer][subject]", "verified"},
		{tlsOpts + "\nenrich = \"none\"", "", "", ""},
	} {
		h := start(t, tc.opts, nil, "")
		conn, err := tls.Dial("tcp", h.addr, ca.ClientConfig(cli))
		if err != nil {
			t.Fatal(err)
		}
		c, err := lumberclient.NewSyncClientWithConn(conn)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Send([]any{map[string]any{"message": "m"}}); err != nil {
			t.Fatal(err)
		}
		c.Close()
		e := h.sink.Events()[0]
		var ip string
		if tc.ip != "" {
			ip, _ = e.GetString(event.MustRef(tc.ip))
		}
		if tc.ip != "" && ip != "127.0.0.1" || tc.ip == "" && len(e.Metadata()) != 0 {
			t.Errorf("%q: ip %q, metadata %v", tc.opts[len(tlsOpts):], ip, e.Metadata())
		}
		if tc.subject != "" {
			subj, _ := e.GetString(event.MustRef(tc.subject))
			status, _ := e.GetString(event.MustRef("[@metadata][tls_peer][status]"))
			if subj != "CN=agent-7,O=pipeline" || status != tc.status {
				t.Errorf("%q: subject %q status %q in %v", tc.opts[len(tlsOpts):], subj, status, e.Metadata())
			}
		} else if _, ok := e.Metadata()["tls_peer"]; ok {
			t.Errorf("%q: tls_peer without ssl_peer_metadata", tc.opts[len(tlsOpts):])
		}
	}
}

func TestEnrichOptions(t *testing.T) {
	for _, tc := range []struct{ opts, want string }{
		{"port = 5044\nenrich = [\"all\", \"none\"]", "stands alone"},
		{"port = 5044\nenrich = [\"geo\"]", "unknown value"},
		{"port = 5044\nenrich = \"none\"\ninclude_codec_tag = false", "set enrich only"},
	} {
		o := plugintest.NewOptions[Options](t, tc.opts)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v; want %q", tc.opts, err, tc.want)
		}
	}
}
