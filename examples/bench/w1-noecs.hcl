# W1 without the ECS fields Logstash 8 adds by default ([event][original],
# [host][hostname]): closest to what syslog-ng's no-parse source builds.
input "stdin" "in" {
  ecs_compatibility = "disabled"
  codec "line" {
    ecs_compatibility = "disabled"
  }
}
filter "drop" "all" {}
output "null" "sink" {}
