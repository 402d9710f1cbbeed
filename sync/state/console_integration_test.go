package state_test

import (
	"context"
	"math"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/testenv"
)

func kinds(steps []state.Step) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.Kind
	}
	return out
}

// TestTimeline: every change of an order's state lands in its timeline with its time, the
// shop's statements and the parcel's statuses included; the timeline and the order-code index
// expire with the settled record and come back to stay when it is open work again.
func TestTimeline(t *testing.T) {
	rdb, prefix := testenv.RequireRedis(t)
	const retention = time.Hour
	s := state.New(rdb, prefix, state.WithRetention(retention))
	ctx := context.Background()
	start := time.Now().Add(-time.Second)

	settle(t, s, "1001", "ZT1001")
	res := s.Settle(ctx, []state.Settlement{{Key: "1001", Owner: "p:1001", Kind: state.SettleWritten,
		Note: "wrote writeback.waybill[0]"}})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	err := s.SetStatus(ctx, "1001", state.ParcelStatus{Status: "in_transit", Time: time.Now(), PickedUp: true,
		NextPoll: time.Now().Add(time.Hour), Note: "in_transit (2); wrote writeback.status.in_transit"})
	if err != nil {
		t.Fatal(err)
	}
	steps, err := s.Timeline(ctx, "1001")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"detected", "submitting", "waybill", "written", "status"}; !slices.Equal(kinds(steps), want) {
		t.Fatalf("timeline %v, want %v", kinds(steps), want)
	}
	texts := map[string]string{"submitting": "asked zto (ZTO) for SO1001", "waybill": "zto answered ZT1001",
		"written": "wrote writeback.waybill[0]", "status": "in_transit (2); wrote writeback.status.in_transit"}
	for _, st := range steps {
		if w, ok := texts[st.Kind]; ok && st.Text != w {
			t.Errorf("%s: %q, want %q", st.Kind, st.Text, w)
		}
		if st.At.Before(start) || st.At.After(time.Now()) {
			t.Errorf("%s at %v: not the time of the change", st.Kind, st.At)
		}
	}
	if key, ok, err := s.OrderByCode(ctx, "SO1001"); err != nil || !ok || key != "1001" {
		t.Fatalf("order code index: %q %v %v", key, ok, err)
	}

	// Delivered: settled, so the record, its timeline and its code index expire together.
	err = s.SetStatus(ctx, "1001", state.ParcelStatus{Status: "delivered", Time: time.Now(), PickedUp: true, Terminal: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"order:1001", "tl:1001", "code:SO1001"} {
		ttl, err := rdb.PTTL(ctx, prefix+k).Result()
		if err != nil || ttl <= 0 || ttl > retention {
			t.Errorf("%s: TTL %v (%v), want the retention", k, ttl, err)
		}
	}

	// A retry, the dead letter, a revive and a drop are all noted, with the reason.
	settle(t, s, "1002", "")
	res = s.Settle(ctx, []state.Settlement{{Key: "1002", Owner: "p:1002", Kind: state.SettleDead, Reason: "receiver_mobile: 138****0000 is not a phone"}})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	if ok, err := s.Revive(ctx, "1002", ""); err != nil || !ok {
		t.Fatalf("revive: %v %v", ok, err)
	}
	if err := s.Note(ctx, "1002", "action", "retried from the console (by ops)"); err != nil {
		t.Fatal(err)
	}
	steps, _ = s.Timeline(ctx, "1002")
	if want := []string{"detected", "submitting", "failed", "revived", "action"}; !slices.Equal(kinds(steps), want) {
		t.Fatalf("timeline %v, want %v", kinds(steps), want)
	}
	if steps[2].Text != "receiver_mobile: 138****0000 is not a phone" {
		t.Errorf("dead letter step %q: want its reason", steps[2].Text)
	}
	if ttl, _ := rdb.PTTL(ctx, prefix+"tl:1002").Result(); ttl != -1 {
		t.Errorf("open work's timeline has TTL %v; want none", ttl)
	}

	// A timeline keeps the newest TimelineMax steps.
	for i := range state.TimelineMax + 5 {
		if err := s.Note(ctx, "1002", "action", "n"+string(rune('a'+i%26))); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := rdb.LLen(ctx, prefix+"tl:1002").Result(); n != state.TimelineMax {
		t.Errorf("timeline holds %d steps, want %d", n, state.TimelineMax)
	}
}

// TestFlaggedAndWaiting: an exception flags the parcel once (its first time kept), a status
// without one clears it, a drop clears it; Waiting lists paid orders without a waybill older
// than the limit and marks nothing (the watchdog's StuckOrders still reports them once).
func TestFlaggedAndWaiting(t *testing.T) {
	rdb, prefix := testenv.RequireRedis(t)
	s := state.New(rdb, prefix)
	ctx := context.Background()
	flagged := func() []string {
		t.Helper()
		fs, err := s.FlaggedParcels(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, f := range fs {
			keys = append(keys, f.Key)
		}
		return keys
	}
	status := func(key string, exception bool, reason string) {
		t.Helper()
		err := s.SetStatus(ctx, key, state.ParcelStatus{Status: "created", Exception: exception, Reason: reason,
			Time: time.Now(), NextPoll: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
	}
	settle(t, s, "2001", "ZT2001")
	settle(t, s, "2002", "ZT2002")
	status("2001", true, "no_pickup")
	first, _ := s.FlaggedParcels(ctx, 10)
	status("2001", true, "no_pickup")
	status("2002", false, "")
	if got := flagged(); !slices.Equal(got, []string{"2001"}) {
		t.Fatalf("flagged %v, want [2001]", got)
	}
	if again, _ := s.FlaggedParcels(ctx, 10); !again[0].Since.Equal(first[0].Since) {
		t.Errorf("flag time moved from %v to %v", first[0].Since, again[0].Since)
	}
	status("2001", false, "")
	if got := flagged(); len(got) != 0 {
		t.Fatalf("flagged %v after a clean status, want none", got)
	}

	settle(t, s, "2003", "")
	if r := s.Settle(ctx, []state.Settlement{{Key: "2003", Owner: "p:2003", Kind: state.SettleRetry, Reason: "timeout",
		Due: time.Now().Add(time.Minute)}}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	for _, cutoff := range []time.Time{time.Now().Add(time.Second), time.Now().Add(time.Second)} {
		w, err := s.Waiting(ctx, cutoff, 10)
		if err != nil || len(w) != 1 || w[0].Key != "2003" || w[0].LastError != "timeout" {
			t.Fatalf("waiting %+v %v, want 2003 both times", w, err)
		}
	}
	if w, _ := s.Waiting(ctx, time.Now().Add(-time.Hour), 10); len(w) != 0 {
		t.Errorf("waiting %+v for an hour-old limit, want none", w)
	}
	if r, _ := s.Retrying(ctx, 10); len(r) != 1 || r[0].Key != "2003" || r[0].Due.Before(time.Now()) {
		t.Errorf("retrying %+v, want 2003 due in a minute", r)
	}
	if stuck, _ := s.StuckOrders(ctx, time.Now().Add(time.Second), 10); len(stuck) != 1 {
		t.Errorf("the watchdog saw %d stuck orders, want 1 (Waiting must not mark them)", len(stuck))
	}
}

// TestSeries: two processes' samples in one step add their counts and keep the highest gauge;
// each resolution's steps expire by themselves; a worker's unmeasured lag leaves the reader's.
func TestSeries(t *testing.T) {
	rdb, prefix := testenv.RequireRedis(t)
	s := state.New(rdb, prefix)
	ctx := context.Background()
	at := time.Now().Truncate(state.Fine.Step).Add(time.Second)
	buckets := func(i int, n int64) []int64 {
		b := make([]int64, len(state.LatencyBuckets)+1)
		b[i] = n
		return b
	}
	reader := state.Sample{At: at, Shipped: 3, LagSeconds: 1.5, Backlog: 7, Dead: 1, Retry: 2,
		Carriers: map[string]state.CarrierSample{"kdniao": {Requests: 4, OK: 3, Buckets: buckets(3, 4)}}}
	worker := state.Sample{At: at, Shipped: 5, LagSeconds: -1, Backlog: 2, Dead: 1, Retry: 4,
		Carriers: map[string]state.CarrierSample{"kdniao": {Requests: 6, OK: 6, Buckets: buckets(5, 6)}}}
	for _, x := range []state.Sample{reader, worker} {
		if err := s.AddSample(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []state.Resolution{state.Fine, state.Coarse} {
		pts, err := s.Series(ctx, r, at)
		if err != nil {
			t.Fatal(err)
		}
		if len(pts) != 1 {
			t.Fatalf("%s: %d points, want 1", r.Name, len(pts))
		}
		p := pts[0]
		if p.Shipped != 8 || p.LagSeconds != 1.5 || p.Backlog != 7 || p.Dead != 1 || p.Retry != 4 {
			t.Errorf("%s: %+v, want shipped 8, lag 1.5, backlog 7, dead 1, retry 4", r.Name, p)
		}
		if !p.At.Equal(at.Truncate(r.Step)) {
			t.Errorf("%s: point at %v, want the step's start %v", r.Name, p.At, at.Truncate(r.Step))
		}
		c := p.Carriers["kdniao"]
		if c.Requests != 10 || c.OK != 9 || c.Buckets[3] != 4 || c.Buckets[5] != 6 {
			t.Errorf("%s: kdniao %+v", r.Name, c)
		}
		ttl, _ := rdb.PTTL(ctx, prefix+"series:"+r.Name+":"+strconv.FormatInt(at.UnixMilli()/r.Step.Milliseconds(), 10)).Result()
		if ttl <= r.Keep || ttl > r.Keep+r.Step {
			t.Errorf("%s: step TTL %v, want a little over %v", r.Name, ttl, r.Keep)
		}
	}
	// The next hour's reading no longer holds the step.
	if pts, _ := s.Series(ctx, state.Fine, at.Add(time.Hour+state.Fine.Step)); len(pts) != 0 {
		t.Errorf("an hour later: %d points, want none", len(pts))
	}
}

func TestQuantile(t *testing.T) {
	b := make([]int64, len(state.LatencyBuckets)+1)
	if q := state.Quantile(.5, b); q != 0 {
		t.Errorf("empty: %v", q)
	}
	b[3] = 10 // all in (0.025, 0.05]
	if q := state.Quantile(.5, b); math.Abs(q-0.0375) > 1e-9 {
		t.Errorf("p50 %v, want the bucket's middle 0.0375", q)
	}
	b[len(b)-1] = 90 // beyond the last bound
	if q := state.Quantile(.99, b); q != state.LatencyBuckets[len(state.LatencyBuckets)-1] {
		t.Errorf("p99 %v, want the highest bound", q)
	}
}

// TestPausedCarriers: a pause is seen by every process until it is resumed.
func TestPausedCarriers(t *testing.T) {
	rdb, prefix := testenv.RequireRedis(t)
	a, b := state.New(rdb, prefix), state.New(rdb, prefix)
	ctx := context.Background()
	if err := a.SetPaused(ctx, "kdniao", true); err != nil {
		t.Fatal(err)
	}
	if p, err := b.PausedCarriers(ctx); err != nil || !p["kdniao"] || len(p) != 1 {
		t.Fatalf("paused %v %v", p, err)
	}
	if err := b.SetPaused(ctx, "kdniao", false); err != nil {
		t.Fatal(err)
	}
	if p, _ := a.PausedCarriers(ctx); len(p) != 0 {
		t.Fatalf("paused %v after resume", p)
	}
}

// TestIndexesExpire: every key the console adds goes with its order. A note on an order that
// no longer exists creates nothing; a settled parcel leaves the flagged set; a reissued order's
// earlier codes expire with it, and a shop code that only looks like a reissue's (X-R1) touches
// no other order's index.
func TestIndexesExpire(t *testing.T) {
	rdb, prefix := testenv.RequireRedis(t)
	const retention = time.Hour
	s := state.New(rdb, prefix, state.WithRetention(retention))
	ctx := context.Background()
	ttl := func(k string) time.Duration {
		t.Helper()
		d, err := rdb.PTTL(ctx, prefix+k).Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	if err := s.Note(ctx, "gone", "action", "x"); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, prefix+"tl:gone").Result(); n != 0 {
		t.Errorf("a note on a missing order made a timeline")
	}

	// Returned to the sender with an exception: terminal, settled, unflagged.
	settle(t, s, "3001", "ZT3001")
	if r := s.Settle(ctx, []state.Settlement{{Key: "3001", Owner: "p:3001", Kind: state.SettleWritten}}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	err := s.SetStatus(ctx, "3001", state.ParcelStatus{Status: "returned", Exception: true, Reason: "refused", Time: time.Now(),
		PickedUp: true, Terminal: true})
	if err != nil {
		t.Fatal(err)
	}
	if fs, _ := s.FlaggedParcels(ctx, 10); len(fs) != 0 {
		t.Errorf("a settled parcel is still flagged: %+v", fs)
	}

	// Reissued twice, then delivered: SO3002, -R1 and -R2 all expire with the record.
	settle(t, s, "3002", "ZT3002")
	if r := s.Settle(ctx, []state.Settlement{{Key: "3002", Owner: "p:3002", Kind: state.SettleWritten}}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	for n := 1; n <= 2; n++ {
		code := "SO3002-R" + strconv.Itoa(n)
		if err := s.BeginReissue(ctx, "3002", n, code, "ZT"); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordReissue(ctx, state.WaybillRecord{Key: "3002", Waybill: "ZT3002R" + strconv.Itoa(n),
			PickupDue: time.Now().Add(time.Hour), PollDue: time.Now().Add(time.Hour)}, code); err != nil {
			t.Fatal(err)
		}
	}
	err = s.SetStatus(ctx, "3002", state.ParcelStatus{Status: "delivered", Time: time.Now(), PickedUp: true, Terminal: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"order:3002", "tl:3002", "code:SO3002", "code:SO3002-R1", "code:SO3002-R2"} {
		if d := ttl(k); d <= 0 || d > retention {
			t.Errorf("%s: TTL %v, want the retention", k, d)
		}
	}

	// An open order whose code is X, and a skipped one whose shop code is X-R1.
	settle(t, s, "3003", "")
	if r := s.Settle(ctx, []state.Settlement{{Key: "3003", Owner: "p:3003", Kind: state.SettleRetry, Reason: "timeout"}}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if res, _, err := s.Claim(ctx, "3004", "p:3004", time.Minute); err != nil || res != state.Claimed {
		t.Fatal(res, err)
	}
	if err := s.Submitting(ctx, "3004", "p:3004", "SO3003-R1", "zto", "ZTO"); err != nil {
		t.Fatal(err)
	}
	if r := s.Settle(ctx, []state.Settlement{{Key: "3004", Owner: "p:3004", Kind: state.SettleSkipped, Reason: "not paid"}}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if d := ttl("code:SO3003"); d != -1 {
		t.Errorf("another order's code index got TTL %v from a look-alike reissue code", d)
	}
}
