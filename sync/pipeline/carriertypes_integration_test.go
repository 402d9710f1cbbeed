package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao"
	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/sinks/carrier/signedjson"
	sfxml "github.com/shipsync/shipsync/sinks/carrier/xml"
	xmlsim "github.com/shipsync/shipsync/sinks/carrier/xml/sim"
	"github.com/shipsync/shipsync/sources/webhook"
	"github.com/shipsync/shipsync/sync/carrier"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/pipeline"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/sync/status"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

const (
	sfCustomer  = "SHIPSYNC01"
	sfCheckword = "sf-test-checkword"
)

// withXML adds a carrier of the xml type (an SF Express BSP style API), named sf, served by its
// simulator.
func (h *harness) withXML() *xmlsim.Server {
	h.t.Helper()
	s := xmlsim.New(xmlsim.Config{CustomerCode: sfCustomer, Checkword: sfCheckword})
	srv := httptest.NewServer(s)
	h.t.Cleanup(srv.Close)
	h.cfg.Carriers = append(h.cfg.Carriers, config.Carrier{Name: "sf", Type: "xml", URL: srv.URL + xmlsim.Path,
		ShipperCode: "SF", Timeout: 5 * time.Second, MaxInFlight: "16", PayType: 1, ExpType: 1,
		PollEvery: time.Hour, Breaker: config.Breaker{Failures: 5, Cooldown: 30 * time.Second},
		XML: config.XMLCarrier{CustomerCode: sfCustomer, Checkword: sfCheckword, ExpressType: 1, PayMethod: 1}})
	return s
}

// typeUnderTest is what the table test needs of one carrier type: its simulator's ledger, and
// pushes and traces in the type's own format.
type typeUnderTest struct {
	carrier string // the configured name: /push/<carrier>
	// waybill is the simulator's waybill for an order code.
	waybill func(code string) (string, bool)
	// counts are the simulator's waybills created and creates answered as repeats.
	counts func() (creates, repeats int64)
	// ledger checks what only this simulator records, for the shipped order codes; may be nil.
	ledger func(t *testing.T, codes []string)
	// deliver pushes "delivered" for waybill, signed, and fails t unless the receiver
	// acknowledged it.
	deliver func(t *testing.T, waybill, code string)
	// forge pushes a "delivered" for waybill that the carrier did not sign, and fails t if the
	// receiver acknowledged it.
	forge func(t *testing.T, waybill, code string)
	// trace makes the simulator answer trace queries for waybill and returns the canonical
	// status they end at; nil for a type that answers none.
	trace func(t *testing.T, waybill string) string
	// queries is how many trace queries the simulator answered.
	queries func() int64
}

func (h *harness) pushBase() string { return strings.TrimSuffix(h.pushURL, "/push/sim") }

func kdniaoType(h *harness) typeUnderTest {
	push := func(t *testing.T, waybill, key string) (int, string) {
		t.Helper()
		p := kdniao.TracePush{EBusinessID: "test-ebusiness", PushTime: time.Now().In(kdniao.Shanghai()).Format(kdniao.TimeLayout),
			Data: []kdniao.Trace{{EBusinessID: "test-ebusiness", LogisticCode: waybill, ShipperCode: "SIM", Success: true,
				State: "3", StateEx: "301", Traces: []kdniao.TraceEvent{{AcceptTime: time.Now().In(kdniao.Shanghai()).Format(kdniao.TimeLayout),
					AcceptStation: "已签收", Action: "301"}}}}}
		form, err := kdniao.EncodePush(p, key)
		if err != nil {
			t.Fatal(err)
		}
		return h.post("/push/sim", "application/x-www-form-urlencoded", nil, []byte(form.Encode()))
	}
	return typeUnderTest{
		carrier: "sim",
		waybill: h.sim.Waybill,
		counts:  func() (int64, int64) { st := h.sim.Stats(); return st.Creates, st.Repeats },
		deliver: func(t *testing.T, waybill, _ string) {
			if code, reply := push(t, waybill, testAppKey); code != 200 || !strings.Contains(reply, `"Success":true`) {
				t.Errorf("push for %s: %d %s", waybill, code, reply)
			}
		},
		forge: func(t *testing.T, waybill, _ string) {
			if code, reply := push(t, waybill, "not-the-key"); strings.Contains(reply, `"Success":true`) {
				t.Errorf("forged push for %s accepted: %d %s", waybill, code, reply)
			}
		},
		trace: func(t *testing.T, waybill string) string {
			st, ex, ok := h.sim.Final(waybill)
			if !ok {
				t.Fatalf("the simulator has no plan for %s", waybill)
			}
			ev, _ := status.FromKdniao(st, ex)
			return string(ev.Status)
		},
		queries: func() int64 { return h.sim.Stats().Queries },
	}
}

func signedJSONType(h *harness) typeUnderTest {
	gj := h.withSignedJSON()
	h.cfg.Routing.Default = "gj"
	event := func(waybill, code string) []byte {
		body, err := signedjson.EncodePush([]signedjson.Event{{ID: waybill + "-d", Waybill: waybill, OrderCode: code,
			Status: "delivered", Time: time.Now()}})
		if err != nil {
			panic(err)
		}
		return body
	}
	return typeUnderTest{
		carrier: "gj",
		waybill: gj.Waybill,
		counts:  func() (int64, int64) { st := gj.Stats(); return st.Creates, st.Repeats },
		deliver: func(t *testing.T, waybill, code string) {
			st, err := gj.Push(context.Background(), h.pushBase()+"/push/gj", []signedjson.Event{{ID: waybill + "-d",
				Waybill: waybill, OrderCode: code, Status: "delivered", Time: time.Now()}})
			if err != nil || st != 200 {
				t.Errorf("push for %s: %d %v", waybill, st, err)
			}
		},
		forge: func(t *testing.T, waybill, code string) {
			body := event(waybill, code)
			header := http.Header{signedjson.SignatureHeader: {signedjson.Sign([]byte("not-the-secret"), time.Now(), body)}}
			if st, reply := h.post("/push/gj", signedjson.ContentType, header, body); st == 200 {
				t.Errorf("forged push for %s accepted: %d %s", waybill, st, reply)
			}
		},
	}
}

func xmlType(h *harness) typeUnderTest {
	sf := h.withXML()
	h.cfg.Routing.Default = "sf"
	scan := func(t *testing.T, waybill string, ops ...string) []sfxml.WaybillRoute {
		t.Helper()
		var out []sfxml.WaybillRoute
		for _, op := range ops {
			r, err := sf.Scan(waybill, op)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		return out
	}
	return typeUnderTest{
		carrier: "sf",
		waybill: sf.Waybill,
		counts:  func() (int64, int64) { st := sf.Stats(); return st.Creates, st.Repeats },
		ledger: func(t *testing.T, codes []string) {
			byOrder := map[string]xmlsim.Entry{}
			for _, e := range sf.Ledger() {
				byOrder[e.OrderID] = e
			}
			for _, code := range codes {
				// Every repeat was refused with 8016 and answered, by OrderSearchService, with
				// the first waybill: one search per repeat.
				e := byOrder[code]
				if e.MailNo == "" || e.Orders != 1+e.Repeats || e.Searches != e.Repeats {
					t.Errorf("order %s: ledger %+v", code, e)
				}
			}
		},
		deliver: func(t *testing.T, waybill, _ string) {
			acked, err := sf.Push(context.Background(), h.pushBase()+"/push/sf", scan(t, waybill, "50", "30", "80"))
			if err != nil || !acked {
				t.Errorf("push for %s: acked %v, %v", waybill, acked, err)
			}
		},
		forge: func(t *testing.T, waybill, code string) {
			routes := []sfxml.WaybillRoute{{ID: "forged", MailNo: waybill, OrderID: code, OpCode: "80",
				AcceptTime: time.Now().In(sfxml.Shanghai()).Format(sfxml.TimeLayout), Remark: "已签收"}}
			form, err := sfxml.EncodePush(sfCustomer, routes, "not-the-checkword")
			if err != nil {
				t.Fatal(err)
			}
			if st, acked, err := sf.PushForm(context.Background(), h.pushBase()+"/push/sf", form); acked || err != nil {
				t.Errorf("forged push for %s: %d acked %v, %v", waybill, st, acked, err)
			}
		},
		trace: func(t *testing.T, waybill string) string {
			scan(t, waybill, "50", "36", "44", "80")
			return string(status.Delivered)
		},
		queries: func() int64 { return sf.Stats().Queries },
	}
}

// TestCarrierTypes runs the same life through each carrier type — Kdniao, signed JSON and the
// SF Express style XML type — against its simulator, in the real MariaDB and Redis: paid orders
// get one waybill each; the paid events replayed with Redis lost (and an order query that does
// not filter shipped orders, so every order reaches the carrier again) get the same waybills
// back as repeats and change nothing in the shop; a forged push is counted and changes
// nothing; signed pushes deliver every waybill but one; and, for the types that answer trace
// queries, the last one gets its status from a poll.
func TestCarrierTypes(t *testing.T) {
	const n = 4
	for _, tc := range []struct {
		name string
		add  func(h *harness) typeUnderTest
	}{
		{"kdniao", kdniaoType},
		{"signedjson", signedJSONType},
		{"xml", xmlType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, ids := newHarness(t, "demo", n, sim.Config{TimeScale: 4 * 86400, Seed: 31})
			ut := tc.add(h)
			h.statusTables()
			h.cfg.Orders.Query = strings.Replace(h.cfg.Orders.Query, "AND o.shipping_status = 0", "", 1)
			if strings.Contains(h.cfg.Orders.Query, "shipping_status = 0") {
				t.Fatal("could not remove the shipped filter from orders.query")
			}
			// Waybills without a push for a while are polled: the last order's, below.
			h.cfg.Watchdog.SilentAfter = 3 * time.Second
			h.cfg.Watchdog.ScanEvery = 100 * time.Millisecond
			ctx := context.Background()

			// 1. Paid orders are shipped end to end: one waybill each, the simulator's.
			stop := h.run(false)
			h.waitStarted()
			old, _, err := h.store.LoadCheckpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := demo.Pay(ctx, h.db, ids); err != nil {
				t.Fatal(err)
			}
			h.waitWritten(ids, 30*time.Second)
			shipped := h.rows(ids)
			codes := make([]string, 0, n)
			check := func(when string) {
				t.Helper()
				for id, r := range h.rows(ids) {
					want, ok := ut.waybill(r.sn)
					switch {
					case !ok || r.invoice != want:
						t.Errorf("%s: order %d (%s): shop waybill %q, simulator %q", when, id, r.sn, r.invoice, want)
					case r.invoice != shipped[id].invoice:
						t.Errorf("%s: order %d: waybill changed from %q to %q", when, id, shipped[id].invoice, r.invoice)
					case r.shipping != 1 || r.actions != 1:
						t.Errorf("%s: order %d: shipping_status %d, %d notes; want 1 and exactly 1", when, id, r.shipping, r.actions)
					}
				}
				if creates, _ := ut.counts(); creates != n {
					t.Errorf("%s: the simulator created %d waybills for %d orders", when, creates, n)
				}
			}
			for _, r := range shipped {
				codes = append(codes, r.sn)
			}
			check("shipped")
			if _, repeats := ut.counts(); repeats != 0 {
				t.Errorf("shipped: %d repeats before any replay", repeats)
			}

			// 2. The paid events again, with Redis lost: every order reaches the carrier again
			// and gets its first waybill back.
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			keys, err := h.rdb.Keys(ctx, h.cfg.State.Redis.Prefix+"*").Result()
			if err != nil {
				t.Fatal(err)
			}
			if err := h.rdb.Del(ctx, keys...).Err(); err != nil {
				t.Fatal(err)
			}
			if err := h.store.SaveCheckpoint(ctx, old); err != nil {
				t.Fatal(err)
			}
			h.run(false)
			h.waitState(ids, state.Written)
			check("replayed")
			creates, repeats := ut.counts()
			t.Logf("%s: %d creates, %d repeats after the replay", tc.name, creates, repeats)
			if repeats < n {
				t.Errorf("replayed: %d creates answered as repeats, want at least %d (one per order)", repeats, n)
			}
			if ut.ledger != nil {
				ut.ledger(t, codes)
			}

			last := ids[n-1]
			lastRow := shipped[last]
			// 3. A forged push is refused, counted, and changes nothing.
			before, forged := h.shopSnapshot(), h.pushes(webhook.BadSignature)
			ut.forge(t, lastRow.invoice, lastRow.sn)
			if got := h.pushes(webhook.BadSignature); got != forged+1 {
				t.Errorf("forged push counted %d times as bad_signature, want once", got-forged)
			}
			if after := h.shopSnapshot(); after != before {
				t.Errorf("the forged push changed the shop: %s -> %s", before, after)
			}

			// 4. Signed pushes deliver every waybill but the last.
			for _, id := range ids[:n-1] {
				ut.deliver(t, shipped[id].invoice, shipped[id].sn)
			}
			testenv.Eventually(t, 15*time.Second, 20*time.Millisecond, func() (bool, string) {
				got := h.parcelStatuses()
				for _, id := range ids[:n-1] {
					if got[id] != string(status.Delivered) {
						return false, fmt.Sprintf("order %d is %q, want delivered", id, got[id])
					}
				}
				return true, ""
			})

			// 5. The last waybill, silent, is polled (trace query) by the types that answer them.
			if ut.trace == nil {
				if st, ok := h.parcelStatuses()[last]; ok {
					t.Errorf("order %d has status %q without a push", last, st)
				}
				return
			}
			want := ut.trace(t, lastRow.invoice)
			testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
				got := h.parcelStatuses()[last]
				return got == want, fmt.Sprintf("order %d is %q, want %q (polls %d, queries %d)", last, got, want,
					h.polls(), ut.queries())
			})
			if h.polls() == 0 || ut.queries() == 0 {
				t.Errorf("the last status came without a poll: polls %d, queries %d", h.polls(), ut.queries())
			}
		})
	}
}

// TestCarrierTypesXMLOpCodes maps SF opCodes through the xml carrier's push decoder, as a
// signed push of each reaches it (the table of sinks/carrier/xml/README.md); it needs no
// database.
func TestCarrierTypesXMLOpCodes(t *testing.T) {
	c, err := pipeline.NewCarrier(config.Carrier{Name: "sf", Type: "xml", URL: "http://127.0.0.1:1/x",
		XML: config.XMLCarrier{CustomerCode: sfCustomer, Checkword: sfCheckword}})
	if err != nil {
		t.Fatal(err)
	}
	dec, ok := c.(webhook.Decoder)
	if !ok {
		t.Fatal("the xml carrier has no push decoder")
	}
	if _, ok := c.(carrier.Tracker); !ok {
		t.Fatal("the xml carrier answers no trace queries")
	}
	tests := []struct {
		op        string
		status    status.Status
		exception bool
		known     bool
	}{
		{"50", status.PickedUp, false, true}, {"54", status.PickedUp, false, true},
		{"30", status.InTransit, false, true}, {"31", status.InTransit, false, true}, {"36", status.InTransit, false, true},
		{"105", status.InTransit, false, true}, {"106", status.InTransit, false, true}, {"130", status.InTransit, false, true},
		{"310", status.InTransit, false, true},
		{"44", status.OutForDelivery, false, true}, {"204", status.OutForDelivery, false, true},
		{"80", status.Delivered, false, true}, {"8000", status.Delivered, false, true},
		{"99", status.Returned, false, true}, {"631", status.Returned, false, true}, {"648", status.Returned, false, true},
		{"70", "", true, true}, {"33", "", true, true},
		{"9999", status.InTransit, false, false}, {" 80 ", status.Delivered, false, true},
	}
	at := time.Date(2024, 5, 2, 18, 30, 0, 0, sfxml.Shanghai())
	for _, tt := range tests {
		form, err := sfxml.EncodePush(sfCustomer, []sfxml.WaybillRoute{{ID: "1", MailNo: "SF1", OrderID: "SO1",
			AcceptTime: at.Format(sfxml.TimeLayout), OpCode: tt.op}}, sfCheckword)
		if err != nil {
			t.Fatal(err)
		}
		ups, err := dec.Decode(httptest.NewRequest("POST", "/push/sf", nil), []byte(form.Encode()))
		if err != nil || len(ups) != 1 {
			t.Fatalf("opCode %q: %v, %d updates", tt.op, err, len(ups))
		}
		u := ups[0]
		if u.Status != string(tt.status) || u.Exception != tt.exception || u.Known != tt.known ||
			u.Waybill != "SF1" || u.OrderCode != "SO1" || !u.Time.Equal(at) || (tt.exception && u.Reason == "") {
			t.Errorf("opCode %q: update %+v, want status %q exception %v known %v", tt.op, u, tt.status, tt.exception, tt.known)
		}
	}
	// Forged and malformed pushes are told apart, as the receiver counts them.
	good, _ := sfxml.EncodePush(sfCustomer, []sfxml.WaybillRoute{{MailNo: "SF1", OpCode: "80", AcceptTime: at.Format(sfxml.TimeLayout)}}, sfCheckword)
	forged, _ := sfxml.EncodePush(sfCustomer, []sfxml.WaybillRoute{{MailNo: "SF1", OpCode: "80", AcceptTime: at.Format(sfxml.TimeLayout)}}, "forger")
	truncated := url.Values{sfxml.FieldXML: {good.Get(sfxml.FieldXML)[:40]}}
	truncated.Set(sfxml.FieldVerifyCode, sfxml.Sign(truncated.Get(sfxml.FieldXML), sfCheckword))
	for _, tc := range []struct {
		name string
		body string
		want error
	}{
		{"forged", forged.Encode(), webhook.ErrBadSignature},
		{"unsigned", url.Values{sfxml.FieldXML: {good.Get(sfxml.FieldXML)}}.Encode(), webhook.ErrBadSignature},
		{"truncated, signed", truncated.Encode(), webhook.ErrMalformed},
	} {
		if _, err := dec.Decode(httptest.NewRequest("POST", "/push/sf", nil), []byte(tc.body)); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	rec := httptest.NewRecorder()
	dec.Reply(rec, false, "unknown_waybill SF1")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "<Head>ERR</Head>") {
		t.Errorf("failure reply %d %s", rec.Code, rec.Body)
	}
}
