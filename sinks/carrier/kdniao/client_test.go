package kdniao

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const (
	testEBusinessID = "1237100"
	testAppKey      = "secret-app-key-0001"
)

// fakeCarrier checks what every Kdniao endpoint checks (form, EBusinessID, DataSign over the
// RequestData as received), then lets answer reply.
func fakeCarrier(t *testing.T, answer http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != formContentType {
			t.Errorf("Content-Type = %q", ct)
		}
		if err := r.ParseForm(); err != nil {
			t.Errorf("parse form: %v", err)
		}
		f := r.PostForm
		if f.Get("EBusinessID") != testEBusinessID || f.Get("RequestType") != "1007" || f.Get("DataType") != "2" {
			t.Errorf("form = %v", f)
		}
		if !Verify(f.Get("RequestData"), testAppKey, f.Get("DataSign")) {
			t.Errorf("DataSign %q does not verify over %q", f.Get("DataSign"), f.Get("RequestData"))
		}
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func reply(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}
}

func status(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { http.Error(w, body, code) }
}

func testClient(url string, timeout time.Duration) *Client {
	return New(Config{URL: url, EBusinessID: testEBusinessID, AppKey: testAppKey, ShipperCode: "SIM", Timeout: timeout})
}

func TestCreate(t *testing.T) {
	type want struct {
		waybill      Waybill
		err          bool
		permanent    bool
		maybeCreated bool
		httpStatus   int
		resultCode   int
	}
	shanghai := time.FixedZone("x", 8*3600)
	tests := []struct {
		name   string
		answer http.HandlerFunc
		want   want
	}{
		{"created", reply(`{"EBusinessID":"1237100","Success":true,"ResultCode":"100","Reason":"","UniquerRequestNumber":"u1",` +
			`"Order":{"OrderCode":"SO1","ShipperCode":"SIM","LogisticCode":"SIM0000000001"},"PickupTime":"2024-05-01 18:00:00"}`),
			want{waybill: Waybill{LogisticCode: "SIM0000000001", ShipperCode: "SIM",
				PickupTime: time.Date(2024, 5, 1, 18, 0, 0, 0, shanghai)}}},
		{"created, numeric code, no pickup time, no shipper", reply(`{"Success":true,"ResultCode":100,"Order":{"LogisticCode":"X1"}}`),
			want{waybill: Waybill{LogisticCode: "X1", ShipperCode: "SIM"}}},
		{"created, unreadable pickup time", reply(`{"Success":true,"ResultCode":"100","Order":{"LogisticCode":"X1"},"PickupTime":"soon"}`),
			want{waybill: Waybill{LogisticCode: "X1", ShipperCode: "SIM"}}},
		{"repeat 106", reply(`{"Success":true,"ResultCode":"106","Reason":"该订单号已下单成功","Order":{"OrderCode":"SO1","ShipperCode":"SIM","LogisticCode":"SIM0000000001"}}`),
			want{waybill: Waybill{LogisticCode: "SIM0000000001", ShipperCode: "SIM", Repeat: true}}},
		{"repeat 106 flagged unsuccessful", reply(`{"Success":false,"ResultCode":"106","Order":{"LogisticCode":"SIM0000000001"}}`),
			want{waybill: Waybill{LogisticCode: "SIM0000000001", ShipperCode: "SIM", Repeat: true}}},
		{"success without waybill", reply(`{"Success":true,"ResultCode":"100","Order":{"LogisticCode":""}}`),
			want{err: true, maybeCreated: true, httpStatus: 200, resultCode: 100}},
		{"success with unknown code", reply(`{"Success":true,"ResultCode":"199","Order":{"LogisticCode":"X"}}`),
			want{err: true, maybeCreated: true, httpStatus: 200, resultCode: 199}},
		{"101 missing parameter", reply(`{"Success":false,"ResultCode":"101","Reason":"缺少必要参数"}`),
			want{err: true, permanent: true, httpStatus: 200, resultCode: 101}},
		{"102 validation", reply(`{"Success":false,"ResultCode":"102","Reason":"校验问题"}`),
			want{err: true, permanent: true, httpStatus: 200, resultCode: 102}},
		{"103 format", reply(`{"Success":false,"ResultCode":103}`),
			want{err: true, permanent: true, httpStatus: 200, resultCode: 103}},
		{"104 account", reply(`{"Success":false,"ResultCode":"104","Reason":"验证数据签名失败"}`),
			want{err: true, permanent: true, httpStatus: 200, resultCode: 104}},
		{"105 other", reply(`{"Success":false,"ResultCode":"105","Reason":"系统错误"}`),
			want{err: true, httpStatus: 200, resultCode: 105}},
		{"unknown code", reply(`{"Success":false,"ResultCode":"999"}`),
			want{err: true, httpStatus: 200, resultCode: 999}},
		{"garbled 200", reply(`<html>gateway says hi`),
			want{err: true, maybeCreated: true, httpStatus: 200}},
		{"empty 200", reply(``),
			want{err: true, maybeCreated: true, httpStatus: 200}},
		{"500", status(500, "boom"), want{err: true, maybeCreated: true, httpStatus: 500}},
		{"503", status(503, "busy"), want{err: true, maybeCreated: true, httpStatus: 503}},
		{"429", status(429, "slow down"), want{err: true, httpStatus: 429}},
		{"400", status(400, "bad"), want{err: true, permanent: true, httpStatus: 400}},
		{"403", status(403, "forbidden"), want{err: true, permanent: true, httpStatus: 403}},
		{"slow beyond timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, want{err: true, maybeCreated: true}},
		{"reset after request", func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			_ = conn.(*net.TCPConn).SetLinger(0) // RST, not FIN
			_ = conn.Close()
		}, want{err: true, maybeCreated: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fakeCarrier(t, tt.answer)
			got, err := testClient(srv.URL, 300*time.Millisecond).Create(context.Background(), tv3Order())
			checkErr(t, err, tt.want.err, tt.want.permanent, tt.want.maybeCreated)
			if err != nil {
				var e *Error
				errors.As(err, &e)
				if e.HTTPStatus != tt.want.httpStatus || e.ResultCode != tt.want.resultCode {
					t.Errorf("HTTPStatus, ResultCode = %d, %d; want %d, %d", e.HTTPStatus, e.ResultCode,
						tt.want.httpStatus, tt.want.resultCode)
				}
				return
			}
			if got.LogisticCode != tt.want.waybill.LogisticCode || got.ShipperCode != tt.want.waybill.ShipperCode ||
				got.Repeat != tt.want.waybill.Repeat || !got.PickupTime.Equal(tt.want.waybill.PickupTime) {
				t.Errorf("waybill = %+v, want %+v", got, tt.want.waybill)
			}
		})
	}
}

// checkErr checks err's classification and that its message stays clean.
func checkErr(t *testing.T, err error, wantErr, permanent, maybeCreated bool) {
	t.Helper()
	if (err != nil) != wantErr {
		t.Fatalf("err = %v, want error %v", err, wantErr)
	}
	if err == nil {
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err %T is not *Error: %v", err, err)
	}
	if e.Permanent() != permanent || e.MaybeCreated() != maybeCreated {
		t.Errorf("Permanent, MaybeCreated = %v, %v; want %v, %v (%v)", e.Permanent(), e.MaybeCreated(),
			permanent, maybeCreated, err)
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	if strings.Contains(msg, testAppKey) {
		t.Errorf("error message contains the app key: %s", msg)
	}
	if !strings.HasPrefix(msg, "create waybill SO20240501001") {
		t.Errorf("error message %q does not start with the operation", msg)
	}
}

func TestCreateRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = testClient("http://"+addr+"/api/EOrderService", time.Second).Create(context.Background(), tv3Order())
	checkErr(t, err, true, false, false)
}

func TestCreateContextCancelledBeforeSend(t *testing.T) {
	srv := fakeCarrier(t, reply(`{}`))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := testClient(srv.URL, time.Second).Create(ctx, tv3Order())
	checkErr(t, err, true, false, false)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled in the chain", err)
	}
}

func TestCreateNoURL(t *testing.T) {
	_, err := testClient("", time.Second).Create(context.Background(), tv3Order())
	checkErr(t, err, true, true, false)
}

func TestCreateBadNumber(t *testing.T) {
	o := tv3Order()
	o.Items[0].GoodsWeight = Float(math.NaN())
	_, err := testClient("http://127.0.0.1:1", time.Second).Create(context.Background(), o)
	checkErr(t, err, true, true, false)
}

// TestCreateEncodesOnce proves the form is encoded exactly once: characters that are special
// in URLs, JSON or HTML arrive intact and the carrier's Verify accepts the sign.
func TestCreateEncodesOnce(t *testing.T) {
	const name = `鞋子 A&B+C #1 'x' "y" 100% =ok?`
	o := tv3Order()
	o.Items[0].GoodsName = name
	o.Remark = "小心 & 轻放 + #"
	want, err := NewCreateRequest(o, "SIM", 1, 1).Encode()
	if err != nil {
		t.Fatal(err)
	}
	var gotData string
	srv := fakeCarrier(t, func(w http.ResponseWriter, r *http.Request) {
		gotData = r.PostForm.Get("RequestData")
		reply(`{"Success":true,"ResultCode":"100","Order":{"LogisticCode":"X1"}}`)(w, r)
	})
	if _, err := testClient(srv.URL, time.Second).Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if gotData != want {
		t.Fatalf("RequestData received\n%s\nwant\n%s", gotData, want)
	}
	var req CreateRequest
	if err := json.Unmarshal([]byte(gotData), &req); err != nil {
		t.Fatal(err)
	}
	if req.Commodity[0].GoodsName != name || req.Remark != o.Remark {
		t.Errorf("GoodsName, Remark = %q, %q", req.Commodity[0].GoodsName, req.Remark)
	}
	if strings.Contains(gotData, `\u0026`) {
		t.Errorf("RequestData has HTML escaping: %s", gotData)
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Op: "create waybill A1", HTTPStatus: 200, ResultCode: 101, Reason: "缺少参数"},
			"create waybill A1: result code 101: 缺少参数"},
		{&Error{Op: "create waybill A1", HTTPStatus: 503, Reason: "busy"},
			"create waybill A1: http status 503: busy"},
		{&Error{Op: "create waybill A1", Err: context.DeadlineExceeded},
			"create waybill A1: context deadline exceeded"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
