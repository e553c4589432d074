# W5 of ../shared/bench: syslog over one TCP connection (newline framing),
# parsed as Logstash's syslog input does, written as JSON lines to a file.
# The port and the output path come from W5_PORT and W5_OUT (run.sh sets them).
input "syslog" "in" {
  host     = "127.0.0.1"
  port     = "${W5_PORT:5517}"
  timezone = "UTC"
}
output "file" "out" {
  path = "${W5_OUT:/tmp/perf-anchors/out/w5-ours.json}"
}
