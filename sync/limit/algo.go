package limit

import (
	"math"
	"time"
)

// The algorithm is Netflix's Gradient2 update, applied once per round instead of once per
// sample, against a no-load latency that is re-measured at reduced load — as brpc's auto
// concurrency limiter and BBR's ProbeRTT do — instead of Gradient2's long-term average, which
// drifts up with a carrier that stays overloaded and lets the bound creep after it.
//
// A round is about one round trip: it ends after as many samples as there were calls in flight
// when it began (at least minRoundSamples). At its end, with rtt the round's mean latency:
//
//	gradient = clamp(tolerance × noLoad / rtt, minGradient, 1)
//	limit    = limit × gradient + √limit           (no √limit when app-limited or gradient is minGradient)
//	limit    = limit + smoothing × (new − old)     (when minGradient < gradient < 1)
//	limit    = limit × max(minDropFactor, 1 − dropped/samples)
//
// Flat latency doubles the limit each round until the first rise or failure (slow start, below),
// then grows it by √limit a round; latency
// above tolerance × noLoad shrinks it in proportion, and by half a round at 3× noLoad; failures
// shrink it by the share of calls that failed. A carrier at capacity C settles near
// tolerance × C + √limit: a queue of about half of C, which keeps it busy.
const (
	// tolerance is how far the mean latency may rise above the no-load latency before the limit
	// shrinks: Gradient2's default. Jitter of a few tens of percent does not shrink the limit.
	tolerance = 1.5
	// minGradient caps a latency shrink at halving per round, so one slow round cannot
	// collapse the limit; a round that slow also gets no √limit growth.
	minGradient = 0.5
	// smoothing is the share of a partial latency shrink applied per round. A round's latency
	// reflects the limit of the round before; the full step overshoots and rings, a quarter
	// is close to critically damped for a carrier at capacity.
	smoothing = 0.25
	// minDropFactor caps a failure shrink at halving per round, like TCP's loss response.
	minDropFactor = 0.5
	// minRoundSamples keeps tiny rounds (a few calls in flight) from reacting to one sample.
	minRoundSamples = 4
	// noLoadSamples: the no-load latency is the mean latency of a probe step of at least
	// noLoadSamples calls (the first one runs at Initial when the limit is new). Between
	// probes a round can only lower it, by noLoadGain weighted by its share of noLoadSamples,
	// so a slowly growing queue never raises it and a round of four noisy samples barely
	// moves it.
	noLoadSamples = 32
	noLoadGain    = 0.25
	// confirmBand: a round whose mean latency is within 20% of the no-load latency confirms
	// it; probeAfter rounds in a row without confirmation start a probe.
	confirmBand = 1.2
	// probeAfter: a probe halves the bound until noLoadSamples calls started under it have
	// finished, and halves again while latency keeps falling by probeFalling (the queue is
	// still draining); the last step's mean latency becomes the no-load latency, up or down.
	// A carrier that stays saturated pays about four round trips at a half or a quarter of
	// the bound every 50 rounds (2-3% of its throughput in simulation).
	probeAfter   = 50
	probeFalling = 0.8
	// probeAtMinAfter: when the limit has shrunk to Min and latency is still high, shrinking
	// did not help — the carrier's baseline latency rose for good — so the probe comes early.
	probeAtMinAfter = 8
)

// algo is the adaptive bound's state. It is not safe for concurrent use: Limit holds its mutex.
type algo struct {
	min, max float64
	limit    float64 // the estimate; the bound is its floor

	// slowStart doubles the limit each round while latency stays flat, as TCP's slow start
	// does, until the first round whose latency rose or that saw a failure: a carrier at 200 ms
	// reaches 1024 calls in flight in about six round trips instead of about fifty-six.
	slowStart bool

	noLoad      float64 // no-load latency in nanoseconds
	unconfirmed int     // rounds since a round confirmed noLoad
	lastRTT     float64 // mean latency of the last round with latency samples

	round round

	// ticket numbers calls in the order they start. A probe step measures the calls with
	// tickets [probeFirst, probeFirst+probe.size): all of them, slow ones included, since the
	// first calls to finish are the fast ones; and none that started before it, at the load
	// the step is there to get away from.
	ticket     uint64
	probing    bool
	probeCap   int
	probeFirst uint64
	probe      round   // the samples of the current probe step
	probePrev  float64 // mean latency before the current probe step (0: none)
}

// round accumulates the samples of one round or probe step.
type round struct {
	size     int     // samples that end it
	samples  int     // calls counted: in a probe step all of them, in a round Success and Dropped
	drops    int     // Dropped outcomes
	rttSum   float64 // nanoseconds, over Success outcomes
	rttCount int
	peak     int // most calls in flight while it ran
}

// newAlgo starts with a probe step at the initial bound: the first noLoadSamples calls give
// the first no-load latency.
func newAlgo(cfg Config) algo {
	a := algo{min: float64(cfg.Min), max: float64(cfg.Max), limit: float64(cfg.Initial), slowStart: true}
	a.probing = true
	a.probeStep(cfg.Initial)
	return a
}

// bound is the number of calls that may be in flight now.
func (a *algo) bound() int {
	if a.probing {
		return a.probeCap
	}
	return int(a.limit)
}

// started records a call starting with inFlight calls in flight (itself included) and returns
// its ticket.
func (a *algo) started(inFlight int) uint64 {
	a.round.peak = max(a.round.peak, inFlight)
	a.ticket++
	return a.ticket - 1
}

// finished records the call with ticket finishing with rtt and outcome, leaving inFlight calls
// in flight.
func (a *algo) finished(ticket uint64, rtt time.Duration, outcome Outcome, inFlight int) {
	if outcome == Success && rtt <= 0 {
		outcome = Ignore // no latency to learn from
	}
	if a.probing {
		if ticket < a.probeFirst || ticket >= a.probeFirst+uint64(a.probe.size) {
			return
		}
		a.probe.add(rtt, outcome)
		a.probe.samples++ // every call of the step counts, or the step would never end
		if a.probe.samples >= a.probe.size {
			a.endProbeStep(inFlight)
		}
		return
	}
	if outcome != Success && outcome != Dropped {
		return
	}
	a.round.add(rtt, outcome)
	a.round.samples++
	if a.round.samples >= a.round.size {
		a.endRound(inFlight)
	}
}

// add records an outcome's drop or latency.
func (r *round) add(rtt time.Duration, outcome Outcome) {
	switch outcome {
	case Dropped:
		r.drops++
	case Success:
		r.rttSum += float64(rtt)
		r.rttCount++
	}
}

// endRound updates the limit from the finished round and starts the next.
func (a *algo) endRound(inFlight int) {
	r := a.round
	a.round = round{size: max(minRoundSamples, inFlight+1), peak: inFlight}

	gradient := 1.0
	if r.rttCount > 0 {
		rtt := r.rttSum / float64(r.rttCount)
		a.lastRTT = rtt
		switch {
		case rtt < a.noLoad:
			// A round of a few samples says little; let it move the estimate little.
			weight := min(1, float64(r.rttCount)/noLoadSamples)
			a.noLoad += noLoadGain * weight * (rtt - a.noLoad)
			a.unconfirmed = 0
		case rtt <= confirmBand*a.noLoad:
			a.unconfirmed = 0
		default:
			a.unconfirmed++
		}
		gradient = a.gradient(rtt)
	}

	limit := a.limit * gradient
	switch {
	case gradient <= minGradient:
		// Latency at least tolerance/minGradient times the no-load latency: the carrier is
		// clearly overloaded; halve at once and allow no queue.
	case float64(r.peak) < a.limit/2:
		// App-limited: growing while most slots stay idle would only loosen a bound nobody
		// tested, and the next burst would hit the carrier with all of it.
	case gradient < 1:
		limit += math.Sqrt(a.limit)
		limit = a.limit + smoothing*(limit-a.limit)
	case a.slowStart && r.drops == 0:
		limit *= 2
	default:
		limit += math.Sqrt(a.limit)
	}
	if gradient < 1 || r.drops > 0 {
		a.slowStart = false
	}
	limit *= max(minDropFactor, 1-float64(r.drops)/float64(r.samples))
	a.limit = min(max(limit, a.min), a.max)

	if a.unconfirmed >= probeAfter || (a.limit <= a.min && a.unconfirmed >= probeAtMinAfter) {
		a.probing = true
		a.probePrev = a.lastRTT
		a.probeStep(max(int(a.min), int(a.limit/2)))
	}
}

// gradient is the share of the limit that a round with mean latency rtt keeps.
func (a *algo) gradient(rtt float64) float64 {
	return min(max(tolerance*a.noLoad/rtt, minGradient), 1)
}

// probeStep bounds the calls in flight by bound until the next noLoadSamples calls (or one
// bound's worth) to start have finished.
func (a *algo) probeStep(bound int) {
	a.probeCap = bound
	a.probeFirst = a.ticket
	a.probe = round{size: max(noLoadSamples, bound)}
}

// endProbeStep takes the probe step's mean latency as the no-load latency, unless it fell
// clearly below the step before's: then the carrier was still queueing at this bound, and the
// probe halves it again.
func (a *algo) endProbeStep(inFlight int) {
	if a.probe.rttCount > 0 {
		rtt := a.probe.rttSum / float64(a.probe.rttCount)
		if rtt < probeFalling*a.probePrev && a.probeCap > int(a.min) {
			a.probePrev = rtt
			a.probeStep(max(int(a.min), a.probeCap/2))
			return
		}
		a.noLoad = rtt
		// The limit was sized against the old estimate: resize it against the new one, as
		// the last round before the probe would have been.
		if a.lastRTT > 0 {
			a.limit = max(a.limit*a.gradient(a.lastRTT), a.min)
		}
	}
	a.unconfirmed = 0
	a.probing = false
	a.round = round{size: max(minRoundSamples, inFlight+1), peak: inFlight}
}
