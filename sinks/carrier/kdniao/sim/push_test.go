package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/carrier/kdniao"
)

// receiver is a shop's push endpoint as DESIGN.md §2 wants it: it verifies with ParsePush,
// answers PushReply, and applies a waybill's push only when its newest trace is not older than
// the one applied. It records everything it saw for the checks.
type receiver struct {
	t *testing.T

	mu         sync.Mutex
	failNext   int // answer the next valid pushes Success:false
	errorNext  int // answer the next valid pushes HTTP 500
	seen       map[string][]kdniao.Trace
	applied    map[string]kdniao.Trace
	bodies     map[string]int // push → times received with a valid sign
	valid      int
	badSigned  int
	stale      int // older than what was applied
	repeated   int // same newest trace as applied
	maxPerPush int
}

func newReceiver(t *testing.T) (*receiver, *httptest.Server) {
	rc := &receiver{t: t, seen: map[string][]kdniao.Trace{}, applied: map[string]kdniao.Trace{}, bodies: map[string]int{}}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/push/sim" ||
		r.Header.Get("Content-Type") != "application/x-www-form-urlencoded;charset=utf-8" {
		rc.t.Errorf("push %s %s, Content-Type %q", r.Method, r.URL, r.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		rc.t.Error(err)
		return
	}
	p, err := kdniao.ParsePush(body, testAppKey)
	reply := func(ok bool, reason string) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(kdniao.PushReply(testEBusinessID, ok, reason, time.Now()))
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	switch {
	case errors.Is(err, kdniao.ErrBadSignature):
		rc.badSigned++
		reply(false, "bad signature")
		return
	case err != nil:
		rc.t.Errorf("push rejected: %v", err)
		reply(false, "malformed")
		return
	}
	rc.valid++
	if p.EBusinessID != testEBusinessID || p.Count != strconv.Itoa(len(p.Data)) || p.PushTime == "" {
		rc.t.Errorf("push header %+v", p)
	}
	rc.bodies[string(body)]++
	rc.maxPerPush = max(rc.maxPerPush, len(p.Data))
	if rc.errorNext > 0 {
		rc.errorNext--
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	if rc.failNext > 0 {
		rc.failNext--
		reply(false, "try again")
		return
	}
	for _, tr := range p.Data {
		rc.seen[tr.LogisticCode] = append(rc.seen[tr.LogisticCode], tr)
		prev, ok := rc.applied[tr.LogisticCode]
		switch {
		case !ok || tr.Newest().After(prev.Newest()):
			rc.applied[tr.LogisticCode] = tr
		case tr.Newest().Equal(prev.Newest()):
			rc.repeated++
		default:
			rc.stale++
		}
	}
	reply(true, "")
}

// identical returns how many pushes were received more than once, byte for byte.
func (rc *receiver) identical() int {
	n := 0
	for _, times := range rc.bodies {
		if times > 1 {
			n++
		}
	}
	return n
}

// pushRun creates n waybills on a simulator configured with cfg, runs its pushes to a receiver
// until it has settled, and returns both.
func pushRun(t *testing.T, cfg Config, n int, setup func(*receiver)) (*Server, *receiver) {
	t.Helper()
	rc, rsrv := newReceiver(t)
	if setup != nil {
		setup(rc)
	}
	cfg.PushTo = rsrv.URL + "/push/sim"
	cfg.PushEvery = 10 * time.Millisecond
	if cfg.TimeScale == 0 {
		cfg.TimeScale = 8 * 86400 // the longest plan (4.5 days) in about half a second
	}
	s, srv := start(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	c := client(srv, testAppKey, time.Second)
	for i := range n {
		o := testOrder(fmt.Sprintf("SO%03d", i))
		o.Sender.ProvinceName, o.Sender.CityName = "江苏省", `A&B+C #1 'x' "y" 100% 苏州市`
		if _, err := c.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for !s.Settled() {
		if time.Now().After(deadline) {
			t.Fatalf("not settled after 20s: %+v", s.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s, rc
}

// checkPushes checks what every push run must show: each push a prefix of the waybill's whole
// trace, oldest first, with the newest's State/StateEx; every copy counted; no bad sign accepted.
func checkPushes(t *testing.T, s *Server, rc *receiver) Stats {
	t.Helper()
	st := s.Stats()
	t.Logf("stats %+v", st)
	t.Logf("receiver: %d valid, %d bad-signed, %d stale, %d repeated, up to %d waybills a push",
		rc.valid, rc.badSigned, rc.stale, rc.repeated, rc.maxPerPush)
	if st.PushesSent != st.PushesAcked+st.PushesFailed+st.PushesBadSigned {
		t.Errorf("sent %d != acked %d + failed %d + bad-signed %d", st.PushesSent, st.PushesAcked, st.PushesFailed, st.PushesBadSigned)
	}
	if st.PushesBadSignAccepted != 0 || int64(rc.badSigned) != st.PushesBadSigned {
		t.Errorf("bad-signed: %d sent, %d accepted, %d rejected by the receiver", st.PushesBadSigned, st.PushesBadSignAccepted, rc.badSigned)
	}
	if int64(rc.valid) != st.PushesSent-st.PushesBadSigned {
		t.Errorf("receiver got %d valid pushes, simulator sent %d", rc.valid, st.PushesSent-st.PushesBadSigned)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for code, pushes := range rc.seen {
		rec := s.byWaybill[code]
		whole := s.trace(rec, len(rec.plan))
		for _, tr := range pushes {
			n := len(tr.Traces)
			if n == 0 || n > len(whole.Traces) || !slices.Equal(tr.Traces, whole.Traces[:n]) {
				t.Fatalf("%s: push traces %+v are not a prefix of %+v", code, tr.Traces, whole.Traces)
			}
			last := stepCodes[rec.plan[n-1].kind]
			if tr.State != last.state || tr.StateEx != last.stateEx || !tr.Success || tr.OrderCode != rec.orderCode {
				t.Errorf("%s: push %+v", code, tr)
			}
			for i := 1; i < n; i++ {
				if tr.Traces[i].AcceptTime <= tr.Traces[i-1].AcceptTime {
					t.Errorf("%s: traces not oldest first: %+v", code, tr.Traces)
				}
			}
		}
	}
	return st
}

// checkFinal checks that the receiver ended every waybill at its Final state.
func checkFinal(t *testing.T, s *Server, rc *receiver) {
	t.Helper()
	finals := map[string]int{}
	for code, rec := range s.byWaybill {
		state, stateEx, _ := s.Final(code)
		finals[state+"/"+stateEx]++
		got, ok := rc.applied[code]
		if len(rec.plan) == 0 {
			if ok {
				t.Errorf("%s was never picked up but got pushes: %+v", code, got)
			}
			continue
		}
		if got.State != state || got.StateEx != stateEx || len(got.Traces) != len(rec.plan) {
			t.Errorf("%s ends at %s/%s with %d traces, want %s/%s with %d", code, got.State, got.StateEx,
				len(got.Traces), state, stateEx, len(rec.plan))
		}
	}
	t.Logf("final states %v", finals)
}

func TestPushes(t *testing.T) {
	plans := Config{ExceptionRate: 0.2, ReturnRate: 0.2, NoPickupRate: 0.1, Seed: 11}
	t.Run("clean", func(t *testing.T) {
		s, rc := pushRun(t, plans, 40, nil)
		st := checkPushes(t, s, rc)
		checkFinal(t, s, rc)
		if st.PushesFailed != 0 || st.PushesDropped+st.PushesDuplicated+st.PushesReordered+st.PushesBadSigned != 0 ||
			rc.stale+rc.repeated != 0 {
			t.Errorf("faults without fault knobs: %+v", st)
		}
		if rc.maxPerPush < 2 {
			t.Error("no push carried several waybills")
		}
	})

	t.Run("duplicates, out of order, bad signatures", func(t *testing.T) {
		cfg := plans
		cfg.DuplicateRate, cfg.OutOfOrderRate, cfg.BadSignatureRate = 0.3, 0.3, 0.3
		s, rc := pushRun(t, cfg, 40, nil)
		st := checkPushes(t, s, rc)
		checkFinal(t, s, rc)
		if st.PushesDuplicated == 0 || rc.repeated == 0 || rc.identical() == 0 {
			t.Errorf("%d duplicated, receiver saw %d repeats, %d identical pushes", st.PushesDuplicated, rc.repeated, rc.identical())
		}
		if st.PushesReordered == 0 || rc.stale == 0 {
			t.Errorf("%d reordered, receiver saw %d stale", st.PushesReordered, rc.stale)
		}
		if st.PushesBadSigned == 0 {
			t.Error("no bad-signed push sent")
		}
		if st.PushesFailed != 0 || st.PushesDropped != 0 {
			t.Errorf("failed or dropped: %+v", st)
		}
	})

	t.Run("every push bad-signed first", func(t *testing.T) {
		cfg := plans
		cfg.BadSignatureRate = 1
		s, rc := pushRun(t, cfg, 10, nil)
		st := checkPushes(t, s, rc)
		checkFinal(t, s, rc)
		if st.PushesBadSigned != st.PushesAcked || st.PushesBadSigned == 0 {
			t.Errorf("%d bad-signed copies for %d acknowledged pushes", st.PushesBadSigned, st.PushesAcked)
		}
	})

	t.Run("receiver says Success:false or 503", func(t *testing.T) {
		s, rc := pushRun(t, plans, 20, func(rc *receiver) { rc.failNext, rc.errorNext = 15, 5 })
		st := checkPushes(t, s, rc)
		checkFinal(t, s, rc)
		if st.PushesFailed != 20 {
			t.Errorf("%d pushes failed, want the 20 refused", st.PushesFailed)
		}
	})

	t.Run("every push dropped", func(t *testing.T) {
		cfg := plans
		cfg.DropRate = 1
		s, rc := pushRun(t, cfg, 10, nil)
		st := checkPushes(t, s, rc)
		if st.PushesSent != 0 || st.PushesDropped == 0 || rc.valid+rc.badSigned != 0 {
			t.Errorf("stats %+v; receiver got %d", st, rc.valid+rc.badSigned)
		}
		// The shop never heard, but a 1002 query tells the final state.
		srv := httptest.NewServer(s)
		defer srv.Close()
		c := client(srv, testAppKey, time.Second)
		for code := range s.byWaybill {
			state, stateEx, _ := s.Final(code)
			tr, err := c.Track(context.Background(), "SIM", code, "")
			if err != nil || tr.State != state || tr.StateEx != stateEx {
				t.Errorf("%s: 1002 says %s/%s (%v), Final %s/%s", code, tr.State, tr.StateEx, err, state, stateEx)
			}
		}
		if got := s.Stats().Queries; got != int64(len(s.byWaybill)) {
			t.Errorf("%d queries counted, want %d", got, len(s.byWaybill))
		}
	})
}

func TestRunErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, pushTo := range []string{"", "ftp://x/push", "/push/sim", "http://%zz"} {
		s := New(Config{PushTo: pushTo})
		if err := s.Run(ctx); err == nil {
			t.Errorf("Run with PushTo %q: no error", pushTo)
		}
	}
	s := New(Config{PushTo: "http://127.0.0.1:1/push"})
	running := make(chan error, 1)
	ctx, cancel = context.WithCancel(context.Background())
	go func() { running <- s.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for !s.running.Load() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := s.Run(ctx); err == nil {
		t.Error("a second Run started")
	}
	cancel()
	if err := <-running; err != nil {
		t.Errorf("Run = %v after cancel, want nil", err)
	}
}

// TestSettled checks Settled without and with pushes.
func TestSettled(t *testing.T) {
	clk := &clock{t: time.Now()}
	for _, pushTo := range []string{"", "http://127.0.0.1:1/push"} {
		s := New(Config{EBusinessID: testEBusinessID, AppKey: testAppKey, PushTo: pushTo})
		s.now = clk.Now
		if !s.Settled() {
			t.Errorf("PushTo %q: an empty simulator is not settled", pushTo)
		}
		srv := httptest.NewServer(s)
		if _, err := client(srv, testAppKey, time.Second).Create(context.Background(), testOrder("SO1")); err != nil {
			t.Fatal(err)
		}
		srv.Close()
		if s.Settled() {
			t.Errorf("PushTo %q: settled right after a create", pushTo)
		}
		clk.Set(clk.Now().Add(time.Hour)) // 150 days simulated
		if got, want := s.Settled(), pushTo == ""; got != want {
			t.Errorf("PushTo %q: Settled = %v once all is due and nothing pushed, want %v", pushTo, got, want)
		}
	}
}
