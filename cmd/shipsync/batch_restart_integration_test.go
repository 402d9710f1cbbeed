package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

// TestRestartWithBatchesInFlight is TestRestartMidStream with the shipping path's batches:
// workers.batch 128, several batches at once, and a slow carrier, so that each SIGKILL lands
// while several batches of up to 128 orders are at the carrier (marked submitting, some
// created, some not yet asked). After every restart each order still gets exactly one waybill,
// written once: the simulator creates one per order code, and an order asked again after the
// kill gets the same waybill back (106).
func TestRestartWithBatchesInFlight(t *testing.T) {
	const orders = 1000
	ctx := context.Background()
	t0 := time.Now()
	db, name := testenv.NewDatabase(t)
	testenv.ExecFile(t, db, testenv.ShopSchema(t, "ecshop.sql"))
	ids, err := demo.Seed(ctx, db, orders, 3)
	if err != nil {
		t.Fatal(err)
	}
	rdb, prefix := testenv.RequireRedis(t)
	store := state.New(rdb, prefix)
	carrier := sim.New(sim.Config{EBusinessID: "test-ebusiness", AppKey: testenv.TestAppKey, Latency: 300 * time.Millisecond,
		TimeoutAfterCommitRate: 0.02, Hang: 10 * time.Second})
	srv := httptest.NewServer(carrier)
	defer srv.Close()

	conf := testenv.WriteConfig(t, name, prefix, srv.URL,
		[2]string{"max_in_flight: auto", "max_in_flight: 32"}) // ~100 creates/s: batches queue at the carrier
	t.Setenv("SHOP_DB_PASSWORD", testenv.MySQLPassword())
	t.Setenv("KDNIAO_APP_KEY", testenv.TestAppKey)
	cfg, err := config.Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Workers.Batch != 128 || cfg.Workers.Batches < 4 {
		t.Fatalf("workers.batch %d, workers.batches %d: the test needs batches of 128, several at once",
			cfg.Workers.Batch, cfg.Workers.Batches)
	}

	d := testenv.NewDaemon(t, testenv.BuildShipsync(t), conf)
	start := time.Now()
	d.Start()
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() (bool, string) {
		_, ok, err := store.LoadCheckpoint(ctx)
		return ok, fmt.Sprintf("daemon not started (err %v)", err)
	})
	if err := demo.Pay(ctx, db, ids); err != nil {
		t.Fatal(err)
	}
	t.Logf("%v: %d orders paid", time.Since(t0), orders)

	for _, after := range []int{100, 450} {
		batches := waitBatchesInFlight(t, store, ids, start, func() bool { return shippedCount(t, db) >= after })
		t.Logf("%v: %d shipped, batches in flight (orders each) %v: SIGKILL", time.Since(t0), shippedCount(t, db), batches)
		if err := d.Stop(syscall.SIGKILL); err == nil {
			t.Fatal("SIGKILL: the daemon exited cleanly; it was not running")
		}
		start = time.Now()
		d.Start()
	}

	waitShipped(t, db, orders)
	t.Logf("%v: all shipped", time.Since(t0))
	testenv.Eventually(t, 60*time.Second, 50*time.Millisecond, func() (bool, string) {
		counts, _, err := store.CountByState(ctx)
		return err == nil && counts[state.Written] == orders, fmt.Sprintf("orders by state %v (err %v)", counts, err)
	})
	rows, err := db.Query(`SELECT o.order_sn, o.invoice_no,
		(SELECT COUNT(*) FROM ecs_order_action a WHERE a.order_id = o.order_id AND a.action_user = 'shipsync')
		FROM ecs_order_info o`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n, bad := 0, 0
	for rows.Next() {
		var sn, invoice string
		var notes int
		if err := rows.Scan(&sn, &invoice, &notes); err != nil {
			t.Fatal(err)
		}
		n++
		if want, ok := carrier.Waybill(sn); !ok || invoice != want || notes != 1 {
			if bad++; bad <= 20 {
				t.Errorf("order %s: shop waybill %q, simulator %q (%v), %d write-back notes", sn, invoice, want, ok, notes)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	st := carrier.Stats()
	if n != orders || st.Creates != orders {
		t.Errorf("%d orders in the shop, %d creates at the simulator (%d repeats); want %d each", n, st.Creates, st.Repeats, orders)
	}
	if bad > 0 {
		t.Errorf("%d orders without exactly one waybill written once", bad)
	}
	t.Logf("simulator after 2 kills: %+v", st)
	if err := d.Stop(syscall.SIGTERM); err != nil {
		t.Fatalf("final SIGTERM: %v", err)
	}
}

// waitBatchesInFlight waits until the daemon started at start has at least three batches at
// the carrier, one of them with 100 orders or more, and more holds; it returns the batches'
// sizes. A batch's orders share the claim's owner token ("<process>:<n>"), so the orders
// this run marked submitting (updated since start, lease held) tell the batches apart.
func waitBatchesInFlight(t *testing.T, store *state.Store, ids []int64, start time.Time, more func() bool) map[string]int {
	t.Helper()
	var batches map[string]int
	testenv.Eventually(t, 120*time.Second, 20*time.Millisecond, func() (bool, string) {
		if !more() {
			return false, "not far enough yet"
		}
		batches = map[string]int{}
		now := time.Now()
		for _, id := range ids {
			r, ok, err := store.Get(context.Background(), fmt.Sprint(id))
			if err != nil {
				return false, err.Error()
			}
			if ok && r.State == state.Submitting && !r.UpdatedAt.Before(start) && r.LeaseUntil.After(now) && r.LeaseOwner != "" {
				batches[r.LeaseOwner]++
			}
		}
		largest := 0
		for _, n := range batches {
			largest = max(largest, n)
			if n > 128 {
				t.Fatalf("a batch of %d orders in flight; workers.batch is 128 (%v)", n, batches)
			}
		}
		return len(batches) >= 3 && largest >= 100, fmt.Sprintf("batches in flight since the start: %v", batches)
	})
	return batches
}

// shippedCount is how many orders have a waybill in the shop.
func shippedCount(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM ecs_order_info WHERE invoice_no <> ''").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
