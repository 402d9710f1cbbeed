package pipeline

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sync/metrics"
	"github.com/shipsync/shipsync/sync/state"
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

// TestSampleCounts: the creates and the orders written back are counted for the next history
// sample by carrier, outcome and latency bucket, and counting starts again once taken.
func TestSampleCounts(t *testing.T) {
	o := newObserver(metrics.New())
	for i := 1; i <= 100; i++ {
		o.carrierCall("sim", "create", "success", time.Duration(i)*time.Millisecond)
	}
	o.carrierCall("sim", "create", "transient", 20*time.Second)
	o.carrierCall("sim", "track", "success", time.Millisecond) // not a create: not in the history
	for i := range 25 {
		o.remember(statuspage.OrderRow{Key: strconv.Itoa(i)})
	}
	shipped, fresh, calls := o.take()
	c := calls["sim"]
	if shipped != 25 || c.Requests != 101 || c.OK != 100 {
		t.Fatalf("shipped %d, sim %+v", shipped, c)
	}
	if len(fresh) != state.LatestMax || fresh[0] != "5" || fresh[len(fresh)-1] != "24" {
		t.Errorf("fresh %v: want the last %d, oldest first", fresh, state.LatestMax)
	}
	// 1..5 ms, 6..10, 11..25, 26..50, 51..100 and the 20 s one beyond the last bound.
	want := []int64{5, 5, 15, 25, 50, 0, 0, 0, 0, 0, 0, 1}
	if !slices.Equal(c.Buckets, want) {
		t.Errorf("buckets %v, want %v", c.Buckets, want)
	}
	if p50 := state.Quantile(.5, c.Buckets); p50 < .045 || p50 > .055 {
		t.Errorf("p50 %v", p50)
	}
	if shipped, fresh, calls := o.take(); shipped != 0 || fresh != nil || len(calls) != 0 {
		t.Errorf("taken twice: %d %v %v", shipped, fresh, calls)
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
