package sim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	sfxml "github.com/shipsync/shipsync/sinks/carrier/xml"
)

const (
	testCustomer  = "SHIPSYNC01"
	testCheckword = "sim-test-checkword"
)

func start(t *testing.T) (*Server, *httptest.Server) {
	t.Helper()
	s := New(Config{CustomerCode: testCustomer, Checkword: testCheckword})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

// post sends body (a form) and returns the status and the answer document.
func post(t *testing.T, url, body string) (int, sfxml.Response) {
	t.Helper()
	resp, err := http.Post(url, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, sfxml.Response{}
	}
	r, err := sfxml.ParseResponse(b)
	if err != nil {
		t.Fatalf("answer %s: %v", b, err)
	}
	return resp.StatusCode, r
}

func signed(doc string) string {
	return url.Values{sfxml.FieldXML: {doc}, sfxml.FieldVerifyCode: {sfxml.Sign(doc, testCheckword)}}.Encode()
}

func cfg() sfxml.Config {
	return sfxml.Config{CustomerCode: testCustomer, ExpressType: 1, PayMethod: 1}
}

func orderDoc(t *testing.T, id string) string {
	t.Helper()
	doc, err := cfg().OrderRequest(sfxml.Order{OrderID: id,
		Sender:   sfxml.Address{Contact: "仓", Tel: "021-1", Province: "上海", City: "上海", Address: "明珠路73号"},
		Receiver: sfxml.Address{Contact: "Yann", Mobile: "150", Province: "北京", City: "北京", Address: "三里屯"}}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func errCode(r sfxml.Response) string {
	if r.Error == nil {
		return ""
	}
	return r.Error.Code
}

// TestRules: the simulator checks what SF checks, in SF's order, and answers with SF's codes.
func TestRules(t *testing.T) {
	good := orderDoc(t, "SO1")
	search := func(id string) string { d, _ := cfg().SearchRequest(id).Encode(); return d }
	other := sfxml.Config{CustomerCode: "OTHER"}.SearchRequest("SO1")
	otherDoc, _ := other.Encode()
	tests := []struct {
		name, body string
		status     int
		head, code string
		mailNo     string
	}{
		{"created", signed(good), 200, "OK", "", "SF0000000000001"},
		{"repeat: 8016", signed(good), 200, "ERR", "8016", ""},
		{"search answers the first waybill", signed(search("SO1")), 200, "OK", "", "SF0000000000001"},
		{"search of an unknown order", signed(search("SO9")), 200, "ERR", codeNoOrder, ""},
		{"unsigned", url.Values{sfxml.FieldXML: {good}}.Encode(), 200, "ERR", "4001", ""},
		{"signed with another checkword", url.Values{sfxml.FieldXML: {good}, sfxml.FieldVerifyCode: {sfxml.Sign(good, "x")}}.Encode(), 200, "ERR", "4001", ""},
		{"signed, then the form encoded twice", url.QueryEscape(signed(good)), 200, "ERR", "4001", ""},
		{"another customer code", signed(otherDoc), 200, "ERR", "4001", ""},
		{"unreadable document", signed("<Request"), 200, "ERR", "4002", ""},
		{"document with a DTD", signed(`<!DOCTYPE Request [<!ENTITY x "y">]>` + good), 200, "ERR", "4002", ""},
		{"unknown service", signed(strings.Replace(search("SO1"), "OrderSearchService", "OrderFilterService", 1)), 200, "ERR", "4002", ""},
		{"missing receiver address", signed(strings.Replace(orderDoc(t, "SO2"), `d_address="三里屯"`, `d_address=""`, 1)), 200, "ERR", "6101", ""},
		{"oversized request", signed(strings.Repeat(" ", 2*sfxml.MaxDocumentBytes) + good), 413, "", "", ""},
	}
	s, srv := start(t)
	for _, tt := range tests {
		status, r := post(t, srv.URL+Path, tt.body)
		if status != tt.status || r.Head != tt.head || errCode(r) != tt.code {
			t.Errorf("%s: %d %+v, want %d %s %s", tt.name, status, r, tt.status, tt.head, tt.code)
			continue
		}
		if tt.mailNo != "" && (r.Body == nil || len(r.Body.Orders) != 1 || r.Body.Orders[0].MailNo != tt.mailNo) {
			t.Errorf("%s: answer %+v, want mailno %s", tt.name, r, tt.mailNo)
		}
	}
	want := Stats{Requests: int64(len(tests)), Creates: 1, Repeats: 1, Searches: 2, Rejects: 4, Invalid: 5}
	if st := s.Stats(); st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
	if status, _ := post(t, srv.URL+"/api/other", signed(good)); status != http.StatusNotFound {
		t.Errorf("another path answered %d", status)
	}
}

func TestDeterministicWaybillsAndLedger(t *testing.T) {
	s, srv := start(t)
	for _, id := range []string{"A", "B", "A", "C", "A"} {
		post(t, srv.URL+Path, signed(orderDoc(t, id)))
	}
	want := []Entry{{OrderID: "A", MailNo: "SF0000000000001", Orders: 3, Repeats: 2},
		{OrderID: "B", MailNo: "SF0000000000002", Orders: 1}, {OrderID: "C", MailNo: "SF0000000000003", Orders: 1}}
	got := s.Ledger()
	if len(got) != len(want) {
		t.Fatalf("ledger = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("ledger[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	resp, err := http.Get(srv.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.Creates != 3 || st.Repeats != 2 {
		t.Errorf("GET /stats = %+v, %v", st, err)
	}
}

func TestFaults(t *testing.T) {
	s, srv := start(t)
	s.SetFaults(Faults{ErrorRate: 1})
	if status, _ := post(t, srv.URL+Path, signed(orderDoc(t, "SO1"))); status != 500 {
		t.Errorf("status %d, want 500", status)
	}
	if _, ok := s.Waybill("SO1"); ok {
		t.Error("an HTTP 500 fault created a waybill")
	}
	s.SetFaults(Faults{Latency: 300 * time.Millisecond})
	start := time.Now()
	post(t, srv.URL+Path, signed(orderDoc(t, "SO1")))
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("answered in %v despite 300ms latency", d)
	}
	if st := s.Stats(); st.Errors != 1 || st.Creates != 1 {
		t.Errorf("stats = %+v", st)
	}
}

// TestRoutes: scans are recorded in time order and RouteService answers them, by mailno or
// by orderid; an unknown number is answered OK without routes.
func TestRoutes(t *testing.T) {
	s, srv := start(t)
	post(t, srv.URL+Path, signed(orderDoc(t, "SO1")))
	mailNo, _ := s.Waybill("SO1")
	var last time.Time
	for _, op := range []string{"50", "30", "31", "44", "80"} {
		r, err := s.Scan(mailNo, op)
		if err != nil {
			t.Fatal(err)
		}
		at, err := r.Time()
		if err != nil || !at.After(last) || r.OrderID != "SO1" || r.Remark == "" || r.ID == "" {
			t.Errorf("scan %s = %+v (%v)", op, r, err)
		}
		last = at
	}
	if _, err := s.Scan("SF-unknown", "50"); err == nil {
		t.Error("scanned an unknown waybill")
	}
	for _, q := range []sfxml.RouteRequest{{TrackingType: "1", MethodType: "1", TrackingNumber: mailNo},
		{TrackingType: "2", MethodType: "1", TrackingNumber: "SO1"}} {
		doc, _ := sfxml.Request{Service: sfxml.ServiceRoute, Lang: sfxml.Lang, Head: testCustomer,
			Body: sfxml.RequestBody{RouteRequest: &q}}.Encode()
		_, r := post(t, srv.URL+Path, signed(doc))
		if r.Head != "OK" || r.Body == nil || len(r.Body.Routes) != 1 || len(r.Body.Routes[0].Routes) != 5 ||
			r.Body.Routes[0].Routes[4].OpCode != "80" || r.Body.Routes[0].MailNo != mailNo {
			t.Errorf("query %+v: %+v", q, r)
		}
	}
	doc, _ := cfg().RouteRequest("SF-unknown").Encode()
	if _, r := post(t, srv.URL+Path, signed(doc)); r.Head != "OK" || (r.Body != nil && len(r.Body.Routes) != 0) {
		t.Errorf("unknown number: %+v", r)
	}
}

// TestPush: pushes are signed as ParsePush verifies them, and acknowledged only by HTTP 200
// with Head OK.
func TestPush(t *testing.T) {
	s, srv := start(t)
	post(t, srv.URL+Path, signed(orderDoc(t, "SO1")))
	mailNo, _ := s.Waybill("SO1")
	r, err := s.Scan(mailNo, "80")
	if err != nil {
		t.Fatal(err)
	}
	var received []sfxml.WaybillRoute
	mode := "ok"
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		p, err := sfxml.ParsePush(body, testCheckword)
		switch {
		case err != nil:
			_, _ = w.Write(sfxml.PushReply(false, err.Error()))
		case mode == "500":
			http.Error(w, "down", 500)
		case mode == "err":
			_, _ = w.Write(sfxml.PushReply(false, "unknown waybill"))
		default:
			received = append(received, p.Routes...)
			_, _ = w.Write(sfxml.PushReply(true, ""))
		}
	}))
	defer receiver.Close()
	ctx := context.Background()
	if acked, err := s.Push(ctx, receiver.URL, []sfxml.WaybillRoute{r}); !acked || err != nil {
		t.Fatalf("push: %v %v", acked, err)
	}
	if len(received) != 1 || received[0] != r {
		t.Errorf("receiver got %+v, want %+v", received, r)
	}
	for _, m := range []string{"500", "err"} {
		mode = m
		if acked, err := s.Push(ctx, receiver.URL, []sfxml.WaybillRoute{r}); acked || err != nil {
			t.Errorf("%s: acked %v, %v", m, acked, err)
		}
	}
	mode = "ok"
	forged, _ := sfxml.EncodePush(testCustomer, []sfxml.WaybillRoute{r}, "forger")
	if status, acked, err := s.PushForm(ctx, receiver.URL, forged); status != 200 || acked || err != nil {
		t.Errorf("forged push: %d %v %v", status, acked, err)
	}
	if _, err := s.Push(ctx, "http://127.0.0.1:1/push", []sfxml.WaybillRoute{r}); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("push to nowhere: %v", err)
	}
	if st := s.Stats(); st.Pushes != 5 || st.PushesAcked != 1 {
		t.Errorf("stats = %+v", st)
	}
}
