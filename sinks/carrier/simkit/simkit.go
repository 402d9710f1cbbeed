// Package simkit holds what the carrier simulators (kdniao/sim, signedjson/sim, xml/sim) share:
// seeded fault dice safe for concurrent use, and a wait that ends with the request. Test doubles
// only; it must not import sync/ or sources/.
package simkit

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// Dice is a seeded random source safe for concurrent use.
type Dice struct {
	mu  sync.Mutex
	rng *rand.Rand
}

// NewDice returns dice seeded with seed and stream.
func NewDice(seed, stream uint64) *Dice { return &Dice{rng: rand.New(rand.NewPCG(seed, stream))} }

// Roll reports whether an event with probability rate happens now.
func (d *Dice) Roll(rate float64) bool {
	switch {
	case rate <= 0:
		return false
	case rate >= 1:
		return true
	}
	return d.Float64() < rate
}

// Float64 returns a number in [0, 1).
func (d *Dice) Float64() float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rng.Float64()
}

// IntN returns a number in [0, n).
func (d *Dice) IntN(n int) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rng.IntN(n)
}

// Sleep waits d or until ctx is done.
func Sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
