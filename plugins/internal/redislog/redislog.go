// Package redislog is the one logger of go-redis for the whole process:
// go-redis has a single global logger, so the redis input and output must
// install the same one (each installing its own, the last init won, and the
// input's pub/sub drop warnings were lost when the output was linked in).
//
// go-redis's own lines (dial failures and pub/sub reconnects, which the
// plugins report themselves) go to the default logger at debug level instead
// of standard error; except the line saying that a pub/sub message was
// dropped (the subscriber was blocked for a minute), which is data lost: a
// warning, counted in PubSubDropped.
package redislog

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"
)

var (
	once          sync.Once
	pubsubDropped atomic.Int64
)

// Install sets the logger; calling it again does nothing.
func Install() { once.Do(func() { goredis.SetLogger(Logger{}) }) }

// PubSubDropped is the number of pub/sub messages go-redis dropped in the
// process.
func PubSubDropped() int64 { return pubsubDropped.Load() }

// Logger is go-redis's logger.
type Logger struct{}

// Printf logs one go-redis line.
func (Logger) Printf(ctx context.Context, format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.Contains(format, "message is dropped") {
		n := pubsubDropped.Add(1)
		slog.Default().WarnContext(ctx, "redis: pub/sub message dropped: the pipeline did not take it for a minute",
			"detail", msg, "pubsub_messages_dropped", n, "component", "go-redis")
		return
	}
	slog.Default().DebugContext(ctx, msg, "component", "go-redis")
}
