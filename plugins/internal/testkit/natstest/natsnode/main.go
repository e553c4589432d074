// Command natsnode is one node of a natstest cluster (NewClusterWith): a
// NATS server with JetStream from the pinned nats-server module, configured
// by its environment. Tests build it without -race so that the servers run
// at their real speed when the test itself runs under -race.
package main

import "github.com/pipelined/pipeline/plugins/internal/testkit/natstest"

func main() { natstest.ServeNode() }
