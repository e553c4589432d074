# The reference shipper (beats in, each event queued for two consumers) on a
# Redis Cluster of 3 masters with a replica each. host lists seed nodes;
# go-redis's cluster client finds the rest and follows MOVED/ASK and
# failovers. wait_replicas = 1: a batch counts as delivered (and the beats
# window is acknowledged) only once a replica of its master holds it, so a
# master that dies right after the write loses nothing.
input "beats" {
  port = 5044
}

output "redis" {
  host          = ["redis1:6379", "redis2:6379", "redis3:6379"]
  cluster       = true
  wait_replicas = 1
  key           = "redis-queue-elastic"
  data_type     = "list"
}

output "redis" {
  host          = ["redis1:6379", "redis2:6379", "redis3:6379"]
  cluster       = true
  wait_replicas = 1
  key           = "redis-queue-immudb"
  data_type     = "list"
}
