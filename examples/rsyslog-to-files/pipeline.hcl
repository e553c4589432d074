# Syslog from rsyslog (`*.* @@host:5514`, `*.* @host:5514`) and network
# devices, received with the tcp and udp inputs as in the deployment this
# replaces, parsed with grok, and written to one file per sending host and
# program. See README.md.
#   SYSLOG_PORT=5514 SYSLOG_OUT=/srv/syslog go run . run -f examples/rsyslog-to-files/pipeline.conf
input "tcp" "syslog_tcp" {
  host              = "${SYSLOG_HOST:0.0.0.0}"
  port              = "${SYSLOG_PORT:5514}"
  type              = "syslog"
  tags              = ["syslog"]
  ecs_compatibility = "disabled"
}

input "udp" "syslog_udp" {
  host              = "${SYSLOG_HOST:0.0.0.0}"
  port              = "${SYSLOG_PORT:5514}"
  type              = "syslog"
  tags              = ["syslog"]
  ecs_compatibility = "disabled"
}

if "[type] == 'syslog'" {
  filter "grok" "syslog_header" {
    match = {
      "message" = [
        "^<%{NONNEGINT:syslog_pri}>%{SYSLOGTIMESTAMP:syslog_timestamp} %{SYSLOGHOST:syslog_hostname} %{DATA:syslog_program}(?:\[%{POSINT:syslog_pid}\])?: %{GREEDYDATA:syslog_message}",
        "^<%{NONNEGINT:syslog_pri}>%{TIMESTAMP_ISO8601:syslog_timestamp} %{SYSLOGHOST:syslog_hostname} %{DATA:syslog_program}(?:\[%{POSINT:syslog_pid}\])?: %{GREEDYDATA:syslog_message}",
        "^<%{NONNEGINT:syslog_pri}>%{NONNEGINT:syslog_version} +%{TIMESTAMP_ISO8601:syslog_timestamp} +%{HOSTNAME:syslog_hostname} +%{SYSLOG5424PRINTASCII:syslog_program} +(?:-|%{SYSLOG5424PRINTASCII:syslog_pid}) +(?:-|%{SYSLOG5424PRINTASCII:syslog_msgid}) +(?:-|%{SYSLOG5424SD:syslog_sd}) ?%{GREEDYDATA:syslog_message}",
      ]
    }
    add_field = {
      "received_from" = "%{host}"
    }
  }
  filter "date" "syslog_time" {
    match = ["syslog_timestamp", "MMM  d HH:mm:ss", "MMM dd HH:mm:ss", "ISO8601"]
  }
}

if "'syslog' in [tags]" {
  output "file" "per_host_program" {
    path = "${SYSLOG_OUT:/srv/syslog}/%{host}-%{syslog_program}.log"
  }
}
