package dsl

import (
	"testing"

	"github.com/pipelined/pipeline/engine/childenv"
)

// ${VAR} references that give a secret, in a secret option or in a URL's
// userinfo, in .conf and HCL, are kept out of child processes' environments;
// others are not.
func TestSecretEnvHidden(t *testing.T) {
	for name, v := range map[string]string{
		"PIPELINE_TEST_SE_CONF_PW": "conf-password", "PIPELINE_TEST_SE_URL_PW": "url-password",
		"PIPELINE_TEST_SE_HCL_TOKEN": "hcl-token-value", "PIPELINE_TEST_SE_HOST": "example.org",
		"PIPELINE_TEST_SE_PATH": "/var/log/app",
	} {
		t.Setenv(name, v)
	}
	conf := `input { file { path => "${PIPELINE_TEST_SE_PATH}/*.log" } }
output { elasticsearch { hosts => ["https://user:${PIPELINE_TEST_SE_URL_PW}@${PIPELINE_TEST_SE_HOST}:9200"] password => "${PIPELINE_TEST_SE_CONF_PW}" } }`
	if _, diags := LoadSource("a.conf", []byte(conf)); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	hcl := `output "http" "h" {
  url = "https://${PIPELINE_TEST_SE_HOST}/"
  headers = { "Authorization" = "Bearer ${PIPELINE_TEST_SE_HCL_TOKEN}" }
}
output "redis" "r" { password = "${PIPELINE_TEST_SE_HCL_TOKEN}" }
input "stdin" "in" {}`
	if _, diags := LoadSource("b.hcl", []byte(hcl)); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	for _, n := range []string{"PIPELINE_TEST_SE_CONF_PW", "PIPELINE_TEST_SE_URL_PW", "PIPELINE_TEST_SE_HCL_TOKEN"} {
		if !childenv.Hidden(n) {
			t.Errorf("%s gave a secret and is not hidden from child processes", n)
		}
	}
	for _, n := range []string{"PIPELINE_TEST_SE_HOST", "PIPELINE_TEST_SE_PATH"} {
		if childenv.Hidden(n) {
			t.Errorf("%s gave no secret and is hidden from child processes", n)
		}
	}
}
