package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/sync/statuspage"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

// TestConsole drives the console's reads and its carrier pause against a running pipeline:
// the history counts the orders shipped and the carrier's creates, an order's page holds its
// timeline from detection to the shop's statements, a search finds an order by key, code and
// waybill, a paused carrier's new orders go to the failover (checked in the shop table and
// both simulators' ledgers) until it is resumed, and a refused order appears in the dead
// letter's panel with its reason.
func TestConsole(t *testing.T) {
	h, ids := newHarness(t, "demo", 9, sim.Config{})
	backup := h.withBackup()
	stop := h.run(false)
	h.waitStarted()
	ctx := context.Background()
	c := h.p.Console()
	pay := func(ids ...int64) {
		t.Helper()
		if err := demo.Pay(ctx, h.db, ids); err != nil {
			t.Fatal(err)
		}
	}
	first, paused, after, refused := ids[:3], ids[3:6], ids[6:8], ids[8]

	pay(first...)
	h.waitWritten(first, 30*time.Second)
	testenv.Eventually(t, 10*time.Second, 50*time.Millisecond, func() (bool, string) {
		s, err := c.Series(ctx, "1h")
		if err != nil {
			return false, err.Error()
		}
		var shipped, requests int64
		for _, p := range s.Points {
			shipped += p.Shipped
			requests += p.Carriers["sim"].Requests
		}
		return shipped == 3 && requests == 3 && s.StepSeconds == 10,
			fmt.Sprintf("history: %d shipped, %d requests in %d points", shipped, requests, len(s.Points))
	})
	day, err := c.Series(ctx, "1d")
	if err != nil || len(day.Points) == 0 || day.StepSeconds != 300 {
		t.Fatalf("the day's history: %+v %v", day, err)
	}

	// One order's page: its timeline from detection to the write-back, by statement name.
	key := strconv.FormatInt(first[0], 10)
	row := h.rows(first)[first[0]]
	page, ok, err := c.Order(ctx, key)
	if err != nil || !ok {
		t.Fatalf("order page: %v %v", ok, err)
	}
	if page.Waybill != row.invoice || page.OrderCode != row.sn || page.State != "written" {
		t.Errorf("order page %+v; the shop holds %+v", page, row)
	}
	var kinds []string
	for _, s := range page.Timeline {
		kinds = append(kinds, s.Kind)
	}
	if got := strings.Join(kinds, " "); got != "detected submitting waybill written" {
		t.Errorf("timeline %q", got)
	}
	if n := len(page.Timeline); n == 4 && page.Timeline[3].Text != "wrote writeback.waybill[0], writeback.waybill[1]" {
		t.Errorf("write-back step %q: want the statements' names", page.Timeline[3].Text)
	}
	for _, q := range []struct{ ref, matched string }{{key, "order"}, {row.sn, "order_code"}, {row.invoice, "waybill"}} {
		rows, err := c.Search(ctx, q.ref)
		if err != nil || len(rows) != 1 || rows[0].Key != key || rows[0].Matched != q.matched {
			t.Errorf("search %q: %+v %v", q.ref, rows, err)
		}
	}
	if rows, _ := c.Search(ctx, "NO-SUCH-ORDER"); len(rows) != 0 {
		t.Errorf("search for nothing found %+v", rows)
	}

	// Paused: new orders go to the failover, and the pause shows on the status page.
	if err := c.Pause(ctx, "nope", true); !errors.Is(err, statuspage.ErrUnknownCarrier) {
		t.Fatalf("pausing an unknown carrier: %v", err)
	}
	if err := c.Pause(ctx, "sim", true); err != nil {
		t.Fatal(err)
	}
	if s, _ := h.p.Snapshot(ctx); !s.Carriers[0].Paused || s.Carriers[1].Paused {
		t.Errorf("snapshot carriers %+v: want sim paused", s.Carriers)
	}
	pay(paused...)
	h.waitWritten(paused, 30*time.Second)
	for id, r := range h.rows(paused) {
		if want, ok := backup.Waybill(r.sn); !ok || r.invoice != want {
			t.Errorf("order %d paid while sim was paused: waybill %q, backup made %q", id, r.invoice, want)
		}
	}
	if err := c.Pause(ctx, "sim", false); err != nil {
		t.Fatal(err)
	}
	pay(after...)
	h.waitWritten(after, 30*time.Second)
	for id, r := range h.rows(after) {
		if want, ok := h.sim.Waybill(r.sn); !ok || r.invoice != want {
			t.Errorf("order %d paid after the resume: waybill %q, sim made %q", id, r.invoice, want)
		}
	}
	if st, bst := h.sim.Stats(), backup.Stats(); st.Creates != 5 || bst.Creates != 3 {
		t.Errorf("creates: sim %d (want 5), backup %d (want 3)", st.Creates, bst.Creates)
	}

	// A refused order: in the dead letter's panel with its reason, and its page says so.
	h.exec("UPDATE ecs_order_info SET mobile = '12', tel = '' WHERE order_id = ?", refused)
	pay(refused)
	rkey := strconv.FormatInt(refused, 10)
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		s, err := c.Stuck(ctx)
		if err != nil {
			return false, err.Error()
		}
		for _, d := range s.Dead {
			if d.Key == rkey {
				return strings.Contains(d.Reason, "receiver_mobile"), "reason " + d.Reason
			}
		}
		return false, fmt.Sprintf("dead letter panel %+v", s.Dead)
	})
	page, _, _ = c.Order(ctx, rkey)
	if !page.InDeadLetter || page.Timeline[len(page.Timeline)-1].Kind != "failed" {
		t.Errorf("refused order's page: in dead letter %v, timeline %+v", page.InDeadLetter, page.Timeline)
	}
	// Refused before any carrier was asked, it is still found by its order code.
	rsn := h.rows([]int64{refused})[refused].sn
	if rows, err := c.Search(ctx, rsn); err != nil || len(rows) != 1 || rows[0].Key != rkey || page.OrderCode != rsn {
		t.Errorf("search for the refused order's code %s: %+v %v (its page says %q)", rsn, rows, err, page.OrderCode)
	}

	// After a restart the status page still shows the latest orders and the carriers' creates
	// (they come from Redis), and the carrier stays paused.
	if err := c.Pause(ctx, "backup", true); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	h.run(false)
	h.waitStarted()
	testenv.Eventually(t, 10*time.Second, 50*time.Millisecond, func() (bool, string) {
		s, err := h.p.Snapshot(ctx)
		if err != nil {
			return false, err.Error()
		}
		var got []string
		for _, r := range s.Latest {
			got = append(got, r.Key)
		}
		// Newest first: the two paid last lead (in either order: one batch shipped them).
		want := []string{strconv.FormatInt(after[0], 10), strconv.FormatInt(after[1], 10)}
		ok := len(got) == 8 && slices.Contains(want, got[0]) && slices.Contains(want, got[1]) && s.Latest[0].Waybill != "" &&
			s.Carriers[0].Requests == 5 && s.Carriers[1].Requests == 3 && s.Carriers[1].Paused && !s.Carriers[0].Paused
		raw, _ := h.rdb.LRange(ctx, h.cfg.State.Redis.Prefix+"latest", 0, -1).Result()
		return ok, fmt.Sprintf("after a restart: latest %v (want 8, newest %v; redis %v), carriers %+v", got, want, raw, s.Carriers)
	})
}
