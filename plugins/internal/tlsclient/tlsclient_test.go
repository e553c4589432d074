package tlsclient

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/pipelined/pipeline/plugins/internal/testkit/testpki"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		s    Settings
		want string // "" = valid
	}{
		{Settings{}, ""},
		{Settings{Enabled: true, VerificationMode: "full"}, ""},
		{Settings{Enabled: true, VerificationMode: "certificate"}, "ssl_verification_mode"},
		{Settings{Enabled: true, SupportedProtocols: []string{"TLSv1.0"}}, "ssl_supported_protocols"},
		{Settings{Enabled: true, Certificate: "c.pem"}, "ssl_key"},
		{Settings{Enabled: true, Key: "k.pem"}, "ssl_certificate"},
		{Settings{CertificateAuthorities: []string{"ca.pem"}}, "ssl_enabled"},
	} {
		err := tc.s.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.s, err)
		case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
			t.Errorf("%+v: error %v; want one about %s", tc.s, err, tc.want)
		}
	}
}

func TestConfig(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	cli := ca.Client("c")
	cfg, err := Settings{Enabled: true, CertificateAuthorities: []string{ca.File}, Certificate: cli.CertFile, Key: cli.KeyFile,
		SupportedProtocols: []string{"TLSv1.3"}}.Config("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS13 || cfg.MaxVersion != tls.VersionTLS13 || len(cfg.Certificates) != 1 || cfg.RootCAs == nil || cfg.InsecureSkipVerify {
		t.Errorf("config = %+v", cfg)
	}
	if h := ForHost(cfg, "127.0.0.1:6380"); h.ServerName != "127.0.0.1" || cfg.ServerName != "" {
		t.Errorf("ForHost server name %q (original %q)", h.ServerName, cfg.ServerName)
	}
	if _, err := (Settings{Enabled: true, CertificateAuthorities: []string{cli.KeyFile}}).Config(""); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("a key file as CA: %v", err)
	}
	if cfg, err := (Settings{}).Config(""); cfg != nil || err != nil {
		t.Errorf("disabled: %v, %v", cfg, err)
	}
}
