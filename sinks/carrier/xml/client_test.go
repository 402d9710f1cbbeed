package sfxml

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/wire"
)

// fakeCarrier checks what SF checks on every request (form fields, verifyCode over the xml as
// received, the customer code), then lets answer reply to the parsed request.
func fakeCarrier(t *testing.T, answer func(w http.ResponseWriter, req Request)) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if ct := r.Header.Get("Content-Type"); ct != formContentType {
			t.Errorf("Content-Type = %q", ct)
		}
		if err := r.ParseForm(); err != nil {
			t.Errorf("parse form: %v", err)
		}
		doc := r.PostForm.Get(FieldXML)
		if !Verify(doc, testCheckword, r.PostForm.Get(FieldVerifyCode)) {
			t.Errorf("verifyCode %q does not verify over %q", r.PostForm.Get(FieldVerifyCode), doc)
		}
		req, err := ParseRequest([]byte(doc))
		if err != nil || req.Head != "SHIPSYNC01" || req.Lang != Lang {
			t.Errorf("request %+v, %v", req, err)
		}
		answer(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// reply answers every request with body.
func reply(body string) func(http.ResponseWriter, Request) {
	return func(w http.ResponseWriter, _ Request) {
		w.Header().Set("Content-Type", "text/xml;charset=utf-8")
		_, _ = io.WriteString(w, body)
	}
}

// byService answers each service with its own body.
func byService(bodies map[string]string) func(http.ResponseWriter, Request) {
	return func(w http.ResponseWriter, req Request) { reply(bodies[req.Service])(w, req) }
}

func status(code int, body string) func(http.ResponseWriter, Request) {
	return func(w http.ResponseWriter, _ Request) { http.Error(w, body, code) }
}

func testClient(url string, timeout time.Duration) *Client {
	cfg := vectorConfig()
	cfg.URL, cfg.Timeout = url, timeout
	return New(cfg)
}

const (
	okOrder  = `<Response service="OrderService"><Head>OK</Head><Body><OrderResponse orderid="SO20240501001" mailno="SF1000000000001" origincode="021" destcode="010" filter_result="2"/></Body></Response>`
	okSearch = `<Response service="OrderSearchService"><Head>OK</Head><Body><OrderResponse orderid="SO20240501001" mailno="SF1000000000001"/></Body></Response>`
	repeat   = `<Response service="OrderService"><Head>ERR</Head><ERROR code="8016">重复下单</ERROR></Response>`
)

func errAnswer(service, code, reason string) string {
	return `<Response service="` + service + `"><Head>ERR</Head><ERROR code="` + code + `">` + reason + `</ERROR></Response>`
}

// checkErr checks err's classification and that its message stays clean.
func checkErr(t *testing.T, err error, op string, want wire.Class) *Error {
	t.Helper()
	e, ok := errors.AsType[*Error](err)
	if !ok {
		t.Fatalf("err = %v (%T), want *Error", err, err)
	}
	if e.Class != want || e.Permanent() != (want == wire.Permanent) || e.MaybeCreated() != (want == wire.Ambiguous) {
		t.Errorf("class %v, want %v: %v", e.Class, want, err)
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	if strings.Contains(msg, testCheckword) {
		t.Errorf("error message contains the checkword: %s", msg)
	}
	if !strings.HasPrefix(msg, op) {
		t.Errorf("error message %q does not start with %q", msg, op)
	}
	return e
}

// TestCreateAnswers is the classification of every answer an OrderService call can get
// (README.md, "Errors"), including SF's repeat rule: 8016, then OrderSearchService.
func TestCreateAnswers(t *testing.T) {
	tests := []struct {
		name       string
		answer     func(http.ResponseWriter, Request)
		want       Waybill
		class      wire.Class // when err
		err        bool
		resultCode int
		calls      int64
	}{
		{name: "created", answer: reply(okOrder),
			want: Waybill{MailNo: "SF1000000000001", OriginCode: "021", DestCode: "010"}, calls: 1},
		{name: "created with a declaration and whitespace", answer: reply("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + okOrder + "\n"),
			want: Waybill{MailNo: "SF1000000000001", OriginCode: "021", DestCode: "010"}, calls: 1},
		{name: "several parcels: the master number", answer: reply(strings.Replace(okOrder, `mailno="SF1000000000001"`, `mailno="SF1000000000001,SF1000000000002"`, 1)),
			want: Waybill{MailNo: "SF1000000000001", OriginCode: "021", DestCode: "010"}, calls: 1},
		{name: "repeat: 8016, then the first waybill from OrderSearchService",
			answer: byService(map[string]string{ServiceOrder: repeat, ServiceOrderSearch: okSearch}),
			want:   Waybill{MailNo: "SF1000000000001", Repeat: true}, calls: 2},
		{name: "repeat, then the search fails: the order exists, retry here",
			answer: byService(map[string]string{ServiceOrder: repeat, ServiceOrderSearch: errAnswer(ServiceOrderSearch, "4001", "系统异常")}),
			err:    true, class: wire.Ambiguous, resultCode: 8016, calls: 2},
		{name: "repeat, then the search is garbled",
			answer: byService(map[string]string{ServiceOrder: repeat, ServiceOrderSearch: "<html>"}),
			err:    true, class: wire.Ambiguous, resultCode: 8016, calls: 2},
		{name: "repeat, then the search finds nothing",
			answer: byService(map[string]string{ServiceOrder: repeat, ServiceOrderSearch: errAnswer(ServiceOrderSearch, "8150", "找不到")}),
			err:    true, class: wire.Ambiguous, resultCode: 8016, calls: 2},
		{name: "OK for another order", answer: reply(strings.Replace(okOrder, "SO20240501001", "SO2", 1)),
			err: true, class: wire.Ambiguous, calls: 1},
		{name: "OK without mailno, manual check pending", answer: reply(`<Response service="OrderService"><Head>OK</Head><Body><OrderResponse orderid="SO20240501001" filter_result="1"/></Body></Response>`),
			err: true, class: wire.Ambiguous, calls: 1},
		{name: "OK without mailno, not deliverable", answer: reply(`<Response service="OrderService"><Head>OK</Head><Body><OrderResponse orderid="SO20240501001" filter_result="3"/></Body></Response>`),
			err: true, class: wire.Permanent, calls: 1},
		{name: "OK without body", answer: reply(`<Response service="OrderService"><Head>OK</Head></Response>`),
			err: true, class: wire.Ambiguous, calls: 1},
		{name: "4001 runtime error at the carrier", answer: reply(errAnswer(ServiceOrder, "4001", "系统发生数据错误或运行时异常")),
			err: true, class: wire.Ambiguous, resultCode: 4001, calls: 1},
		{name: "4002 unreadable request", answer: reply(errAnswer(ServiceOrder, "4002", "报文解析错误")),
			err: true, class: wire.Permanent, resultCode: 4002, calls: 1},
		{name: "6101 missing parameter", answer: reply(errAnswer(ServiceOrder, "6101", "必填项为空")),
			err: true, class: wire.Permanent, resultCode: 6101, calls: 1},
		{name: "8xxx business rule", answer: reply(errAnswer(ServiceOrder, "8019", "不在收派范围")),
			err: true, class: wire.Permanent, resultCode: 8019, calls: 1},
		{name: "unknown code", answer: reply(errAnswer(ServiceOrder, "1234", "稍后再试")),
			err: true, class: wire.Transient, resultCode: 1234, calls: 1},
		{name: "code that is not a number", answer: reply(errAnswer(ServiceOrder, "S07", "系统异常")),
			err: true, class: wire.Transient, calls: 1},
		{name: "ERR without ERROR", answer: reply(`<Response service="OrderService"><Head>ERR</Head></Response>`),
			err: true, class: wire.Transient, calls: 1},
		{name: "Head neither OK nor ERR", answer: reply(`<Response service="OrderService"><Head>PENDING</Head></Response>`),
			err: true, class: wire.Ambiguous, calls: 1},
		{name: "answer for another service", answer: reply(strings.Replace(okOrder, "OrderService", "RouteService", 1)),
			err: true, class: wire.Ambiguous, calls: 1},
		{name: "garbled 200", answer: reply(`<html>gateway says hi`), err: true, class: wire.Ambiguous, calls: 1},
		{name: "empty 200", answer: reply(``), err: true, class: wire.Ambiguous, calls: 1},
		{name: "GBK answer", answer: reply(`<?xml version="1.0" encoding="GBK"?>` + okOrder), err: true, class: wire.Ambiguous, calls: 1},
		{name: "answer with a DTD is not read", answer: reply(`<!DOCTYPE Response [<!ENTITY x SYSTEM "http://127.0.0.1:1/">]>` + okOrder),
			err: true, class: wire.Ambiguous, calls: 1},
		{name: "500", answer: status(500, "boom"), err: true, class: wire.Ambiguous, calls: 1},
		{name: "429", answer: status(429, "slow down"), err: true, class: wire.Transient, calls: 1},
		{name: "404", answer: status(404, "no such service"), err: true, class: wire.Permanent, calls: 1},
		{name: "slow beyond timeout", answer: func(w http.ResponseWriter, _ Request) { time.Sleep(600 * time.Millisecond) },
			err: true, class: wire.Ambiguous, calls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, calls := fakeCarrier(t, tt.answer)
			got, err := testClient(srv.URL, 300*time.Millisecond).Create(context.Background(), vectorOrder())
			if n := calls.Load(); n != tt.calls {
				t.Errorf("%d calls, want %d", n, tt.calls)
			}
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v (waybill %+v)", err, tt.err, got)
			}
			if err != nil {
				if e := checkErr(t, err, "create waybill SO20240501001", tt.class); e.ResultCode != tt.resultCode {
					t.Errorf("ResultCode = %d, want %d", e.ResultCode, tt.resultCode)
				}
				return
			}
			if got != tt.want {
				t.Errorf("waybill = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestCreateSendsVector: the OrderService document arrives byte for byte as the vector whose
// verifyCode OpenSSL computed: special characters are escaped once, the form encoded once.
func TestCreateSendsVector(t *testing.T) {
	_, docs := loadVectors(t)
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		got = r.PostForm.Get(FieldXML)
		if code := r.PostForm.Get(FieldVerifyCode); code != "dOR5V9F8p+NeOAo7Za8EIw==" {
			t.Errorf("verifyCode = %s", code)
		}
		reply(okOrder)(w, Request{})
	}))
	defer srv.Close()
	if _, err := testClient(srv.URL, time.Second).Create(context.Background(), vectorOrder()); err != nil {
		t.Fatal(err)
	}
	if got != docs["order-request"] {
		t.Errorf("xml received\n%s\nwant\n%s", got, docs["order-request"])
	}
}

func TestCreateRequestErrors(t *testing.T) {
	bad := vectorOrder()
	bad.Cargo[0].Weight = Number(math.Inf(1))
	for _, tc := range []struct {
		name  string
		url   string
		order Order
	}{
		{"no url", "", vectorOrder()},
		{"a weight XML cannot carry", "http://127.0.0.1:1", bad},
	} {
		_, err := testClient(tc.url, time.Second).Create(context.Background(), tc.order)
		checkErr(t, err, "create waybill SO20240501001", wire.Permanent)
	}
}

func TestCreateRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = testClient("http://"+addr+"/bsp-oisp/sfexpressService", time.Second).Create(context.Background(), vectorOrder())
	checkErr(t, err, "create waybill SO20240501001", wire.Transient)
}

const routes = `<Response service="RouteService"><Head>OK</Head><Body><RouteResponse mailno="SF1000000000001">` +
	`<Route accept_time="2024-05-01 18:00:00" accept_address="上海市" remark="顺丰速运 已收取快件" opcode="50"/>` +
	`<Route accept_time="2024-05-02 15:00:00" accept_address="北京市" remark="已签收" opcode="80"/>` +
	`<Route accept_time="2024-05-02 09:00:00" accept_address="北京市" remark="派送中" opcode="44"/>` +
	`</RouteResponse></Body></Response>`

// TestTrack: RouteService answers are read, newest by time; every failure is transient or
// permanent, never MaybeCreated (a query changes nothing).
func TestTrack(t *testing.T) {
	tests := []struct {
		name   string
		answer func(http.ResponseWriter, Request)
		routes int
		newest string
		err    bool
		class  wire.Class
	}{
		{name: "routes, newest by time", answer: reply(routes), routes: 3, newest: "80"},
		{name: "no routes yet", answer: reply(`<Response service="RouteService"><Head>OK</Head><Body/></Response>`)},
		{name: "only other waybills", answer: reply(strings.Replace(routes, `mailno="SF1000000000001"`, `mailno="SF9"`, 1))},
		{name: "4001", answer: reply(errAnswer(ServiceRoute, "4001", "系统异常")), err: true, class: wire.Transient},
		{name: "6xxx", answer: reply(errAnswer(ServiceRoute, "6135", "单号不合法")), err: true, class: wire.Permanent},
		{name: "garbled", answer: reply(`<html>`), err: true, class: wire.Transient},
		{name: "500", answer: status(500, "boom"), err: true, class: wire.Transient},
		{name: "slow beyond timeout", answer: func(http.ResponseWriter, Request) { time.Sleep(600 * time.Millisecond) },
			err: true, class: wire.Transient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var asked atomic.Pointer[RouteRequest]
			srv, _ := fakeCarrier(t, func(w http.ResponseWriter, req Request) {
				if req.Service != ServiceRoute || req.Body.RouteRequest == nil {
					t.Errorf("request %+v", req)
				} else {
					asked.Store(req.Body.RouteRequest)
				}
				tt.answer(w, req)
			})
			got, err := testClient(srv.URL, 300*time.Millisecond).Track(context.Background(), "SF1000000000001")
			if a := asked.Load(); a == nil || *a != (RouteRequest{TrackingType: "1", MethodType: "1", TrackingNumber: "SF1000000000001"}) {
				t.Errorf("asked %+v", a)
			}
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if err != nil {
				checkErr(t, err, "track waybill SF1000000000001", tt.class)
				return
			}
			if got.MailNo != "SF1000000000001" || len(got.Routes) != tt.routes {
				t.Fatalf("trace = %+v", got)
			}
			r, at, ok := got.Newest()
			if ok != (tt.newest != "") || r.OpCode != tt.newest {
				t.Errorf("Newest = %+v %v %v, want opcode %q", r, at, ok, tt.newest)
			}
			if ok && !at.Equal(time.Date(2024, 5, 2, 7, 0, 0, 0, time.UTC)) {
				t.Errorf("Newest time = %v", at)
			}
		})
	}
}
