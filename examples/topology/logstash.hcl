# Pipeline "main" in HCL, equivalent to conf.d/logstash.conf: receives events
# from Filebeat and queues each one twice in Redis, once for Elasticsearch
# and once for immudb.
input "beats" {
  port = 5044
}

# No filters: this pipeline only receives and queues, so that a slow
# Elasticsearch never makes Filebeat wait.

# Queue read by the pipeline "elastic-pipeline" (logstash1.hcl).
output "redis" {
  host      = "127.0.0.1"
  port      = 6379
  password  = ""
  key       = "redis-queue-elastic"
  data_type = "list"
  db        = 0
}

# Queue read by the immudb writer (outside this deployment).
output "redis" {
  host      = "127.0.0.1"
  port      = 6379
  password  = ""
  key       = "redis-queue-immudb"
  data_type = "list"
  db        = 0
}
