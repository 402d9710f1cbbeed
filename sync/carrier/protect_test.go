package carrier

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBreaker(t *testing.T) {
	b := &breaker{failures: 3, cooldown: time.Minute}
	t0 := time.Now()
	for i := range 2 {
		if !b.allow(t0) {
			t.Fatalf("closed breaker refused call %d", i)
		}
		b.done(false, t0)
	}
	b.done(true, t0) // a success resets the run
	for range 3 {
		b.allow(t0)
		b.done(false, t0)
	}
	if b.allow(t0.Add(time.Second)) || !b.open() {
		t.Fatal("three failures in a row did not open it")
	}
	probe := t0.Add(61 * time.Second)
	if !b.allow(probe) {
		t.Fatal("no probe after the cooldown")
	}
	if b.allow(probe) {
		t.Fatal("two probes at once while half-open")
	}
	b.done(false, probe) // the probe failed: open again
	if b.allow(probe.Add(time.Second)) {
		t.Fatal("a failed probe did not reopen it")
	}
	later := probe.Add(2 * time.Minute)
	if !b.allow(later) {
		t.Fatal("no second probe")
	}
	b.done(true, later)
	if !b.allow(later) || b.open() {
		t.Fatal("a good probe did not close it")
	}
}

func TestRateLimit(t *testing.T) {
	if newRateLimit(0) != nil {
		t.Fatal("rate 0 should mean no limiter")
	}
	l := newRateLimit(100) // one call every 10 ms
	start := time.Now()
	for range 11 {
		if err := l.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 95*time.Millisecond {
		t.Fatalf("11 calls at 100/s took %v, want >= 100ms", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 5 {
		l.wait(ctx) // reserve ahead
	}
	if err := l.wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled wait: %v", err)
	}
}

func TestBreakerRelease(t *testing.T) {
	b := &breaker{failures: 1, cooldown: time.Second}
	t0 := time.Now()
	b.allow(t0)
	b.done(false, t0)
	later := t0.Add(2 * time.Second)
	if !b.allow(later) {
		t.Fatal("no probe")
	}
	b.release() // the probe made no call
	if !b.open() {
		t.Fatal("releasing a probe closed the breaker")
	}
	if !b.allow(later) {
		t.Fatal("the released probe cannot be taken again")
	}
}
