# W1 of ../shared/bench: read lines from stdin, drop every event (raw pipeline
# overhead). The null output is never reached.
input "stdin" "in" {}
filter "drop" "all" {}
output "null" "sink" {}
