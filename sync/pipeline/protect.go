package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/shipsync/shipsync/sinks/shopdb"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/state"
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

// through makes one call to the slot's carrier the way every call to it goes: admitted by its
// circuit breaker, spaced by its rate limit and bounded by its max_in_flight, whatever the
// call is (create, trace query). before, when not nil, runs once the breaker has admitted the
// call and before any wait. The call's result feeds the breaker: success, a permanent refusal
// of this one request and "no trace yet" say the carrier is healthy, anything else counts
// against it.
//
// It returns circuitOpen when the breaker refused the call, notCalled when before, the rate
// limit or ctx stopped it before the carrier was asked, and otherwise the call's own error.
func (p *Pipeline) through(ctx context.Context, slot *carrierSlot, before func() error, call func(context.Context) error) error {
	if !slot.br.allow(time.Now()) {
		return circuitOpen{slot.name}
	}
	if before != nil {
		if err := before(); err != nil {
			slot.br.release() // no call was made
			return notCalled{err}
		}
	}
	if err := slot.limit.wait(ctx); err != nil {
		slot.br.release()
		return notCalled{err}
	}
	select {
	case slot.sem <- struct{}{}:
	case <-ctx.Done():
		slot.br.release()
		return notCalled{ctx.Err()}
	}
	err := call(ctx)
	<-slot.sem
	// A rejection of this one request says nothing about the carrier's health.
	slot.br.done(err == nil || isPermanent(err) || errors.Is(err, errNoTrace), time.Now())
	p.obs.m.CircuitOpen.WithLabelValues(slot.name).Set(b2f(slot.br.open()))
	return err
}

// limiter spaces calls to at most rate per second (no bursts); nil: no limit.
type limiter struct {
	every time.Duration
	mu    sync.Mutex
	next  time.Time
}

func newLimiter(rate float64) *limiter {
	if rate <= 0 {
		return nil
	}
	return &limiter{every: time.Duration(float64(time.Second) / rate)}
}

// wait blocks until the caller's slot.
func (l *limiter) wait(ctx context.Context) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	now := time.Now()
	slot := l.next
	if slot.Before(now) {
		slot = now
	}
	l.next = slot.Add(l.every)
	l.mu.Unlock()
	return sleep(ctx, slot.Sub(now))
}

// candidates lists the carriers to try for an order, in order: the first routing rule that
// matches (else routing.default), then routing.failover. An order whose last attempt may have
// created a waybill (sticky) only ever goes back to that carrier, with the same OrderCode. An
// order sent back from the dead letter to a named carrier (`dlq retry --carrier`) goes there
// only. An error means no configured carrier may take it.
func (p *Pipeline) candidates(o shopdb.Order, rec state.Record) ([]*carrierSlot, error) {
	if rec.Sticky && rec.Carrier != "" {
		if s, ok := p.slots()[rec.Carrier]; ok {
			return []*carrierSlot{s}, nil
		}
		// It may hold a waybill: never route elsewhere.
		return nil, fmt.Errorf("carrier %q may hold this order's waybill but is no longer configured; "+
			"check with it before sending the order elsewhere (shipsync dlq retry after restoring it)", rec.Carrier)
	}
	if rec.Route != "" {
		if s, ok := p.slots()[rec.Route]; ok {
			return []*carrierSlot{s}, nil
		}
		return nil, fmt.Errorf("carrier %q, chosen with dlq retry --carrier, is no longer configured", rec.Route)
	}
	first := p.conf().Routing.Default
	for _, r := range p.conf().Routing.Rules {
		if ruleMatches(r, o) {
			first = r.Carrier
			break
		}
	}
	names := append([]string{first}, p.conf().Routing.Failover...)
	var out []*carrierSlot
	for i, n := range names {
		if s, ok := p.slots()[n]; ok && !slices.Contains(names[:i], n) {
			out = append(out, s)
		}
	}
	return out, nil
}

func ruleMatches(r config.Rule, o shopdb.Order) bool {
	if len(r.Province) > 0 && !slices.Contains(r.Province, o.ReceiverProvince) {
		return false
	}
	if r.MinWeightKg > 0 && o.WeightKg < r.MinWeightKg {
		return false
	}
	if r.MaxWeightKg > 0 && o.WeightKg > r.MaxWeightKg {
		return false
	}
	if c := r.Column; c != nil {
		v, ok := o.Columns[c.Column]
		if !ok || !slices.Contains(c.In, v) {
			return false
		}
	}
	return true
}

// maybeCreated: the call may have created a waybill (timeout after sending, 5xx, garbled
// answer). Errors that cannot say are taken as maybe.
func maybeCreated(err error) bool {
	var mc interface{ MaybeCreated() bool }
	if errors.As(err, &mc) {
		return mc.MaybeCreated()
	}
	return !isPermanent(err)
}

// circuitOpen: the breaker refused the call, so certainly nothing was created.
type circuitOpen struct{ carrier string }

func (e circuitOpen) Error() string      { return fmt.Sprintf("carrier %s: circuit open", e.carrier) }
func (e circuitOpen) MaybeCreated() bool { return false }

// notCalled: the carrier was not called (Redis unreachable, shutting down); nothing was created.
type notCalled struct{ err error }

func (e notCalled) Error() string      { return e.err.Error() }
func (e notCalled) Unwrap() error      { return e.err }
func (e notCalled) MaybeCreated() bool { return false }
