# The reference deployment's immudb branch in HCL, equivalent to
# audit-trail.conf: the "main" pipeline pushes every audit event to the Redis
# list redis-queue-immudb (examples/topology); this pipeline moves them into
# immudb, one row per event keyed by the SHA-256 of the event's JSON, as the
# Python consumer it replaces did.
input "redis" {
  host      = "127.0.0.1"
  port      = 6379
  password  = ""                   # the local Redis has no password
  data_type = "list"               # read a Redis list, used as a queue
  key       = "redis-queue-immudb" # the list the main pipeline pushes to
  # The main pipeline's redis output writes JSON. ecs_compatibility
  # "disabled": no [event][original] copy, so each row holds the event as
  # it was queued, as the Python consumer stored it.
  codec "json" {
    ecs_compatibility = "disabled"
  }
}

output "immudb" {
  mode             = "embedded" # an immudb store inside this process
  path             = "/var/lib/pipeline/immudb"
  table            = "logs"   # (log_key VARCHAR[64] PRIMARY KEY, value VARCHAR[10000])
  key_format       = "python" # same keys as the Python consumer
  value_max_length = 10000    # longer events go to the dead letter queue, never truncated
  batch_size       = 1000     # rows per immudb transaction
}
