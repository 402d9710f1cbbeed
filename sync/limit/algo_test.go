package limit

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

const (
	second = time.Second
	base   = 200 * time.Millisecond
)

// scenario is a simulated carrier and load, and what the bound must do under it.
type scenario struct {
	name    string
	cfg     Config // zero: the defaults
	carrier carrier
	callers int
	length  time.Duration
	// check returns what the run reached, and an error if it is not what the scenario wants.
	check func(tr trace) (summary string, err error)
	// naive is a constant bound the check must reject, showing that it can fail.
	naive int
}

// small is a Max that keeps a simulation short where the property does not need 1024 slots.
var small = Config{Max: 256}

func scenarios() []scenario {
	return []scenario{
		{
			name:    "flat 200ms latency, unlimited capacity",
			carrier: carrier{base: base, jitter: 0.2},
			callers: 2000, length: 14 * second,
			check: reachesMax(DefaultMax), naive: DefaultInitial,
		},
		{
			name:    "flat 200ms latency ±90% jitter",
			cfg:     small,
			carrier: carrier{base: base, jitter: 0.9},
			callers: 2000, length: 12 * second,
			check: reachesMax(small.Max), naive: DefaultInitial,
		},
		{
			// A sprinkling of failures says little about load: it must not cap throughput.
			name:    "1% of calls dropped",
			cfg:     small,
			carrier: carrier{base: base, jitter: 0.2, dropRate: 0.01},
			callers: 2000, length: 12 * second,
			check: reachesMax(small.Max), naive: DefaultInitial,
		},
		{
			name:    "capacity 50",
			carrier: carrier{base: base, capacity: 50, jitter: 0.2},
			callers: 2000, length: 60 * second,
			check: settlesAround(50, 15*second), naive: DefaultMax,
		},
		{
			name:    "capacity 10",
			carrier: carrier{base: base, capacity: 10, jitter: 0.2},
			callers: 2000, length: 60 * second,
			check: settlesAround(10, 15*second), naive: DefaultMax,
		},
		{
			name:    "capacity 200",
			carrier: carrier{base: base, capacity: 200, jitter: 0.2},
			callers: 2000, length: 40 * second,
			check: settlesAround(200, 15*second), naive: DefaultMax,
		},
		{
			name:    "capacity 50 ±90% jitter",
			carrier: carrier{base: base, capacity: 50, jitter: 0.9},
			callers: 2000, length: 60 * second,
			check: settlesAround(50, 15*second), naive: DefaultMax,
		},
		{
			name: "capacity drops from 300 to 50 at 12s",
			carrier: carrier{base: base, capacity: 300, jitter: 0.2,
				changeAt: 12 * second, then: &carrier{base: base, capacity: 50, jitter: 0.2}},
			callers: 2000, length: 40 * second,
			check: settlesAround(50, 20*second), naive: DefaultMax,
		},
		{
			name:    "every call dropped from 8s to 11s",
			cfg:     small,
			carrier: carrier{base: base, jitter: 0.2, outage: [2]time.Duration{8 * second, 11 * second}},
			callers: 2000, length: 25 * second,
			check: shrinksAndRecovers(small.Max, 8*second, 11*second), naive: small.Max,
		},
		{
			name:    "10% of calls dropped",
			cfg:     small,
			carrier: carrier{base: base, jitter: 0.2, dropRate: 0.10},
			callers: 2000, length: 30 * second,
			check: staysBelow(160, 10*second), naive: small.Max,
		},
		{
			name:    "50% of calls dropped",
			carrier: carrier{base: base, jitter: 0.2, dropRate: 0.50},
			callers: 2000, length: 40 * second,
			check: staysBelow(16, 10*second), naive: 64,
		},
		{
			name:    "5 callers (app-limited)",
			carrier: carrier{base: base, jitter: 0.2},
			callers: 5, length: 60 * second,
			check: staysBelow(DefaultInitial, 0), naive: DefaultMax,
		},
		{
			name:    "50 callers (app-limited)",
			carrier: carrier{base: base, jitter: 0.2},
			callers: 50, length: 60 * second,
			check: staysBelow(3*50, 0), naive: DefaultMax,
		},
		{
			// The no-load latency is re-learnt: the bound does not stay at Min for good.
			name: "baseline latency rises from 200ms to 600ms at 8s",
			cfg:  small,
			carrier: carrier{base: base, jitter: 0.2,
				changeAt: 8 * second, then: &carrier{base: 3 * base, jitter: 0.2}},
			callers: 2000, length: 60 * second,
			check: relearns(8*second, small.Max/2),
		},
	}
}

// reachesMax: the bound reaches at least 250 (1,250 calls/s at 200 ms) and then max, and stays
// at max over the last 2s, carrying at least 90% of max calls per 200 ms.
func reachesMax(max int) func(trace) (string, error) {
	return func(tr trace) (string, error) {
		end := tr[len(tr)-1].at
		last := tr.stats(end-2*second, end)
		at250, calls250, ok250 := tr.reached(min(250, max))
		atMax, callsMax, okMax := tr.reached(max)
		summary := fmt.Sprintf("250 after %d calls (%.1fs), %d after %d calls (%.1fs); last 2s: %v",
			calls250, at250.Seconds(), max, callsMax, atMax.Seconds(), last)
		var errs []error
		if !ok250 || !okMax {
			errs = append(errs, fmt.Errorf("bound never reached %d and %d", min(250, max), max))
		}
		if last.lo != max {
			errs = append(errs, fmt.Errorf("bound fell to %d in the last 2s, want %d", last.lo, max))
		}
		if want := 0.9 * float64(max) / base.Seconds(); last.rate < want {
			errs = append(errs, fmt.Errorf("%.0f calls/s in the last 2s, want >= %.0f", last.rate, want))
		}
		return summary, errors.Join(errs...)
	}
}

// settlesAround: from settled on, the bound never exceeds 3c, is within [c/2, 3c] at 90% of
// completions (probes dip below briefly), its median is within [c, 2.5c], and the carrier
// stays at least 90% busy.
func settlesAround(c int, settled time.Duration) func(trace) (string, error) {
	return func(tr trace) (string, error) {
		end := tr[len(tr)-1].at
		s := tr.stats(settled, end)
		share := tr.share(settled, end, c/2, 3*c)
		summary := fmt.Sprintf("after %.0fs: %v, %.0f%% within [%d, %d]", settled.Seconds(), s, 100*share, c/2, 3*c)
		var errs []error
		if s.hi > 3*c {
			errs = append(errs, fmt.Errorf("bound reached %d, want <= %d", s.hi, 3*c))
		}
		if share < 0.9 {
			errs = append(errs, fmt.Errorf("bound within [%d, %d] at %.0f%% of calls, want >= 90%%", c/2, 3*c, 100*share))
		}
		if s.median < c || 2*s.median > 5*c {
			errs = append(errs, fmt.Errorf("median bound %d, want within [%d, %d]", s.median, c, 5*c/2))
		}
		if full := float64(c) / base.Seconds(); s.rate < 0.9*full {
			errs = append(errs, fmt.Errorf("%.0f calls/s, want >= 90%% of the carrier's %.0f", s.rate, full))
		}
		return summary, errors.Join(errs...)
	}
}

// shrinksAndRecovers: during an outage from..to the bound falls to Min within 3s; after it,
// the bound is back at max within 12s.
func shrinksAndRecovers(max int, from, to time.Duration) func(trace) (string, error) {
	return func(tr trace) (string, error) {
		atMin, okMin := tr.window(from, to).fell(DefaultMin)
		atMax, _, okMax := tr.window(to, to+12*second).reached(max)
		summary := fmt.Sprintf("Min %.1fs into the outage, Max %.1fs after it", (atMin - from).Seconds(), (atMax - to).Seconds())
		var errs []error
		if !okMin || atMin-from > 3*second {
			errs = append(errs, fmt.Errorf("bound did not fall to %d within 3s of the outage", DefaultMin))
		}
		if !okMax {
			errs = append(errs, fmt.Errorf("bound not back at %d within 12s of the outage", max))
		}
		return summary, errors.Join(errs...)
	}
}

// staysBelow: from settled on, the bound never exceeds n.
func staysBelow(n int, settled time.Duration) func(trace) (string, error) {
	return func(tr trace) (string, error) {
		s := tr.stats(settled, tr[len(tr)-1].at)
		summary := fmt.Sprintf("after %.0fs: %v", settled.Seconds(), s)
		if s.hi > n {
			return summary, fmt.Errorf("bound reached %d, want <= %d", s.hi, n)
		}
		return summary, nil
	}
}

// relearns: after the change the bound falls, then grows back to at least n.
func relearns(change time.Duration, n int) func(trace) (string, error) {
	return func(tr trace) (string, error) {
		after := tr.window(change, tr[len(tr)-1].at)
		low, _ := after.fell(2 * DefaultMin)
		back, _, ok := after.window(low, tr[len(tr)-1].at).reached(n)
		summary := fmt.Sprintf("down to %d at %.1fs, back to %d at %.1fs; end %d",
			2*DefaultMin, low.Seconds(), n, back.Seconds(), tr[len(tr)-1].current)
		if low == 0 || !ok {
			return summary, fmt.Errorf("bound did not fall and grow back to %d", n)
		}
		return summary, nil
	}
}

// TestScenarios drives the adaptive limit through simulated carriers.
func TestScenarios(t *testing.T) {
	t.Parallel()
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			tr := simulate(t, New(sc.cfg), sc.carrier, sc.callers, sc.length, 1)
			summary, err := sc.check(tr)
			t.Logf("%s (%d calls simulated)", summary, len(tr))
			if err != nil {
				t.Error(err)
			}
		})
	}
}

// TestScenariosRejectConstantBounds shows each check can fail: a bound that does not adapt
// (too small for a fast carrier, too large for a slow or failing one) does not pass it.
func TestScenariosRejectConstantBounds(t *testing.T) {
	t.Parallel()
	for _, sc := range scenarios() {
		if sc.naive == 0 {
			continue
		}
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			tr := simulate(t, Fixed(sc.naive), sc.carrier, sc.callers, sc.length, 1)
			summary, err := sc.check(tr)
			if err == nil {
				t.Errorf("Fixed(%d) passed the check: %s", sc.naive, summary)
			}
		})
	}
}

// TestScenariosSeeds reruns the scenarios with other seeds, so a pass is not luck.
func TestScenariosSeeds(t *testing.T) {
	t.Parallel()
	for _, sc := range scenarios() {
		for seed := uint64(2); seed <= 2; seed++ {
			t.Run(fmt.Sprintf("%s/seed %d", sc.name, seed), func(t *testing.T) {
				t.Parallel()
				tr := simulate(t, New(sc.cfg), sc.carrier, sc.callers, sc.length, seed)
				if summary, err := sc.check(tr); err != nil {
					t.Errorf("%v (%s)", err, summary)
				}
			})
		}
	}
}
