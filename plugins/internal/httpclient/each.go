package httpclient

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// SendEach sends each event with send, at most pool at once (the client's
// pool_max), and returns nil when all succeeded or a *engine.BatchError
// naming the events to retry (or, for a Permanent error, to fail). A panic
// in send fails that event for good, logged under what; the others go on.
func SendEach(ctx context.Context, log *slog.Logger, what string, pool int, events []*event.Event, send func(context.Context, *event.Event) error) error {
	results := make([]error, len(events))
	sem := make(chan struct{}, max(pool, 1))
	var wg sync.WaitGroup
	for i, e := range events {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			results[i] = ctx.Err()
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			results[i] = engine.Guard(log, what, func() error { return send(ctx, e) })
			var pe *engine.PanicError
			if errors.As(results[i], &pe) {
				results[i] = engine.Permanent(results[i])
			}
		})
	}
	wg.Wait()
	failed := map[int]error{}
	for i, err := range results {
		if err != nil {
			failed[i] = err
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return &engine.BatchError{Failed: failed}
}

// Budgets for what comes back from a server whose answer is only a status.
const (
	// MaxAnswerHead is how much of an answer ReadHead keeps, for logs and
	// dead letter reasons.
	MaxAnswerHead = 1 << 10
	// MaxDrainBytes is how much more of an answer ReadHead reads (and
	// discards) so that the connection can be reused; a longer answer
	// closes it.
	MaxDrainBytes = 64 << 10
)

// ReadHead returns the first MaxAnswerHead bytes of res's body and drains
// at most MaxDrainBytes more; the caller still closes the body.
func ReadHead(res *http.Response) []byte {
	head, _ := io.ReadAll(io.LimitReader(res.Body, MaxAnswerHead))
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, MaxDrainBytes))
	return head
}
