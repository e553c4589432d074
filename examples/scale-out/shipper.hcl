# A shipper: Beats in, the replicated JetStream stream LOGS out.
# Run as many as the senders need; each identifies events by a fingerprint,
# so a batch published again after a lost acknowledgement is stored once.
input "beats" {
  port = 5044
}

filter "fingerprint" {
  source = ["message", "@timestamp", "[host][name]", "[log][file][path]"]
  method = "SHA256"
  target = "[@metadata][fingerprint]"
  concatenate_sources = true
}

output "nats" {
  servers  = ["nats://nats1:4222", "nats://nats2:4222", "nats://nats3:4222"]
  subject  = "logs.%%{[host][name]}"
  msg_id   = "%%{[@metadata][fingerprint]}"
  stream   = "LOGS"
  subjects = ["logs.>"]
  replicas = 3
  max_age  = "72h"
}
