# Quickstart: runs with no external server.
#   go run . run -f examples/quickstart/pipeline.hcl
# The generator emits each line twice, the noise is dropped, errors are tagged,
# and everything else is printed in Logstash's rubydebug format.

input "generator" "demo" {
  lines = [
    "2026-11-24T10:00:01Z INFO app started pid=4242",
    "2026-11-24T10:00:02Z DEBUG cache warmed",
    "2026-11-24T10:00:03Z ERROR disk full on /var",
  ]
  count = 2
  tags  = ["quickstart"]
}

if "[message] =~ / DEBUG /" {
  filter "drop" "noise" {}
}

output "stdout" "console" {
  codec "rubydebug" {}
}

if "[message] =~ / ERROR /" {
  output "file" "errors" {
    path = "${QUICKSTART_OUT:/tmp/quickstart}/errors-%{+YYYY.MM.dd}.log"
  }
}
