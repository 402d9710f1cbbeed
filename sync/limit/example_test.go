package limit_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shipsync/shipsync/sync/limit"
)

// errTransient stands for what the carrier stage classifies as a transient failure.
var errTransient = errors.New("carrier answered 503")

// callCarrier stands for one HTTP call to a carrier.
func callCarrier(context.Context) error { return nil }

// A carrier call holds a slot for its duration and reports how it went: its latency on
// success, Dropped for an overload signal, Ignore when it says nothing about load.
func Example() {
	l := limit.New(limit.Config{Max: 1024}) // max_in_flight: auto
	ctx := context.Background()

	release, err := l.Acquire(ctx)
	if err != nil {
		return // ctx ended while waiting for a slot
	}
	defer release(0, limit.Ignore) // a backstop: only the first release counts

	fmt.Println("in flight", l.InFlight(), "of", l.Current())
	start := time.Now()
	err = callCarrier(ctx)
	switch {
	case err == nil:
		release(time.Since(start), limit.Success)
	case errors.Is(err, errTransient):
		release(time.Since(start), limit.Dropped)
	}
	fmt.Println("in flight", l.InFlight(), "of", l.Current())
	// Output:
	// in flight 1 of 16
	// in flight 0 of 16
}
