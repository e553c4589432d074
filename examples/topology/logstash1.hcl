# Pipeline "elastic-pipeline" in HCL, equivalent to conf.d/logstash1.conf:
# moves the events queued by "main" from Redis to Elasticsearch, and shows
# each one on stdout.
input "redis" {
  data_type = "list"                # read a Redis list, used as a queue
  key       = "redis-queue-elastic" # the list the main pipeline pushes to
  password  = ""                    # the local Redis has no password
  codec "json" {}                   # the main pipeline's redis output writes JSON
}

output "elasticsearch" {
  # https: the deployment wrote http:// with ssl = true, which Logstash
  # refuses (see as-deployed/logstash1.conf and the README).
  hosts    = ["https://127.0.0.1:9200"]
  index    = "from-redis-%{+YYYY.MM.dd}"
  user     = ""
  password = ""
  ssl      = true
  cacert   = "/etc/elasticsearch/certs/ca.crt"
}

output "stdout" {
  codec "rubydebug" {}
}
