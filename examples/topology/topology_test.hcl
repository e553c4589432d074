# `pipeline test examples/topology/` runs these against pipelines.yml (next
# to this file): events enter main at its beats input, cross to
# elastic-pipeline through the redis outputs' in-memory stand-ins only when
# the test sends them there, and leave by in-memory outputs.
clock = "2026-12-07T10:00:00Z"

test "main queues every event twice, once per redis list" {
  input = "beats_1"
  lines = ["Dec  7 10:00:00 web1 app: started"]
  expect "redis_1" {
    event = {
      "@timestamp" = "2026-12-07T10:00:00.000Z"
      message      = "Dec  7 10:00:00 web1 app: started"
    }
  }
  expect "redis_2" {
    condition = "[message] =~ /started$/"
  }
  no_output = ["elasticsearch_1", "stdout_1"]
}

test "elastic-pipeline decodes the queued JSON and writes it twice" {
  input = "redis_1"
  lines = ["{\"@timestamp\": \"2026-12-07T09:00:00.000Z\", \"message\": \"from redis\", \"[host][name]\": \"web1\"}"]
  expect "elasticsearch_1" {
    subset = { "[host][name]" = "web1", "@timestamp" = "2026-12-07T09:00:00.000Z" }
  }
  expect "stdout_1" {
    condition = "[host][name] == 'web1' and [message] == 'from redis'"
  }
  no_output = ["redis_1", "redis_2"]
}
