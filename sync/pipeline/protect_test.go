package pipeline

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/shopdb"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/state"
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

func TestLimiter(t *testing.T) {
	if newLimiter(0) != nil {
		t.Fatal("rate 0 should mean no limiter")
	}
	l := newLimiter(100) // one call every 10 ms
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

func TestCandidates(t *testing.T) {
	p := testPipeline(&config.Config{Routing: config.Routing{Default: "sf", Failover: []string{"zto", "sf", "ems"},
		Rules: []config.Rule{
			{Carrier: "ems", Province: []string{"新疆", "西藏"}},
			{Carrier: "zto", MinWeightKg: 20},
			{Carrier: "jd", Column: &config.Condition{Column: "shipping_id", In: []string{"9"}}},
		}}},
		map[string]*carrierSlot{"sf": {name: "sf"}, "zto": {name: "zto"}, "ems": {name: "ems"}, "jd": {name: "jd"}})
	names := func(o shopdb.Order, rec state.Record) (out []string) {
		cs, err := p.candidates(o, rec)
		if err != nil {
			return []string{"error"}
		}
		for _, s := range cs {
			out = append(out, s.name)
		}
		return out
	}
	tests := []struct {
		name  string
		order shopdb.Order
		rec   state.Record
		want  string
	}{
		{"default then failover, no repeats", shopdb.Order{ReceiverProvince: "北京", WeightKg: 1}, state.Record{}, "sf zto ems"},
		{"province rule", shopdb.Order{ReceiverProvince: "西藏", WeightKg: 1}, state.Record{}, "ems zto sf"},
		{"weight rule", shopdb.Order{ReceiverProvince: "北京", WeightKg: 25}, state.Record{}, "zto sf ems"},
		{"first matching rule wins", shopdb.Order{ReceiverProvince: "新疆", WeightKg: 25}, state.Record{}, "ems zto sf"},
		{"column rule", shopdb.Order{Columns: map[string]string{"shipping_id": "9"}}, state.Record{}, "jd zto sf ems"},
		{"sticky after an ambiguous failure", shopdb.Order{ReceiverProvince: "西藏"}, state.Record{Carrier: "zto", Sticky: true}, "zto"},
		{"sticky to a carrier no longer configured", shopdb.Order{}, state.Record{Carrier: "gone", Sticky: true}, "error"},
		{"last asked but not pinned: routed anew", shopdb.Order{ReceiverProvince: "西藏"}, state.Record{Carrier: "zto"}, "ems zto sf"},
		{"sent back to a chosen carrier", shopdb.Order{ReceiverProvince: "西藏"}, state.Record{Route: "jd"}, "jd"},
		{"the pin beats a chosen carrier", shopdb.Order{}, state.Record{Carrier: "zto", Sticky: true, Route: "jd"}, "zto"},
		{"a chosen carrier no longer configured", shopdb.Order{}, state.Record{Route: "gone"}, "error"},
	}
	for _, tt := range tests {
		if got := names(tt.order, tt.rec); fmtNames(got) != tt.want {
			t.Errorf("%s: %v, want %s", tt.name, got, tt.want)
		}
	}
}

func fmtNames(n []string) string {
	s := ""
	for i, x := range n {
		if i > 0 {
			s += " "
		}
		s += x
	}
	return s
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
