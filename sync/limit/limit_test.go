package limit

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waiting returns the number of Acquire calls blocked for a slot.
func (l *Limit) waiting() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waiters.Len()
}

// waitFor yields until cond holds; the test's own timeout catches a cond that never does.
func waitFor(cond func() bool) {
	for !cond() {
		runtime.Gosched()
	}
}

// warm returns an adaptive limit past its first probe (32 calls at 100 ms, one at a time), so
// that the next samples move the limit.
func warm(t *testing.T, cfg Config) *Limit {
	t.Helper()
	l := New(cfg)
	for range noLoadSamples {
		release, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		release(100*time.Millisecond, Success)
	}
	if l.algo.probing {
		t.Fatal("still probing after the first noLoadSamples calls")
	}
	return l
}

// hold acquires n slots, which must all be free.
func hold(t *testing.T, l *Limit, n int) []Release {
	t.Helper()
	var rs []Release
	for range n {
		release, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, release)
	}
	return rs
}

func TestNewDefaults(t *testing.T) {
	tests := []struct {
		name         string
		cfg          Config
		current      int
		wantMin, max float64
	}{
		{"zero config", Config{}, DefaultInitial, DefaultMin, DefaultMax},
		{"initial below min", Config{Initial: 2, Min: 4}, 4, 4, DefaultMax},
		{"initial above max", Config{Initial: 5000}, DefaultMax, DefaultMin, DefaultMax},
		{"max below min", Config{Min: 10, Max: 5}, 10, 10, 10},
		{"negative fields", Config{Initial: -1, Min: -1, Max: -1}, DefaultInitial, DefaultMin, DefaultMax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := New(tt.cfg)
			if got := l.Current(); got != tt.current {
				t.Errorf("Current() = %d, want %d", got, tt.current)
			}
			if l.algo.min != tt.wantMin || l.algo.max != tt.max {
				t.Errorf("bounds [%v, %v], want [%v, %v]", l.algo.min, l.algo.max, tt.wantMin, tt.max)
			}
		})
	}
}

func TestAcquireEndedContext(t *testing.T) {
	for _, l := range []*Limit{New(Config{}), Fixed(4)} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		release, err := l.Acquire(ctx)
		if !errors.Is(err, context.Canceled) || release != nil {
			t.Errorf("Acquire(cancelled ctx) = %v, %v; want nil, context.Canceled", release != nil, err)
		}
		if n := l.InFlight(); n != 0 {
			t.Errorf("InFlight() = %d after a refused Acquire, want 0", n)
		}
	}
}

// TestAcquireBlocksUntilContextEnds: a full limit makes Acquire wait; ending ctx returns its
// error, hands out no slot and leaves no waiter behind.
func TestAcquireBlocksUntilContextEnds(t *testing.T) {
	// ctx returns a context and what ends it once Acquire waits.
	ends := []struct {
		name string
		ctx  func() (ctx context.Context, end func())
		want error
	}{
		{"cancel", func() (context.Context, func()) { return context.WithCancel(context.Background()) }, context.Canceled},
		{"deadline", func() (context.Context, func()) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			t.Cleanup(cancel)
			return ctx, func() {} // the deadline ends it
		}, context.DeadlineExceeded},
	}
	limits := []struct {
		name string
		new  func() *Limit
	}{
		{"fixed", func() *Limit { return Fixed(2) }},
		{"auto", func() *Limit { return New(Config{Initial: 2, Min: 2}) }},
	}
	for _, lt := range limits {
		for _, end := range ends {
			t.Run(lt.name+"/"+end.name, func(t *testing.T) {
				l := lt.new()
				held := hold(t, l, 2)
				ctx, stop := end.ctx()
				errc := make(chan error, 1)
				go func() {
					release, err := l.Acquire(ctx)
					if release != nil {
						release(0, Ignore)
					}
					errc <- err
				}()
				waitFor(func() bool { return l.waiting() == 1 })
				stop()
				if err := <-errc; !errors.Is(err, end.want) {
					t.Fatalf("Acquire = %v, want %v", err, end.want)
				}
				if n, w := l.InFlight(), l.waiting(); n != 2 || w != 0 {
					t.Fatalf("InFlight() = %d, waiting = %d after the wait ended; want 2, 0", n, w)
				}
				held[0](0, Ignore)
				if _, err := l.Acquire(context.Background()); err != nil {
					t.Fatalf("Acquire after a release: %v", err)
				}
			})
		}
	}
}

// TestCancelRacingGrant: a waiter whose ctx ends just as it is granted a slot gives the slot
// back. The test holds the lock while it cancels and grants, so the waiter, woken by the
// cancel, finds itself granted too.
func TestCancelRacingGrant(t *testing.T) {
	l := Fixed(1)
	hold(t, l, 1)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		release, err := l.Acquire(ctx)
		if release != nil {
			release(0, Ignore)
		}
		errc <- err
	}()
	waitFor(func() bool { return l.waiting() == 1 })
	l.mu.Lock()
	cancel()
	l.done(0, 0, Ignore) // what the held slot's release does
	l.notify()
	l.mu.Unlock()
	if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire = %v", err)
	}
	if n := l.InFlight(); n != 0 {
		t.Fatalf("InFlight() = %d after the waiter gave up, want 0: the granted slot leaked", n)
	}
}

// TestAcquireServesWaitersInOrder: a freed slot goes to the oldest waiter.
func TestAcquireServesWaitersInOrder(t *testing.T) {
	l := Fixed(1)
	release := hold(t, l, 1)[0]
	type grant struct {
		who     int
		release Release
	}
	grants := make(chan grant)
	for who := range 4 {
		go func() {
			r, err := l.Acquire(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			grants <- grant{who, r}
		}()
		waitFor(func() bool { return l.waiting() == who+1 })
	}
	for want := range 4 {
		release(0, Ignore)
		g := <-grants
		if g.who != want {
			t.Fatalf("slot went to waiter %d, want %d", g.who, want)
		}
		release = g.release
	}
	release(0, Ignore)
}

// TestShrinkBelowInFlight: when failures shrink the bound below the calls in flight, running
// calls finish, and a waiter gets a slot only once fewer than Current are in flight.
func TestShrinkBelowInFlight(t *testing.T) {
	l := warm(t, Config{Initial: 16, Min: 4})
	held := hold(t, l, 16)
	for len(held) > 0 && l.Current() >= l.InFlight() {
		held[0](0, Dropped)
		held = held[1:]
	}
	if len(held) == 0 {
		t.Fatal("16 dropped calls did not shrink the bound below the calls in flight")
	}
	granted := make(chan Release, 1)
	go func() {
		release, err := l.Acquire(context.Background())
		if err != nil {
			t.Error(err)
		}
		granted <- release
	}()
	waitFor(func() bool { return l.waiting() == 1 })
	for len(held) > 0 {
		held[0](0, Ignore)
		held = held[1:]
		// The grant happens inside release, so InFlight tells at once whether it did.
		switch n := l.InFlight(); {
		case len(held) >= l.Current() && n != len(held):
			t.Fatalf("%d held, bound %d: InFlight() = %d, want the waiter still waiting", len(held), l.Current(), n)
		case len(held) < l.Current():
			if n != len(held)+1 {
				t.Fatalf("%d held, bound %d: InFlight() = %d, want the waiter granted", len(held), l.Current(), n)
			}
			(<-granted)(0, Ignore)
			for _, release := range held {
				release(0, Ignore)
			}
			return
		}
	}
	t.Fatal("waiter never granted")
}

// TestGrowthWakesWaiters: when a round grows the bound, waiters beyond the freed slots are
// woken too.
func TestGrowthWakesWaiters(t *testing.T) {
	l := warm(t, Config{Initial: 16})
	held := hold(t, l, 16)
	const waiters = 32
	granted := make(chan Release, waiters)
	for range waiters {
		go func() {
			release, err := l.Acquire(context.Background())
			if err != nil {
				t.Error(err)
			}
			granted <- release
		}()
	}
	waitFor(func() bool { return l.waiting() == waiters })
	for _, release := range held {
		release(100*time.Millisecond, Success)
	}
	if n, c := l.InFlight(), l.Current(); c <= 16 || n != min(c, waiters) {
		t.Fatalf("after 16 successes Current() = %d, InFlight() = %d; want a bound above 16, filled by waiters", c, n)
	}
	for range waiters {
		(<-granted)(0, Ignore)
	}
}

// TestOutcomesThatAreNotSamples: Ignore, unknown outcomes and Success without a latency free
// the slot and leave the limit alone.
func TestOutcomesThatAreNotSamples(t *testing.T) {
	tests := []struct {
		name    string
		rtt     time.Duration
		outcome Outcome
	}{
		{"ignore", 100 * time.Millisecond, Ignore},
		{"unknown outcome", 100 * time.Millisecond, Outcome(42)},
		{"success without latency", 0, Success},
		{"success with negative latency", -time.Second, Success},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := warm(t, Config{Initial: 16})
			before := l.algo
			for range 200 {
				for _, release := range hold(t, l, 16) {
					release(tt.rtt, tt.outcome)
				}
			}
			if l.InFlight() != 0 {
				t.Fatalf("InFlight() = %d, want 0", l.InFlight())
			}
			after := l.algo
			after.ticket, after.round.peak = before.ticket, before.round.peak
			if after != before {
				t.Fatalf("algorithm state changed:\n%+v\nwant\n%+v", after, before)
			}
		})
	}
}

func TestReleaseTwice(t *testing.T) {
	l := warm(t, Config{Initial: 16})
	held := hold(t, l, 2)
	held[0](100*time.Millisecond, Success)
	for range 100 {
		held[0](0, Dropped)
	}
	if n := l.InFlight(); n != 1 {
		t.Fatalf("InFlight() = %d after releasing one of two slots 101 times, want 1", n)
	}
	if c := l.Current(); c != 16 {
		t.Fatalf("Current() = %d, want 16: repeated releases must not count as samples", c)
	}
}

func TestFixed(t *testing.T) {
	tests := []struct{ n, want int }{{64, 64}, {3, 3}, {1, 1}, {0, 1}, {-5, 1}}
	for _, tt := range tests {
		l := Fixed(tt.n)
		held := hold(t, l, tt.want)
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		if _, err := l.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Fixed(%d): Acquire beyond %d slots = %v, want it to wait", tt.n, tt.want, err)
		}
		cancel()
		for _, release := range held {
			release(0, Dropped)
		}
		for range 100 {
			for _, release := range hold(t, l, tt.want) {
				release(time.Millisecond, Success)
			}
		}
		if c := l.Current(); c != tt.want {
			t.Errorf("Fixed(%d).Current() = %d after samples, want %d", tt.n, c, tt.want)
		}
	}
}

// TestConcurrentUse hammers limits from many goroutines with random outcomes and contexts that
// end while waiting (some exactly as a slot is granted). No more slots than the bound may be
// held at once, and every slot must come back.
func TestConcurrentUse(t *testing.T) {
	tests := []struct {
		name string
		l    *Limit
		most int // slots that may be held at once
	}{
		{"fixed 8", Fixed(8), 8},
		{"auto 2..32", New(Config{Initial: 8, Min: 2, Max: 32}), 32},
		{"auto constant", New(Config{Initial: 8, Min: 8, Max: 8}), 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A slot that leaks would leave goroutines waiting forever: end them instead.
			deadline, stop := context.WithTimeout(context.Background(), 10*time.Second)
			defer stop()
			var holding, most atomic.Int64
			var wg sync.WaitGroup
			for g := range 32 {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(g), 2))
					for range 300 {
						ctx, cancel := context.WithCancel(deadline)
						if rng.IntN(4) == 0 {
							go cancel() // races the grant
						}
						release, err := tt.l.Acquire(ctx)
						cancel()
						if err != nil {
							continue
						}
						n := holding.Add(1)
						for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
						}
						runtime.Gosched()
						holding.Add(-1)
						release(time.Duration(1+rng.IntN(100))*time.Millisecond, Outcome(rng.IntN(3)))
					}
				})
			}
			wg.Wait()
			if deadline.Err() != nil {
				t.Fatal("calls still waiting after 10s: slots leaked")
			}
			if m := most.Load(); m > int64(tt.most) || m < 2 {
				t.Errorf("at most %d slots held at once, want 2..%d", m, tt.most)
			}
			if n, w := tt.l.InFlight(), tt.l.waiting(); n != 0 || w != 0 {
				t.Errorf("after all calls: InFlight() = %d, waiting = %d; want 0, 0", n, w)
			}
		})
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[Outcome]string{Ignore: "ignore", Success: "success", Dropped: "dropped", 9: "unknown"} {
		if got := o.String(); got != want {
			t.Errorf("Outcome(%d).String() = %q, want %q", int(o), got, want)
		}
	}
}

// BenchmarkAcquireRelease is the cost a carrier call pays for the limit: one Acquire and one
// release, from parallel goroutines. "waiting" runs 64 goroutines per CPU against the default
// bound of 16, so most Acquires wait for a slot.
func BenchmarkAcquireRelease(b *testing.B) {
	benchmarks := []struct {
		name        string
		l           func() *Limit
		parallelism int
	}{
		{"auto", func() *Limit { return New(Config{}) }, 1},
		{"fixed", func() *Limit { return Fixed(DefaultMax) }, 1},
		{"auto/waiting", func() *Limit { return New(Config{}) }, 64},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			l := bm.l()
			ctx := context.Background()
			b.SetParallelism(bm.parallelism)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					release, err := l.Acquire(ctx)
					if err != nil {
						b.Error(err)
						return
					}
					release(100*time.Millisecond, Success)
				}
			})
		})
	}
}
