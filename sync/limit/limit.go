package limit

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Outcome is what a finished call says about the carrier's load. The zero value is Ignore, so a
// forgotten outcome teaches the limit nothing rather than something false.
type Outcome int

const (
	// Ignore: the call says nothing about load (a permanent validation refusal, a call abandoned
	// before it was sent). It frees its slot and is not a sample.
	Ignore Outcome = iota
	// Success: the carrier answered; the round-trip time is a latency sample.
	Success
	// Dropped: a transient failure that signals overload (a timeout, a 5xx, a 429). Its
	// round-trip time is not used; the failure itself shrinks the bound.
	Dropped
)

// String returns the outcome's name for logs.
func (o Outcome) String() string {
	switch o {
	case Ignore:
		return "ignore"
	case Success:
		return "success"
	case Dropped:
		return "dropped"
	}
	return "unknown"
}

// Release frees the slot Acquire handed out and reports how the call went. Only the first call
// counts; later calls do nothing, so `defer release(0, limit.Ignore)` is a safe backstop behind
// an explicit release with the real outcome. It never blocks and is safe to call from any
// goroutine.
type Release func(rtt time.Duration, outcome Outcome)

// Config bounds an adaptive limit. Zero fields take the defaults in New.
type Config struct {
	Initial int // the bound before any sample (default 16)
	Min     int // never fewer slots than this (default 4)
	Max     int // never more slots than this (default 1024)
}

// Defaults applied by New to zero or negative Config fields.
const (
	DefaultInitial = 16
	DefaultMin     = 4
	DefaultMax     = 1024
)

// Limit bounds the calls in flight to one carrier. Create it with New (adaptive) or Fixed. All
// methods are safe for concurrent use.
type Limit struct {
	mu       sync.Mutex
	inFlight int
	waiters  list.List // of *waiter, oldest first
	fixed    int       // > 0: a constant bound and no algorithm
	algo     algo
}

// waiter is an Acquire blocked for a slot. notify grants the slot (counting it in inFlight),
// sets ticket and closes ready.
type waiter struct {
	ready  chan struct{}
	ticket uint64
}

// New returns an adaptive limit. Zero or negative fields take the defaults; Max below Min is
// raised to Min and Initial is clamped into [Min, Max].
func New(cfg Config) *Limit {
	if cfg.Min <= 0 {
		cfg.Min = DefaultMin
	}
	if cfg.Max <= 0 {
		cfg.Max = DefaultMax
	}
	if cfg.Max < cfg.Min {
		cfg.Max = cfg.Min
	}
	if cfg.Initial <= 0 {
		cfg.Initial = DefaultInitial
	}
	cfg.Initial = min(max(cfg.Initial, cfg.Min), cfg.Max)
	return &Limit{algo: newAlgo(cfg)}
}

// Fixed returns a limit whose bound is always n (at least 1), for max_in_flight: <n>. Outcomes
// are accepted and ignored.
func Fixed(n int) *Limit {
	return &Limit{fixed: max(n, 1)}
}

// Acquire blocks until a slot is free or ctx ends. On success the caller owns one slot until it
// calls release exactly once with the call's round-trip time and outcome. When ctx ends first it
// returns ctx.Err() and no slot; a ctx that has already ended never gets a slot, even if one is
// free. Waiters are served in arrival order.
func (l *Limit) Acquire(ctx context.Context) (release Release, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	if l.waiters.Len() == 0 && l.inFlight < l.bound() {
		ticket := l.grant()
		l.mu.Unlock()
		return l.releaser(ticket), nil
	}
	w := &waiter{ready: make(chan struct{})}
	elem := l.waiters.PushBack(w)
	l.mu.Unlock()

	select {
	case <-w.ready:
		return l.releaser(w.ticket), nil
	case <-ctx.Done():
		l.mu.Lock()
		defer l.mu.Unlock()
		select {
		case <-w.ready:
			// Granted while we gave up: hand the slot on, teaching the algorithm nothing.
			l.done(w.ticket, 0, Ignore)
		default:
			l.waiters.Remove(elem)
		}
		l.notify()
		return nil, ctx.Err()
	}
}

// Current returns the bound now: calls beyond it wait. After a shrink, InFlight may exceed it
// until running calls finish.
func (l *Limit) Current() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bound()
}

// InFlight returns the slots handed out and not yet released.
func (l *Limit) InFlight() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inFlight
}

// bound is the current bound; l.mu must be held.
func (l *Limit) bound() int {
	if l.fixed > 0 {
		return l.fixed
	}
	return l.algo.bound()
}

// grant counts one more call in flight and returns its ticket; l.mu must be held.
func (l *Limit) grant() uint64 {
	l.inFlight++
	if l.fixed > 0 {
		return 0
	}
	return l.algo.started(l.inFlight)
}

// done counts the call with ticket out of flight; l.mu must be held.
func (l *Limit) done(ticket uint64, rtt time.Duration, outcome Outcome) {
	l.inFlight--
	if l.fixed == 0 {
		l.algo.finished(ticket, rtt, outcome, l.inFlight)
	}
}

// notify hands free slots to the oldest waiters; l.mu must be held.
func (l *Limit) notify() {
	for l.waiters.Len() > 0 && l.inFlight < l.bound() {
		w := l.waiters.Remove(l.waiters.Front()).(*waiter)
		w.ticket = l.grant()
		close(w.ready)
	}
}

// releaser returns the Release for the slot granted with ticket.
func (l *Limit) releaser(ticket uint64) Release {
	released := false // guarded by l.mu
	return func(rtt time.Duration, outcome Outcome) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if released {
			return
		}
		released = true
		l.done(ticket, rtt, outcome)
		l.notify()
	}
}
