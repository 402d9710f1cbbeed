package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

// withBackup adds a second Kdniao carrier, "backup", as the failover of the default one.
func (h *harness) withBackup() *sim.Server {
	h.t.Helper()
	s := sim.New(sim.Config{EBusinessID: "test-ebusiness", AppKey: testAppKey, Prefix: "BAK"})
	srv := httptest.NewServer(s)
	h.t.Cleanup(srv.Close)
	backup := h.cfg.Carriers[0]
	backup.Name, backup.URL, backup.TrackURL, backup.ShipperCode = "backup", srv.URL+sim.CreatePath, srv.URL+sim.TrackPath, "BAK"
	h.cfg.Carriers = append(h.cfg.Carriers, backup)
	h.cfg.Routing.Failover = []string{"backup"}
	return s
}

func refusedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	return "http://" + addr + "/api/EOrderService"
}

// TestFailover: when the first carrier certainly created nothing (connection refused, circuit
// open) the order goes to the failover carrier, which is recorded and written back; after an
// ambiguous timeout it stays with the first carrier and its OrderCode, never failing over.
func TestFailover(t *testing.T) {
	t.Run("refused connections fail over", func(t *testing.T) {
		h, ids := newHarness(t, "demo", 8, sim.Config{})
		backup := h.withBackup()
		h.cfg.Carriers[0].URL = refusedURL(t)
		h.cfg.Carriers[0].Breaker = config.Breaker{Failures: 3, Cooldown: time.Minute}
		h.run(false)
		h.waitStarted()
		if err := demo.Pay(context.Background(), h.db, ids); err != nil {
			t.Fatal(err)
		}
		h.waitWritten(ids, 30*time.Second)
		for id, r := range h.rows(ids) {
			want, ok := backup.Waybill(r.sn)
			if !ok || r.invoice != want || !strings.HasPrefix(r.invoice, "BAK") {
				t.Errorf("order %d: waybill %q, backup carrier %q", id, r.invoice, want)
			}
			if rec := h.record(id); rec.Carrier != "backup" || rec.ShipperCode != "BAK" {
				t.Errorf("order %d: recorded carrier %q/%q", id, rec.Carrier, rec.ShipperCode)
			}
			if n := h.count("SELECT COUNT(*) FROM ecs_order_action WHERE order_id = ? AND action_note LIKE 'backup waybill %'", id); n != 1 {
				t.Errorf("order %d: the write-back does not name the carrier that made the waybill", id)
			}
		}
		if st := backup.Stats(); st.Creates != int64(len(ids)) {
			t.Errorf("backup %+v", st)
		}
		if open, _ := sample(h.scrape(), `shipsync_carrier_circuit_open{carrier="sim"}`); open != 1 {
			t.Errorf("the refusing carrier's circuit is not open")
		}
	})
	t.Run("an ambiguous timeout never fails over", func(t *testing.T) {
		h, ids := newHarness(t, "demo", 4, sim.Config{TimeoutAfterCommitRate: 1, Hang: 10 * time.Second})
		backup := h.withBackup()
		h.cfg.Carriers[0].Timeout = 300 * time.Millisecond
		h.cfg.Carriers[0].Breaker.Failures = 100
		h.run(false)
		h.waitStarted()
		if err := demo.Pay(context.Background(), h.db, ids); err != nil {
			t.Fatal(err)
		}
		h.waitWritten(ids, 30*time.Second)
		h.assertShipped(ids) // each the first carrier's waybill, recovered with 106
		if st := backup.Stats(); st.Requests != 0 {
			t.Errorf("the backup carrier was asked after an ambiguous timeout: %+v", st)
		}
		if st := h.sim.Stats(); st.Creates != int64(len(ids)) || st.Repeats < int64(len(ids)) {
			t.Errorf("first carrier %+v", st)
		}
	})
}

// TestRoutingByItemsWeight: with no weight_kg in orders.query (the example config), a weight
// rule routes by the items' weight (items_query's weight_kg x quantity).
func TestRoutingByItemsWeight(t *testing.T) {
	h, ids := newHarness(t, "demo", 12, sim.Config{})
	backup := h.withBackup()
	h.cfg.Routing.Failover = nil
	weights := map[int64]float64{}
	rows, err := h.db.Query(`SELECT og.order_id, SUM(g.goods_weight * og.goods_number)
		FROM ecs_order_goods og JOIN ecs_goods g ON g.goods_id = og.goods_id GROUP BY og.order_id`)
	if err != nil {
		t.Fatal(err)
	}
	var all []float64
	for rows.Next() {
		var id int64
		var w float64
		if err := rows.Scan(&id, &w); err != nil {
			t.Fatal(err)
		}
		weights[id] = w
		all = append(all, w)
	}
	rows.Close()
	slices.Sort(all)
	// A limit halfway between two weights near the median: about half the orders are heavy, and
	// none sits on the edge (Go sums the items in floating point).
	i := len(all) / 2
	for i < len(all)-1 && all[i] == all[i-1] {
		i++
	}
	limit := (all[i-1] + all[i]) / 2
	h.cfg.Routing.Rules = []config.Rule{{Carrier: "backup", MinWeightKg: limit}}
	h.run(false)
	h.waitStarted()
	if err := demo.Pay(context.Background(), h.db, ids); err != nil {
		t.Fatal(err)
	}
	h.waitWritten(ids, 30*time.Second)
	heavy := 0
	for _, id := range ids {
		want := "sim"
		if weights[id] > limit {
			want, heavy = "backup", heavy+1
		}
		if rec := h.record(id); rec.Carrier != want {
			t.Errorf("order %d weighing %.2f kg (rule: >= %.3f): carrier %q, want %q", id, weights[id], limit, rec.Carrier, want)
		}
	}
	if heavy == 0 || heavy == len(ids) || backup.Stats().Creates != int64(heavy) {
		t.Errorf("%d heavy orders of %d, backup created %d", heavy, len(ids), backup.Stats().Creates)
	}
}

// TestFailoverWaitsForOpenCircuit: the routed carrier is down (its breaker opens) and the
// failover carrier refuses the order outright (ResultCode 102). Neither created anything, and
// the routed carrier may take it once it is back: the order waits for it, unpinned and out of
// the dead letter, and then ships there, once.
func TestFailoverWaitsForOpenCircuit(t *testing.T) {
	h, ids := newHarness(t, "demo", 1, sim.Config{})
	var refusals atomic.Int64
	backup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refusals.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"EBusinessID":"test-ebusiness","Success":false,"ResultCode":"102","Reason":"收件地址不在服务范围"}`)
	}))
	t.Cleanup(backup.Close)
	b := h.cfg.Carriers[0]
	b.Name, b.URL, b.ShipperCode = "backup", backup.URL+"/api/EOrderService", "BAK"
	h.cfg.Carriers = append(h.cfg.Carriers, b)
	h.cfg.Routing.Failover = []string{"backup"}

	// The routed carrier's address refuses connections until the simulator starts there.
	down := refusedURL(t)
	h.cfg.Carriers[0].URL = down
	h.cfg.Carriers[0].Breaker = config.Breaker{Failures: 1, Cooldown: 2 * time.Second}
	h.cfg.Retry.MaxAttempts = 5
	h.run(false)
	h.waitStarted()
	if err := demo.Pay(context.Background(), h.db, ids); err != nil {
		t.Fatal(err)
	}
	// Both carriers said no at least twice (the breaker is open, the backup refused) and the
	// round was settled, or the order was given up. (The backup counts a refusal before the
	// order's round ends: until then the order is submitting, pinned for the call.)
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() (bool, string) {
		st := h.record(ids[0]).State
		return refusals.Load() >= 2 && st == state.Retry || st == state.Failed,
			fmt.Sprintf("backup asked %d times, order %s", refusals.Load(), st)
	})
	rec := h.record(ids[0])
	if rec.State == state.Failed || rec.Sticky {
		t.Fatalf("after the backup's refusal while the routed carrier's circuit was open: state %s, pinned %v (to %q), last error %q",
			rec.State, rec.Sticky, rec.Carrier, rec.LastError)
	}
	if n, _ := h.store.DeadDepth(context.Background()); n != 0 {
		t.Fatalf("%d orders in the dead letter", n)
	}

	u, err := url.Parse(down)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	recovered := httptest.NewUnstartedServer(h.sim)
	recovered.Listener.Close()
	recovered.Listener = ln
	recovered.Start()
	t.Cleanup(recovered.Close)

	h.waitWritten(ids, 30*time.Second)
	h.assertShipped(ids)
	if rec := h.record(ids[0]); rec.Carrier != "sim" {
		t.Errorf("shipped by %q, want the routed carrier", rec.Carrier)
	}
	if st := h.sim.Stats(); st.Creates != 1 {
		t.Errorf("routed carrier %+v, want one create", st)
	}
}
