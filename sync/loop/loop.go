// Package loop holds the two timing helpers every stage's background loops use, so that each
// stage does not carry its own copy. It imports nothing of the module.
package loop

import (
	"context"
	"time"
)

// Tick calls fn every d until ctx is done (the first call after d).
func Tick(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// Sleep waits d, or until ctx is done (then it returns ctx's error).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Go runs fn on a goroutine and returns a channel closed when it returns.
func Go(ctx context.Context, fn func(context.Context)) <-chan struct{} {
	done := make(chan struct{})
	go func() { defer close(done); fn(ctx) }()
	return done
}
