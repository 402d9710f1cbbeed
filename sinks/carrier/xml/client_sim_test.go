package sfxml_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/wire"
	sfxml "github.com/shipsync/shipsync/sinks/carrier/xml"
	"github.com/shipsync/shipsync/sinks/carrier/xml/sim"
)

const (
	simCustomer  = "SHIPSYNC01"
	simCheckword = "sim-checkword-0001"
)

func startSim(t *testing.T) (*sim.Server, string) {
	t.Helper()
	s := sim.New(sim.Config{CustomerCode: simCustomer, Checkword: simCheckword, Hang: 10 * time.Second})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL + sim.Path
}

func simClient(url string, timeout time.Duration) *sfxml.Client {
	return sfxml.New(sfxml.Config{URL: url, CustomerCode: simCustomer, Checkword: simCheckword, Timeout: timeout})
}

func order(id string) sfxml.Order {
	return sfxml.Order{OrderID: id,
		Sender:   sfxml.Address{Contact: "青浦仓", Mobile: "15018442396", Province: "上海", City: "上海", County: "青浦区", Address: "明珠路73号"},
		Receiver: sfxml.Address{Contact: "Yann", Mobile: "15018442396", Province: "北京", City: "北京", County: "朝阳区", Address: "三里屯 & 雅秀"},
		Cargo:    []sfxml.Cargo{{Name: "鞋子 A&B", Count: 1, Weight: 1}}, WeightKg: 1}
}

func class(t *testing.T, err error) wire.Class {
	t.Helper()
	e, ok := errors.AsType[*wire.Error](err)
	if !ok {
		t.Fatalf("err = %v (%T), want *wire.Error", err, err)
	}
	return e.Class
}

// TestCreateAgainstSim: each case against a fresh simulator, its classification and what the
// simulator did.
func TestCreateAgainstSim(t *testing.T) {
	tests := []struct {
		name      string
		faults    sim.Faults
		checkword string
		customer  string
		order     func(sfxml.Order) sfxml.Order
		timeout   time.Duration
		err       bool
		class     wire.Class
		created   bool
		stats     sim.Stats
	}{
		{name: "created", created: true, stats: sim.Stats{Requests: 1, Creates: 1}},
		{name: "missing receiver address: 6101, permanent",
			order: func(o sfxml.Order) sfxml.Order { o.Receiver.Address = ""; return o },
			err:   true, class: wire.Permanent, stats: sim.Stats{Requests: 1, Invalid: 1}},
		{name: "wrong checkword: refused before the document is read", checkword: "wrong",
			err: true, class: wire.Ambiguous, stats: sim.Stats{Requests: 1, Rejects: 1}},
		{name: "wrong customer code", customer: "OTHER",
			err: true, class: wire.Ambiguous, stats: sim.Stats{Requests: 1, Rejects: 1}},
		{name: "HTTP 500 before creating", faults: sim.Faults{ErrorRate: 1},
			err: true, class: wire.Ambiguous, stats: sim.Stats{Requests: 1, Errors: 1}},
		{name: "slow: created, the client does not know", faults: sim.Faults{Latency: 3 * time.Second}, timeout: 200 * time.Millisecond,
			err: true, class: wire.Ambiguous, created: true, stats: sim.Stats{Requests: 1, Creates: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, url := startSim(t)
			s.SetFaults(tt.faults)
			cfg := sfxml.Config{URL: url, CustomerCode: simCustomer, Checkword: simCheckword, Timeout: time.Second}
			if tt.checkword != "" {
				cfg.Checkword = tt.checkword
			}
			if tt.customer != "" {
				cfg.CustomerCode = tt.customer
			}
			if tt.timeout != 0 {
				cfg.Timeout = tt.timeout
			}
			o := order("SO1")
			if tt.order != nil {
				o = tt.order(o)
			}
			got, err := sfxml.New(cfg).Create(context.Background(), o)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if err != nil && class(t, err) != tt.class {
				t.Errorf("class %v, want %v: %v", class(t, err), tt.class, err)
			}
			mailNo, created := s.Waybill("SO1")
			if created != tt.created {
				t.Errorf("simulator holds a waybill: %v, want %v", created, tt.created)
			}
			if err == nil && (got.MailNo != mailNo || got.Repeat) {
				t.Errorf("waybill = %+v, simulator has %q", got, mailNo)
			}
			if st := s.Stats(); st != tt.stats {
				t.Errorf("stats = %+v, want %+v", st, tt.stats)
			}
		})
	}
}

// TestCreateRepeatGetsFirstWaybill is SF's idempotency rule end to end: the second create of
// an orderid is refused with 8016 and the client returns the first waybill, marked Repeat,
// from OrderSearchService.
func TestCreateRepeatGetsFirstWaybill(t *testing.T) {
	s, url := startSim(t)
	c := simClient(url, time.Second)
	ctx := context.Background()
	first, err := c.Create(ctx, order("SO1"))
	if err != nil {
		t.Fatal(err)
	}
	if first.MailNo != "SF0000000000001" || first.Repeat {
		t.Errorf("first = %+v", first)
	}
	again, err := c.Create(ctx, order("SO1"))
	if err != nil {
		t.Fatal(err)
	}
	if again.MailNo != first.MailNo || !again.Repeat {
		t.Errorf("repeat = %+v, want %s with Repeat", again, first.MailNo)
	}
	second, err := c.Create(ctx, order("SO2"))
	if err != nil || second.MailNo != "SF0000000000002" || second.Repeat {
		t.Errorf("second = %+v, %v", second, err)
	}
	if st := s.Stats(); st != (sim.Stats{Requests: 4, Creates: 2, Repeats: 1, Searches: 1}) {
		t.Errorf("stats = %+v", st)
	}
	want := []sim.Entry{{OrderID: "SO1", MailNo: "SF0000000000001", Orders: 2, Repeats: 1, Searches: 1},
		{OrderID: "SO2", MailNo: "SF0000000000002", Orders: 1}}
	if got := s.Ledger(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("ledger = %+v, want %+v", got, want)
	}
	if w, err := c.Search(ctx, "SO-never"); class(t, err) != wire.Permanent {
		t.Errorf("search of an unknown order = %+v, %v", w, err)
	}
}

// TestCreateTimeoutThenRetry is the reason MaybeCreated exists: the carrier made the waybill,
// the client timed out; retrying the same carrier with the same orderid gets it (8016, search).
func TestCreateTimeoutThenRetry(t *testing.T) {
	s, url := startSim(t)
	s.SetFaults(sim.Faults{TimeoutAfterCommitRate: 1})
	_, err := simClient(url, 200*time.Millisecond).Create(context.Background(), order("SO1"))
	if class(t, err) != wire.Ambiguous {
		t.Fatalf("err = %v, want an ambiguous failure", err)
	}
	s.SetFaults(sim.Faults{})
	w, err := simClient(url, time.Second).Create(context.Background(), order("SO1"))
	if err != nil {
		t.Fatal(err)
	}
	if mailNo, _ := s.Waybill("SO1"); w.MailNo != mailNo || !w.Repeat {
		t.Errorf("retry = %+v, simulator has %q", w, mailNo)
	}
	if st := s.Stats(); st.Creates != 1 || st.Repeats != 1 || st.Timeouts != 1 {
		t.Errorf("stats = %+v, want one create, one repeat, one timeout", st)
	}
}

func TestCreateConcurrentSameOrder(t *testing.T) {
	s, url := startSim(t)
	c := simClient(url, 5*time.Second)
	const n = 32
	numbers := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			w, err := c.Create(context.Background(), order("SO1"))
			if err != nil {
				t.Error(err)
				return
			}
			numbers[i] = w.MailNo
		})
	}
	wg.Wait()
	for i, got := range numbers {
		if got != numbers[0] || got == "" {
			t.Errorf("call %d got %q, call 0 got %q", i, got, numbers[0])
		}
	}
	if st := s.Stats(); st.Creates != 1 || st.Repeats != n-1 || st.Searches != n-1 {
		t.Errorf("stats = %+v, want 1 create and %d repeats answered by search", st, n-1)
	}
}

// TestTrackAgainstSim: RouteService answers the scans recorded so far.
func TestTrackAgainstSim(t *testing.T) {
	s, url := startSim(t)
	c := simClient(url, time.Second)
	ctx := context.Background()
	w, err := c.Create(ctx, order("SO1"))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := c.Track(ctx, w.MailNo)
	if err != nil || len(tr.Routes) != 0 {
		t.Fatalf("before any scan: %+v, %v", tr, err)
	}
	for _, op := range []string{"50", "30", "44", "80"} {
		if _, err := s.Scan(w.MailNo, op); err != nil {
			t.Fatal(err)
		}
	}
	tr, err = c.Track(ctx, w.MailNo)
	if err != nil {
		t.Fatal(err)
	}
	r, _, ok := tr.Newest()
	if len(tr.Routes) != 4 || !ok || r.OpCode != "80" || r.AcceptAddress != "北京" {
		t.Errorf("trace = %+v, newest %+v", tr, r)
	}
	if tr, err := c.Track(ctx, "SF-unknown"); err != nil || len(tr.Routes) != 0 {
		t.Errorf("unknown waybill: %+v, %v", tr, err)
	}
	if st := s.Stats(); st.Queries != 3 {
		t.Errorf("stats = %+v", st)
	}
}
