package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao"
)

const (
	testEBusinessID = "1237100"
	testAppKey      = "sim-test-app-key"
)

func start(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	cfg.EBusinessID, cfg.AppKey = testEBusinessID, testAppKey
	s := New(cfg)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

func client(srv *httptest.Server, appKey string, timeout time.Duration) *kdniao.Client {
	return kdniao.New(kdniao.Config{URL: srv.URL + CreatePath, TrackURL: srv.URL + TrackPath,
		EBusinessID: testEBusinessID, AppKey: appKey, ShipperCode: "SIM", Timeout: timeout})
}

func testOrder(code string) kdniao.Order {
	return kdniao.Order{
		OrderCode: code,
		Sender: kdniao.Address{Name: "Taylor", Mobile: "15018442396", ProvinceName: "上海", CityName: "上海",
			ExpAreaName: "青浦区", Address: "明珠路73号"},
		Receiver: kdniao.Address{Name: "Yann", Mobile: "15018442396", ProvinceName: "北京", CityName: "北京",
			ExpAreaName: "朝阳区", Address: "三里屯街道雅秀大厦"},
		Items:    []kdniao.Item{{GoodsName: `鞋子 A&B+C #1 'x' "y"`, Goodsquantity: 1, GoodsWeight: 1}},
		WeightKg: 1,
	}
}

func checkStats(t *testing.T, s *Server, want Stats) {
	t.Helper()
	if got := s.Stats(); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

// kdniaoError returns err as *kdniao.Error, failing the test otherwise.
func kdniaoError(t *testing.T, err error) *kdniao.Error {
	t.Helper()
	var e *kdniao.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *kdniao.Error", err, err)
	}
	return e
}

func TestCreateAndRepeat(t *testing.T) {
	s, srv := start(t, Config{PickupAfter: 2 * time.Hour})
	c := client(srv, testAppKey, time.Second)
	ctx := context.Background()

	first, err := c.Create(ctx, testOrder("SO1"))
	if err != nil {
		t.Fatal(err)
	}
	if first.LogisticCode != "SIM0000000001" || first.ShipperCode != "SIM" || first.Repeat {
		t.Errorf("first = %+v", first)
	}
	if d := time.Until(first.PickupTime); d < time.Hour || d > 3*time.Hour {
		t.Errorf("PickupTime = %v, want about 2h from now", first.PickupTime)
	}
	again, err := c.Create(ctx, testOrder("SO1"))
	if err != nil {
		t.Fatal(err)
	}
	if again.LogisticCode != first.LogisticCode || !again.Repeat {
		t.Errorf("repeat = %+v, want Repeat with %s", again, first.LogisticCode)
	}
	other, err := c.Create(ctx, testOrder("SO2"))
	if err != nil {
		t.Fatal(err)
	}
	if other.LogisticCode != "SIM0000000002" {
		t.Errorf("second order got %s", other.LogisticCode)
	}
	if w, ok := s.Waybill("SO1"); !ok || w != first.LogisticCode {
		t.Errorf("Waybill(SO1) = %q, %v", w, ok)
	}
	checkStats(t, s, Stats{Requests: 3, Creates: 2, Repeats: 1})
}

func TestRejects(t *testing.T) {
	tests := []struct {
		name        string
		ebusinessID string
		appKey      string
		reason      string
	}{
		{"bad sign", testEBusinessID, "wrong-key", "验证数据签名失败"},
		{"wrong EBusinessID", "9999999", testAppKey, "EBusinessID error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, srv := start(t, Config{})
			c := kdniao.New(kdniao.Config{URL: srv.URL + CreatePath, EBusinessID: tt.ebusinessID, AppKey: tt.appKey, ShipperCode: "SIM"})
			_, err := c.Create(context.Background(), testOrder("SO1"))
			e := kdniaoError(t, err)
			if !e.Permanent() || e.MaybeCreated() || e.ResultCode != 104 || e.Reason != tt.reason {
				t.Errorf("err = %v; permanent %v, maybe created %v", err, e.Permanent(), e.MaybeCreated())
			}
			if _, ok := s.Waybill("SO1"); ok {
				t.Error("rejected request created a waybill")
			}
			checkStats(t, s, Stats{Requests: 1, Rejects: 1})
		})
	}
}

func TestInvalid(t *testing.T) {
	tests := []struct {
		name   string
		change func(*kdniao.Order)
		field  string
	}{
		{"no order code", func(o *kdniao.Order) { o.OrderCode = "" }, "OrderCode"},
		{"no receiver name", func(o *kdniao.Order) { o.Receiver.Name = "" }, "Receiver.Name"},
		{"no phone", func(o *kdniao.Order) { o.Receiver.Mobile = "" }, "Receiver.Mobile or Receiver.Tel"},
		{"no province", func(o *kdniao.Order) { o.Receiver.ProvinceName = "" }, "Receiver.ProvinceName"},
		{"no city", func(o *kdniao.Order) { o.Receiver.CityName = "" }, "Receiver.CityName"},
		{"no address", func(o *kdniao.Order) { o.Receiver.Address = "" }, "Receiver.Address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, srv := start(t, Config{})
			o := testOrder("SO1")
			tt.change(&o)
			_, err := client(srv, testAppKey, time.Second).Create(context.Background(), o)
			e := kdniaoError(t, err)
			if !e.Permanent() || e.ResultCode != 101 || !strings.Contains(e.Reason, tt.field) {
				t.Errorf("err = %v, want permanent 101 naming %s", err, tt.field)
			}
			if _, ok := s.Waybill(o.OrderCode); ok {
				t.Error("invalid request created a waybill")
			}
			checkStats(t, s, Stats{Requests: 1, Invalid: 1})
		})
	}
	t.Run("no shipper code", func(t *testing.T) {
		s, srv := start(t, Config{})
		c := kdniao.New(kdniao.Config{URL: srv.URL + CreatePath, EBusinessID: testEBusinessID, AppKey: testAppKey})
		_, err := c.Create(context.Background(), testOrder("SO1"))
		if e := kdniaoError(t, err); e.ResultCode != 101 || !strings.Contains(e.Reason, "ShipperCode") {
			t.Errorf("err = %v", err)
		}
		checkStats(t, s, Stats{Requests: 1, Invalid: 1})
	})
}

func TestErrorRate(t *testing.T) {
	s, srv := start(t, Config{ErrorRate: 1})
	c := client(srv, testAppKey, time.Second)
	_, err := c.Create(context.Background(), testOrder("SO1"))
	e := kdniaoError(t, err)
	if e.HTTPStatus != http.StatusInternalServerError || e.Permanent() {
		t.Errorf("err = %v, want transient HTTP 500", err)
	}
	if _, ok := s.Waybill("SO1"); ok {
		t.Error("error fault created a waybill")
	}
	checkStats(t, s, Stats{Requests: 1, Errors: 1})

	s.SetFaults(Faults{})
	w, err := c.Create(context.Background(), testOrder("SO1"))
	if err != nil || w.Repeat {
		t.Errorf("after faults off: %+v, %v; want a first create", w, err)
	}
	checkStats(t, s, Stats{Requests: 2, Creates: 1, Errors: 1})
}

// TestTimeoutAfterCommit is the ambiguous case: the carrier created the waybill but the client
// timed out; the retry with the same OrderCode must get the same waybill.
func TestTimeoutAfterCommit(t *testing.T) {
	const hang = 10 * time.Second
	s, srv := start(t, Config{TimeoutAfterCommitRate: 1, Hang: hang})
	c := client(srv, testAppKey, 200*time.Millisecond)
	began := time.Now()

	_, err := c.Create(context.Background(), testOrder("SO1"))
	e := kdniaoError(t, err)
	if e.Permanent() || !e.MaybeCreated() {
		t.Fatalf("err = %v; permanent %v, maybe created %v; want transient and ambiguous", err, e.Permanent(), e.MaybeCreated())
	}
	created, ok := s.Waybill("SO1")
	if !ok {
		t.Fatal("no waybill recorded before the hang")
	}
	w, err := c.Create(context.Background(), testOrder("SO1"))
	if err != nil {
		t.Fatal(err)
	}
	if !w.Repeat || w.LogisticCode != created {
		t.Errorf("retry = %+v, want Repeat with %s", w, created)
	}
	checkStats(t, s, Stats{Requests: 2, Creates: 1, Repeats: 1, Timeouts: 1})

	srv.Close() // waits for handlers: the hang must have ended with the client's request
	if d := time.Since(began); d > hang/2 {
		t.Errorf("the hang outlived its request: %v", d)
	}
}

func TestConcurrentCreates(t *testing.T) {
	const goroutines, distinct = 200, 50
	s, srv := start(t, Config{})
	c := client(srv, testAppKey, 5*time.Second)
	got := make([]string, goroutines)
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Go(func() {
			w, err := c.Create(context.Background(), testOrder(fmt.Sprintf("SO%03d", i%distinct)))
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = w.LogisticCode
		})
	}
	wg.Wait()
	seen := make(map[string]string)
	for i, w := range got {
		code := fmt.Sprintf("SO%03d", i%distinct)
		if want, _ := s.Waybill(code); w != want {
			t.Errorf("%s got %s, the simulator recorded %s", code, w, want)
		}
		if prev, ok := seen[w]; ok && prev != code {
			t.Errorf("waybill %s given to %s and %s", w, prev, code)
		}
		seen[w] = code
	}
	checkStats(t, s, Stats{Requests: goroutines, Creates: distinct, Repeats: goroutines - distinct})
}

// post sends a raw form, for what kdniao.Client never sends.
func post(t *testing.T, target string, form url.Values) map[string]any {
	t.Helper()
	resp, err := http.PostForm(target, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func signedForm(requestType, data string) url.Values {
	return url.Values{"RequestData": {data}, "EBusinessID": {testEBusinessID}, "RequestType": {requestType},
		"DataSign": {kdniao.Sign(data, testAppKey)}, "DataType": {"2"}}
}

func TestRawRequests(t *testing.T) {
	data, err := kdniao.NewCreateRequest(testOrder("SO1"), "SIM", 1, 1).Encode()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		path       string
		form       url.Values
		success    bool
		resultCode string
	}{
		{"create", "/api/EOrderService", signedForm("1007", data), true, "100"},
		{"create again", "/api/EOrderService", signedForm("1007", data), true, "106"},
		{"create on the query endpoint", "/Ebusiness/EbusinessOrderHandle.aspx", signedForm("1007", data), false, "105"},
		{"query on the create endpoint", "/api/EOrderService", signedForm("1002", `{"OrderCode":"","ShipperCode":"SIM","LogisticCode":"SIM0000000001"}`), false, "105"},
		{"unsupported RequestType", "/api/EOrderService", signedForm("1008", `{"LogisticCode":"SIM0000000001"}`), false, "105"},
		{"RequestData not JSON", "/api/EOrderService", signedForm("1007", `{"OrderCode":`), false, "103"},
		{"re-marshalled data fails the sign", "/api/EOrderService", func() url.Values {
			f := signedForm("1007", data)
			f.Set("RequestData", strings.Replace(data, "&", `\u0026`, 1))
			return f
		}(), false, "104"},
	}
	_, srv := start(t, Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := post(t, srv.URL+tt.path, tt.form)
			if m["Success"] != tt.success || m["ResultCode"] != tt.resultCode || m["EBusinessID"] != testEBusinessID {
				t.Errorf("answer = %v", m)
			}
			if n, _ := m["UniquerRequestNumber"].(string); len(n) != 36 {
				t.Errorf("UniquerRequestNumber = %q", n)
			}
		})
	}
}

// TestEndpoints: like Kdniao, the simulator answers creates only on the create endpoint and
// queries only on the query endpoint, so a client that sends a 1002 query to its create URL
// fails (Success:false) instead of working only against the simulator; other paths are 404.
func TestEndpoints(t *testing.T) {
	s, srv := start(t, Config{})
	w, err := client(srv, testAppKey, time.Second).Create(context.Background(), testOrder("SO1"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		url      string // the client's URL and TrackURL
		create   bool   // whether a create works
		track    bool   // whether a query works
		notFound bool   // HTTP 404
	}{
		{"create endpoint", srv.URL + CreatePath, true, false, false},
		{"query endpoint", srv.URL + TrackPath, false, true, false},
		{"no path", srv.URL, false, false, true},
		{"trace subscribe endpoint", srv.URL + "/api/dist", false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := kdniao.New(kdniao.Config{URL: tt.url, TrackURL: tt.url, EBusinessID: testEBusinessID, AppKey: testAppKey,
				ShipperCode: "SIM", Timeout: time.Second})
			_, err := c.Create(context.Background(), testOrder("SO1"))
			if (err == nil) != tt.create {
				t.Errorf("create: err = %v, want success %v", err, tt.create)
			}
			if err != nil && tt.notFound && kdniaoError(t, err).HTTPStatus != http.StatusNotFound {
				t.Errorf("create: err = %v, want 404", err)
			}
			tr, err := c.Track(context.Background(), "SIM", w.LogisticCode, "SO1")
			if (err == nil) != tt.track {
				t.Errorf("track: err = %v, want success %v", err, tt.track)
			}
			switch {
			case err == nil && (!tr.Success || tr.LogisticCode != w.LogisticCode):
				t.Errorf("track = %+v", tr)
			case err != nil && tt.notFound && kdniaoError(t, err).HTTPStatus != http.StatusNotFound:
				t.Errorf("track: err = %v, want 404", err)
			case err != nil && !tt.notFound && kdniaoError(t, err).HTTPStatus != http.StatusOK:
				t.Errorf("track: err = %v, want Success:false", err)
			}
		})
	}
	// One query answered (the query endpoint's), one create and one repeat (the create
	// endpoint's); the two misrouted requests are invalid; the 404s never reached the handler.
	checkStats(t, s, Stats{Requests: 5, Creates: 1, Repeats: 1, Invalid: 2, Queries: 1})
}

func TestStatsAndHealth(t *testing.T) {
	s, srv := start(t, Config{})
	if _, err := client(srv, testAppKey, time.Second).Create(context.Background(), testOrder("SO1")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]int64
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"requests": 1, "creates": 1, "repeats": 0, "rejects": 0, "invalid": 0, "errors": 0, "timeouts": 0,
		"pushes_sent": 0, "pushes_acked": 0, "pushes_failed": 0, "pushes_dropped": 0, "pushes_duplicated": 0,
		"pushes_reordered": 0, "pushes_bad_signed": 0, "pushes_bad_sign_accepted": 0, "queries": 0,
		"cancels": 0, "cancels_refused": 0, "labels": 0}
	if fmt.Sprint(m) != fmt.Sprint(want) {
		t.Errorf("GET /stats = %v, want %v", m, want)
	}
	if s.Stats().Creates != 1 {
		t.Errorf("Stats() = %+v", s.Stats())
	}
	resp, err = http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: %d", resp.StatusCode)
	}
}

func TestBodyLimit(t *testing.T) {
	s, srv := start(t, Config{})
	resp, err := http.PostForm(srv.URL+CreatePath, url.Values{"RequestData": {strings.Repeat("x", maxBodyBytes)}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", resp.StatusCode)
	}
	checkStats(t, s, Stats{Requests: 1, Invalid: 1})
}

func TestLatency(t *testing.T) {
	s, srv := start(t, Config{Latency: 150 * time.Millisecond})
	c := client(srv, testAppKey, time.Second)
	began := time.Now()
	if _, err := c.Create(context.Background(), testOrder("SO1")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d < 150*time.Millisecond {
		t.Errorf("answered after %v, want at least the latency", d)
	}
	s.SetFaults(Faults{})
	began = time.Now()
	if _, err := c.Create(context.Background(), testOrder("SO2")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d >= 150*time.Millisecond {
		t.Errorf("answered after %v with latency off", d)
	}
}

func BenchmarkCreate(b *testing.B) {
	s := New(Config{EBusinessID: testEBusinessID, AppKey: testAppKey})
	var mu sync.Mutex
	n := 0
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			n++
			code := fmt.Sprintf("SO%d", n)
			mu.Unlock()
			data, _ := kdniao.NewCreateRequest(testOrder(code), "SIM", 1, 1).Encode()
			req := httptest.NewRequest(http.MethodPost, "/api/EOrderService", strings.NewReader(signedForm("1007", data).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d", rec.Code)
			}
		}
	})
	if got := s.Stats().Creates; got != int64(n) {
		b.Fatalf("creates %d, want %d", got, n)
	}
}
