package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/status"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

// withoutPush makes the harness's carrier one that never pushes: its waybills are polled every
// every.
func (h *harness) withoutPush(every time.Duration) {
	no := false
	h.cfg.Carriers[0].Push = &no
	h.cfg.Carriers[0].PollEvery = every
	h.cfg.Watchdog.ScanEvery = 50 * time.Millisecond // the poller's tick
}

// pollScore is when the order is due for its next poll, and whether it is on the schedule.
func (h *harness) pollScore(id int64) (time.Time, bool) {
	h.t.Helper()
	ms, err := h.rdb.ZScore(context.Background(), h.cfg.State.Redis.Prefix+"poll", strconv.FormatInt(id, 10)).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, false
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return time.UnixMilli(int64(ms)), true
}

// pollFailures is the order's count of failed polls in a row, as Redis holds it.
func (h *harness) pollFailures(id int64) int {
	h.t.Helper()
	n, err := h.rdb.HGet(context.Background(), h.cfg.State.Redis.Prefix+"order:"+strconv.FormatInt(id, 10), "poll_failures").Int()
	if err != nil && !errors.Is(err, redis.Nil) {
		h.t.Fatal(err)
	}
	return n
}

// TestPollsAskTheQueryEndpoint: a carrier without push gets its statuses from trace queries
// sent to its track_url; the simulator answers 1002 only there, as Kdniao does, so a query sent
// to the create endpoint would never bring a status.
func TestPollsAskTheQueryEndpoint(t *testing.T) {
	h, ids := newHarness(t, "demo", 10, sim.Config{TimeScale: 4 * 86400, Seed: 21})
	h.statusTables()
	h.withoutPush(200 * time.Millisecond)
	h.run(false)
	h.waitStarted()
	if err := demo.Pay(context.Background(), h.db, ids); err != nil {
		t.Fatal(err)
	}
	h.waitWritten(ids, 30*time.Second)
	h.waitFinalStatuses(ids, 30*time.Second)
	if st := h.sim.Stats(); st.Queries == 0 || st.Invalid != 0 {
		t.Errorf("simulator answered %d queries and %d misrouted or invalid requests, want > 0 and 0", st.Queries, st.Invalid)
	}
}

// TestFailedPollsBackOff: while a carrier's query endpoint fails, the waybill's next poll moves
// further out with every failure in a row (from retry.interval, doubling, capped at the
// carrier's poll interval), rather than coming back every minute for ever; once the carrier
// answers, the count is reset and the status arrives.
func TestFailedPollsBackOff(t *testing.T) {
	const (
		first = 300 * time.Millisecond // retry.interval: below a minute, so the first wait
		every = 2 * time.Second        // poll_every: the cap
	)
	h, ids := newHarness(t, "demo", 1, sim.Config{TimeScale: 4 * 86400, Seed: 22})
	h.statusTables()
	h.withoutPush(every)
	h.cfg.Retry.Interval = first
	h.cfg.Carriers[0].Breaker.Failures = 1000 // this test is about the schedule, not the breaker

	var healthy atomic.Bool
	var mu sync.Mutex
	var failed []time.Time // when each failing query arrived
	query := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if healthy.Load() {
			h.sim.ServeHTTP(w, r)
			return
		}
		mu.Lock()
		failed = append(failed, time.Now())
		mu.Unlock()
		http.Error(w, "query service down", http.StatusBadGateway)
	}))
	t.Cleanup(query.Close)
	h.cfg.Carriers[0].TrackURL = query.URL + sim.TrackPath

	h.run(false)
	h.waitStarted()
	id := ids[0]
	if err := demo.Pay(context.Background(), h.db, ids); err != nil {
		t.Fatal(err)
	}
	h.waitWritten(ids, 30*time.Second)

	// After the n-th failure the order is due backoff(n) after that query.
	backoff := []time.Duration{first, 2 * first, 4 * first, every, every}
	for n := 1; n <= len(backoff); n++ {
		testenv.Eventually(t, every+10*time.Second, 5*time.Millisecond, func() (bool, string) {
			got := h.pollFailures(id)
			if got > n {
				t.Fatalf("failure %d came before failure %d was seen", got, n)
			}
			due, ok := h.pollScore(id)
			if !ok {
				t.Fatal("the order left the poll schedule")
			}
			// Until the failure is recorded the score is the poller's hand-out, a minute out.
			return got == n && time.Until(due) < 30*time.Second, fmt.Sprintf("%d failures recorded, waiting for %d", got, n)
		})
		due, _ := h.pollScore(id)
		mu.Lock()
		at := failed[n-1]
		mu.Unlock()
		if wait := due.Sub(at); wait < backoff[n-1]-5*time.Millisecond || wait > backoff[n-1]+300*time.Millisecond {
			t.Errorf("after failure %d the next poll is due %s after it, want %s", n, wait, backoff[n-1])
		}
	}
	mu.Lock()
	for n := 1; n < len(failed); n++ {
		if gap := failed[n].Sub(failed[n-1]); gap < backoff[n-1]-5*time.Millisecond {
			t.Errorf("query %d came %s after the one before, want at least %s", n+1, gap, backoff[n-1])
		}
	}
	mu.Unlock()

	healthy.Store(true)
	r := h.rows(ids)[id]
	st, ex, _ := h.sim.Final(r.invoice)
	ev, _ := status.FromKdniao(st, ex)
	testenv.Eventually(t, every+10*time.Second, 20*time.Millisecond, func() (bool, string) {
		got := h.parcelStatuses()[id]
		return got == string(ev.Status) && h.pollFailures(id) == 0,
			fmt.Sprintf("shop status %q, want %q; %d failures recorded", got, ev.Status, h.pollFailures(id))
	})
}

// TestPollOfRemovedCarrier: a waybill of a carrier that is no longer configured leaves the poll
// schedule (nobody could be asked) and only that: the no-pickup watch keeps it.
func TestPollOfRemovedCarrier(t *testing.T) {
	h, ids := newHarness(t, "demo", 1, sim.Config{TimeScale: 4 * 86400, Seed: 23})
	h.withoutPush(time.Hour) // no poll before the carrier is gone
	stop := h.run(false)
	h.waitStarted()
	id, key := ids[0], strconv.FormatInt(ids[0], 10)
	if err := demo.Pay(context.Background(), h.db, ids); err != nil {
		t.Fatal(err)
	}
	h.waitWritten(ids, 30*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// The carrier is renamed: the order's waybill belongs to a carrier this config lacks.
	h.cfg.Carriers[0].Name = "renamed"
	h.cfg.Routing = config.Routing{Default: "renamed"}
	ctx := context.Background()
	if err := h.rdb.ZAdd(ctx, h.cfg.State.Redis.Prefix+"poll", redis.Z{Score: float64(time.Now().UnixMilli()), Member: key}).Err(); err != nil {
		t.Fatal(err)
	}
	queries := h.sim.Stats().Queries
	h.run(false)
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, func() (bool, string) {
		_, polled := h.pollScore(id)
		return !polled, "the order is still on the poll schedule"
	})
	if _, err := h.rdb.ZScore(ctx, h.cfg.State.Redis.Prefix+"watch:pickup", key).Result(); err != nil {
		t.Errorf("the order left the no-pickup watch too: %v", err)
	}
	if n := h.sim.Stats().Queries; n != queries {
		t.Errorf("the simulator was queried %d times", n-queries)
	}
}
