package kdniao

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// trackCarrier checks a 1002 request the way Kdniao does, then lets answer reply.
func trackCarrier(t *testing.T, wantData string, answer http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/Ebusiness/EbusinessOrderHandle.aspx" {
			t.Errorf("path = %s", r.URL.Path)
		}
		if err := r.ParseForm(); err != nil {
			t.Errorf("parse form: %v", err)
		}
		f := r.PostForm
		if f.Get("EBusinessID") != testEBusinessID || f.Get("RequestType") != "1002" || f.Get("DataType") != "2" {
			t.Errorf("form = %v", f)
		}
		if got := f.Get("RequestData"); got != wantData {
			t.Errorf("RequestData = %s, want %s", got, wantData)
		}
		if !Verify(f.Get("RequestData"), testAppKey, f.Get("DataSign")) {
			t.Errorf("DataSign does not verify")
		}
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestTrack(t *testing.T) {
	const wantData = `{"OrderCode":"SO1 & co","ShipperCode":"SIM","LogisticCode":"SIM0000000001"}`
	type want struct {
		state, stateEx string
		traces         int
		err            bool
		permanent      bool
		httpStatus     int
		resultCode     int
	}
	tests := []struct {
		name   string
		answer http.HandlerFunc
		want   want
	}{
		{"delivered", reply(`{"EBusinessID":"1237100","OrderCode":"SO1 & co","ShipperCode":"SIM","LogisticCode":"SIM0000000001",` +
			`"Success":true,"State":"3","StateEx":"301","Location":"北京市","Traces":[` +
			`{"AcceptTime":"2024-05-01 18:00:00","AcceptStation":"已揽收","Location":"上海市","Action":"1"},` +
			`{"AcceptTime":"2024-05-02 15:00:00","AcceptStation":"已签收","Location":"北京市","Action":"301"}]}`),
			want{state: "3", stateEx: "301", traces: 2}},
		{"numbers, no codes echoed", reply(`{"Success":true,"State":2,"StateEx":201,"Traces":[{"AcceptTime":"2024-05-01 18:00:00","Action":1}]}`),
			want{state: "2", stateEx: "201", traces: 1}},
		{"no trace yet", reply(`{"Success":true,"State":"0","Reason":"暂无轨迹信息","Traces":[]}`),
			want{state: "0"}},
		{"unknown waybill", reply(`{"Success":false,"Reason":"未查询到该单号"}`),
			want{err: true, httpStatus: 200}},
		{"account problem", reply(`{"Success":false,"ResultCode":"104","Reason":"验证数据签名失败"}`),
			want{err: true, permanent: true, httpStatus: 200, resultCode: 104}},
		{"garbled 200", reply(`<html>`), want{err: true, httpStatus: 200}},
		{"500", status(500, "boom"), want{err: true, httpStatus: 500}},
		{"429", status(429, "slow down"), want{err: true, httpStatus: 429}},
		{"404", status(404, "no such page"), want{err: true, permanent: true, httpStatus: 404}},
		{"slow beyond timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, want{err: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := trackCarrier(t, wantData, tt.answer)
			c := New(Config{URL: "http://127.0.0.1:1/unused", TrackURL: srv.URL + "/Ebusiness/EbusinessOrderHandle.aspx",
				EBusinessID: testEBusinessID, AppKey: testAppKey, ShipperCode: "SIM", Timeout: 300 * time.Millisecond})
			got, err := c.Track(context.Background(), "SIM", "SIM0000000001", "SO1 & co")
			if (err != nil) != tt.want.err {
				t.Fatalf("err = %v, want error %v", err, tt.want.err)
			}
			if err != nil {
				e, ok := errors.AsType[*Error](err)
				if !ok {
					t.Fatalf("err %T is not *Error", err)
				}
				if e.Permanent() != tt.want.permanent || e.MaybeCreated() || e.HTTPStatus != tt.want.httpStatus ||
					e.ResultCode != tt.want.resultCode {
					t.Errorf("err = %v: permanent %v, maybe created %v, status %d, code %d", err, e.Permanent(),
						e.MaybeCreated(), e.HTTPStatus, e.ResultCode)
				}
				if !strings.HasPrefix(err.Error(), "track waybill SIM0000000001") || strings.Contains(err.Error(), testAppKey) {
					t.Errorf("error message %q", err)
				}
				return
			}
			if got.State != tt.want.state || got.StateEx != tt.want.stateEx || len(got.Traces) != tt.want.traces ||
				got.LogisticCode != "SIM0000000001" || got.ShipperCode != "SIM" || !got.Success {
				t.Errorf("trace = %+v", got)
			}
		})
	}
}

// TestTrackTV2 checks the 1002 RequestData and its sign against the TV2 vector, which is a
// trace query.
func TestTrackTV2(t *testing.T) {
	v := loadVectors(t)["TV2"]
	var gotData, gotSign string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		gotData, gotSign = r.PostForm.Get("RequestData"), r.PostForm.Get("DataSign")
		reply(`{"Success":true,"State":"0","Traces":[]}`)(w, r)
	}))
	defer srv.Close()
	c := New(Config{URL: "http://127.0.0.1:1/unused", TrackURL: srv.URL, EBusinessID: testEBusinessID, AppKey: v.AppKey})
	if _, err := c.Track(context.Background(), "SF", "118954907573", ""); err != nil {
		t.Fatal(err)
	}
	if gotData != v.RequestData || gotSign != v.DataSign {
		t.Errorf("RequestData, DataSign = %s, %s; want %s, %s", gotData, gotSign, v.RequestData, v.DataSign)
	}
}

func TestTrackRefused(t *testing.T) {
	c := New(Config{URL: "http://127.0.0.1:1", TrackURL: "http://127.0.0.1:1", EBusinessID: testEBusinessID,
		AppKey: testAppKey, Timeout: time.Second})
	_, err := c.Track(context.Background(), "SIM", "SIM1", "")
	e, ok := errors.AsType[*Error](err)
	if !ok || e.Permanent() || e.MaybeCreated() {
		t.Errorf("err = %v, want a transient *Error", err)
	}
}

// TestTrackNeedsTrackURL: Kdniao answers 1002 only on its query endpoint, so a client without
// one never sends the query to the create endpoint.
func TestTrackNeedsTrackURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("query sent to %s", r.URL.Path)
	}))
	defer srv.Close()
	c := New(Config{URL: srv.URL + "/api/EOrderService", EBusinessID: testEBusinessID, AppKey: testAppKey})
	_, err := c.Track(context.Background(), "SIM", "SIM1", "")
	if e, ok := errors.AsType[*Error](err); !ok || !e.Permanent() {
		t.Errorf("err = %v, want a permanent *Error", err)
	}
}
