# An indexer: run N of them, on any machines. All share the durable
# consumer "indexers": JetStream gives each message to one of them and
# delivers again, after ack_wait, what a dead indexer had not finished.
input "nats" {
  servers         = ["nats://nats1:4222", "nats://nats2:4222", "nats://nats3:4222"]
  stream          = "LOGS"
  durable         = "indexers"
  max_ack_pending = 5000
  ack_wait        = "60s"
}

filter "grok" {
  match = { message = ["%%{SYSLOGLINE}"] }
}

output "elasticsearch" {
  hosts       = ["http://es:9200"]
  document_id = "%%{[@metadata][fingerprint]}"
}
