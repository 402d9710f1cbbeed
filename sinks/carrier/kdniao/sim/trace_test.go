package sim

import (
	"context"
	"fmt"
	"net/http/httptest"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao"
)

// kinds returns the step kinds of plan.
func kinds(plan []step) []stepKind {
	out := make([]stepKind, len(plan))
	for i, st := range plan {
		out[i] = st.kind
	}
	return out
}

// planKind names the shape of plan, failing the test when it has none of the four.
func planKind(t *testing.T, plan []step) string {
	t.Helper()
	if len(plan) == 0 {
		return "no pickup"
	}
	k := kinds(plan)
	transit := []stepKind{stepPickedUp, stepDeparted, stepAtHub}
	if !slices.Equal(k[:3], transit) {
		t.Fatalf("plan starts %v", k)
	}
	if k[3] == stepLeftHub {
		k = slices.Delete(k, 3, 4)
	}
	k = k[3:]
	switch {
	case slices.Equal(k, []stepKind{stepArrived, stepOut, stepSigned}):
		return "normal"
	case slices.Equal(k, []stepKind{stepArrived, stepOut, stepNotSigned, stepOut, stepSignedLate}),
		slices.Equal(k, []stepKind{stepArrived, stepOut, stepDeliveryFailed, stepOut, stepSignedLate}):
		return "exception"
	case slices.Equal(k, []stepKind{stepArrived, stepOut, stepRefused, stepReturnDeparted, stepReturnAtHub, stepReturnSigned}),
		slices.Equal(k, []stepKind{stepArrived, stepOut, stepRefused, stepReturnDeparted, stepReturnAtHub, stepReturnLeftHub, stepReturnSigned}):
		return "return"
	}
	t.Fatalf("plan of no known shape: %v", kinds(plan))
	return ""
}

func TestPlans(t *testing.T) {
	const n = 4000
	rates := planRates{exception: 0.1, ret: 0.15, noPickup: 0.05}
	count := map[string]int{}
	totals := map[string][2]time.Duration{}
	for seq := int64(1); seq <= n; seq++ {
		plan := makePlan(7, seq, rates, 0)
		kind := planKind(t, plan)
		count[kind]++
		if !reflect.DeepEqual(plan, makePlan(7, seq, rates, 0)) {
			t.Fatalf("plan %d is not deterministic", seq)
		}
		for i := 1; i < len(plan); i++ {
			if plan[i].at-plan[i-1].at < 3600 {
				t.Fatalf("plan %d: events %d and %d less than an hour apart: %v", seq, i-1, i, plan)
			}
		}
		if len(plan) == 0 {
			continue
		}
		if first := time.Duration(plan[0].at) * time.Second; first < time.Hour || first > 4*time.Hour {
			t.Errorf("plan %d picked up after %v", seq, first)
		}
		total := time.Duration(plan[len(plan)-1].at) * time.Second
		r, ok := totals[kind]
		if !ok {
			r = [2]time.Duration{total, total}
		}
		totals[kind] = [2]time.Duration{min(r[0], total), max(r[1], total)}
	}
	t.Logf("shapes %v, total simulated durations %v", count, totals)
	for kind, want := range map[string]float64{"no pickup": rates.noPickup, "return": rates.ret, "exception": rates.exception,
		"normal": 1 - rates.noPickup - rates.ret - rates.exception} {
		if got := float64(count[kind]) / n; got < want*0.75 || got > want*1.25 {
			t.Errorf("%s: %.3f of plans, want about %.2f", kind, got, want)
		}
	}
	// The bounds are the sums of the shortest and longest gaps of each shape (makePlan's doc).
	for kind, bounds := range map[string][2]time.Duration{"normal": {20 * time.Hour, 58 * time.Hour},
		"exception": {34 * time.Hour, 84 * time.Hour}, "return": {40 * time.Hour, 108 * time.Hour}} {
		if r := totals[kind]; r[0] < bounds[0] || r[1] > bounds[1] {
			t.Errorf("%s plans take %v, want within %v", kind, r, bounds)
		}
	}

	if reflect.DeepEqual(makePlan(7, 1, rates, 0), makePlan(8, 1, rates, 0)) &&
		reflect.DeepEqual(makePlan(7, 2, rates, 0), makePlan(8, 2, rates, 0)) {
		t.Error("the seed changes nothing")
	}
	if p := makePlan(7, 1, planRates{}, 2*time.Hour); p[0].at != 7200 || planKind(t, p) != "normal" {
		t.Errorf("with PickupAfter 2h the plan starts %+v", p[0])
	}
	if p := makePlan(7, 1, planRates{noPickup: 1}, 0); p != nil {
		t.Errorf("NoPickupRate 1 planned %v", p)
	}
	if p := makePlan(7, 1, planRates{ret: 1}, 0); planKind(t, p) != "return" {
		t.Errorf("ReturnRate 1 planned %v", kinds(p))
	}
	if p := makePlan(7, 1, planRates{exception: 1}, 0); planKind(t, p) != "exception" {
		t.Errorf("ExceptionRate 1 planned %v", kinds(p))
	}
}

// clock is a settable time source for the simulator.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// TestTrackReflectsTime walks a simulated clock through each plan shape and checks that the
// 1002 answer holds exactly the events due, newest last, with the newest's State/StateEx.
func TestTrackReflectsTime(t *testing.T) {
	clk := &clock{t: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)}
	s := New(Config{EBusinessID: testEBusinessID, AppKey: testAppKey, Seed: 3,
		ExceptionRate: 0.25, ReturnRate: 0.25, NoPickupRate: 0.2})
	s.now = clk.Now
	srv := httptest.NewServer(s)
	defer srv.Close()
	c := client(srv, testAppKey, time.Second)
	ctx := context.Background()

	seen := map[string]bool{}
	for i := range 30 {
		w, err := c.Create(ctx, testOrder(fmt.Sprintf("SO%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		rec := s.byWaybill[w.LogisticCode]
		kind := planKind(t, rec.plan)
		if seen[kind] {
			continue
		}
		seen[kind] = true
		t.Run(kind, func(t *testing.T) {
			last := time.Duration(0)
			if n := len(rec.plan); n > 0 {
				last = time.Duration(rec.plan[n-1].at) * time.Second
			}
			prev := 0
			for sim := time.Duration(0); sim <= last+2*time.Hour; sim += 30 * time.Minute {
				clk.Set(rec.created.Add(time.Duration(float64(sim) / 3600)))
				tr, err := c.Track(ctx, "SIM", w.LogisticCode, "")
				if err != nil {
					t.Fatal(err)
				}
				want := 0
				for want < len(rec.plan) && time.Duration(rec.plan[want].at)*time.Second <= sim {
					want++
				}
				if len(tr.Traces) != want || want < prev {
					t.Fatalf("at +%v: %d traces, want %d", sim, len(tr.Traces), want)
				}
				prev = want
				if want == 0 {
					if tr.State != "0" || tr.Reason != reasonNoTrace {
						t.Errorf("before pickup: %+v", tr)
					}
					continue
				}
				newest := rec.plan[want-1]
				if tr.State != stepCodes[newest.kind].state || tr.StateEx != stepCodes[newest.kind].stateEx ||
					tr.Traces[want-1].Action != tr.StateEx || tr.Location != tr.Traces[want-1].Location {
					t.Errorf("at +%v: %+v", sim, tr)
				}
				wantNewest := rec.created.Add(time.Duration(newest.at) * time.Second).Truncate(time.Second)
				if got := tr.Newest(); !got.Equal(wantNewest) {
					t.Errorf("at +%v: newest %v, want %v", sim, got, wantNewest)
				}
			}
			state, stateEx, ok := s.Final(w.LogisticCode)
			tr, _ := c.Track(ctx, "SIM", w.LogisticCode, "")
			if !ok || tr.State != state || tr.StateEx != stateEx {
				t.Errorf("in the end %s/%s, Final %s/%s %v", tr.State, tr.StateEx, state, stateEx, ok)
			}
			t.Logf("%s: Final %s/%s after %v", w.LogisticCode, state, stateEx, last)
		})
	}
	if len(seen) != 4 {
		t.Errorf("shapes seen %v, want all four", seen)
	}

	_, err := c.Track(ctx, "SIM", "SIM9999999999", "")
	if e := kdniaoError(t, err); e.Permanent() || e.Reason != reasonUnknownWaybill {
		t.Errorf("unknown waybill: %v", err)
	}
	if _, _, ok := s.Final("SIM9999999999"); ok {
		t.Error("Final of an unknown waybill")
	}
	if st := s.Stats(); st.Queries == 0 || st.Invalid != 0 || st.Rejects != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestTimeScale checks on the real clock that TimeScale 86400 makes a day pass in a second.
func TestTimeScale(t *testing.T) {
	s, srv := start(t, Config{TimeScale: 86400, Seed: 5})
	c := client(srv, testAppKey, time.Second)
	ctx := context.Background()
	w, err := c.Create(ctx, testOrder("SO1"))
	if err != nil {
		t.Fatal(err)
	}
	rec := s.byWaybill[w.LogisticCode]
	time.Sleep(1100 * time.Millisecond)
	lo := time.Duration(float64(time.Since(rec.created)) * 86400)
	tr, err := c.Track(ctx, "SIM", w.LogisticCode, "")
	if err != nil {
		t.Fatal(err)
	}
	hi := time.Duration(float64(time.Since(rec.created)) * 86400)
	if lo < 24*time.Hour {
		t.Fatalf("only %v simulated", lo)
	}
	for i, st := range rec.plan {
		at := time.Duration(st.at) * time.Second
		if at <= lo && i >= len(tr.Traces) || at > hi && i < len(tr.Traces) {
			t.Errorf("event %d at +%v: %d traces after %v..%v simulated", i, at, len(tr.Traces), lo, hi)
		}
	}
	if len(tr.Traces) < 3 {
		t.Errorf("a day in, only %d traces: %+v", len(tr.Traces), tr)
	}
	t.Logf("after %v..%v simulated: State %s/%s, %d of %d events", lo, hi, tr.State, tr.StateEx, len(tr.Traces), len(rec.plan))
}

// TestTraceText checks the 1002 answer's text, which carries the order's own city names.
func TestTraceText(t *testing.T) {
	clk := &clock{t: time.Date(2024, 5, 1, 2, 0, 0, 0, time.UTC)}
	s := New(Config{EBusinessID: testEBusinessID, AppKey: testAppKey, PickupAfter: 2 * time.Hour})
	s.now = clk.Now
	srv := httptest.NewServer(s)
	defer srv.Close()
	c := client(srv, testAppKey, time.Second)
	o := testOrder("SO1")
	o.Sender.ProvinceName, o.Sender.CityName = "江苏省", `A&B+C #1 'x' "y" 苏州市`
	w, err := c.Create(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	clk.Set(clk.Now().Add(2 * time.Second)) // 2h simulated: the pickup
	tr, err := c.Track(context.Background(), "SIM", w.LogisticCode, "SO1")
	if err != nil {
		t.Fatal(err)
	}
	want := kdniao.TraceEvent{AcceptTime: "2024-05-01 12:00:00", AcceptStation: `【A&B+C #1 'x' "y" 苏州市】快递员已揽收`,
		Location: `A&B+C #1 'x' "y" 苏州市`, Action: "1"}
	if len(tr.Traces) != 1 || tr.Traces[0] != want || tr.State != "1" || tr.OrderCode != "SO1" || tr.EBusinessID != testEBusinessID {
		t.Errorf("trace = %+v, want %+v", tr, want)
	}
	if w.PickupTime.IsZero() {
		t.Error("no PickupTime in the create reply")
	}
}
