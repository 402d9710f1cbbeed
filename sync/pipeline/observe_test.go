package pipeline

import (
	"testing"
	"time"

	"github.com/shipsync/shipsync/sync/metrics"
	"github.com/shipsync/shipsync/sync/statuspage"
)

// TestLag: lag is the age of the newest event time read, a heartbeat counts as caught up, and a
// zero time (go-mysql's fake rotate and heartbeat headers) is ignored rather than read as 1970.
func TestLag(t *testing.T) {
	o := newObserver(metrics.New())
	if o.lag() != 0 {
		t.Fatalf("lag before any event: %v", o.lag())
	}
	o.Heard(time.Now().Add(-30 * time.Second)) // replaying old binlog
	if l := o.lag(); l < 29 || l > 35 {
		t.Fatalf("lag while behind: %v", l)
	}
	o.Heard(time.Time{})
	if l := o.lag(); l < 29 {
		t.Fatalf("a zero event time moved the lag: %v", l)
	}
	o.Heard(time.Now()) // heartbeat: the server has nothing newer
	if l := o.lag(); l > 1 {
		t.Fatalf("lag after a heartbeat: %v", l)
	}
	// A stalled stream (no events, no heartbeats): the lag grows with the wall clock.
	o.lastEvent.Store(time.Now().Add(-2 * time.Minute).UnixNano())
	if l := o.lag(); l < 119 {
		t.Fatalf("lag of a stalled stream: %v", l)
	}
}

func TestReservoirAndPerMinute(t *testing.T) {
	o := newObserver(metrics.New())
	for i := 1; i <= 100; i++ {
		o.carrierCall("sim", "create", "success", time.Duration(i)*time.Millisecond)
	}
	o.carrierCall("sim", "create", "transient", time.Second)
	r := o.durations["sim"]
	if p50 := r.quantile(.5); p50 < .049 || p50 > .052 {
		t.Errorf("p50 %v", p50)
	}
	if p99 := r.quantile(.99); p99 < .099 {
		t.Errorf("p99 %v", p99)
	}
	if c := o.requests["sim"]; c != [2]int64{101, 100} {
		t.Errorf("requests %v", c)
	}
	for range 7 {
		o.remember(statuspage.OrderRow{Key: "1"})
	}
	if n := o.perMinute(); n != 7 {
		t.Errorf("per minute %v", n)
	}
}

func TestReady(t *testing.T) {
	p := &Pipeline{obs: newObserver(metrics.New())}
	if ok, why := p.Ready(); ok || why != "binlog stream down" {
		t.Fatalf("fresh: %v %q", ok, why)
	}
	p.obs.streamUp.Store(true)
	p.obs.redisUp.Store(true)
	if ok, why := p.Ready(); ok || why != "shop database down" {
		t.Fatalf("shop down: %v %q", ok, why)
	}
	p.obs.shopUp.Store(true)
	if ok, _ := p.Ready(); !ok {
		t.Fatal("all up but not ready")
	}
	p.obs.redisUp.Store(false)
	if ok, why := p.Ready(); ok || why != "redis down" {
		t.Fatalf("redis down: %v %q", ok, why)
	}
}
