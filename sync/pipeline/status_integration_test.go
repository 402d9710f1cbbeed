package pipeline_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/sync/status"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

// statusTables adds what the test reads back: every status write-back is logged (to check that
// none ever regresses), the latest is kept per order, and delivered orders get a review
// reminder — the reference design's example of one status mapping to several statements.
func (h *harness) statusTables() {
	h.t.Helper()
	h.exec(`CREATE TABLE status_log (id INT AUTO_INCREMENT PRIMARY KEY, order_id INT NOT NULL,
		status VARCHAR(32) NOT NULL, reason VARCHAR(255) NOT NULL, event_time VARCHAR(32) NOT NULL)`)
	h.exec(`CREATE TABLE parcel_status (order_id INT PRIMARY KEY, status VARCHAR(32) NOT NULL)`)
	h.exec(`CREATE TABLE review_reminder (id INT AUTO_INCREMENT PRIMARY KEY, order_id INT NOT NULL, waybill VARCHAR(64) NOT NULL)`)
	for _, st := range append(status.All(), status.ExceptionKey) {
		k := string(st)
		h.cfg.Writeback.Status[k] = append(h.cfg.Writeback.Status[k],
			"INSERT INTO status_log (order_id, status, reason, event_time) VALUES (:key, :status, COALESCE(:reason, ''), :event_time)",
			"INSERT INTO parcel_status (order_id, status) VALUES (:key, :status) ON DUPLICATE KEY UPDATE status = :status")
	}
	h.cfg.Writeback.Status["delivered"] = append(h.cfg.Writeback.Status["delivered"],
		"INSERT INTO review_reminder (order_id, waybill) VALUES (:key, :waybill)")
}

// TestStatusReturn drives 300 orders to their end states with duplicated, out-of-order and
// badly signed pushes and some parcels never picked up: every order's final status in the shop
// equals the simulator's final state, no write-back ever moves a status back, delivered orders
// get exactly one review reminder, and the watchdog flags exactly the parcels never picked up.
func TestStatusReturn(t *testing.T) {
	h, ids := newHarness(t, "demo", 300, sim.Config{PushTo: "push", TimeScale: 4 * 86400, Seed: 7,
		DuplicateRate: 0.2, OutOfOrderRate: 0.2, BadSignatureRate: 0.05,
		ExceptionRate: 0.15, ReturnRate: 0.1, NoPickupRate: 0.05})
	h.statusTables()
	// The simulator runs 4 days a second, so pickups come within a few hundredths of a second of
	// the waybill; the watchdog's threshold leaves a wide margin for pushes that arrive before
	// the waybill is written back (answered Success:false and sent again with backoff).
	h.cfg.Watchdog.NoPickupAfter = 5 * time.Second
	h.cfg.Watchdog.ScanEvery = 100 * time.Millisecond
	h.run(false)
	h.waitStarted()
	if err := demo.Pay(context.Background(), h.db, ids); err != nil {
		t.Fatal(err)
	}
	h.waitWritten(ids, 60*time.Second)

	expected := map[int64]string{} // canonical final status, or "exception" for a parcel never picked up
	rows := h.rows(ids)
	for id, r := range rows {
		st, ex, ok := h.sim.Final(r.invoice)
		if !ok {
			t.Fatalf("order %d: simulator knows no plan for %s", id, r.invoice)
		}
		ev, _ := status.FromKdniao(st, ex)
		expected[id] = string(ev.Status)
		if st == "0" || st == "" {
			expected[id] = status.ExceptionKey
		}
	}
	testenv.Eventually(t, 90*time.Second, 100*time.Millisecond, func() (bool, string) {
		got := h.parcelStatuses()
		for id, want := range expected {
			if got[id] != want {
				return false, fmt.Sprintf("order %d: shop status %q, want %q (sim %+v, settled %v)", id, got[id], want, h.sim.Stats(), h.sim.Settled())
			}
		}
		return h.sim.Settled(), "simulator not settled"
	})

	// No write-back ever moved a parcel back.
	log := h.statusLog()
	noPickup := 0
	for id, writes := range log {
		last := -1
		for _, w := range writes {
			if w == status.ExceptionKey {
				continue
			}
			r := status.Status(w).Rank()
			if r < last {
				t.Errorf("order %d: status regressed: %v", id, writes)
				break
			}
			last = r
		}
	}
	for id, want := range expected {
		reminders := h.count("SELECT COUNT(*) FROM review_reminder WHERE order_id = ?", id)
		if want == "delivered" && reminders != 1 || want != "delivered" && reminders != 0 {
			t.Errorf("order %d (%s): %d review reminders", id, want, reminders)
		}
		if want == status.ExceptionKey {
			noPickup++
			if h.count("SELECT COUNT(*) FROM status_log WHERE order_id = ? AND reason = 'no_pickup' AND event_time >= '2000'", id) != 1 {
				t.Errorf("order %d never picked up: not flagged exactly once: %v", id, log[id])
			}
		} else if n := h.count("SELECT COUNT(*) FROM status_log WHERE order_id = ? AND reason = 'no_pickup'", id); n != 0 {
			t.Errorf("order %d was picked up but flagged no_pickup", id)
		}
	}
	if noPickup == 0 {
		t.Error("the plan has no parcel never picked up; the watchdog went untested")
	}
	st := h.sim.Stats()
	// Whether a reordered push lands after the newer one depends on timing (under a loaded
	// machine most arrive before the write-back and are sent again): TestForgedPushes makes a
	// stale push on purpose, so it is not required here.
	if h.pushes("bad_signature") == 0 || h.pushes("duplicate") == 0 {
		t.Errorf("faults not exercised: bad_signature %d, duplicate %d (sim %+v)",
			h.pushes("bad_signature"), h.pushes("duplicate"), st)
	}
	t.Logf("sim %+v; pushes ok %d duplicate %d stale %d bad_signature %d unknown %d; no pickup %d",
		st, h.pushes("ok"), h.pushes("duplicate"), h.pushes("stale"),
		h.pushes("bad_signature"), h.pushes("unknown_waybill"), noPickup)
}

func (h *harness) count(q string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.db.QueryRow(q, args...).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *harness) parcelStatuses() map[int64]string {
	h.t.Helper()
	rows, err := h.db.Query("SELECT order_id, status FROM parcel_status")
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var st string
		if err := rows.Scan(&id, &st); err != nil {
			h.t.Fatal(err)
		}
		out[id] = st
	}
	return out
}

func (h *harness) statusLog() map[int64][]string {
	h.t.Helper()
	rows, err := h.db.Query("SELECT order_id, status FROM status_log ORDER BY id")
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64][]string{}
	for rows.Next() {
		var id int64
		var st string
		if err := rows.Scan(&id, &st); err != nil {
			h.t.Fatal(err)
		}
		out[id] = append(out[id], st)
	}
	return out
}

// TestPollingFallback: a carrier configured without push is polled (Kdniao 1002), and a waybill
// whose pushes were dropped is polled once it has been silent: both end at the carrier's final
// state.
func TestPollingFallback(t *testing.T) {
	for _, tc := range []struct {
		name string
		sim  sim.Config
		set  func(h *harness)
	}{
		{"carrier without push", sim.Config{TimeScale: 4 * 86400, Seed: 11}, func(h *harness) {
			no := false
			h.cfg.Carriers[0].Push = &no
			h.cfg.Carriers[0].PollEvery = 300 * time.Millisecond
		}},
		// Every push is dropped: with only some dropped, all 30 parcels sometimes converged on
		// pushes alone before any went silent, and the test saw no poll (1 run in 9).
		{"silent waybills", sim.Config{PushTo: "push", TimeScale: 4 * 86400, Seed: 12, DropRate: 1}, func(h *harness) {
			h.cfg.Watchdog.SilentAfter = time.Second
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, ids := newHarness(t, "demo", 30, tc.sim)
			h.statusTables()
			tc.set(h)
			h.cfg.Watchdog.ScanEvery = 100 * time.Millisecond
			h.run(false)
			h.waitStarted()
			if err := demo.Pay(context.Background(), h.db, ids); err != nil {
				t.Fatal(err)
			}
			h.waitWritten(ids, 30*time.Second)
			h.waitFinalStatuses(ids, 60*time.Second)
			if h.polls() == 0 || h.sim.Stats().Queries == 0 {
				t.Errorf("converged without polling: polls %d, queries %d", h.polls(), h.sim.Stats().Queries)
			}
		})
	}
}

// TestStuckOrdersReported: paid orders that cannot get a waybill are reported by the watchdog,
// once each.
func TestStuckOrdersReported(t *testing.T) {
	h, ids := newHarness(t, "demo", 4, sim.Config{ErrorRate: 1})
	h.cfg.Watchdog.StuckAfter = 300 * time.Millisecond
	h.cfg.Watchdog.ScanEvery = 50 * time.Millisecond
	h.cfg.Retry.Interval = 100 * time.Millisecond
	h.cfg.Retry.MaxAttempts = 50 // they stay in the retry schedule
	h.run(false)
	h.waitStarted()
	if err := demo.Pay(context.Background(), h.db, ids); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() (bool, string) {
		n := h.stuck()
		return n == int64(len(ids)), fmt.Sprintf("%d of %d stuck orders reported", n, len(ids))
	})
	// More scans report nothing new.
	scans := h.watchdogScans() + 5
	testenv.Eventually(t, 5*time.Second, 20*time.Millisecond, func() (bool, string) {
		return h.watchdogScans() >= scans, "waiting for five more watchdog scans"
	})
	if n := h.stuck(); n != int64(len(ids)) {
		t.Errorf("stuck orders reported %d times, want once each (%d)", n, len(ids))
	}
}

// waitFinalStatuses waits until every order's shop status is the canonical status of its
// waybill's last trace at the simulator.
func (h *harness) waitFinalStatuses(ids []int64, timeout time.Duration) {
	h.t.Helper()
	expected := map[int64]string{}
	for id, r := range h.rows(ids) {
		st, ex, _ := h.sim.Final(r.invoice)
		ev, _ := status.FromKdniao(st, ex)
		expected[id] = string(ev.Status)
	}
	testenv.Eventually(h.t, timeout, 100*time.Millisecond, func() (bool, string) {
		got := h.parcelStatuses()
		for id, want := range expected {
			if got[id] != want {
				return false, fmt.Sprintf("order %d: shop status %q, want %q (polls %d, sim %+v)",
					id, got[id], want, h.polls(), h.sim.Stats())
			}
		}
		return true, ""
	})
}
