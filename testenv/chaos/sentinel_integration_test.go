package chaos

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

// TestSentinelFailover: the daemon keeps its state in a Sentinel-monitored master
// (state.redis.addrs + master_name); while orders are paid steadily the master is SIGKILLed,
// the Sentinels promote the replica, and still every order ends with exactly one waybill in the
// shop, equal to the carrier's, one history note, and one waybill allocated at the carrier.
// Replication is asynchronous, so writes acknowledged just before the kill may be lost: a
// second create request for an order may reach the carrier, which answers it 106 with the same
// waybill; the verdict line counts those repeats.
func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts its own Redis master, replica and Sentinels; skipped under -short")
	}
	orders, spread := 200, 8*time.Second
	rs := testenv.StartRedisSentinel(t, 3)
	ctx := context.Background()
	db, name := testenv.NewDatabase(t)
	testenv.ExecFile(t, db, testenv.ShopSchema(t, "ecshop.sql"))
	ids, err := demo.Seed(ctx, db, orders, 5)
	if err != nil {
		t.Fatal(err)
	}
	car := sim.New(sim.Config{EBusinessID: "test-ebusiness", AppKey: testenv.TestAppKey, Latency: 5 * time.Millisecond, Seed: 5})
	srv := httptest.NewServer(car)
	defer srv.Close()

	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	prefix := "shipsync-sentinel:"
	text, err := testenv.RenderConfig(root, testenv.ConfigTarget{DB: name, Prefix: prefix, CarrierURL: srv.URL,
		MySQLAddr: testenv.MySQLAddr(), RedisAddr: `""`, Listen: "127.0.0.1:0"},
		[2]string{"interval: 5s", "interval: 200ms"},
		[2]string{"addrs: [] # default none", "addrs: [" + strings.Join(rs.Sentinels, ", ") + "]"},
		[2]string{`master_name: "" #`, "master_name: " + testenv.SentinelMaster + " #"},
		[2]string{"max_attempts: 3", "max_attempts: 40"},
		[2]string{"backoff: fixed", "backoff: exponential"},
		[2]string{"max_interval: 5m", "max_interval: 2s"},
		[2]string{"    timeout: 5s", "    timeout: 1s"})
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	store := state.New(rs.Client(), prefix)
	d := testenv.NewDaemon(t, testenv.BuildShipsync(t), conf)
	d.Start()
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() (bool, string) {
		_, ok, err := store.LoadCheckpoint(ctx)
		return ok, fmt.Sprintf("daemon not started (err %v)", err)
	})

	payDone := make(chan error, 1)
	go func() {
		for _, id := range ids {
			if _, err := db.Exec("UPDATE ecs_order_info SET pay_status = 2, pay_time = UNIX_TIMESTAMP(), order_status = 1 WHERE order_id = ?", id); err != nil {
				payDone <- err
				return
			}
			time.Sleep(spread / time.Duration(len(ids)))
		}
		payDone <- nil
	}()

	// Kill the master once a third of the orders are written back: claims, creates and
	// write-backs are in flight at a steady rate then.
	shopWritten := func() int {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM ecs_order_info WHERE invoice_no <> ''").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	testenv.Eventually(t, 30*time.Second, 5*time.Millisecond, func() (bool, string) {
		n := shopWritten()
		return n >= orders/3, fmt.Sprintf("%d of %d orders written before the kill", n, orders)
	})
	atKill := shopWritten()
	killed := time.Now()
	old := rs.KillMaster()
	promoted := rs.WaitFailover(old)
	failover := time.Since(killed)
	if err := <-payDone; err != nil {
		t.Fatalf("the shop could not pay: %v", err)
	}

	testenv.Eventually(t, 90*time.Second, 100*time.Millisecond, func() (bool, string) {
		states, _, err := store.CountByState(ctx)
		if err != nil {
			return false, err.Error()
		}
		n := shopWritten()
		return n == orders && states[state.Written] == orders,
			fmt.Sprintf("%d of %d written in the shop; orders by state in Redis %v", n, orders, states)
	})
	waybilled, _ := verify(t, db, store, car, nil)
	st := car.Stats()
	verdict := "PASS"
	if t.Failed() {
		verdict = "FAIL"
	}
	fmt.Printf("sentinel verdict: %s orders=%d waybilled=%d creates=%d repeats=%d written_at_kill=%d master %s killed, %s promoted after %s\n",
		verdict, len(ids), waybilled, st.Creates, st.Repeats, atKill, old, promoted, failover.Round(time.Millisecond))
	if err := d.Stop(syscall.SIGTERM); err != nil {
		t.Errorf("final SIGTERM: %v", err)
	}
}
