package signedjson_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/signedjson"
	"github.com/shipsync/shipsync/sinks/carrier/signedjson/sim"
)

const testSecret = "whsec_client_test_0001"

func testOrder(code string) signedjson.Order {
	return signedjson.Order{
		OrderCode: code,
		Sender: signedjson.Address{Name: "Taylor", Mobile: "15018442396", Province: "上海", City: "上海",
			District: "青浦区", Address: "明珠路73号"},
		Receiver: signedjson.Address{Name: "Yann", Mobile: "15018442396", Province: "北京", City: "北京",
			District: "朝阳区", Address: "三里屯街道雅秀大厦"},
		Items:    []signedjson.Item{{Name: `鞋子 A&B+C #1 'x' "y"`, Quantity: 1, WeightKg: 1, Price: 99.5}},
		WeightKg: 1,
		Remark:   "小心 & 轻放",
	}
}

func startSim(t *testing.T) (*sim.Server, *httptest.Server) {
	t.Helper()
	s := sim.New(testSecret)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

func newClient(url, secret string, timeout time.Duration) *signedjson.Client {
	return signedjson.New(signedjson.Config{URL: url + "/v1/waybills", Secret: secret, ShipperCode: "GJ", Timeout: timeout})
}

// checkErr checks err's classification and that its message stays clean.
func checkErr(t *testing.T, err error, wantErr, permanent, maybeCreated bool) *signedjson.Error {
	t.Helper()
	if (err != nil) != wantErr {
		t.Fatalf("err = %v, want error %v", err, wantErr)
	}
	if err == nil {
		return nil
	}
	var e *signedjson.Error
	if !errors.As(err, &e) {
		t.Fatalf("err %T is not *signedjson.Error: %v", err, err)
	}
	if e.Permanent() != permanent || e.MaybeCreated() != maybeCreated {
		t.Errorf("Permanent, MaybeCreated = %v, %v; want %v, %v (%v)", e.Permanent(), e.MaybeCreated(),
			permanent, maybeCreated, err)
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	if strings.Contains(msg, testSecret) {
		t.Errorf("error message contains the secret: %s", msg)
	}
	if !strings.HasPrefix(msg, "create waybill ") {
		t.Errorf("error message %q does not start with the operation", msg)
	}
	return e
}

// TestCreateAgainstSim runs each case against a fresh simulator and checks the outcome, the
// error's classification, and what the simulator did.
func TestCreateAgainstSim(t *testing.T) {
	type want struct {
		err, permanent, maybeCreated bool
		httpStatus                   int
		created                      bool // the simulator holds a waybill for the order afterwards
		stats                        sim.Stats
	}
	tests := []struct {
		name    string
		faults  sim.Faults
		secret  string
		order   func(signedjson.Order) signedjson.Order
		timeout time.Duration
		want    want
	}{
		{name: "created",
			want: want{created: true, stats: sim.Stats{Requests: 1, Creates: 1}}},
		{name: "4xx permanent: missing receiver address",
			order: func(o signedjson.Order) signedjson.Order { o.Receiver.Address = ""; return o },
			want:  want{err: true, permanent: true, httpStatus: 400, stats: sim.Stats{Requests: 1, Invalid: 1}}},
		{name: "4xx permanent: wrong secret",
			secret: "whsec_wrong",
			want:   want{err: true, permanent: true, httpStatus: 401, stats: sim.Stats{Requests: 1, Rejects: 1}}},
		{name: "500 transient",
			faults: sim.Faults{ErrorRate: 1},
			want:   want{err: true, maybeCreated: true, httpStatus: 500, stats: sim.Stats{Requests: 1, Errors: 1}}},
		{name: "slow server: transient, maybe created",
			faults: sim.Faults{Latency: 5 * time.Second}, timeout: 200 * time.Millisecond,
			want: want{err: true, maybeCreated: true, created: true, stats: sim.Stats{Requests: 1, Creates: 1}}},
		{name: "unsigned response rejected",
			faults: sim.Faults{UnsignedRate: 1},
			want:   want{err: true, maybeCreated: true, httpStatus: 200, created: true, stats: sim.Stats{Requests: 1, Creates: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, srv := startSim(t)
			s.SetFaults(tt.faults)
			secret, timeout, o := testSecret, time.Second, testOrder("SO1")
			if tt.secret != "" {
				secret = tt.secret
			}
			if tt.timeout != 0 {
				timeout = tt.timeout
			}
			if tt.order != nil {
				o = tt.order(o)
			}
			got, err := newClient(srv.URL, secret, timeout).Create(context.Background(), o)
			if e := checkErr(t, err, tt.want.err, tt.want.permanent, tt.want.maybeCreated); e != nil && e.HTTPStatus != tt.want.httpStatus {
				t.Errorf("HTTPStatus = %d, want %d", e.HTTPStatus, tt.want.httpStatus)
			}
			number, created := s.Waybill("SO1")
			if created != tt.want.created {
				t.Errorf("simulator holds a waybill: %v, want %v", created, tt.want.created)
			}
			if err == nil && (got.Number != number || got.Repeat || got.PickupTime.IsZero()) {
				t.Errorf("waybill = %+v, simulator has %q", got, number)
			}
			if st := s.Stats(); st != tt.want.stats {
				t.Errorf("stats = %+v, want %+v", st, tt.want.stats)
			}
		})
	}
}

func TestCreateRepeat(t *testing.T) {
	s, srv := startSim(t)
	c := newClient(srv.URL, testSecret, time.Second)
	ctx := context.Background()
	first, err := c.Create(ctx, testOrder("SO1"))
	if err != nil {
		t.Fatal(err)
	}
	if first.Number != "GJ0000000001" || first.Repeat {
		t.Errorf("first = %+v", first)
	}
	if d := time.Until(first.PickupTime); d < time.Hour || d > 3*time.Hour {
		t.Errorf("PickupTime = %v, want about 2h from now", first.PickupTime)
	}
	again, err := c.Create(ctx, testOrder("SO1"))
	if err != nil {
		t.Fatal(err)
	}
	if again.Number != first.Number || !again.Repeat {
		t.Errorf("repeat = %+v, want %s with Repeat", again, first.Number)
	}
	second, err := c.Create(ctx, testOrder("SO2"))
	if err != nil {
		t.Fatal(err)
	}
	if second.Number != "GJ0000000002" || second.Repeat {
		t.Errorf("second = %+v", second)
	}
	if st := s.Stats(); st != (sim.Stats{Requests: 3, Creates: 2, Repeats: 1}) {
		t.Errorf("stats = %+v", st)
	}
}

// TestCreateTimeoutThenRetry is the reason MaybeCreated exists: the carrier created the waybill
// but the client timed out; retrying the same carrier with the same OrderCode gets it.
func TestCreateTimeoutThenRetry(t *testing.T) {
	s, srv := startSim(t)
	s.SetFaults(sim.Faults{Latency: 5 * time.Second})
	_, err := newClient(srv.URL, testSecret, 200*time.Millisecond).Create(context.Background(), testOrder("SO1"))
	checkErr(t, err, true, false, true)
	s.SetFaults(sim.Faults{})
	w, err := newClient(srv.URL, testSecret, time.Second).Create(context.Background(), testOrder("SO1"))
	if err != nil {
		t.Fatal(err)
	}
	if number, _ := s.Waybill("SO1"); w.Number != number || !w.Repeat {
		t.Errorf("retry = %+v, simulator has %q", w, number)
	}
	if st := s.Stats(); st.Creates != 1 || st.Repeats != 1 {
		t.Errorf("stats = %+v, want one create and one repeat", st)
	}
}

func TestCreateConcurrentSameOrder(t *testing.T) {
	s, srv := startSim(t)
	c := newClient(srv.URL, testSecret, 5*time.Second)
	const n = 32
	numbers := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			w, err := c.Create(context.Background(), testOrder("SO1"))
			if err != nil {
				t.Error(err)
				return
			}
			numbers[i] = w.Number
		})
	}
	wg.Wait()
	for i, got := range numbers {
		if got != numbers[0] {
			t.Errorf("call %d got %q, call 0 got %q", i, got, numbers[0])
		}
	}
	if st := s.Stats(); st.Creates != 1 || st.Repeats != n-1 {
		t.Errorf("stats = %+v, want 1 create and %d repeats", st, n-1)
	}
}

func TestCreateRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = newClient("http://"+addr, testSecret, time.Second).Create(context.Background(), testOrder("SO1"))
	checkErr(t, err, true, false, false)
}

func TestCreateContextCancelledBeforeSend(t *testing.T) {
	_, srv := startSim(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newClient(srv.URL, testSecret, time.Second).Create(ctx, testOrder("SO1"))
	checkErr(t, err, true, false, false)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled in the chain", err)
	}
}

func TestCreateConfigErrors(t *testing.T) {
	bad := testOrder("SO1")
	bad.Items[0].WeightKg = math.NaN()
	tests := []struct {
		name        string
		url, secret string
		order       signedjson.Order
	}{
		{"no url", "", testSecret, testOrder("SO1")},
		{"no secret", "http://127.0.0.1:1", "", testOrder("SO1")},
		{"number JSON cannot carry", "http://127.0.0.1:1", testSecret, bad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := signedjson.New(signedjson.Config{URL: tt.url, Secret: tt.secret, ShipperCode: "GJ"})
			_, err := c.Create(context.Background(), tt.order)
			checkErr(t, err, true, true, false)
		})
	}
}

// fakeCarrier checks what every signed-JSON carrier checks (content type, the signature over
// the body as received), then lets answer reply; answer can read the body again.
func fakeCarrier(t *testing.T, answer http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != signedjson.ContentType {
			t.Errorf("Content-Type = %q", ct)
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read request: %v", err)
		}
		if _, err := signedjson.Verify(r.Header.Get(signedjson.SignatureHeader), body, []byte(testSecret), time.Now(), 0); err != nil {
			t.Errorf("request signature: %v", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// reply answers status with body, signed by secret at signedAt (now when zero); secret ""
// sends no signature.
func reply(status int, secret string, signedAt time.Time, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if signedAt.IsZero() {
			signedAt = time.Now()
		}
		w.Header().Set("Content-Type", signedjson.ContentType)
		if secret != "" {
			w.Header().Set(signedjson.SignatureHeader, signedjson.Sign([]byte(secret), signedAt, []byte(body)))
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// TestCreateAnswers covers answers the simulator does not give.
func TestCreateAnswers(t *testing.T) {
	type want struct {
		waybill                      signedjson.Waybill
		err, permanent, maybeCreated bool
		httpStatus                   int
		reason                       string
	}
	var zero time.Time
	tests := []struct {
		name   string
		answer http.HandlerFunc
		want   want
	}{
		{"created, no pickup time, no order echo", reply(200, testSecret, zero, `{"waybill":"W1","repeat":false}`),
			want{waybill: signedjson.Waybill{Number: "W1"}}},
		{"created, unknown fields tolerated", reply(200, testSecret, zero, `{"order_code":"SO1","waybill":"W1","repeat":true,"label_url":"x"}`),
			want{waybill: signedjson.Waybill{Number: "W1", Repeat: true}}},
		{"created, pickup time", reply(200, testSecret, zero, `{"waybill":"W1","pickup_time":"2024-05-01T18:00:00+08:00"}`),
			want{waybill: signedjson.Waybill{Number: "W1", PickupTime: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)}}},
		{"created, unreadable pickup time ignored", reply(200, testSecret, zero, `{"waybill":"W1","pickup_time":"soon"}`),
			want{waybill: signedjson.Waybill{Number: "W1"}}},
		{"unsigned 200", reply(200, "", zero, `{"waybill":"W1"}`),
			want{err: true, maybeCreated: true, httpStatus: 200}},
		{"200 signed with another secret", reply(200, "whsec_other", zero, `{"waybill":"W1"}`),
			want{err: true, maybeCreated: true, httpStatus: 200}},
		{"200 signed 10 minutes ago", reply(200, testSecret, time.Now().Add(-10*time.Minute), `{"waybill":"W1"}`),
			want{err: true, maybeCreated: true, httpStatus: 200}},
		{"200 for another order", reply(200, testSecret, zero, `{"order_code":"SO2","waybill":"W2"}`),
			want{err: true, maybeCreated: true, httpStatus: 200}},
		{"200 without waybill", reply(200, testSecret, zero, `{"waybill":""}`),
			want{err: true, maybeCreated: true, httpStatus: 200}},
		{"garbled 200", reply(200, testSecret, zero, `<html>gateway says hi`),
			want{err: true, maybeCreated: true, httpStatus: 200}},
		{"400 with reason", reply(400, testSecret, zero, `{"error":"receiver address unknown"}`),
			want{err: true, permanent: true, httpStatus: 400, reason: "receiver address unknown"}},
		{"404 unsigned from a proxy", reply(404, "", zero, `not found`),
			want{err: true, permanent: true, httpStatus: 404, reason: "not found"}},
		{"408", reply(408, testSecret, zero, `{"error":"timeout"}`), want{err: true, httpStatus: 408, reason: "timeout"}},
		{"429", reply(429, "", zero, `slow down`), want{err: true, httpStatus: 429, reason: "slow down"}},
		{"502 from a proxy", reply(502, "", zero, `bad gateway`), want{err: true, maybeCreated: true, httpStatus: 502, reason: "bad gateway"}},
		{"reset after request", func(w http.ResponseWriter, _ *http.Request) {
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
			got, err := newClient(srv.URL, testSecret, time.Second).Create(context.Background(), testOrder("SO1"))
			if e := checkErr(t, err, tt.want.err, tt.want.permanent, tt.want.maybeCreated); e != nil {
				if e.HTTPStatus != tt.want.httpStatus || e.Reason != tt.want.reason {
					t.Errorf("HTTPStatus, Reason = %d, %q; want %d, %q", e.HTTPStatus, e.Reason, tt.want.httpStatus, tt.want.reason)
				}
				return
			}
			if got.Number != tt.want.waybill.Number || got.Repeat != tt.want.waybill.Repeat ||
				!got.PickupTime.Equal(tt.want.waybill.PickupTime) {
				t.Errorf("waybill = %+v, want %+v", got, tt.want.waybill)
			}
		})
	}
}

// TestCreateSignsBody proves the signature covers the body exactly as sent: special
// characters arrive intact, without HTML escaping, and the signature verifies over them.
func TestCreateSignsBody(t *testing.T) {
	o := testOrder("SO1")
	want, err := signedjson.NewCreateRequest(o, "GJ").Encode()
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	srv := fakeCarrier(t, func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		reply(200, testSecret, time.Time{}, `{"waybill":"W1"}`)(w, r)
	})
	if _, err := newClient(srv.URL, testSecret, time.Second).Create(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("body\n%s\nwant\n%s", got, want)
	}
	if strings.Contains(string(got), `\u0026`) {
		t.Errorf("HTML escaping in %s", got)
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		err  *signedjson.Error
		want string
	}{
		{&signedjson.Error{Op: "create waybill A1", HTTPStatus: 400, Reason: "bad address"},
			"create waybill A1: http status 400: bad address"},
		{&signedjson.Error{Op: "create waybill A1", HTTPStatus: 200, Err: signedjson.ErrBadSignature},
			"create waybill A1: bad signature"},
		{&signedjson.Error{Op: "create waybill A1", Err: context.DeadlineExceeded},
			"create waybill A1: context deadline exceeded"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
