package pipeline_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

// TestReloadSwitchesCarrier: one reload sends every new order to another carrier while orders
// are in flight at the first; none is dropped or shipped twice, and a change only a restart
// applies is named.
func TestReloadSwitchesCarrier(t *testing.T) {
	h, ids := newHarness(t, "demo", 20, sim.Config{Latency: 200 * time.Millisecond})
	backup := h.withBackup()
	h.cfg.Routing.Failover = nil
	h.run(false)
	h.waitStarted()
	first, second := ids[:10], ids[10:]
	if err := demo.Pay(context.Background(), h.db, first); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, 5*time.Millisecond, func() (bool, string) {
		return h.sim.Stats().Requests >= 1, "no create in flight yet"
	})
	next := *h.cfg
	next.Routing.Default = "backup"
	next.Shop.MaxConns++
	restart, err := h.p.Reload(&next)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(restart, []string{"shop"}) {
		t.Errorf("needs a restart: %v, want [shop]", restart)
	}
	if err := demo.Pay(context.Background(), h.db, second); err != nil {
		t.Fatal(err)
	}
	h.waitWritten(ids, 30*time.Second)
	rows := h.rows(ids)
	for _, id := range ids {
		rec := h.record(id)
		want, _ := h.sim.Waybill(rows[id].sn)
		if rec.Carrier == "backup" {
			want, _ = backup.Waybill(rows[id].sn)
		}
		if rows[id].invoice != want || rows[id].actions != 1 {
			t.Errorf("order %d: waybill %q (carrier %s has %q), %d notes", id, rows[id].invoice, rec.Carrier, want, rows[id].actions)
		}
		if slices.Contains(second, id) && rec.Carrier != "backup" {
			t.Errorf("order %d, paid after the reload, went to %s", id, rec.Carrier)
		}
	}
	a, b := h.sim.Stats().Creates, backup.Stats().Creates
	if a+b != int64(len(ids)) || a == 0 {
		t.Errorf("creates: first carrier %d, backup %d; want %d in all, some at the first", a, b, len(ids))
	}
}
