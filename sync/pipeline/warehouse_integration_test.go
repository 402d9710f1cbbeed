package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/sinks/label"
	"github.com/shipsync/shipsync/sinks/shopdb"
	"github.com/shipsync/shipsync/sync/carrier"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/parcel"
	"github.com/shipsync/shipsync/sync/pipeline"
	"github.com/shipsync/shipsync/sync/ship"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/sync/statuspage"
	"github.com/shipsync/shipsync/testenv"
)

// TestWarehouseDay ships orders with labels on, heavy orders as several parcels and three
// warehouses, and checks what reached the shop, the simulator and Redis: every order leaves
// from the warehouse that serves its province (or the nearest), each parcel has its own child
// waybill and label, the shop's invoice_no holds every number joined by <br>, pushes that name
// a child waybill are taken, and the labels print as one PDF with one page per parcel.
func TestWarehouseDay(t *testing.T) {
	const n = 24
	h, ids := newHarness(t, "demo", n, sim.Config{PushTo: "push", TimeScale: 200_000})
	ctx := context.Background()
	h.cfg.Labels.Enabled, h.cfg.Labels.TemplateSize = true, "150"
	h.cfg.Carriers[0].Parcels = &config.Parcels{MaxKg: 5, Max: 4}
	sender := func(name, province, city string) config.Address {
		return config.Address{Name: name, Mobile: "13800138000", Province: province, City: city, District: "中心区", Address: "仓储路1号"}
	}
	h.cfg.Warehouses = []config.Warehouse{
		{Name: "north", Sender: sender("北京仓", "北京", "北京市"), Serves: []string{"北京", "Tianjin"}},
		{Name: "east", Sender: sender("上海仓", "上海", "上海市"), Serves: []string{"Shanghai", "CN-ZJ", "江苏省"}, Default: true},
		{Name: "south", Sender: sender("广州仓", "广东省", "广州市"), Serves: []string{"广东"}},
	}
	h.cfg.Writeback.Waybill = append(h.cfg.Writeback.Waybill,
		"UPDATE ecs_order_info SET postscript = CONCAT('warehouse ', :warehouse, ', parcels ', :parcels) WHERE order_id = :key")
	// Unserved provinces go to the nearest warehouse by the capitals' distance: 成都 is nearer
	// 广州 (1,240 km) than 北京 or 上海, 武汉 nearer 上海 (690 km), 西安 nearer 北京 (910 km).
	want := map[string]string{"北京": "north", "天津": "north", "上海": "east", "浙江": "east", "江苏": "east",
		"广东": "south", "四川": "south", "湖北": "east", "陕西": "north"}
	names := map[string]string{"north": "北京仓", "east": "上海仓", "south": "广州仓"}

	stop := h.run(false)
	h.waitStarted()
	h.exec("UPDATE ecs_order_info SET pay_status = 2, pay_time = UNIX_TIMESTAMP() WHERE order_id BETWEEN ? AND ?", ids[0], ids[n-1])
	h.waitWritten(ids, 60*time.Second)

	type order struct {
		sn, province, invoice, postscript string
		weight                            float64
	}
	orders := map[int64]order{}
	rows, err := h.db.Query(`SELECT o.order_id, o.order_sn, r.region_name, o.invoice_no, o.postscript,
		(SELECT SUM(g.goods_weight * og.goods_number) FROM ecs_order_goods og JOIN ecs_goods g ON g.goods_id = og.goods_id WHERE og.order_id = o.order_id)
		FROM ecs_order_info o JOIN ecs_region r ON r.region_id = o.province WHERE o.order_id BETWEEN ? AND ?`, ids[0], ids[n-1])
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var o order
		if err := rows.Scan(&id, &o.sn, &o.province, &o.invoice, &o.postscript, &o.weight); err != nil {
			t.Fatal(err)
		}
		orders[id] = o
	}
	rows.Close()
	labels, err := h.store.Labels(ctx, state.LabelQuery{Unprinted: true, HTML: true})
	if err != nil {
		t.Fatal(err)
	}
	byWaybill := map[string]state.Label{}
	for _, l := range labels {
		byWaybill[l.Waybill] = l
	}
	multi, total := 0, 0
	for id, o := range orders {
		parcels := min(max(int(math.Ceil(o.weight/5-1e-9)), 1), 4)
		total += parcels
		if parcels > 1 {
			multi++
		}
		rec := h.record(id)
		numbers := strings.Split(o.invoice, "<br>")
		parent, _ := h.sim.Waybill(o.sn)
		switch {
		case len(numbers) != parcels || numbers[0] != parent:
			t.Errorf("order %d (%.1f kg): invoice_no %q, want %d numbers starting with the simulator's %s", id, o.weight, o.invoice, parcels, parent)
		case strings.Join(rec.Children, "<br>") != strings.Join(numbers[1:], "<br>"):
			t.Errorf("order %d: Redis holds children %v, the shop %v", id, rec.Children, numbers[1:])
		}
		w := want[o.province]
		if rec.Warehouse != w || o.postscript != fmt.Sprintf("warehouse %s, parcels %d", w, parcels) {
			t.Errorf("order %d to %s: warehouse %q recorded, %q written; want %s", id, o.province, rec.Warehouse, o.postscript, w)
		}
		for i, number := range numbers {
			l, ok := byWaybill[number]
			switch {
			case !ok:
				t.Errorf("order %d: no label for waybill %s", id, number)
			case l.Parcel != i || l.Parcels != parcels || l.OrderCode != o.sn:
				t.Errorf("order %d: label %s is parcel %d/%d of %s, want %d/%d of %s", id, number, l.Parcel, l.Parcels, l.OrderCode, i, parcels, o.sn)
			case !bytes.Contains(l.HTML, []byte(number)) || !bytes.Contains(l.HTML, []byte("寄 "+names[w])):
				t.Errorf("order %d: label %s lacks its number or the sender %s", id, number, names[w])
			}
		}
	}
	if multi == 0 || len(labels) != total {
		t.Errorf("%d orders with several parcels, %d labels for %d parcels; want some and one each", multi, len(labels), total)
	}

	// Every push carries the children's numbers beside the parent's, and a push naming a waybill
	// shipsync does not know is refused (the carrier sends it again): the simulator settles only
	// once every push was acknowledged, so only once every child number was found.
	testenv.Eventually(t, 60*time.Second, 50*time.Millisecond, func() (bool, string) {
		return h.sim.Settled(), fmt.Sprintf("simulator pushes %+v", h.sim.Stats())
	})
	for id := range orders {
		if st := h.record(id).Status; st != "delivered" && st != "returned" {
			t.Errorf("order %d: parcel status %q after every push, want delivered or returned", id, st)
		}
	}

	// The status page's labels panel and documents: all unprinted, then one printed batch that
	// reopens as a reprint.
	snap, err := h.p.Snapshot(ctx)
	if err != nil || snap.Labels == nil || snap.Labels.Unprinted != int64(total) || len(snap.Labels.Batches) != 0 {
		t.Fatalf("status page labels before printing: %+v, %v; want %d unprinted, no batch", snap.Labels, err, total)
	}
	doc, err := h.p.LabelDocument(ctx, "unprinted")
	if err != nil {
		t.Fatal(err)
	}
	batch := state.LabelBatch{ID: "test-batch", At: time.Now()}
	for _, l := range labels {
		batch.Waybills = append(batch.Waybills, l.Waybill)
	}
	if err := h.store.MarkPrinted(ctx, batch); err != nil {
		t.Fatal(err)
	}
	snap, err = h.p.Snapshot(ctx)
	if err != nil || snap.Labels.Unprinted != 0 || len(snap.Labels.Batches) != 1 || snap.Labels.Batches[0].Count != total {
		t.Errorf("status page labels after printing: %+v, %v; want 0 unprinted and one batch of %d", snap.Labels, err, total)
	}
	if _, err := h.p.LabelDocument(ctx, "unprinted"); !errors.Is(err, statuspage.ErrNoLabels) {
		t.Errorf("unprinted labels after the batch: %v, want none", err)
	}
	again, err := h.p.LabelDocument(ctx, "test-batch")
	if err != nil || strings.Count(string(again), "▸ ") != strings.Count(string(doc), "▸ ") {
		t.Errorf("the batch reopened: %v, %d waybill lines, want %d", err, strings.Count(string(again), "▸ "), strings.Count(string(doc), "▸ "))
	}
	if st := h.sim.Stats(); st.Creates+st.Repeats != n {
		t.Errorf("%d creates and %d repeats for %d orders: printing asked the carrier", st.Creates, st.Repeats, n)
	}
	stop()

	// The batch prints as one PDF, one page per parcel, each page naming its own waybill.
	chromium, err := label.Chromium()
	if err != nil {
		t.Fatal("install chromium poppler-utils fonts-wqy-microhei (bash deploy/install-tools.sh): ", err)
	}
	pdf, err := label.PDF(ctx, chromium, doc)
	if err != nil {
		t.Fatal(err)
	}
	file := t.TempDir() + "/labels.pdf"
	if err := os.WriteFile(file, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	for i, l := range labels {
		out, err := exec.Command("pdftotext", "-f", fmt.Sprint(i+1), "-l", fmt.Sprint(i+1), file, "-").Output()
		if err != nil {
			t.Fatalf("pdftotext page %d: %v", i+1, err)
		}
		for _, other := range labels {
			if c := strings.Count(string(out), "▸ "+other.Waybill+" ▸"); (other.Waybill == l.Waybill) != (c == 1) {
				t.Errorf("page %d: waybill line of %s %d times", i+1, other.Waybill, c)
			}
		}
	}
	if out, err := exec.Command("pdfinfo", file).Output(); err != nil || !regexp.MustCompile(fmt.Sprintf(`(?m)^Pages:\s+%d$`, len(labels))).Match(out) {
		t.Errorf("pdfinfo: %v\n%s", err, out)
	}
}

// TestCancellation: orders that turn cancelled (ECShop order_status 2) after their waybill
// exists get the waybill cancelled at the carrier and the cancellation written back; one
// already picked up is flagged cancel_after_pickup, once, however often it is cancelled.
func TestCancellation(t *testing.T) {
	note := "INSERT INTO ecs_order_action (order_id, action_user, order_status, shipping_status, pay_status, action_place, action_note, log_time) " +
		"SELECT order_id, 'shipsync', order_status, shipping_status, pay_status, 0, CONCAT(:status, ' ', :waybill, ' ', COALESCE(:reason, '')), UNIX_TIMESTAMP() " +
		"FROM ecs_order_info o WHERE order_id = :key AND NOT EXISTS (SELECT 1 FROM ecs_order_action a WHERE a.order_id = o.order_id " +
		"AND a.action_note = CONCAT(:status, ' ', :waybill, ' ', COALESCE(:reason, '')))"
	setup := func(t *testing.T, simCfg sim.Config, n int) (*harness, []int64) {
		h, ids := newHarness(t, "demo", n, simCfg)
		h.cfg.Orders.Cancelled = &config.Condition{Column: "order_status", In: []string{"2", "3"}}
		h.cfg.Writeback.Status = map[string][]string{"cancelled": {note}, "exception": {note}}
		return h, ids
	}
	notes := func(h *harness, id int64, like string) int {
		var c int
		if err := h.db.QueryRow("SELECT COUNT(*) FROM ecs_order_action WHERE order_id = ? AND action_note LIKE ?", id, like).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}

	t.Run("before pickup", func(t *testing.T) {
		h, ids := setup(t, sim.Config{TimeScale: 1}, 4) // real time: nothing is picked up in the test
		h.run(false)
		h.waitStarted()
		h.exec("UPDATE ecs_order_info SET pay_status = 2, pay_time = UNIX_TIMESTAMP() WHERE order_id BETWEEN ? AND ?", ids[0], ids[2])
		h.waitWritten(ids[:3], 30*time.Second)
		h.exec("UPDATE ecs_order_info SET order_status = 2 WHERE order_id IN (?, ?)", ids[0], ids[1])
		h.exec("UPDATE ecs_order_info SET order_status = 3 WHERE order_id = ?", ids[3]) // never paid: nothing to cancel
		testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
			return h.record(ids[0]).Status == "cancelled" && h.record(ids[1]).Status == "cancelled",
				fmt.Sprintf("statuses %q %q", h.record(ids[0]).Status, h.record(ids[1]).Status)
		})
		for _, id := range ids[:2] {
			rec := h.record(id)
			if !h.sim.Cancelled(rec.Waybill) || notes(h, id, "cancelled %") != 1 {
				t.Errorf("order %d: cancelled at the carrier %v, %d cancellation notes; want true and 1", id, h.sim.Cancelled(rec.Waybill), notes(h, id, "cancelled %"))
			}
		}
		if rec := h.record(ids[2]); h.sim.Cancelled(rec.Waybill) || rec.Status == "cancelled" {
			t.Errorf("order %d was not cancelled, yet its waybill is", ids[2])
		}
		if st := h.sim.Stats(); st.Cancels != 2 || st.Creates != 3 {
			t.Errorf("simulator: %d cancels, %d creates; want 2 and 3", st.Cancels, st.Creates)
		}
		if got := testutil.ToFloat64(h.p.Metrics().Cancels.WithLabelValues(string(parcel.NotShipped))); got != 1 {
			t.Errorf("%v cancellations of unshipped orders counted, want 1", got)
		}
	})

	t.Run("waybills the shop does not hold, refusals", func(t *testing.T) {
		h, ids := setup(t, sim.Config{TimeScale: 1}, 2)
		h.run(false)
		h.waitStarted()
		// A conflict: the shop already had another number, so ours is live at the carrier only.
		h.exec("UPDATE ecs_order_info SET invoice_no = 'THEIRS1' WHERE order_id = ?", ids[0])
		h.exec("UPDATE ecs_order_info SET pay_status = 2, pay_time = UNIX_TIMESTAMP() WHERE order_id IN (?, ?)", ids[0], ids[1])
		h.waitState(ids[:1], state.Conflict)
		h.waitWritten(ids[1:], 30*time.Second)
		// The carrier refuses the second one's cancel for another reason than a pickup (it does
		// not know the number): a person must look; the shop hears of it once.
		if err := h.rdb.HSet(context.Background(), h.cfg.State.Redis.Prefix+"order:"+fmt.Sprint(ids[1]), "waybill", "SIMUNKNOWN").Err(); err != nil {
			t.Fatal(err)
		}
		h.exec("UPDATE ecs_order_info SET order_status = 2 WHERE order_id IN (?, ?)", ids[0], ids[1])
		testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
			c := testutil.ToFloat64(h.p.Metrics().Cancels.WithLabelValues(string(parcel.Cancelled)))
			f := testutil.ToFloat64(h.p.Metrics().Cancels.WithLabelValues(string(parcel.Failed)))
			return c == 1 && f == 1, fmt.Sprintf("%v cancelled, %v failed", c, f)
		})
		sn := h.rows(ids[:1])[ids[0]].sn
		if ours, _ := h.sim.Waybill(sn); !h.sim.Cancelled(ours) || h.rows(ids[:1])[ids[0]].invoice != "THEIRS1" {
			t.Errorf("conflicting order: our waybill %s cancelled %v, the shop holds %q; want true and THEIRS1", ours, h.sim.Cancelled(ours), h.rows(ids[:1])[ids[0]].invoice)
		}
		if n := notes(h, ids[1], "%cancel_failed%"); n != 1 {
			t.Errorf("%d cancel_failed notes for the refused cancel, want 1", n)
		}
		if n := notes(h, ids[1], "%cancel_after_pickup%"); n != 0 {
			t.Errorf("a refusal that is not a pickup was taken for one (%d notes)", n)
		}
	})

	t.Run("after pickup", func(t *testing.T) {
		h, ids := setup(t, sim.Config{TimeScale: 200_000, PushTo: "push"}, 1)
		h.run(false)
		h.waitStarted()
		h.exec("UPDATE ecs_order_info SET pay_status = 2, pay_time = UNIX_TIMESTAMP() WHERE order_id = ?", ids[0])
		h.waitWritten(ids, 30*time.Second)
		testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
			return h.sim.PickedUp(h.record(ids[0]).Waybill), "not picked up yet"
		})
		// Cancelled twice (cancelled, back, cancelled again): flagged once.
		h.exec("UPDATE ecs_order_info SET order_status = 2 WHERE order_id = ?", ids[0])
		testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
			return notes(h, ids[0], "%cancel_after_pickup%") == 1, "no cancel_after_pickup note"
		})
		h.exec("UPDATE ecs_order_info SET order_status = 1 WHERE order_id = ?", ids[0])
		h.exec("UPDATE ecs_order_info SET order_status = 2 WHERE order_id = ?", ids[0])
		testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
			v := testutil.ToFloat64(h.p.Metrics().Cancels.WithLabelValues(string(parcel.AfterPickup)))
			return v == 2, fmt.Sprintf("%v after-pickup outcomes", v)
		})
		if c := notes(h, ids[0], "%cancel_after_pickup%"); c != 1 || h.sim.Cancelled(h.record(ids[0]).Waybill) {
			t.Errorf("%d cancel_after_pickup notes, cancelled at the carrier %v; want 1 and false", c, h.sim.Cancelled(h.record(ids[0]).Waybill))
		}
		if snap, err := h.p.Snapshot(context.Background()); err != nil || snap.CancelAfterPickup != 2 {
			t.Errorf("status page: %d cancelled after pickup (%v), want 2", snap.CancelAfterPickup, err)
		}
	})
}

// failingReissue fails the shop's reissue write-back once, like a crash between recording the
// new waybill and writing it.
type failingReissue struct {
	*shopdb.DB
	fail atomic.Bool
}

func (f *failingReissue) WriteReissue(ctx context.Context, values map[string]any) (shopdb.Outcome, string, error) {
	if f.fail.CompareAndSwap(true, false) {
		return 0, "", errors.New("injected: the shop went away")
	}
	return f.DB.WriteReissue(ctx, values)
}

// TestReissue re-issues shipped orders' waybills: the old one is cancelled at the carrier before
// the new one is created under <code>-R1 (then -R2), the shop's number is replaced through the
// guarded writeback.reissue, the new label is kept; a reissue interrupted after its create
// finishes on the next run without cancelling the new waybill or creating a third.
func TestReissue(t *testing.T) {
	h, ids := newHarness(t, "demo", 2, sim.Config{TimeScale: 1}) // nothing is picked up during the test
	ctx := context.Background()
	h.cfg.Labels.Enabled = true
	h.run(false)
	h.waitStarted()
	h.exec("UPDATE ecs_order_info SET pay_status = 2, pay_time = UNIX_TIMESTAMP() WHERE order_id IN (?, ?)", ids[0], ids[1])
	h.waitWritten(ids, 30*time.Second)

	db, err := shopdb.Open(ctx, testenv.ShopDB(t, h.dbName), shopdb.Config{Query: h.cfg.Orders.Query, ItemsQuery: h.cfg.Orders.ItemsQuery,
		ReissueQuery: h.cfg.Orders.ReissueQuery, Waybill: h.cfg.Writeback.Waybill, CurrentWaybill: h.cfg.Writeback.CurrentWaybill,
		Status: h.cfg.Writeback.Status, Reissue: h.cfg.Writeback.Reissue})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	shop := &failingReissue{DB: db}
	carriers := carrier.Set{}
	for _, c := range h.cfg.Carriers {
		cl, err := pipeline.NewCarrier(c)
		if err != nil {
			t.Fatal(err)
		}
		carriers[c.Name] = carrier.New(c, cl, nil, nil)
	}
	opts := ship.ReissueOptions{Store: h.store, Shop: shop, Config: h.cfg, Carriers: carriers}
	shopNumber := func(id int64) string { return h.rows([]int64{id})[id].invoice }
	reissuedNotes := func(id int64) int {
		var n int
		if err := h.db.QueryRow("SELECT COUNT(*) FROM ecs_order_action WHERE order_id = ? AND action_note LIKE '%reissued%'", id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	id, sn := ids[0], h.rows(ids[:1])[ids[0]].sn
	first := shopNumber(id)
	r, err := ship.Reissue(ctx, opts, fmt.Sprint(id))
	if err != nil {
		t.Fatal(err)
	}
	second, _ := h.sim.Waybill(sn + "-R1")
	switch {
	case r.OrderCode != sn+"-R1" || r.Waybill != second || second == first:
		t.Errorf("reissue = %+v; want order code %s-R1 and the simulator's new waybill %s", r, sn, second)
	case !h.sim.Cancelled(first) || h.sim.Cancelled(second):
		t.Errorf("old waybill cancelled %v, new one %v; want true and false", h.sim.Cancelled(first), h.sim.Cancelled(second))
	case shopNumber(id) != second || reissuedNotes(id) != 1 || !r.ShopWritten:
		t.Errorf("the shop holds %q with %d reissue notes; want %s and 1", shopNumber(id), reissuedNotes(id), second)
	}
	if rec := h.record(id); rec.Waybill != second || rec.OrderCode != sn+"-R1" || rec.ReissuePending || rec.Status != "" {
		t.Errorf("record after the reissue: %+v", rec)
	}
	if ls, err := h.store.Labels(ctx, state.LabelQuery{Orders: []string{sn + "-R1"}}); err != nil || len(ls) != 1 || ls[0].Waybill != second {
		t.Errorf("labels of the reissue: %+v, %v; want one, of %s", ls, err, second)
	}
	if ls, err := h.store.Labels(ctx, state.LabelQuery{Waybills: []string{first}}); err != nil || len(ls) != 0 {
		t.Errorf("the cancelled waybill's label is still kept (%d, %v): a batch would print it", len(ls), err)
	}
	// A second reissue takes -R2, not -R1-R1.
	if r, err = ship.Reissue(ctx, opts, fmt.Sprint(id)); err != nil || r.OrderCode != sn+"-R2" || !h.sim.Cancelled(second) {
		t.Errorf("second reissue = %+v, %v; want %s-R2 with %s cancelled", r, err, sn, second)
	}

	// Interrupted between the new waybill's record and the shop's write: run again.
	id, sn = ids[1], h.rows(ids[1:])[ids[1]].sn
	old := shopNumber(id)
	shop.fail.Store(true)
	if _, err := ship.Reissue(ctx, opts, fmt.Sprint(id)); err == nil {
		t.Fatal("the injected write-back failure was not reported")
	}
	creates := h.sim.Stats().Creates
	r, err = ship.Reissue(ctx, opts, fmt.Sprint(id))
	newer, _ := h.sim.Waybill(sn + "-R1")
	switch {
	case err != nil:
		t.Fatal(err)
	case r.Waybill != newer || shopNumber(id) != newer || h.sim.Cancelled(newer) || !h.sim.Cancelled(old):
		t.Errorf("resumed reissue = %+v; shop %q; new waybill %s cancelled %v, old %s cancelled %v",
			r, shopNumber(id), newer, h.sim.Cancelled(newer), old, h.sim.Cancelled(old))
	case h.sim.Stats().Creates != creates:
		t.Errorf("the resumed reissue created %d more waybills, want 0 (the derived code answers 106)", h.sim.Stats().Creates-creates)
	}
}
