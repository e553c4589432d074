# Agent role, as agent.conf (see there and README.md). agent.yml runs it
# with the persisted queue, encrypted at rest, when its path.config names
# this file instead of agent.conf.
input "file" "app_logs" {
  path              = ["${AGENT_LOGS:/var/log/app/*.log}"]
  sincedb_path      = "${AGENT_DATA:/var/lib/pipeline}/sincedb-app"
  start_position    = "beginning"
  stat_interval     = 1
  discover_interval = 2
}

input "syslog" "local_syslog" {
  host = "${AGENT_SYSLOG_HOST:127.0.0.1}"
  port = "${AGENT_SYSLOG_PORT:5514}"
}

output "lumberjack" "to_central" {
  hosts                  = ["${CENTRAL_1:central-1.example.com:5044}", "${CENTRAL_2:central-2.example.com:5044}"]
  port                   = 5044
  ssl_certificate        = "${PKI_DIR:/etc/pipeline/pki}/ca.crt"
  ssl_client_certificate = "${PKI_DIR:/etc/pipeline/pki}/agent.crt"
  ssl_client_key         = "${PKI_DIR:/etc/pipeline/pki}/agent.key"
  timeout                = 10
}
