# An indexer on the Redis Cluster: the loss-free list mode, each indexer with
# its own consumer_id (its processing list sits on the same slot as the
# list, so the move is one command on one master). Elements an indexer took
# and had not acknowledged when it died are taken back by the next indexer
# started with the same consumer_id. Run as many as the list's master keeps
# up with: one list lives on one master, so for more, shard the key
# (redis-queue-elastic-0 … -N) in the shipper.
input "redis" {
  cluster_nodes = ["redis1:6379", "redis2:6379", "redis3:6379"]
  key           = "redis-queue-elastic"
  data_type     = "list"
  consumer_id   = "indexer-1"
  batch_count   = 250
}

filter "grok" {
  match = { message = ["%%{SYSLOGLINE}"] }
}

output "elasticsearch" {
  hosts = ["http://es:9200"]
  index = "from-redis-%%{+YYYY.MM.dd}"
}
