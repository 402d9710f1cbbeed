package status

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// plan is the true history of one parcel, oldest first: progress of non-decreasing rank,
// exceptions in between, times non-decreasing (often equal, as carriers stamp to the minute), and
// a last event that is the newest (strictly) and of a strictly higher rank than all the others.
func plan(r *rand.Rand) []Event {
	var evs []Event
	m := r.IntN(60)
	tick := func() time.Time {
		m += []int{0, 0, 1, 1, 7, 60}[r.IntN(6)]
		return at(m)
	}
	ladder := [][]Status{{Created}, {PickedUp}, {InTransit}, {OutForDelivery, ReadyForPickup}, {Returning}}
	top := r.IntN(len(ladder) + 1) // levels used before the last event; 0: the last event is the first
	maxRank := -1
	for _, level := range ladder[:top] {
		for n := r.IntN(3); n >= 0; n-- {
			s := level[r.IntN(len(level))]
			ev := Event{Status: s, Time: tick()}
			if r.IntN(5) == 0 {
				ev.Exception, ev.Reason = true, "flagged"
			}
			evs = append(evs, ev)
			maxRank = s.Rank()
			if r.IntN(3) == 0 {
				evs = append(evs, Event{Exception: true, Reason: fmt.Sprintf("problem %d", r.IntN(3)), Time: tick()})
			}
		}
	}
	var higher []Status
	for _, s := range All() {
		if s.Rank() > maxRank {
			higher = append(higher, s)
		}
	}
	m += 1 + r.IntN(30)
	return append(evs, Event{Status: higher[r.IntN(len(higher))], Time: at(m)})
}

// deliveries turns a plan into what arrives: shuffled, with some events delivered several times.
func deliveries(r *rand.Rand, p []Event) []Event {
	var out []Event
	for _, ev := range p {
		for n := 1 + r.IntN(3)/2 + r.IntN(4)/3; n > 0; n-- {
			out = append(out, ev)
		}
	}
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// run feeds events through Decide and checks the invariants that hold for any input.
func run(t *testing.T, evs []Event) Current {
	t.Helper()
	var c Current
	lastWrite := -1
	for i, ev := range evs {
		next, d, write := Decide(c, ev)
		fail := func(msg string) {
			t.Helper()
			t.Fatalf("event %d %+v on %+v: %s (got %v %q %+v)", i, ev, c, msg, d, write, next)
		}
		switch {
		case d < Apply || d > Stale:
			fail("no decision")
		case (d == Apply) != (write != ""):
			fail("a write without Apply, or Apply without a write")
		case (d == Stale || d == Duplicate) && !sameCurrent(next, c):
			fail("stale or duplicate changed the current state")
		case next.Time.Before(c.Time):
			fail("time went back")
		case eff(next.Status).Rank() < eff(c.Status).Rank():
			fail("rank went down")
		case c.Status.Terminal() && next.Status != c.Status:
			fail("left a terminal status")
		case write == ExceptionKey && (c.Exception || !next.Exception || next.Status != eff(c.Status)):
			fail("exception write without raising the flag alone")
		case write != "" && write != ExceptionKey && Status(write) != next.Status:
			fail("status write is not the new status")
		case write != "" && write != ExceptionKey && Status(write) == c.Status:
			fail("status written twice in a row")
		case !next.Exception && next.Reason != "":
			fail("a reason without the flag")
		}
		if write != "" && write != ExceptionKey {
			if rk := Status(write).Rank(); rk < lastWrite {
				fail(fmt.Sprintf("written rank %d after %d", rk, lastWrite))
			}
			lastWrite = Status(write).Rank()
		}
		if again, d2, w2 := Decide(next, ev); d2 == Apply || w2 != "" || !sameCurrent(again, next) {
			fail(fmt.Sprintf("not idempotent: again %v %q %+v", d2, w2, again))
		}
		c = next
	}
	return c
}

// eff is the status a Current stands for: empty reads as Created.
func eff(s Status) Status {
	if s == "" {
		return Created
	}
	return s
}

func TestPlanProperty(t *testing.T) {
	for seed := range uint64(5000) {
		r := rand.New(rand.NewPCG(seed, 0x5d1b))
		p := plan(r)
		last := p[len(p)-1]
		want := Current{Status: last.Status, Time: last.Time}
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			for _, evs := range [][]Event{p, deliveries(r, p), deliveries(r, p)} {
				if got := run(t, evs); !sameCurrent(got, want) {
					t.Fatalf("plan %+v\narrived %+v\nfinal %+v, want %+v", p, evs, got, want)
				}
			}
		})
	}
}

// TestRandomProperty feeds arbitrary events, not a plausible history, and checks only the
// invariants in run.
func TestRandomProperty(t *testing.T) {
	statuses := append(All(), "", "", "", "bogus")
	for seed := range uint64(2000) {
		r := rand.New(rand.NewPCG(seed, 0xa11))
		evs := make([]Event, 5+r.IntN(30))
		for i := range evs {
			evs[i] = Event{Status: statuses[r.IntN(len(statuses))], Time: at(r.IntN(20))}
			if r.IntN(3) == 0 {
				evs[i].Exception, evs[i].Reason = true, fmt.Sprint("r", r.IntN(2))
			}
			if r.IntN(4) == 0 && i > 0 {
				evs[i] = evs[r.IntN(i)] // a redelivery
			}
		}
		run(t, evs)
	}
}

// TestSidewaysTieConverges checks that two same-rank statuses stamped with the same minute end
// in the same state whatever their order and however often they are redelivered.
func TestSidewaysTieConverges(t *testing.T) {
	a, b := prog(OutForDelivery, 5), prog(ReadyForPickup, 5)
	for _, evs := range [][]Event{{a, b}, {b, a}, {a, b, a, b}, {b, a, b, a}} {
		writes := 0
		c := cur(InTransit, 4)
		for _, ev := range evs {
			var w string
			c, _, w = Decide(c, ev)
			if w != "" {
				writes++
			}
		}
		if c.Status != ReadyForPickup || writes > 2 {
			t.Errorf("%v: final %v after %d writes", evs, c.Status, writes)
		}
	}
}
