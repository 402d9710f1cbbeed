package pipeline_test

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao"
	"github.com/shipsync/shipsync/sinks/carrier/kdniao/sim"
	"github.com/shipsync/shipsync/sinks/carrier/signedjson"
	gjsim "github.com/shipsync/shipsync/sinks/carrier/signedjson/sim"
	"github.com/shipsync/shipsync/sources/webhook"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

const gjSecret = "gj-test-secret"

// withSignedJSON adds a second carrier, of the generic signed-JSON type, named gj.
func (h *harness) withSignedJSON() *gjsim.Server {
	h.t.Helper()
	s := gjsim.New(gjSecret)
	srv := httptest.NewServer(s)
	h.t.Cleanup(srv.Close)
	h.cfg.Carriers = append(h.cfg.Carriers, config.Carrier{Name: "gj", Type: "signedjson", URL: srv.URL + "/waybills",
		Secret: gjSecret, ShipperCode: "GJ", Timeout: 5 * time.Second, MaxInFlight: "16", PayType: 1, ExpType: 1,
		PollEvery: time.Hour, Breaker: config.Breaker{Failures: 5, Cooldown: 30 * time.Second}})
	return s
}

func (h *harness) post(path, contentType string, header http.Header, body []byte) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest("POST", strings.TrimSuffix(h.pushURL, "/push/sim")+path, strings.NewReader(string(body)))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// shopSnapshot is everything a push could change in the shop.
func (h *harness) shopSnapshot() string {
	h.t.Helper()
	var s1, s2 string
	if err := h.db.QueryRow("SELECT COALESCE(SUM(CRC32(CONCAT_WS('|', order_id, invoice_no, shipping_status, order_status))), 0) FROM ecs_order_info").Scan(&s1); err != nil {
		h.t.Fatal(err)
	}
	if err := h.db.QueryRow("SELECT COUNT(*) FROM ecs_order_action").Scan(&s2); err != nil {
		h.t.Fatal(err)
	}
	return s1 + "/" + s2
}

// TestForgedPushes: forged and malformed pushes are each rejected with the right outcome and
// change nothing in the shop.
func TestForgedPushes(t *testing.T) {
	h, ids := newHarness(t, "demo", 2, sim.Config{})
	h.withSignedJSON()
	h.cfg.HTTP.MaxBody = 4096
	h.run(false)
	h.waitStarted()
	if err := demo.Pay(context.Background(), h.db, ids); err != nil {
		t.Fatal(err)
	}
	h.waitWritten(ids, 30*time.Second)
	waybill := h.rows(ids[:1])[ids[0]].invoice
	before := h.shopSnapshot()

	delivered := kdniao.TracePush{EBusinessID: "test-ebusiness", PushTime: "2030-01-02 10:00:00", Count: "1",
		Data: []kdniao.Trace{{EBusinessID: "test-ebusiness", LogisticCode: waybill, ShipperCode: "SIM", Success: true,
			State: "3", StateEx: "301", Traces: []kdniao.TraceEvent{{AcceptTime: "2030-01-02 09:00:00", AcceptStation: "已签收", Action: "301"}}}}}
	requestData := func(p kdniao.TracePush) string {
		f, err := kdniao.EncodePush(p, testAppKey)
		if err != nil {
			t.Fatal(err)
		}
		return f.Get("RequestData")
	}
	form := func(data, sign string) []byte {
		return []byte(url.Values{"RequestType": {"101"}, "RequestData": {data}, "DataSign": {sign}, "DataType": {"2"}}.Encode())
	}
	upperSign := func(data string) string {
		sum := md5.Sum([]byte(data + testAppKey))
		return base64.StdEncoding.EncodeToString([]byte(strings.ToUpper(hex.EncodeToString(sum[:]))))
	}
	good := requestData(delivered)
	wrongKey, err := kdniao.EncodePush(delivered, "not-the-key")
	if err != nil {
		t.Fatal(err)
	}
	unknown := delivered
	unknown.Data = []kdniao.Trace{delivered.Data[0]}
	unknown.Data[0].LogisticCode = "SIM9999999999"
	truncated := good[:len(good)-5]
	const formType = "application/x-www-form-urlencoded"

	gjBody, err := signedjson.EncodePush([]signedjson.Event{{ID: "e1", Waybill: "GJ0000000001", Status: "delivered", Time: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	oldHeader := http.Header{signedjson.SignatureHeader: {signedjson.Sign([]byte(gjSecret), time.Now().Add(-400*time.Second), gjBody)}}
	freshHeader := http.Header{signedjson.SignatureHeader: {signedjson.Sign([]byte(gjSecret), time.Now(), gjBody)}}

	tests := []struct {
		name, path, contentType string
		header                  http.Header
		body                    []byte
		outcome                 webhook.Outcome
	}{
		{"wrong key", "/push/sim", formType, nil, []byte(wrongKey.Encode()), webhook.BadSignature},
		{"upper-case hex sign", "/push/sim", formType, nil, form(good, upperSign(good)), webhook.BadSignature},
		{"double-encoded form", "/push/sim", formType, nil, []byte(url.QueryEscape(string(form(good, kdniao.Sign(good, testAppKey))))), webhook.Malformed},
		{"truncated JSON, signed", "/push/sim", formType, nil, form(truncated, kdniao.Sign(truncated, testAppKey)), webhook.Malformed},
		{"oversized body", "/push/sim", formType, nil, form(good+strings.Repeat(" ", 5000), kdniao.Sign(good, testAppKey)), webhook.Malformed},
		{"unknown waybill", "/push/sim", formType, nil, []byte(mustEncode(t, unknown).Encode()), webhook.UnknownWaybill},
		{"generic JSON with an old timestamp", "/push/gj", "application/json", oldHeader, gjBody, webhook.BadSignature},
		{"generic JSON first seen (unknown waybill)", "/push/gj", "application/json", freshHeader, gjBody, webhook.UnknownWaybill},
		{"generic JSON replayed", "/push/gj", "application/json", freshHeader, gjBody, webhook.BadSignature},
	}
	for _, tt := range tests {
		was := h.pushes(tt.outcome)
		code, reply := h.post(tt.path, tt.contentType, tt.header, tt.body)
		if got := h.pushes(tt.outcome); got != was+1 {
			t.Errorf("%s: %s counted %d times, want once (reply %d %s)", tt.name, tt.outcome, got-was, code, reply)
		}
		if strings.Contains(reply, `"Success":true`) || strings.Contains(reply, `"ok":true`) {
			t.Errorf("%s: accepted: %s", tt.name, reply)
		}
		if after := h.shopSnapshot(); after != before {
			t.Fatalf("%s changed the shop: %s -> %s", tt.name, before, after)
		}
	}
	// The same push, correctly signed, is accepted and applied: the rejections were not luck.
	code, reply := h.post("/push/sim", formType, nil, []byte(mustEncode(t, delivered).Encode()))
	if code != 200 || !strings.Contains(reply, `"Success":true`) {
		t.Fatalf("a good push was refused: %d %s", code, reply)
	}
	if h.shopSnapshot() == before {
		t.Fatal("a good delivered push changed nothing in the shop")
	}
	// A genuine push older than what was applied (in transit the day before) is stale: counted,
	// acknowledged so the carrier stops sending it, and never moves the parcel back.
	delivered2 := h.shopSnapshot()
	older := delivered
	older.Data = []kdniao.Trace{delivered.Data[0]}
	older.Data[0].State, older.Data[0].StateEx = "2", "201"
	older.Data[0].Traces = []kdniao.TraceEvent{{AcceptTime: "2030-01-01 09:00:00", AcceptStation: "运输中", Action: "201"}}
	was := h.pushes(webhook.Stale)
	if code, reply := h.post("/push/sim", formType, nil, []byte(mustEncode(t, older).Encode())); code != 200 || h.pushes(webhook.Stale) != was+1 {
		t.Errorf("an older push: %d %s, stale counted %d times", code, reply, h.pushes(webhook.Stale)-was)
	}
	if h.shopSnapshot() != delivered2 {
		t.Error("an older push changed the shop")
	}
}

func mustEncode(t *testing.T, p kdniao.TracePush) url.Values {
	t.Helper()
	f, err := kdniao.EncodePush(p, testAppKey)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestSignedJSONCarrier: the second carrier type creates waybills and applies its own signed
// pushes through the same pipeline.
func TestSignedJSONCarrier(t *testing.T) {
	h, ids := newHarness(t, "demo", 3, sim.Config{})
	gj := h.withSignedJSON()
	h.cfg.Routing.Default = "gj"
	h.statusTables()
	h.run(false)
	h.waitStarted()
	if err := demo.Pay(context.Background(), h.db, ids); err != nil {
		t.Fatal(err)
	}
	h.waitWritten(ids, 30*time.Second)
	var events []signedjson.Event
	for id, r := range h.rows(ids) {
		want, ok := gj.Waybill(r.sn)
		if !ok || r.invoice != want || !strings.HasPrefix(r.invoice, "GJ") {
			t.Fatalf("order %d: shop waybill %q, generic carrier %q", id, r.invoice, want)
		}
		events = append(events, signedjson.Event{ID: r.invoice + "-d", Waybill: r.invoice, OrderCode: r.sn,
			Status: "delivered", Time: time.Now()})
	}
	if st := gj.Stats(); st.Creates != 3 {
		t.Fatalf("generic carrier stats %+v", st)
	}
	code, err := gj.Push(context.Background(), strings.TrimSuffix(h.pushURL, "/sim")+"/gj", events)
	if err != nil || code != 200 {
		t.Fatalf("push: %d %v", code, err)
	}
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, func() (bool, string) {
		got := h.parcelStatuses()
		for _, id := range ids {
			if got[id] != "delivered" {
				return false, fmt.Sprintf("order %d is %q, want delivered", id, got[id])
			}
		}
		return true, ""
	})
}
