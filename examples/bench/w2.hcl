# W2 of ../shared/bench: read lines, grok them, write JSON lines to a file.
# The output path comes from W2_OUT (run.sh sets it).
input "stdin" "in" {
  ecs_compatibility = "disabled"
  codec "line" {
    ecs_compatibility = "disabled"
  }
}
filter "grok" "syslog" {
  match = {
    message = "<%{NONNEGINT:priority}>%{SYSLOGLINE}"
  }
}
output "file" "out" {
  path = "${W2_OUT:/tmp/perf-anchors/out/w2-ours.json}"
}
