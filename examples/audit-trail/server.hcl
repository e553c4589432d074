# The same branch writing to an immudb server, as the Python consumer did:
# database logs_immudb (created with a 24 h retention period when missing),
# table logs. The password comes from the environment.
input "redis" {
  data_type = "list"
  key       = "redis-queue-immudb"
  codec "json" {
    ecs_compatibility = "disabled" # rows hold the events as queued
  }
}

output "immudb" {
  mode                 = "server"
  host                 = "127.0.0.1"
  port                 = 3322
  username             = "immudb"
  password             = "${IMMUDB_PASSWORD}"
  database             = "logs_immudb"
  create_database      = true
  retention_period     = "24h" # immudb's minimum
  truncation_frequency = "1h"
  table                = "logs"
}
