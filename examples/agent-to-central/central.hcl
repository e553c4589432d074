# Centre role, as central.conf (see there and README.md).
#   pipeline run -f examples/agent-to-central/central.hcl
input "beats" "agents" {
  host                        = "${CENTRAL_HOST:0.0.0.0}"
  port                        = "${CENTRAL_PORT:5044}"
  ssl_enabled                 = true
  ssl_certificate             = "${PKI_DIR:/etc/pipeline/pki}/central.crt"
  ssl_key                     = "${PKI_DIR:/etc/pipeline/pki}/central.key"
  ssl_certificate_authorities = ["${PKI_DIR:/etc/pipeline/pki}/ca.crt"]
  ssl_client_authentication   = "required"
  enrich                      = ["source_metadata", "ssl_peer_metadata"]
}

input "syslog" "devices" {
  host = "${CENTRAL_HOST:0.0.0.0}"
  port = "${CENTRAL_SYSLOG_PORT:514}"
}

if "[@metadata][input][beats][tls][client][subject]" {
  filter "mutate" "agent_identity" {
    add_field = {
      "[central][agent]" = "%{[@metadata][input][beats][tls][client][subject]}"
    }
  }
}

if "[central][agent]" {
  output "file" "agent_events" {
    path = "${CENTRAL_OUT:/var/log/central}/agents-%{+YYYY-MM-dd}.log"
  }
} else {
  output "file" "device_syslog" {
    path = "${CENTRAL_OUT:/var/log/central}/syslog-%{+YYYY-MM-dd}.log"
  }
}
