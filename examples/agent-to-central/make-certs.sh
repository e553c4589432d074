#!/bin/sh
# Makes the PKI of examples/agent-to-central with openssl, the commands the
# README walks through: a CA, one server certificate for the central hosts
# and one client certificate per agent, and the agent's queue key.
#   make-certs.sh DIR [CENTRAL_NAMES [AGENT_NAME]]
# CENTRAL_NAMES is the server certificate's subjectAltName list (every name
# and address the agents dial); AGENT_NAME is the agent certificate's CN.
set -eu
DIR=$1
CENTRAL_NAMES=${2:-DNS:central-1.example.com,DNS:central-2.example.com}
AGENT_NAME=${3:-agent-1}
mkdir -p "$DIR"
cd "$DIR"
umask 077

# 1. The CA: its key signs every certificate; keep ca.key offline.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout ca.key -out ca.crt -days 3650 -subj "/O=Example/CN=Log collection CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign

# 2. The central server's certificate, valid for every name the agents dial.
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout central.key -out central.csr -subj "/O=Example/CN=central"
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n' "$CENTRAL_NAMES" > central.ext
openssl x509 -req -in central.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
  -days 825 -sha256 -extfile central.ext -out central.crt

# 3. One client certificate per agent; its subject is the agent's identity
#    at the centre ([@metadata][input][beats][tls][client][subject]).
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout agent.key -out agent.csr -subj "/O=Example/CN=$AGENT_NAME"
printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n' > agent.ext
openssl x509 -req -in agent.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
  -days 825 -sha256 -extfile agent.ext -out agent.crt

# 4. The agent's queue key: 32 random bytes in hex; the persisted queue
#    encrypts every record with it (AES-256-GCM). Each agent its own.
[ -f queue.key ] || openssl rand -hex 32 > queue.key

rm -f central.csr agent.csr central.ext agent.ext
chmod 644 ca.crt central.crt agent.crt
openssl verify -CAfile ca.crt central.crt agent.crt
