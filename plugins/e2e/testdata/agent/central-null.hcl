# The centre of BenchmarkAgentVsFilebeat: examples/agent-to-central's beats
# input (mutual TLS) into the null output; the benchmark counts events out
# through the monitoring API.
input "beats" "agents" {
  host                        = "127.0.0.1"
  port                        = "${CENTRAL_PORT}"
  ssl_enabled                 = true
  ssl_certificate             = "${PKI_DIR}/central.crt"
  ssl_key                     = "${PKI_DIR}/central.key"
  ssl_certificate_authorities = ["${PKI_DIR}/ca.crt"]
  ssl_client_authentication   = "required"
}

output "null" "sink" {}
