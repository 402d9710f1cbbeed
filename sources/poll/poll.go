// Package poll asks carriers about waybills on a schedule: for carriers that do not push, and
// for waybills whose pushes went silent. It owns only the loop — how often, how many at once —
// and not what is due (the schedule lives in sync/state) nor how a carrier is asked (sinks/).
// It must not import sync/ or sinks/.
package poll

import (
	"context"
	"sync"
	"time"
)

// Run calls due every interval and check for each target it returns, at most concurrency at
// once, until ctx is done. due hands out only targets not handed out recently, so a slow check
// is not started twice. Errors are check's to log: one failed poll never stops the loop.
func Run[T any](ctx context.Context, every time.Duration, concurrency int,
	due func(context.Context) ([]T, error), check func(context.Context, T)) {
	if concurrency < 1 {
		concurrency = 1
	}
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		targets, err := due(ctx)
		if err != nil {
			continue
		}
		for _, target := range targets {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				check(ctx, target)
			}()
		}
	}
}
