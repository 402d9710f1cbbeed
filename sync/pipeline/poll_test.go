package pipeline

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sync/metrics"
)

func TestPollBackoff(t *testing.T) {
	tests := []struct {
		first, ceiling time.Duration
		n              int
		want           time.Duration
	}{
		{time.Minute, 30 * time.Minute, 1, time.Minute},
		{time.Minute, 30 * time.Minute, 2, 2 * time.Minute},
		{time.Minute, 30 * time.Minute, 5, 16 * time.Minute},
		{time.Minute, 30 * time.Minute, 6, 30 * time.Minute},
		{time.Minute, 30 * time.Minute, 1000, 30 * time.Minute}, // no overflow
		{time.Minute, 20 * time.Second, 1, 20 * time.Second},    // the poll interval is the cap, even at once
		{200 * time.Millisecond, 2 * time.Second, 3, 800 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := pollBackoff(tt.first, tt.ceiling, tt.n); got != tt.want {
			t.Errorf("pollBackoff(%s, %s, %d) = %s, want %s", tt.first, tt.ceiling, tt.n, got, tt.want)
		}
	}
}

// errTransient is a carrier failure that says nothing of the request: it counts against the
// carrier's health.
var errTransient = errors.New("connection reset")

type permanentErr struct{}

func (permanentErr) Error() string   { return "bad address" }
func (permanentErr) Permanent() bool { return true }

// TestThrough: every call through a slot is admitted by its breaker, whose state only the
// carrier's health moves: refusals of one request and "no trace yet" keep it closed.
func TestThrough(t *testing.T) {
	tests := []struct {
		name      string
		results   []error // what the carrier answers, call by call
		wantCalls int     // calls that reached the carrier
		wantOpen  bool    // the breaker is open at the end
	}{
		{"transient failures open it", []error{errTransient, errTransient, errTransient}, 2, true},
		{"no trace yet is healthy", []error{errNoTrace, errNoTrace, errNoTrace}, 3, false},
		{"permanent refusals are healthy", []error{permanentErr{}, permanentErr{}, permanentErr{}}, 3, false},
		{"a success resets the count", []error{errTransient, nil, errTransient, nil}, 4, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Pipeline{obs: newObserver(metrics.New())}
			slot := &carrierSlot{name: "sim", sem: make(chan struct{}, 1), br: &breaker{failures: 2, cooldown: time.Hour}}
			calls := 0
			for i, res := range tt.results {
				err := p.through(context.Background(), slot, nil, func(context.Context) error {
					calls++
					return res
				})
				if _, open := err.(circuitOpen); open {
					continue
				}
				if !errors.Is(err, res) && err != res {
					t.Errorf("call %d: err = %v, want the carrier's %v", i, err, res)
				}
			}
			if calls != tt.wantCalls || slot.br.open() != tt.wantOpen {
				t.Errorf("calls %d, open %v; want %d, %v", calls, slot.br.open(), tt.wantCalls, tt.wantOpen)
			}
		})
	}
}

// TestThroughNotCalled: a call stopped before it reaches the carrier (before fails, or ctx ends
// while max_in_flight calls are out) is notCalled and gives back a half-open breaker's probe.
func TestThroughNotCalled(t *testing.T) {
	p := &Pipeline{obs: newObserver(metrics.New())}
	slot := &carrierSlot{name: "sim", sem: make(chan struct{}, 1), br: &breaker{failures: 1, cooldown: time.Nanosecond}}
	slot.br.done(false, time.Now().Add(-time.Second)) // open, cooldown over: the next call is the probe
	never := func(context.Context) error { t.Error("the carrier was called"); return nil }

	err := p.through(context.Background(), slot, func() error { return errTransient }, never)
	if _, ok := err.(notCalled); !ok || !errors.Is(err, errTransient) {
		t.Errorf("before failing: err = %v, want notCalled", err)
	}
	slot.sem <- struct{}{} // max_in_flight reached
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := p.through(ctx, slot, nil, never); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("in flight full: err = %v, want the context's", err)
	}
	<-slot.sem
	// Both probes were given back: the breaker lets the next one through.
	if err := p.through(context.Background(), slot, nil, func(context.Context) error { return nil }); err != nil || slot.br.open() {
		t.Errorf("probe after: err = %v, open %v", err, slot.br.open())
	}
}
