# Deployment 1 of issue #21: syslog (rsyslog forwards over TCP) → grok →
# correlation rules in the pipeline (what SEC did on the files Logstash
# wrote) → Alerta (alerts and backup heartbeats) and e-mail for the rare
# ones. See README.md for each SEC rule beside the block that replaces it.
#   SYSLOG_PORT=5514 ALERTA_URL=http://alerta:8080/api ALERTA_API_KEY=… \
#   SMTP_HOST=relay SMTP_PORT=25 go run . run -f examples/alerting/sec-alerta.hcl
# (sec-alerta.conf as HCL, made with `pipeline convert`)
input "tcp" "syslog_tcp" {
  host              = "${SYSLOG_HOST:0.0.0.0}"
  port              = "${SYSLOG_PORT:5514}"
  type              = "syslog"
  ecs_compatibility = "disabled"
}

filter "grok" "syslog_header" {
  match = {
    "message" = "^<%{NONNEGINT:syslog_pri}>%{SYSLOGTIMESTAMP:syslog_timestamp} %{SYSLOGHOST:syslog_hostname} %{DATA:syslog_program}(?:\[%{POSINT:syslog_pid}\])?: %{GREEDYDATA:syslog_message}"
  }
}

filter "date" "syslog_time" {
  match = ["syslog_timestamp", "MMM  d HH:mm:ss", "MMM dd HH:mm:ss"]
}

# sshd: 3 failed logins for one user from one address within 60 s.
if "[syslog_program] == 'sshd' and [syslog_message] =~ /^Failed password for /" {
  filter "grok" "ssh_failure_fields" {
    match = {
      "syslog_message" = "^Failed password for (?:invalid user )?%{USERNAME:user} from %{IP:src_ip}"
    }
    tag_on_failure = []
  }
  filter "correlate" "ssh_bruteforce" {
    rule_type   = "SingleWithThreshold"
    key         = "%{syslog_hostname}-%{user}-%{src_ip}"
    window      = 60
    thresh      = 3
    description = "3 failed ssh logins for %{user} from %{src_ip} on %{syslog_hostname} within 60 s: %{syslog_message}"
    alert_tags  = ["alert", "mail"]
    alert_fields = {
      "resource"    = "%{syslog_hostname}"
      "severity"    = "major"
      "alert_event" = "SshBruteForce"
      "service"     = "ssh"
    }
  }
}

# sudo: every authentication failure.
if "[syslog_program] == 'sudo' and [syslog_message] =~ /authentication failure/" {
  filter "correlate" "sudo_auth_failure" {
    rule_type   = "Single"
    description = "%{message}"
    alert_fields = {
      "resource"    = "%{syslog_hostname}"
      "severity"    = "minor"
      "alert_event" = "SudoAuthFailure"
      "service"     = "sudo"
    }
  }
}

# sshguard: every attack report, mailed too.
if "[syslog_program] == 'sshguard'" {
  filter "correlate" "sshguard_attack" {
    rule_type   = "Single"
    pattern     = "^Attack from \\\"[^\\\"]+\\\" on service \d+ with danger \d+"
    source      = "syslog_message"
    description = "%{message}"
    alert_tags  = ["alert", "mail"]
    alert_fields = {
      "resource"    = "%{syslog_hostname}"
      "severity"    = "critical"
      "alert_event" = "SshguardAttack"
      "service"     = "sshguard"
    }
  }
}

# pfSense web UI: 2 failed logins for one user from one address within 120 s.
if "[syslog_program] == 'php-fpm' and [syslog_message] =~ /webConfigurator authentication error/" {
  filter "grok" "webui_fields" {
    match = {
      "syslog_message" = "for user '%{DATA:user}' from: %{IP:src_ip}"
    }
    tag_on_failure = []
  }
  filter "correlate" "webui_login_failures" {
    rule_type   = "SingleWithThreshold"
    key         = "%{user}-%{src_ip}"
    window      = 120
    thresh      = 2
    description = "%{message}"
    alert_fields = {
      "resource"    = "%{syslog_hostname}"
      "severity"    = "major"
      "alert_event" = "WebUiLoginFailure"
      "service"     = "pfsense"
    }
  }
}

if "'alert' in [tags]" {
  output "alerta" "alerta_alert" {
    url         = "${ALERTA_URL:http://127.0.0.1:8080/api}"
    api_key     = "${ALERTA_API_KEY:}"
    resource    = "%{resource}"
    event       = "%{alert_event}"
    environment = "Production"
    severity    = "%{severity}"
    service     = ["%{service}"]
    correlate   = ["%{alert_event}"]
    group       = "Security"
    value       = "%{[correlate][count]}"
    origin      = "pipeline/%{[correlate][rule]}"
    tags        = ["%{[correlate][rule]}"]
    attributes = {
      "key"   = "%{[correlate][key]}"
      "first" = "%{[correlate][first]}"
      "last"  = "%{[correlate][last]}"
    }
  }
}

if "'mail' in [tags]" {
  output "email" "mail_rare" {
    address = "${SMTP_HOST:127.0.0.1}"
    port    = "${SMTP_PORT:25}"
    from    = "alerts@example.com"
    to      = "${ALERT_MAIL_TO:security@example.com}"
    subject = "[%{severity}] %{alert_event} on %{resource}"
    body    = "%{message}\\nrule: %{[correlate][rule]}\\nkey: %{[correlate][key]}\\ncount: %{[correlate][count]}"
  }
}

# Every completed backup is a heartbeat: Alerta raises an alert of its own
# when none came for a day.
if "[syslog_program] == 'rsnapshot' and [syslog_message] =~ /completed successfully/" {
  output "alerta" "alerta_heartbeat" {
    url       = "${ALERTA_URL:http://127.0.0.1:8080/api}"
    api_key   = "${ALERTA_API_KEY:}"
    heartbeat = "true"
    origin    = "%{syslog_hostname}_backup"
    timeout   = "86400"
    tags      = ["rsnapshot"]
  }
}
