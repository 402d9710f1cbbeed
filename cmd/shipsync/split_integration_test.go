package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/sync/pipeline"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
	testkafka "github.com/shipsync/shipsync/testenv/kafka"
)

// splitConfig is the test's config for one process of split mode.
func splitConfig(t *testing.T, mode, dbName, prefix, simURL string, brokers []string) string {
	t.Helper()
	path := testenv.WriteConfig(t, dbName, prefix, simURL,
		[2]string{"mode: all #", "mode: " + mode + " #"},
		[2]string{"leader_ttl: 10s", "leader_ttl: 2s"})
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "\nkafka:\n  brokers: [%s]\n  session_timeout: 6s\n", strings.Join(brokers, ", "))
	return path
}

// TestSplitMode runs one reader (plus a standby) and three workers as real processes on kfake
// while the shop pays 2,000 orders; a worker is killed (its partitions move to the others), a
// fourth joins, and the reader is killed (the standby takes over). Every order gets exactly one
// waybill and one write-back, and the events topic, read with another Kafka client (franz-go),
// holds each order's paid and waybill_created events.
func TestSplitMode(t *testing.T) {
	ctx := context.Background()
	t0 := time.Now()
	const orders = 2000
	db, name := testenv.NewDatabase(t)
	testenv.ExecFile(t, db, testenv.ShopSchema(t, "ecshop.sql"))
	ids, err := demo.Seed(ctx, db, orders, 3)
	if err != nil {
		t.Fatal(err)
	}
	rdb, prefix := testenv.RequireRedis(t)
	store := state.New(rdb, prefix)
	carrier := sim.New(sim.Config{EBusinessID: "test-ebusiness", AppKey: testenv.TestAppKey, Latency: 5 * time.Millisecond})
	srv := httptest.NewServer(carrier)
	defer srv.Close()
	brokers := testkafka.Start(t, "shipsync.orders", "shipsync.events")
	bin := testenv.BuildShipsync(t)

	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		// Where the unshipped orders are, for the failure report.
		rows, err := db.Query("SELECT order_id FROM ecs_order_info WHERE invoice_no = '' AND pay_status = 2 LIMIT 5")
		if err != nil {
			return
		}
		defer rows.Close()
		// Which side lost them: on the orders topic (then a consumer skipped them) or not (then
		// the reader did), and whether a paid event was recorded (the reader saw them).
		where := func(topic string, match func(testkafka.Record, string) bool, id string) string {
			recs, err := testkafka.ReadAll(brokers, topic, 2*time.Second)
			if err != nil {
				return "unreadable: " + err.Error()
			}
			var at []string
			for _, r := range recs {
				if match(r, id) {
					at = append(at, fmt.Sprintf("p%d@%d", r.Partition, r.Offset))
				}
			}
			return fmt.Sprintf("%v of %d records", at, len(recs))
		}
		onOrders := func(r testkafka.Record, id string) bool { return string(r.Key) == id }
		paidEvent := func(r testkafka.Record, id string) bool {
			return string(r.Key) == id && strings.Contains(string(r.Value), `"type":"paid"`)
		}
		for rows.Next() {
			var id string
			rows.Scan(&id) //nolint:errcheck
			rec, ok, err := store.Get(ctx, id)
			t.Logf("unshipped order %s: record %v %+v (err %v); orders topic %s; paid events %s", id, ok, rec, err,
				where("shipsync.orders", onOrders, id), where("shipsync.events", paidEvent, id))
		}
		cp, _, _ := store.LoadCheckpoint(ctx)
		t.Logf("checkpoint %+v; simulator %+v", cp, carrier.Stats())
	})
	readerConf := splitConfig(t, "reader", name, prefix, srv.URL, brokers)
	readers := []*testenv.Daemon{testenv.NewDaemon(t, bin, readerConf), testenv.NewDaemon(t, bin, readerConf)}
	var workers []*testenv.Daemon
	for range 4 {
		w := testenv.NewDaemon(t, bin, splitConfig(t, "worker", name, prefix, srv.URL, brokers))
		// The group's joins, assignments and commits, for a failure report.
		w.Args = []string{"--log-level", "debug"}
		workers = append(workers, w)
	}
	readers[0].Start()
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() (bool, string) {
		_, ok, err := store.LoadCheckpoint(ctx)
		return ok, fmt.Sprintf("reader has not saved a checkpoint (err %v)", err)
	})
	readers[1].Start() // the standby
	for _, w := range workers[:3] {
		w.Start()
	}

	// The shop pays in small transactions throughout.
	payErr := make(chan error, 1)
	go func() {
		for i := 0; i < len(ids); i += 5 {
			if err := demo.Pay(ctx, db, ids[i:min(i+5, len(ids))]); err != nil {
				payErr <- err
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		payErr <- nil
	}()

	waitShipped(t, db, 300)
	t.Logf("%v: 300 shipped: killing worker 0", time.Since(t0))
	workers[0].Stop(syscall.SIGKILL) //nolint:errcheck // killed on purpose
	waitShipped(t, db, 700)
	t.Logf("%v: 700 shipped: worker 3 joins", time.Since(t0))
	workers[3].Start()
	waitShipped(t, db, 1000)
	t.Logf("%v: 1000 shipped: killing the reader", time.Since(t0))
	readers[0].Stop(syscall.SIGKILL) //nolint:errcheck
	if err := <-payErr; err != nil {
		t.Fatal(err)
	}
	t.Logf("%v: all paid", time.Since(t0))
	waitShipped(t, db, orders)
	t.Logf("%v: all shipped", time.Since(t0))
	testenv.Eventually(t, 60*time.Second, 50*time.Millisecond, func() (bool, string) {
		counts, _, err := store.CountByState(ctx)
		return err == nil && counts[state.Written] == orders, fmt.Sprintf("orders by state %v (err %v)", counts, err)
	})

	rows, err := db.Query(`SELECT o.order_id, o.order_sn, o.invoice_no,
		(SELECT COUNT(*) FROM ecs_order_action a WHERE a.order_id = o.order_id AND a.action_user = 'shipsync')
		FROM ecs_order_info o`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	waybills := map[string]string{} // order key -> waybill
	for rows.Next() {
		var id, sn, invoice string
		var notes int
		if err := rows.Scan(&id, &sn, &invoice, &notes); err != nil {
			t.Fatal(err)
		}
		waybills[id] = invoice
		if want, ok := carrier.Waybill(sn); !ok || invoice != want || notes != 1 {
			t.Errorf("order %s: shop waybill %q, simulator %q (%v), %d write-back notes", sn, invoice, want, ok, notes)
		}
	}
	if st := carrier.Stats(); len(waybills) != orders || st.Creates != orders {
		t.Errorf("%d orders in the shop, %d creates at the simulator (%d repeats); want %d each", len(waybills), st.Creates, st.Repeats, orders)
	}

	// The killed processes' events are in the Redis outbox: the others forward them once they
	// have been pending long enough. Then read them all with kgo.
	testenv.Eventually(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
		n, err := store.OutboxDepth(ctx)
		return err == nil && n == 0, fmt.Sprintf("%d events in the outbox (err %v)", n, err)
	})
	for _, d := range append(workers[1:], readers[1]) {
		if err := d.Stop(syscall.SIGTERM); err != nil {
			t.Errorf("SIGTERM: %v", err)
		}
	}
	checkSplitEvents(t, brokers, waybills)
}

// checkSplitEvents reads the events topic until every order has its paid and waybill_created
// events (replays after the kills may add duplicates, never different waybills).
func checkSplitEvents(t *testing.T, brokers []string, waybills map[string]string) {
	t.Helper()
	want := 2 * len(waybills)
	for range 3 {
		recs := testkafka.Consume(t, brokers, "shipsync.events", want, 30*time.Second)
		seen := map[string]map[string]bool{}
		for _, r := range recs {
			var e pipeline.Event
			if err := json.Unmarshal(r.Value, &e); err != nil {
				t.Fatalf("event %s: %v", r.Value, err)
			}
			if string(r.Key) != e.Order {
				t.Errorf("event keyed %q for order %q", r.Key, e.Order)
			}
			if e.Type == pipeline.EventWaybillCreated && e.Waybill != waybills[e.Order] {
				t.Errorf("order %s: event waybill %q, shop %q", e.Order, e.Waybill, waybills[e.Order])
			}
			if seen[e.Order] == nil {
				seen[e.Order] = map[string]bool{}
			}
			seen[e.Order][e.Type] = true
		}
		missing := 0
		for k := range waybills {
			if !seen[k][pipeline.EventPaid] || !seen[k][pipeline.EventWaybillCreated] {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		want = len(recs) + missing
	}
	t.Error("orders without their paid and waybill_created events")
}
