package limit

import (
	"container/heap"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// carrier is a simulated carrier. A call's latency and outcome are decided when it starts, from
// the calls then in flight.
type carrier struct {
	base     time.Duration
	capacity int     // calls served at base latency; above it calls queue. 0: unlimited
	jitter   float64 // latency varies uniformly by ± this share
	dropRate float64 // share of calls that fail (Dropped)
	// outage: calls started in [from, to) fail.
	outage [2]time.Duration
	// then, if set, is the carrier from changeAt on.
	changeAt time.Duration
	then     *carrier
}

// call returns the latency and outcome of a call started at now with inFlight calls in flight
// (itself included). Above capacity the carrier serves capacity calls per base latency
// (Little's law), so a call's latency grows with the queue ahead of it.
func (c *carrier) call(now time.Duration, inFlight int, rng *rand.Rand) (time.Duration, Outcome) {
	if c.then != nil && now >= c.changeAt {
		return c.then.call(now, inFlight, rng)
	}
	d := float64(c.base)
	if c.capacity > 0 && inFlight > c.capacity {
		d *= float64(inFlight) / float64(c.capacity)
	}
	d *= 1 + c.jitter*(2*rng.Float64()-1)
	outcome := Success
	if rng.Float64() < c.dropRate || (now >= c.outage[0] && now < c.outage[1]) {
		outcome = Dropped
	}
	return time.Duration(d), outcome
}

// simulate drives l with callers that call again as soon as their call returns, for length of
// simulated time: a discrete-event simulation in one goroutine, without a clock. It returns
// the bound after every completed call.
func simulate(t *testing.T, l *Limit, c carrier, callers int, length time.Duration, seed uint64) trace {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	// Acquire is only called with a slot free, so it must not block; the deadline turns a
	// limit that blocks anyway into a failure instead of a hang.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var (
		now     time.Duration
		pending completions
		idle    = callers
		tr      trace
	)
	for {
		for idle > 0 && l.free() {
			release, err := l.Acquire(ctx)
			if err != nil {
				t.Fatalf("acquire with %d of %d in flight: %v", l.InFlight(), l.Current(), err)
			}
			idle--
			rtt, outcome := c.call(now, l.InFlight(), rng)
			heap.Push(&pending, completion{at: now + rtt, rtt: rtt, outcome: outcome, release: release})
		}
		if pending.Len() == 0 {
			t.Fatalf("simulation stalled at %v: nothing in flight, bound %d", now, l.Current())
		}
		next := heap.Pop(&pending).(completion)
		if next.at > length {
			return tr
		}
		now = next.at
		next.release(next.rtt, next.outcome)
		idle++
		tr = append(tr, point{at: now, current: l.Current()})
	}
}

// free says whether Acquire would hand out a slot without waiting, under one lock.
func (l *Limit) free() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waiters.Len() == 0 && l.inFlight < l.bound()
}

type completion struct {
	at      time.Duration
	rtt     time.Duration
	outcome Outcome
	release Release
}

type completions []completion

func (c completions) Len() int           { return len(c) }
func (c completions) Less(i, j int) bool { return c[i].at < c[j].at }
func (c completions) Swap(i, j int)      { c[i], c[j] = c[j], c[i] }
func (c *completions) Push(x any)        { *c = append(*c, x.(completion)) }
func (c *completions) Pop() any {
	old := *c
	x := old[len(old)-1]
	*c = old[:len(old)-1]
	return x
}

// trace is the bound after each completed call, in time order.
type trace []point

type point struct {
	at      time.Duration
	current int
}

// window returns the points in [from, to).
func (tr trace) window(from, to time.Duration) trace {
	i, _ := slices.BinarySearchFunc(tr, from, func(p point, at time.Duration) int { return cmpDuration(p.at, at) })
	j, _ := slices.BinarySearchFunc(tr, to, func(p point, at time.Duration) int { return cmpDuration(p.at, at) })
	return tr[i:j]
}

func cmpDuration(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// reached returns the time and the number of completed calls when the bound first reached at
// least n, or ok false.
func (tr trace) reached(n int) (at time.Duration, calls int, ok bool) {
	for i, p := range tr {
		if p.current >= n {
			return p.at, i + 1, true
		}
	}
	return 0, 0, false
}

// fell returns when the bound first fell to at most n, or ok false.
func (tr trace) fell(n int) (at time.Duration, ok bool) {
	for _, p := range tr {
		if p.current <= n {
			return p.at, true
		}
	}
	return 0, false
}

// stats summarises the bound over a window of the trace.
type stats struct {
	lo, median, hi int
	rate           float64 // completed calls per second
}

func (tr trace) stats(from, to time.Duration) stats {
	w := tr.window(from, to)
	if len(w) == 0 {
		return stats{}
	}
	cur := make([]int, len(w))
	for i, p := range w {
		cur[i] = p.current
	}
	slices.Sort(cur)
	return stats{lo: cur[0], median: cur[len(cur)/2], hi: cur[len(cur)-1], rate: float64(len(w)) / (to - from).Seconds()}
}

// share returns the share of the window's completions at which the bound was in [lo, hi].
func (tr trace) share(from, to time.Duration, lo, hi int) float64 {
	w := tr.window(from, to)
	in := 0
	for _, p := range w {
		if p.current >= lo && p.current <= hi {
			in++
		}
	}
	return float64(in) / float64(max(len(w), 1))
}

func (s stats) String() string {
	return fmt.Sprintf("bound %d..%d (median %d), %.0f calls/s", s.lo, s.hi, s.median, s.rate)
}
