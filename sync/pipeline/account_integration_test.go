package pipeline_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao"
	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/sources/webhook"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

// TestOneAccountManyCouriers: two carriers, sf and zto, are one Kdniao account (one
// EBusinessID, one key), and Kdniao pushes every waybill of the account to one callback URL,
// /push/sf. An order routed to zto is delivered in the shop from pushes that all arrive on
// /push/sf; a push there naming a waybill of another account's courier is not applied, though
// the same push on that account's own URL is.
func TestOneAccountManyCouriers(t *testing.T) {
	h, ids := newHarness(t, "demo", 2, sim.Config{})
	base := strings.TrimSuffix(h.pushURL, "/push/sim")
	// The account's one simulator pushes everything it creates to /push/sf, whichever courier.
	account := sim.New(sim.Config{EBusinessID: "test-ebusiness", AppKey: testAppKey, PushTo: base + "/push/sf",
		TimeScale: 4 * 86400})
	srv := httptest.NewServer(account)
	t.Cleanup(srv.Close)
	simCtx, stopSim := context.WithCancel(context.Background())
	simDone := make(chan struct{})
	go func() { defer close(simDone); account.Run(simCtx) }()
	t.Cleanup(func() { stopSim(); <-simDone })

	sf := h.cfg.Carriers[0]
	sf.Name, sf.ShipperCode, sf.URL = "sf", "SF", srv.URL+"/api/EOrderService"
	zto := sf
	zto.Name, zto.ShipperCode = "zto", "ZTO"
	other := sf // another account: its own EBusinessID and key, never asked for a waybill here
	other.Name, other.ShipperCode, other.EBusinessID, other.AppKey, other.URL = "yto", "YTO", "other-ebusiness",
		"other-appkey-0002", refusedURL(t)
	h.cfg.Carriers = append(h.cfg.Carriers[:0], sf, zto, other)
	h.cfg.Routing.Default, h.cfg.Routing.Rules = "zto", nil
	h.statusTables()
	h.run(false)
	h.waitStarted()

	paid := ids[:1]
	if err := demo.Pay(context.Background(), h.db, paid); err != nil {
		t.Fatal(err)
	}
	h.waitWritten(paid, 30*time.Second)
	if r := h.record(paid[0]); r.Carrier != "zto" || r.ShipperCode != "ZTO" {
		t.Fatalf("order %d went to %s (%s), want zto (ZTO)", paid[0], r.Carrier, r.ShipperCode)
	}
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() (bool, string) {
		row := h.rows(paid)[paid[0]]
		st := h.parcelStatuses()[paid[0]]
		return row.shipping == 2 && st == "delivered", fmt.Sprintf("order %d: shipping_status %d, parcel %q; pushes %d acked of %d sent, unknown waybill %d",
			paid[0], row.shipping, st, account.Stats().PushesAcked, account.Stats().PushesSent, h.pushes(webhook.UnknownWaybill))
	})

	// Another account's waybill, in a push signed with this account's key on this account's URL.
	foreign := ids[1]
	key := fmt.Sprint(foreign)
	ctx := context.Background()
	if _, _, err := h.store.Claim(ctx, key, "test:1", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := h.store.Submitting(ctx, key, "test:1", "SO-FOREIGN", "yto", "YTO"); err != nil {
		t.Fatal(err)
	}
	if err := h.store.RecordWaybill(ctx, key, "test:1", "yto", "YTO0000000001", "", time.Now().Add(time.Hour), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if r := h.store.Settle(ctx, []state.Settlement{{Key: key, Owner: "test:1", Kind: state.SettleWritten}})[0]; r.Err != nil {
		t.Fatal(r.Err)
	}
	delivered := kdniao.TracePush{EBusinessID: "test-ebusiness", PushTime: "2030-01-02 10:00:00", Count: "1",
		Data: []kdniao.Trace{{EBusinessID: "test-ebusiness", LogisticCode: "YTO0000000001", ShipperCode: "YTO", Success: true,
			State: "3", StateEx: "301", Traces: []kdniao.TraceEvent{{AcceptTime: "2030-01-02 09:00:00", AcceptStation: "已签收", Action: "301"}}}}}
	const formType = "application/x-www-form-urlencoded"
	was := h.pushes(webhook.UnknownWaybill)
	code, reply := h.post("/push/sf", formType, nil, []byte(mustEncode(t, delivered).Encode()))
	if got := h.pushes(webhook.UnknownWaybill); got != was+1 || strings.Contains(reply, `"Success":true`) {
		t.Fatalf("another account's waybill on /push/sf: unknown_waybill counted %d times, reply %d %s", got-was, code, reply)
	}
	if st := h.record(foreign).Status; st != "" {
		t.Fatalf("another account's waybill on /push/sf was applied: status %q", st)
	}
	// On its own account's URL, signed with its own key, the same news is applied.
	form, err := kdniao.EncodePush(delivered, other.AppKey)
	if err != nil {
		t.Fatal(err)
	}
	if code, reply := h.post("/push/yto", formType, nil, []byte(form.Encode())); code != 200 || !strings.Contains(reply, `"Success":true`) {
		t.Fatalf("the waybill on its own account's URL was refused: %d %s", code, reply)
	}
	if st := h.parcelStatuses()[foreign]; st != "delivered" {
		t.Fatalf("order %d: parcel %q after its own account's push, want delivered", foreign, st)
	}
}
