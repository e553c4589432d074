#!/usr/bin/env bash
# Checks every Logstash configuration under DIR with `pipeline check` and
# prints the acceptance rate and the top blockers (see main.go for flags).
#   examples/compat/run.sh [-results out.tsv] DIR
set -eu
cd "$(dirname "$0")/../.."
exec go run ./examples/compat "$@"
