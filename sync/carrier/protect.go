package carrier

import (
	"context"
	"sync"
	"time"

	"github.com/shipsync/shipsync/sync/loop"
)

// breaker is a carrier's circuit breaker: closed until `failures` calls in a row fail, then open
// for `cooldown`, then half-open: one call goes through, and its result closes or reopens it.
type breaker struct {
	failures int
	cooldown time.Duration

	mu        sync.Mutex
	run       int       // consecutive failures
	openUntil time.Time // zero: closed
	probing   bool      // half-open and the probe is out
}

// allow reports whether a call may go now. A false answer means certainly no call was made.
func (b *breaker) allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.openUntil.IsZero():
		return true
	case now.Before(b.openUntil) || b.probing:
		return false
	default:
		b.probing = true // half-open: this call is the probe
		return true
	}
}

// done records a call's result.
func (b *breaker) done(ok bool, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	if ok {
		b.run, b.openUntil = 0, time.Time{}
		return
	}
	b.run++
	if b.run >= b.failures || !b.openUntil.IsZero() {
		b.openUntil = now.Add(b.cooldown)
	}
}

// release gives back a half-open probe that made no call.
func (b *breaker) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
}

func (b *breaker) open() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.openUntil.IsZero()
}

// rateLimit spaces calls to at most rate per second (no bursts); nil: no limit.
type rateLimit struct {
	every time.Duration
	mu    sync.Mutex
	next  time.Time
}

func newRateLimit(rate float64) *rateLimit {
	if rate <= 0 {
		return nil
	}
	return &rateLimit{every: time.Duration(float64(time.Second) / rate)}
}

// wait blocks until the caller's turn.
func (l *rateLimit) wait(ctx context.Context) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	now := time.Now()
	turn := l.next
	if turn.Before(now) {
		turn = now
	}
	l.next = turn.Add(l.every)
	l.mu.Unlock()
	if turn.Equal(now) {
		return ctx.Err()
	}
	return loop.Sleep(ctx, turn.Sub(now))
}
