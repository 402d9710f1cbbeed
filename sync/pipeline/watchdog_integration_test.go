package pipeline_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/sources/webhook"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

const noPickupNote = "SELECT COUNT(*) FROM ecs_order_action WHERE order_id = ? AND action_note LIKE '%exception%no_pickup%'"

// TestWatchdogGoesOnPastAFailingOrder: the no-pickup note of one order fails in the shop (a
// trigger raises for it). The watchdog flags every other due parcel anyway, counts the failure,
// and flags the failing one too once its statement works again.
func TestWatchdogGoesOnPastAFailingOrder(t *testing.T) {
	h, ids := newHarness(t, "demo", 6, sim.Config{}) // no pushes: nothing is ever picked up
	h.cfg.Watchdog.NoPickupAfter = time.Second
	h.cfg.Watchdog.ScanEvery = 100 * time.Millisecond
	bad := ids[0]
	h.exec(fmt.Sprintf(`CREATE TRIGGER fail_one_note BEFORE INSERT ON ecs_order_action FOR EACH ROW
		IF NEW.order_id = %d AND NEW.action_note LIKE '%%no_pickup%%' THEN
			SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'order history locked';
		END IF`, bad))
	h.run(false)
	h.waitStarted()
	// The failing order is paid first, so its parcel is the first due at every scan.
	if err := demo.Pay(context.Background(), h.db, ids[:1]); err != nil {
		t.Fatal(err)
	}
	h.waitWritten(ids[:1], 30*time.Second)
	if err := demo.Pay(context.Background(), h.db, ids[1:]); err != nil {
		t.Fatal(err)
	}
	h.waitWritten(ids, 30*time.Second)
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		for _, id := range ids[1:] {
			if h.count(noPickupNote, id) != 1 {
				return false, fmt.Sprintf("order %d not flagged no_pickup", id)
			}
		}
		return true, ""
	})
	if n := h.count(noPickupNote, bad); n != 0 {
		t.Fatalf("the failing order has %d notes", n)
	}
	if n, _ := sample(h.scrape(), `shipsync_status_scan_errors_total{scan="watchdog"}`); n < 1 {
		t.Errorf("watchdog errors counted: %v", n)
	}
	h.exec("DROP TRIGGER fail_one_note")
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		return h.count(noPickupNote, bad) == 1, "the failing order is not flagged once its statement works"
	})
}

// TestPickupDuringWatchdogNotFlagged: a pickup applied while the watchdog is deciding (here:
// the parcel's watch entry is still due after the pickup was applied, as when the push lands
// between the watchdog's read of the due set and its decision) is not flagged no_pickup.
func TestPickupDuringWatchdogNotFlagged(t *testing.T) {
	h, ids := newHarness(t, "demo", 1, sim.Config{})
	h.cfg.Watchdog.NoPickupAfter = time.Hour // the watchdog sees only the entry the test makes due
	h.cfg.Watchdog.ScanEvery = 100 * time.Millisecond
	h.run(false)
	h.waitStarted()
	if err := demo.Pay(context.Background(), h.db, ids); err != nil {
		t.Fatal(err)
	}
	h.waitWritten(ids, 30*time.Second)
	ctx := context.Background()
	rec := h.record(ids[0])
	o, err := h.p.Apply(ctx, "sim", webhook.Update{Waybill: rec.Waybill, ShipperCode: rec.ShipperCode,
		Status: "picked_up", Time: time.Now().Add(-time.Minute).Truncate(time.Second), Code: "1/1", Known: true})
	if err != nil || o != webhook.OK {
		t.Fatalf("pickup push: %v %v", o, err)
	}
	watch := h.cfg.State.Redis.Prefix + "watch:pickup"
	key := fmt.Sprint(ids[0])
	if err := h.rdb.ZAdd(ctx, watch, redis.Z{Score: float64(time.Now().Add(-time.Second).UnixMilli()), Member: key}).Err(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, func() (bool, string) {
		_, err := h.rdb.ZScore(ctx, watch, key).Result()
		return err == redis.Nil, "the watchdog has not looked at the entry"
	})
	if n := h.count(noPickupNote, ids[0]); n != 0 {
		t.Errorf("a picked-up parcel was flagged no_pickup (%d notes)", n)
	}
	if rec := h.record(ids[0]); rec.StatusException || rec.Status != "picked_up" {
		t.Errorf("record after the watchdog: status %q exception %v reason %q", rec.Status, rec.StatusException, rec.StatusReason)
	}
}

// TestConflictGetsNoStatus: a shop row that already holds a hand-entered number ends conflict
// with that number kept, and neither a later push for our waybill nor the watchdog writes into
// the order.
func TestConflictGetsNoStatus(t *testing.T) {
	h, ids := newHarness(t, "demo", 1, sim.Config{})
	h.cfg.Watchdog.NoPickupAfter = 500 * time.Millisecond
	h.cfg.Watchdog.ScanEvery = 100 * time.Millisecond
	h.exec("UPDATE ecs_order_info SET invoice_no = 'BY-HAND-7' WHERE order_id = ?", ids[0])
	h.run(false)
	h.waitStarted()
	if err := demo.Pay(context.Background(), h.db, ids); err != nil {
		t.Fatal(err)
	}
	h.waitState(ids, state.Conflict)
	ctx := context.Background()
	rec := h.record(ids[0])
	o, err := h.p.Apply(ctx, "sim", webhook.Update{Waybill: rec.Waybill, ShipperCode: rec.ShipperCode,
		Status: "delivered", Time: time.Now().Truncate(time.Second), Code: "3/301", Known: true})
	if err != nil || o == webhook.OK {
		t.Fatalf("a push for the conflicting order's waybill: %v %v", o, err)
	}
	watch := h.cfg.State.Redis.Prefix + "watch:pickup"
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, func() (bool, string) {
		_, err := h.rdb.ZScore(ctx, watch, fmt.Sprint(ids[0])).Result()
		return err == redis.Nil, "the conflicting parcel is still watched"
	})
	r := h.rows(ids)[ids[0]]
	if r.invoice != "BY-HAND-7" || r.shipping != 0 || r.actions != 0 {
		t.Errorf("the shop row was written into: %+v", r)
	}
	if rec := h.record(ids[0]); rec.State != state.Conflict || rec.Status != "" {
		t.Errorf("record: state %s status %q", rec.State, rec.Status)
	}
}
