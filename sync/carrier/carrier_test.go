package carrier

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sources/webhook"
	"github.com/shipsync/shipsync/sync/config"
)

// errReset is a transient failure that says nothing of the request: it counts against the
// carrier's health.
var errReset = errors.New("connection reset")

// fakeClient answers creates and trace queries from fn, call by call, and counts the calls that
// reached it.
type fakeClient struct {
	mu    sync.Mutex
	calls int
	fn    func(n int) (Waybill, error) // n: the call's number, from 0
}

func (f *fakeClient) answer() (Waybill, error) {
	f.mu.Lock()
	n := f.calls
	f.calls++
	f.mu.Unlock()
	return f.fn(n)
}

func (f *fakeClient) Create(context.Context, Shipment) (Waybill, error) { return f.answer() }

func (f *fakeClient) Track(context.Context, string, string, string) (webhook.Update, error) {
	wb, err := f.answer()
	return webhook.Update{Waybill: wb.Number}, err
}

func (f *fakeClient) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

var (
	_ Client  = (*fakeClient)(nil)
	_ Tracker = (*fakeClient)(nil)
)

func testCarrier(client Client, failures int, cooldown time.Duration, inFlight string, observe Observer) *Carrier {
	return New(config.Carrier{Name: "sim", ShipperCode: "SIM", MaxInFlight: config.InFlight(inFlight),
		Breaker: config.Breaker{Failures: failures, Cooldown: cooldown}}, client, observe, nil)
}

// TestCallsFeedTheBreaker: every call goes through Admit and its result moves the breaker: only
// transient failures, Breaker.Failures of them in a row, open it; a carrier refusing one request
// (permanent) or having no trace yet is healthy.
func TestCallsFeedTheBreaker(t *testing.T) {
	permanent := &Permanent{Reason: "102 receiver address invalid"}
	tests := []struct {
		name      string
		op        string  // create or track
		results   []error // what the carrier answers, call by call
		wantCalls int     // calls that reached the carrier
		wantOpen  bool    // the breaker is open at the end
	}{
		{"transient failures open it after Breaker.Failures", "create", []error{errReset, errReset, errReset, errReset}, 2, true},
		{"transient track failures open it too", "track", []error{errReset, errReset, errReset}, 2, true},
		{"permanent refusals keep it closed", "create", []error{permanent, permanent, permanent, permanent}, 4, false},
		{"no trace yet keeps it closed", "track", []error{ErrNoTrace, ErrNoTrace, ErrNoTrace, ErrNoTrace}, 4, false},
		{"a success resets the run", "create", []error{errReset, nil, errReset, nil, errReset}, 5, false},
		{"a permanent refusal resets the run", "create", []error{errReset, permanent, errReset, permanent}, 4, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := &fakeClient{fn: func(n int) (Waybill, error) { return Waybill{Number: fmt.Sprint("W", n)}, tt.results[n] }}
			c := testCarrier(fc, 2, time.Hour, "1", nil)
			for i, want := range tt.results {
				call, err := c.Admit()
				if err != nil {
					var open CircuitOpen
					if !errors.As(err, &open) || open.Carrier != "sim" || MaybeCreated(err) {
						t.Fatalf("call %d: Admit = %v, want CircuitOpen for sim", i, err)
					}
					continue
				}
				if tt.op == "track" {
					_, err = call.Track(context.Background(), "SIM", "W1", "O1")
				} else {
					_, err = call.Create(context.Background(), Shipment{OrderCode: "O1"})
				}
				if !errors.Is(err, want) && err != want {
					t.Errorf("call %d: err = %v, want the carrier's %v", i, err, want)
				}
			}
			if fc.count() != tt.wantCalls || c.br.open() != tt.wantOpen {
				t.Errorf("calls %d, open %v; want %d, %v", fc.count(), c.br.open(), tt.wantCalls, tt.wantOpen)
			}
		})
	}
}

// openForProbe leaves c's breaker open with its cooldown over: the next Admit is the half-open
// probe, and only one probe may be out at a time.
func openForProbe(t *testing.T, c *Carrier) {
	t.Helper()
	c.br.done(false, time.Now().Add(-time.Hour))
	if !c.br.open() {
		t.Fatal("the breaker did not open")
	}
}

// TestAbandonGivesBackTheProbe: a half-open breaker admits one probe; an admission abandoned
// without a call gives it back (so the next order may probe), and abandoning twice or then
// calling changes nothing more.
func TestAbandonGivesBackTheProbe(t *testing.T) {
	fc := &fakeClient{fn: func(int) (Waybill, error) { return Waybill{Number: "W1"}, nil }}
	c := testCarrier(fc, 1, time.Millisecond, "1", nil)
	openForProbe(t, c)
	probe, err := c.Admit()
	if err != nil {
		t.Fatalf("no probe after the cooldown: %v", err)
	}
	if _, err := c.Admit(); !errors.As(err, new(CircuitOpen)) {
		t.Fatalf("a second probe while the first is out: %v, want CircuitOpen", err)
	}
	probe.Abandon()
	probe.Abandon()
	if _, err := probe.Create(context.Background(), Shipment{}); !errors.As(err, new(NotCalled)) || MaybeCreated(err) {
		t.Errorf("a call on an abandoned admission: %v, want NotCalled", err)
	}
	if fc.count() != 0 {
		t.Errorf("the carrier was called %d times through an abandoned admission", fc.count())
	}
	if !c.br.open() {
		t.Fatal("abandoning the probe closed the breaker")
	}
	again, err := c.Admit()
	if err != nil {
		t.Fatalf("the abandoned probe was not given back: %v", err)
	}
	if _, err := again.Create(context.Background(), Shipment{}); err != nil || c.br.open() {
		t.Errorf("the probe: err %v, open %v; want a success that closes the breaker", err, c.br.open())
	}
}

// TestCtxEndsWhileInFlightFull: a call whose ctx ends while it waits for an in-flight slot never
// reaches the carrier, says NotCalled (so the order may fail over), and gives back a half-open
// breaker's probe.
func TestCtxEndsWhileInFlightFull(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	fc := &fakeClient{fn: func(n int) (Waybill, error) {
		if n == 0 {
			close(entered)
			<-release
		}
		return Waybill{Number: fmt.Sprint("W", n)}, nil
	}}
	c := testCarrier(fc, 1, time.Millisecond, "1", nil)
	first, err := c.Admit()
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan error, 1)
	go func() {
		_, err := first.Create(context.Background(), Shipment{OrderCode: "O1"})
		held <- err
	}()
	<-entered // max_in_flight 1 is taken
	openForProbe(t, c)
	probe, err := c.Admit()
	if err != nil {
		t.Fatalf("no probe: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = probe.Create(ctx, Shipment{OrderCode: "O2"})
	var nc NotCalled
	if !errors.As(err, &nc) || !errors.Is(err, context.DeadlineExceeded) || MaybeCreated(err) {
		t.Errorf("in flight full: err = %v, want NotCalled with the context's error", err)
	}
	if fc.count() != 1 {
		t.Errorf("the carrier saw %d calls, want only the one holding the slot", fc.count())
	}
	// The probe was given back although the slot is still held: another order may probe.
	next, err := c.Admit()
	if err != nil {
		t.Fatalf("the probe was not given back: %v", err)
	}
	next.Abandon()
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
}

type observed struct{ carrier, op, outcome string }

// TestObserverSeesEachCall: the Observer hook is told of every call that reached the carrier,
// with its operation and outcome label; a call refused by the breaker is not a call.
func TestObserverSeesEachCall(t *testing.T) {
	answers := []struct {
		wb  Waybill
		err error
	}{
		{Waybill{Number: "W1"}, nil},
		{Waybill{Number: "W1", Repeat: true}, nil},
		{Waybill{}, &Permanent{Reason: "105 refused"}},
		{Waybill{}, errReset},
		{Waybill{Number: "W1"}, nil},
		{Waybill{}, ErrNoTrace},
		{Waybill{}, errReset},
	}
	fc := &fakeClient{fn: func(n int) (Waybill, error) { return answers[n].wb, answers[n].err }}
	var mu sync.Mutex
	var got []observed
	c := testCarrier(fc, 10, time.Hour, "4", func(carrier, op, outcome string, d time.Duration) {
		if d < 0 {
			t.Errorf("negative duration %v", d)
		}
		mu.Lock()
		got = append(got, observed{carrier, op, outcome})
		mu.Unlock()
	})
	for i := range answers {
		call, err := c.Admit()
		if err != nil {
			t.Fatal(err)
		}
		if i < 4 {
			_, _ = call.Create(context.Background(), Shipment{OrderCode: "O1"})
		} else {
			_, _ = call.Track(context.Background(), "SIM", "W1", "O1")
		}
	}
	abandoned, _ := c.Admit()
	abandoned.Abandon()
	want := []observed{
		{"sim", "create", "success"}, {"sim", "create", "repeat"}, {"sim", "create", "permanent"},
		{"sim", "create", "transient"}, {"sim", "track", "success"}, {"sim", "track", "success"},
		{"sim", "track", "transient"},
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("observed\n %v\nwant\n %v", got, want)
	}
}

// TestMaxInFlightFixed: with max_in_flight "2", no more than two calls are at the carrier at
// once, and two are (the bound is a bound, not a queue of one).
func TestMaxInFlightFixed(t *testing.T) {
	const calls = 12
	var mu sync.Mutex
	cur, peak := 0, 0
	entered := make(chan struct{}, calls)
	release := make(chan struct{})
	fc := &fakeClient{fn: func(n int) (Waybill, error) {
		mu.Lock()
		cur++
		peak = max(peak, cur)
		mu.Unlock()
		entered <- struct{}{}
		<-release
		mu.Lock()
		cur--
		mu.Unlock()
		return Waybill{Number: fmt.Sprint("W", n)}, nil
	}}
	c := testCarrier(fc, 100, time.Hour, "2", nil)
	if n := c.InFlightLimit(); n != 2 {
		t.Fatalf("InFlightLimit = %d, want 2", n)
	}
	var wg sync.WaitGroup
	var started atomic.Int32
	errs := make(chan error, calls)
	for i := range calls {
		call, err := c.Admit()
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Add(1)
			if _, err := call.Create(context.Background(), Shipment{OrderCode: fmt.Sprint("O", i)}); err != nil {
				errs <- err
			}
		}()
	}
	// Two calls are in and every other one has started. That no third gets in can only be seen
	// by giving it time to: a correct bound never lets one in however long this waits, so the
	// wait decides only how surely a broken bound is caught.
	<-entered
	<-entered
	for started.Load() < calls {
		runtime.Gosched()
	}
	select {
	case <-entered:
		t.Error("a third call reached the carrier while two were in flight")
	case <-time.After(50 * time.Millisecond):
		// Let them through one at a time.
		for range calls - 2 {
			release <- struct{}{}
			<-entered
		}
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if peak != 2 || fc.count() != calls {
		t.Errorf("%d calls, at most %d at once; want %d calls, 2 at once", fc.count(), peak, calls)
	}
}
