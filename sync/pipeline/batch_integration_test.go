package pipeline_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

// TestBatchOutcomes ships ONE batch (ECShop schema, MyISAM) in which four orders go wrong in
// four ways, and checks that each gets its own outcome while the others ship:
//
//   - failing: its write-back raises (a BEFORE UPDATE trigger SIGNALs for it alone), so the
//     batch's write-back falls back to one by one; it keeps its recorded waybill and retries
//     as "shop down" (no attempt, no second create) until the trigger is gone;
//   - cancelled: cancelled after the batch claimed it and before the enrichment read, which
//     then returns no row: read again shortly, skipped after ready_timeout, never created;
//   - itemless: paid with no ecs_order_goods rows: not ready, never created without items;
//     shipped once its items are written;
//   - replay: shipped before, then unpaid and paid again in the batch: a duplicate paid event,
//     found done at claim; its waybill, note and carrier count stay as they were.
//
// The batch is made deterministic: the only ship worker (workers.batches 1) is held at the
// carrier by an earlier order while the batch's orders are paid (one UPDATE) and queue up;
// then the batch is held inside its enrichment read (ecs_region, which only orders.query
// reads, is locked) while the order is cancelled.
func TestBatchOutcomes(t *testing.T) {
	const normal = 6
	h, ids := newHarness(t, "ecshop", normal+5, sim.Config{})
	ctx := context.Background()
	replay, blocker := ids[0], ids[1]
	failing, cancelled, itemless := ids[2], ids[3], ids[4]
	others := ids[5:]
	batch := append([]int64{failing, cancelled, itemless, replay}, others...)

	// The carrier, behind a gate that holds its creates while closed.
	var gating atomic.Bool
	gate, held := make(chan struct{}), make(chan struct{}, 1)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gating.Load() {
			select {
			case held <- struct{}{}:
			default:
			}
			<-gate
		}
		h.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	h.cfg.Carriers[0].URL = proxy.URL + sim.CreatePath
	h.cfg.Workers.Batches = 1
	h.cfg.Orders.ReadyTimeout = 4 * time.Second
	h.cfg.Retry.MaxAttempts = 100 // a slow machine must not dead-letter the itemless order
	h.exec(fmt.Sprintf(`CREATE TRIGGER refuse_one_waybill BEFORE UPDATE ON ecs_order_info FOR EACH ROW
		IF NEW.order_id = %d AND NEW.invoice_no <> '' THEN
			SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'waybill refused for this order';
		END IF`, failing))
	h.exec("CREATE TABLE saved_goods AS SELECT * FROM ecs_order_goods WHERE order_id = ?", itemless)
	h.exec("DELETE FROM ecs_order_goods WHERE order_id = ?", itemless)
	var savedItems int
	if err := h.db.QueryRow("SELECT COUNT(*) FROM saved_goods").Scan(&savedItems); err != nil || savedItems == 0 {
		t.Fatalf("order %d has no items to hold back (%v)", itemless, err)
	}

	h.run(false)
	h.waitStarted()

	// The replayed order ships first, on its own.
	if err := demo.Pay(ctx, h.db, []int64{replay}); err != nil {
		t.Fatal(err)
	}
	h.waitWritten([]int64{replay}, 30*time.Second)
	before := h.rows([]int64{replay})[replay]

	// The blocker takes the only worker to the carrier, and stays there.
	gating.Store(true)
	if err := demo.Pay(ctx, h.db, []int64{blocker}); err != nil {
		t.Fatal(err)
	}
	<-held

	// The replay looks unpaid and unshipped again (an admin's edit), so paying it again is a
	// paid transition: a duplicate paid event for an order already written.
	h.exec("UPDATE ecs_order_info SET pay_status = 0, shipping_status = 0 WHERE order_id = ?", replay)
	h.exec(`UPDATE ecs_order_info SET pay_status = 2, pay_time = UNIX_TIMESTAMP(), order_status = 1
		WHERE order_id IN (`+placeholders(len(batch))+`)`, anys(batch)...)
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() (bool, string) {
		q := testutil.ToFloat64(h.p.Metrics().QueueDepth)
		return q == float64(len(batch)), fmt.Sprintf("%v jobs queued, want the batch's %d", q, len(batch))
	})

	// Hold the batch inside its enrichment read, then let the blocker go: the worker takes
	// everything queued as one batch.
	lock, err := h.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "LOCK TABLES ecs_region WRITE"); err != nil {
		t.Fatal(err)
	}
	unlocked := false
	unlock := func() {
		if !unlocked {
			unlocked = true
			if _, err := lock.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
				t.Error(err)
			}
		}
	}
	defer unlock()
	gating.Store(false)
	close(gate)

	// One batch: ClaimMany took every order (but the replay, done) under one owner token.
	claimedBy := func(id int64) string {
		r := h.record(id)
		if r.LeaseUntil.Before(time.Now()) {
			return ""
		}
		return r.LeaseOwner
	}
	var owner string
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() (bool, string) {
		owner = claimedBy(cancelled)
		for _, id := range batch[:3] {
			if o := claimedBy(id); o == "" || o != owner {
				return false, fmt.Sprintf("order %d claimed by %q, order %d by %q", id, o, cancelled, owner)
			}
		}
		for _, id := range others {
			if o := claimedBy(id); o != owner {
				return false, fmt.Sprintf("order %d claimed by %q, order %d by %q", id, o, cancelled, owner)
			}
		}
		return true, ""
	})
	if r := h.record(replay); r.State != state.Written || r.LeaseOwner == owner {
		t.Errorf("the replayed order was taken again: %+v", r)
	}
	// Claimed, not read yet: the shop cancels it (ECShop order_status 2).
	h.exec("UPDATE ecs_order_info SET order_status = 2 WHERE order_id = ?", cancelled)
	unlock()

	// The batch's own outcomes.
	h.waitState(others, state.Written)
	h.assertShipped(others)
	// The batch's 10 orders are the only ones ever together: the orders before it came one at
	// a time, and retries come one to three at a time.
	if n := batchesIn(t, h, 8, 16); n != 1 {
		t.Errorf("shipsync_ship_batch_orders saw %d batches of 9 to 16 orders, want the one batch of %d", n, len(batch))
	}

	// The failing write-back: its waybill is recorded and it retries as shop down.
	code := func(id int64) string { return h.rows([]int64{id})[id].sn }
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() (bool, string) {
		r := h.record(failing)
		want, created := h.sim.Waybill(code(failing))
		ok := created && r.Waybill == want && strings.Contains(r.LastError, "shop database") &&
			strings.Contains(r.LastError, "waybill refused for this order") && r.Attempts == 0
		return ok, fmt.Sprintf("failing order's record %+v (simulator %q, %v)", r, want, created)
	})
	if r := h.rows([]int64{failing})[failing]; r.invoice != "" || r.actions != 0 {
		t.Errorf("failing order written anyway: %+v", r)
	}

	// The itemless order waits for its items, uncreated; then ships.
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() (bool, string) {
		r := h.record(itemless)
		return strings.Contains(r.LastError, "no items yet"), fmt.Sprintf("itemless order's record %+v", r)
	})
	if w, ok := h.sim.Waybill(code(itemless)); ok {
		t.Errorf("order %d was created (%s) without items", itemless, w)
	}
	h.exec("INSERT INTO ecs_order_goods SELECT * FROM saved_goods")
	h.waitWritten([]int64{itemless}, 30*time.Second)
	h.assertShipped([]int64{itemless})

	// The cancelled order: no row when read, skipped once ready_timeout has passed.
	h.waitState([]int64{cancelled}, state.Skipped)
	if w, ok := h.sim.Waybill(code(cancelled)); ok {
		t.Errorf("the cancelled order got waybill %s", w)
	}
	if r := h.rows([]int64{cancelled})[cancelled]; r.invoice != "" || r.actions != 0 {
		t.Errorf("the cancelled order was written: %+v", r)
	}

	// The failing order, once its statement works: the waybill recorded, not a new one.
	h.exec("DROP TRIGGER refuse_one_waybill")
	h.waitWritten([]int64{failing}, 30*time.Second)
	h.assertShipped([]int64{failing})

	// The replay changed nothing: the edit that made it left shipping_status 0, and the order,
	// done at claim, is not written again.
	if r := h.record(replay); r.State != state.Written || r.Waybill != before.invoice {
		t.Errorf("replayed order's record %+v, want written with %s", r, before.invoice)
	}
	if r := h.rows([]int64{replay})[replay]; r.invoice != before.invoice || r.actions != 1 {
		t.Errorf("replayed order: waybill %q, %d notes; want %q and 1", r.invoice, r.actions, before.invoice)
	}

	// One create per order code, none repeated: replay, blocker, failing, itemless, the others.
	st := h.sim.Stats()
	if want := int64(len(others) + 4); st.Creates != want || st.Repeats != 0 {
		t.Errorf("simulator: %d creates, %d repeats; want %d and 0 (%+v)", st.Creates, st.Repeats, want, st)
	}
	h.assertShipped([]int64{blocker})
}

// batchesIn counts the batches of more than lo and at most hi orders that
// shipsync_ship_batch_orders saw; lo and hi are bucket bounds (1, 2, 4, ... 512).
func batchesIn(t *testing.T, h *harness, lo, hi float64) uint64 {
	t.Helper()
	var m dto.Metric
	if err := h.p.Metrics().Batches.Write(&m); err != nil {
		t.Fatal(err)
	}
	var atLo, atHi uint64
	for _, b := range m.GetHistogram().GetBucket() {
		switch b.GetUpperBound() {
		case lo:
			atLo = b.GetCumulativeCount()
		case hi:
			atHi = b.GetCumulativeCount()
		}
	}
	return atHi - atLo
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

func anys(ids []int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}
