# Deployment 2 of issue #21: the Python script that polled Elasticsearch for
# SSH login failures, unauthorized sudo and request floods, counted them
# and mailed when a count passed a threshold (one inside business hours,
# another outside them), as one pipeline. Credentials come from the
# environment. Without schedule this is the script's one-shot mode
# (`scan --duration 10`: since SCAN_FROM, by default now-10m, once, then exit); add
#   schedule => "*/5 * * * *"
# to the input for its continuous mode. See README.md.
#   ES_HOSTS=https://es:9200 ES_USER=alerts ES_PASSWORD=… SMTP_HOST=relay \
#   go run . run -f examples/alerting/es-threshold-email.hcl
# (es-threshold-email.conf as HCL, made with `pipeline convert`)
input "elasticsearch" "es_poll" {
  hosts    = ["${ES_HOSTS:http://127.0.0.1:9200}"]
  user     = "${ES_USER:elastic}"
  password = "${ES_PASSWORD:changeme}"
  index    = "${ES_INDEX:syslog-*,auth-*}"
  query    = "{\"query\":{\"range\":{\"@timestamp\":{\"gte\":\"${SCAN_FROM:now-10m}\"}}},\"sort\":[{\"@timestamp\":\"asc\"}]}"
  size     = 1000
}

if "[kind] == 'ssh_failure'" {
  filter "correlate" "ssh_failures" {
    rule_type        = "SingleWithThreshold"
    key              = "ssh"
    window           = 600
    thresh           = 20
    off_hours_thresh = 3
    business_hours   = "Mon-Fri 08:00-18:00"
    timezone         = "${ALERT_TZ:Europe/Berlin}"
    holidays         = ["2026-12-24", "2026-12-25", "2026-12-31"]
    description      = "SSH login failures within 10 minutes, the last by %{user} from %{src_ip}"
    alert_fields = {
      "alert_event" = "SSH login failures"
    }
  }
} else if "[kind] == 'sudo_unauthorized'" {
  filter "correlate" "sudo_unauthorized" {
    rule_type        = "SingleWithThreshold"
    key              = "sudo"
    window           = 600
    thresh           = 5
    off_hours_thresh = 1
    business_hours   = "Mon-Fri 08:00-18:00"
    timezone         = "${ALERT_TZ:Europe/Berlin}"
    description      = "unauthorized sudo by %{user} on %{host}"
    alert_fields = {
      "alert_event" = "Unauthorized sudo"
    }
  }
} else if "[kind] == 'http_request'" {
  filter "correlate" "request_flood" {
    rule_type        = "SingleWithThreshold"
    key              = "%{src_ip}"
    window           = 60
    thresh           = 1000
    off_hours_thresh = 300
    business_hours   = "Mon-Fri 08:00-18:00"
    timezone         = "${ALERT_TZ:Europe/Berlin}"
    description      = "request flood from %{src_ip}"
    alert_fields = {
      "alert_event" = "Request flood (DoS)"
    }
  }
}

if "'alert' in [tags]" {
  output "email" "mail_threshold" {
    address = "${SMTP_HOST:127.0.0.1}"
    port    = "${SMTP_PORT:25}"
    from    = "es-alerts@example.com"
    to      = "${ALERT_MAIL_TO:security@example.com}"
    subject = "%{alert_event}: %{[correlate][count]} since %{[correlate][first]}"
    body    = "%{message}\\nfirst: %{[correlate][first]}\\nlast: %{[correlate][last]}"
  }
}
