package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

// TestRestartMidStream kills the daemon (SIGKILL twice, SIGTERM once) while a shop keeps paying
// orders, and restarts it each time: nothing is lost and nothing is shipped twice. (A restart
// resumes at the checkpoint; the backfill only runs without one: TestPaidOrdersOnECShopSchema.)
func TestRestartMidStream(t *testing.T) {
	ctx := context.Background()
	t0 := time.Now()
	db, name := testenv.NewDatabase(t)
	testenv.ExecFile(t, db, testenv.ShopSchema(t, "ecshop.sql"))
	ids, err := demo.Seed(ctx, db, 400, 2)
	if err != nil {
		t.Fatal(err)
	}
	rdb, prefix := testenv.RequireRedis(t)
	store := state.New(rdb, prefix)
	carrier := sim.New(sim.Config{EBusinessID: "test-ebusiness", AppKey: testenv.TestAppKey, Latency: 20 * time.Millisecond,
		TimeoutAfterCommitRate: 0.05, Hang: 10 * time.Second})
	srv := httptest.NewServer(carrier)
	defer srv.Close()

	d := testenv.NewDaemon(t, testenv.BuildShipsync(t), testenv.WriteConfig(t, name, prefix, srv.URL))
	d.Start()
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() (bool, string) {
		_, ok, err := store.LoadCheckpoint(ctx)
		return ok, fmt.Sprintf("daemon not started (err %v)", err)
	})

	// The shop pays one order every few milliseconds throughout.
	var wg sync.WaitGroup
	wg.Add(1)
	payErr := make(chan error, 1)
	go func() {
		defer wg.Done()
		for i := range ids {
			if err := demo.Pay(ctx, db, ids[i:i+1]); err != nil {
				payErr <- err
				return
			}
			time.Sleep(3 * time.Millisecond)
		}
	}()

	for i, step := range []struct {
		after int
		sig   syscall.Signal
	}{{60, syscall.SIGKILL}, {150, syscall.SIGTERM}, {250, syscall.SIGKILL}} {
		waitShipped(t, db, step.after)
		t.Logf("%v: %d shipped: stopping with %v", time.Since(t0), step.after, step.sig)
		err := d.Stop(step.sig)
		if step.sig == syscall.SIGTERM && err != nil {
			t.Fatalf("SIGTERM: daemon exited with %v, want a clean exit", err)
		}
		time.Sleep(time.Duration(50+i*100) * time.Millisecond) // let the shop pay while it is down
		d.Start()
	}
	wg.Wait()
	select {
	case err := <-payErr:
		t.Fatal(err)
	default:
	}
	t.Logf("%v: all paid", time.Since(t0))
	waitShipped(t, db, len(ids))
	t.Logf("%v: all shipped", time.Since(t0))

	// A waybill may be in the shop before its note: an order cut between the two statements is
	// completed by its retry. Wait until every order is settled in Redis.
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		counts, _, err := store.CountByState(ctx)
		return err == nil && counts[state.Written] == len(ids), fmt.Sprintf("orders by state %v (err %v)", counts, err)
	})
	rows, err := db.Query(`SELECT o.order_sn, o.invoice_no,
		(SELECT COUNT(*) FROM ecs_order_action a WHERE a.order_id = o.order_id AND a.action_user = 'shipsync')
		FROM ecs_order_info o`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var sn, invoice string
		var notes int
		if err := rows.Scan(&sn, &invoice, &notes); err != nil {
			t.Fatal(err)
		}
		n++
		if want, ok := carrier.Waybill(sn); !ok || invoice != want || notes != 1 {
			t.Errorf("order %s: shop waybill %q, simulator %q (%v), %d write-back notes", sn, invoice, want, ok, notes)
		}
	}
	st := carrier.Stats()
	if n != len(ids) || st.Creates != int64(len(ids)) {
		t.Errorf("%d orders in the shop, %d creates at the simulator (%d repeats); want %d each", n, st.Creates, st.Repeats, len(ids))
	}
	t.Logf("simulator after 3 restarts: %+v", st)
	if err := d.Stop(syscall.SIGTERM); err != nil {
		t.Fatalf("final SIGTERM: %v", err)
	}
}

func waitShipped(t *testing.T, db *sql.DB, n int) {
	t.Helper()
	testenv.Eventually(t, 90*time.Second, 20*time.Millisecond, func() (bool, string) {
		var got int
		if err := db.QueryRow("SELECT COUNT(*) FROM ecs_order_info WHERE invoice_no <> ''").Scan(&got); err != nil {
			return false, err.Error()
		}
		return got >= n, fmt.Sprintf("%d orders shipped, waiting for %d", got, n)
	})
}
