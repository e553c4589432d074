package redis

import (
	"context"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// runChannel subscribes to the channel or pattern and emits what arrives, in
// batches of up to batchCount messages.
func (in *Input) runChannel(ctx context.Context, emit engine.EmitFunc) error {
	c := in.newClient()
	defer c.Close()
	// Report a wrong password or an unreachable server here: the subscription
	// below retries silently.
	for failures := 0; ; failures++ {
		err := c.Ping(ctx).Err()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		in.log.Error("redis channel input cannot connect, retrying", "err", in.describe(err))
		if !backoff(ctx, failures) {
			return nil
		}
	}
	var ps *goredis.PubSub
	if in.dataType == "pattern_channel" {
		ps = c.PSubscribe(ctx, in.key)
	} else {
		ps = c.Subscribe(ctx, in.key)
	}
	defer ps.Close()
	// go-redis reconnects and subscribes again by itself; messages published
	// meanwhile are missed (pub/sub is at-most-once).
	ch := ps.Channel(goredis.WithChannelSize(in.batchCount), goredis.WithChannelHealthCheckInterval(in.timeout))
	elems := make([]string, 0, in.batchCount)
	for {
		elems = elems[:0]
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-ch:
			if !ok {
				return nil
			}
			elems = append(elems, m.Payload)
		}
	fill:
		for len(elems) < in.batchCount {
			select {
			case m, ok := <-ch:
				if !ok {
					break fill
				}
				elems = append(elems, m.Payload)
			default:
				break fill
			}
		}
		evs := in.decode(elems, make([]*event.Event, 0, len(elems)))
		if len(evs) == 0 {
			continue
		}
		if err := emit(engine.Batch{Events: evs}); err != nil {
			return err
		}
	}
}
