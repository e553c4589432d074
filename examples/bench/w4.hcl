# W4 of ../shared/bench: drain the Redis list q1 (JSON events, loss-free list
# mode) into a JSON lines file. Output path from W4_OUT.
input "redis" "q1" {
  host        = "127.0.0.1"
  port        = 6390
  data_type   = "list"
  key         = "q1"
  batch_count = 500
  consumer_id = "bench"
  # One reader for the list: LRANGE + LTRIM after the ack instead of a
  # processing list (still loss-free, a quarter of the Redis CPU).
  list_mode   = "exclusive"
  # As gogstash and the Go baseline: no copy of the element in
  # [event][original] (the json codec's ECS default).
  codec "json" {
    ecs_compatibility = "disabled"
  }
}
output "file" "out" {
  path = "${W4_OUT:/tmp/perf-anchors/out/w4-ours.json}"
}
