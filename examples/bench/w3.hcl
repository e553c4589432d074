# W3 of ../shared/bench: read lines, make JSON events, RPUSH each event to two
# Redis lists (Logstash's "duplicate to two queues"). Redis at 127.0.0.1:6390.
input "stdin" "in" {
  ecs_compatibility = "disabled"
  codec "line" {
    ecs_compatibility = "disabled"
  }
}
output "redis" "q1" {
  host      = "127.0.0.1"
  port      = 6390
  data_type = "list"
  key       = "q1"
}
output "redis" "q2" {
  host      = "127.0.0.1"
  port      = 6390
  data_type = "list"
  key       = "q2"
}
