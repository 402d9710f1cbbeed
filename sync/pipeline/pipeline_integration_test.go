package pipeline_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/testenv/demo"
)

// TestPaidOrdersOnECShopSchema is the core contract on ECShop's real install schema (MyISAM):
// every paid-and-eligible order gets exactly one waybill and one write-back, whatever way it
// became paid; unpaid and cancelled orders are untouched; the checkpoint reaches the binlog end.
func TestPaidOrdersOnECShopSchema(t *testing.T) {
	h, ids := newHarness(t, "ecshop", 410, sim.Config{PickupAfter: 2 * time.Hour})
	ctx := context.Background()
	backfilled, oneByOne, multiRow := ids[0:10], ids[10:210], ids[210:310]
	neverPaid, cancelled := ids[310:360], ids[360:410]

	// Paid while shipsync had never run: the first start's backfill ships them.
	if err := demo.Pay(ctx, h.db, backfilled); err != nil {
		t.Fatal(err)
	}
	h.run(false)
	h.waitStarted()

	if err := demo.Pay(ctx, h.db, oneByOne); err != nil {
		t.Fatal(err)
	}
	// One statement, one binlog transaction, a hundred paid rows.
	h.exec("UPDATE ecs_order_info SET pay_status = 2, pay_time = UNIX_TIMESTAMP() WHERE order_id BETWEEN ? AND ?",
		multiRow[0], multiRow[len(multiRow)-1])
	insertedPaid := h.insertPaidOrders(100)
	h.payThenCancel(cancelled)

	shipped := append(append(append(append([]int64{}, backfilled...), oneByOne...), multiRow...), insertedPaid...)
	h.waitWritten(shipped, 90*time.Second)
	h.waitState(cancelled, state.Skipped)
	h.waitCaughtUp()

	h.assertShipped(shipped)
	h.assertUntouched(neverPaid)
	h.assertUntouched(cancelled)
	st := h.sim.Stats()
	if st.Creates != int64(len(shipped)) || st.Repeats != 0 {
		t.Errorf("simulator: %d creates, %d repeats; want %d creates, 0 repeats", st.Creates, st.Repeats, len(shipped))
	}
	for _, id := range insertedPaid[:3] {
		if r := h.record(id); r.State != state.Written || r.PickupTime == "" {
			t.Errorf("order %d record: %+v", id, r)
		}
	}
}

// insertPaidOrders inserts n orders already paid, as ECShop does for zero-amount orders, and
// writes their items only after all the order rows: the first reads find no items.
func (h *harness) insertPaidOrders(n int) []int64 {
	h.t.Helper()
	ctx := context.Background()
	conn, err := h.db.Conn(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET SESSION sql_mode = ''"); err != nil {
		h.t.Fatal(err)
	}
	var ids []int64
	for i := 0; i < n; i++ {
		res, err := conn.ExecContext(ctx, `INSERT INTO ecs_order_info
			(order_sn, order_status, shipping_status, pay_status, consignee, country, province, city, district,
			 address, zipcode, tel, mobile, add_time, pay_time, invoice_no)
			SELECT ?, 1, 0, 2, consignee, country, province, city, district, address, zipcode, tel, mobile,
			       UNIX_TIMESTAMP(), UNIX_TIMESTAMP(), ''
			  FROM ecs_order_info ORDER BY order_id LIMIT 1`, fmt.Sprintf("P%08d%04d", time.Now().UnixMilli()%1e8, i))
		if err != nil {
			h.t.Fatal(err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			h.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		if _, err := conn.ExecContext(ctx, `INSERT INTO ecs_order_goods
			(order_id, goods_id, goods_name, goods_sn, goods_number, goods_price, goods_attr)
			SELECT ?, goods_id, goods_name, goods_sn, 2, shop_price, '' FROM ecs_goods ORDER BY goods_id LIMIT 1`, id); err != nil {
			h.t.Fatal(err)
		}
	}
	return ids
}

// payThenCancel pays and cancels orders under a table lock, so shipsync's read of each paid
// order waits until it is already cancelled (deterministically "cancelled before enrichment").
func (h *harness) payThenCancel(ids []int64) {
	h.t.Helper()
	ctx := context.Background()
	conn, err := h.db.Conn(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "LOCK TABLES ecs_order_info WRITE"); err != nil {
		h.t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := conn.ExecContext(ctx, "UPDATE ecs_order_info SET pay_status = 2 WHERE order_id = ?", id); err != nil {
			h.t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, "UPDATE ecs_order_info SET order_status = 2 WHERE order_id = ?", id); err != nil {
			h.t.Fatal(err)
		}
	}
	if _, err := conn.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
		h.t.Fatal(err)
	}
}

// TestTimeoutAfterCommit: the carrier creates the waybill but answers too late; the retry gets
// 106 and the same waybill, so the shop still gets exactly one.
func TestTimeoutAfterCommit(t *testing.T) {
	h, ids := newHarness(t, "demo", 5, sim.Config{TimeoutAfterCommitRate: 1, Hang: 10 * time.Second})
	h.cfg.Carriers[0].Timeout = 300 * time.Millisecond
	h.cfg.Carriers[0].Breaker.Failures = 100 // slow, not down: keep the circuit closed here
	h.run(false)
	h.waitStarted()
	if err := demo.Pay(context.Background(), h.db, ids); err != nil {
		t.Fatal(err)
	}
	h.waitWritten(ids, 30*time.Second)
	h.assertShipped(ids)
	st := h.sim.Stats()
	if st.Creates != 5 || st.Timeouts != 5 || st.Repeats < 5 {
		t.Errorf("simulator %+v: want 5 creates, 5 timeouts, every retry a repeat", st)
	}
	for _, id := range ids {
		if r := h.record(id); r.Attempts != 1 {
			t.Errorf("order %d: %d failed attempts recorded, want 1", id, r.Attempts)
		}
	}
}

// TestBadInput: an order without an address goes to the dead letter with its reason and is not
// sent; an order whose row already has another waybill is left untouched and recorded as a
// conflict.
func TestBadInput(t *testing.T) {
	h, ids := newHarness(t, "demo", 4, sim.Config{})
	noAddress, conflict, fine := ids[0], ids[1], ids[2:]
	h.exec("UPDATE ecs_order_info SET address = '' WHERE order_id = ?", noAddress)
	h.exec("UPDATE ecs_order_info SET invoice_no = 'SHOP-MANUAL-1' WHERE order_id = ?", conflict)
	h.run(false)
	h.waitStarted()
	if err := demo.Pay(context.Background(), h.db, ids); err != nil {
		t.Fatal(err)
	}
	h.waitWritten(fine, 30*time.Second)
	h.waitState([]int64{noAddress}, state.Failed)
	h.waitState([]int64{conflict}, state.Conflict)
	h.assertShipped(fine)

	r := h.record(noAddress)
	if !strings.Contains(r.LastError, "receiver_address") {
		t.Errorf("dead letter reason %q does not name the missing address", r.LastError)
	}
	dead, err := h.store.DeadKeys(context.Background())
	if err != nil || len(dead) != 1 || dead[0] != fmt.Sprint(noAddress) {
		t.Errorf("dead letter holds %v (%v), want [%d]", dead, err, noAddress)
	}
	rows := h.rows([]int64{noAddress, conflict})
	if rows[noAddress].invoice != "" {
		t.Errorf("dead-lettered order got a waybill: %+v", rows[noAddress])
	}
	if got := rows[conflict]; got.invoice != "SHOP-MANUAL-1" || got.actions != 0 {
		t.Errorf("conflicting order was changed: %+v", got)
	}
	if _, ok := h.sim.Waybill(rows[noAddress].sn); ok {
		t.Error("the carrier was asked for an order without address")
	}

	// The shop fixes the address and the operator sends the order back (shipsync dlq retry):
	// it follows the normal path and ships once.
	h.exec("UPDATE ecs_order_info SET address = '三里屯路1号' WHERE order_id = ?", noAddress)
	if ok, err := h.store.Revive(context.Background(), fmt.Sprint(noAddress), ""); err != nil || !ok {
		t.Fatalf("revive: %v %v", ok, err)
	}
	h.waitWritten([]int64{noAddress}, 30*time.Second)
	h.assertShipped([]int64{noAddress})
	if dead, _ := h.store.DeadKeys(context.Background()); len(dead) != 0 {
		t.Errorf("dead letter after the retry: %v", dead)
	}
}
