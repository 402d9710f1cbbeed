package ship

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/shipsync/shipsync/sinks/shopdb"
	"github.com/shipsync/shipsync/sync/carrier"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/outbox"
	"github.com/shipsync/shipsync/sync/state"
)

// The unit tests of the stage run a batch (Stage.ship, or Run) against hand-written fakes of
// its Store, its Shop, its outbox and two carriers' clients, "a" (routing.default) and "b"
// (routing.failover). Every fake writes what it was asked into one trace, so a test can check
// the round trips a batch makes and their order.

// trace is what the fakes were asked, in order.
type trace struct {
	mu  sync.Mutex
	ops []string
}

func (tr *trace) add(op string) {
	tr.mu.Lock()
	tr.ops = append(tr.ops, op)
	tr.mu.Unlock()
}

func (tr *trace) list() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.ops)
}

// fakeStore is the Redis side. Claims are answered from claims (a key not there is claimed,
// detected just now); Settle fails the keys in settleErr. Every method fails once its ctx is
// done, as Redis calls do.
type fakeStore struct {
	tr        *trace
	mu        sync.Mutex
	claims    map[string]state.Claim
	settleErr map[string]error

	claimed  [][]string
	submits  [][]state.Submit
	records  [][]state.WaybillRecord
	settles  [][]state.Settlement
	settled  map[string]bool // keys whose settlement a returned Settle call recorded
	inSettle bool
}

func (f *fakeStore) ClaimMany(ctx context.Context, keys []string, owner string, lease time.Duration) []state.Claim {
	f.tr.add("claim")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.claimed = append(f.claimed, slices.Clone(keys))
	out := make([]state.Claim, len(keys))
	for i, k := range keys {
		c, ok := f.claims[k]
		if !ok {
			c = state.Claim{Result: state.Claimed, Record: state.Record{State: state.Detected, CreatedAt: time.Now()}}
		}
		c.Key = k
		c.Record.Key = k
		if c.Result == state.Claimed {
			c.Record.LeaseOwner = owner
		}
		if err := ctx.Err(); err != nil {
			c = state.Claim{Key: k, Err: err}
		}
		out[i] = c
	}
	return out
}

func (f *fakeStore) SubmittingMany(ctx context.Context, s []state.Submit) []error {
	f.tr.add("submitting")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.submits = append(f.submits, slices.Clone(s))
	errs := make([]error, len(s))
	for i := range errs {
		errs[i] = ctx.Err()
	}
	return errs
}

func (f *fakeStore) RecordWaybills(ctx context.Context, w []state.WaybillRecord) []error {
	f.tr.add("record")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.records = append(f.records, slices.Clone(w))
	errs := make([]error, len(w))
	for i := range errs {
		errs[i] = ctx.Err()
	}
	return errs
}

func (f *fakeStore) Settle(ctx context.Context, s []state.Settlement) []state.SettleResult {
	f.tr.add("settle")
	f.mu.Lock()
	f.inSettle = true
	f.settles = append(f.settles, slices.Clone(s))
	f.mu.Unlock()
	out := make([]state.SettleResult, len(s))
	for i, st := range s {
		out[i].Err = cmpErr(f.settleErr[st.Key], ctx.Err())
	}
	f.mu.Lock()
	for i, st := range s {
		if out[i].Err == nil {
			f.settled[st.Key] = true
		}
	}
	f.inSettle = false
	f.mu.Unlock()
	return out
}

func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeStore) TakeDue(context.Context, int, time.Duration) ([]string, error) { return nil, nil }

var _ Store = (*fakeStore)(nil)

// fakeShop is the shop's database: orders and items by key (a key not in orders has no row),
// and the write-back, by write (nil: every order written).
type fakeShop struct {
	tr     *trace
	mu     sync.Mutex
	orders map[string]shopdb.OrderResult
	items  map[string]shopdb.ItemsResult
	write  func(batch []map[string]any) ([]shopdb.WaybillResult, error)

	ordersCalls, itemsCalls [][]string
	writes                  [][]map[string]any
}

func (f *fakeShop) Orders(_ context.Context, keys []string) (map[string]shopdb.OrderResult, error) {
	f.tr.add("orders")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ordersCalls = append(f.ordersCalls, slices.Clone(keys))
	out := map[string]shopdb.OrderResult{}
	for _, k := range keys {
		if r, ok := f.orders[k]; ok {
			out[k] = r
		}
	}
	return out, nil
}

func (f *fakeShop) ItemsOf(_ context.Context, keys []string) (map[string]shopdb.ItemsResult, error) {
	f.tr.add("items")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.itemsCalls = append(f.itemsCalls, slices.Clone(keys))
	out := map[string]shopdb.ItemsResult{}
	for _, k := range keys {
		if r, ok := f.items[k]; ok {
			out[k] = r
		}
	}
	return out, nil
}

func (f *fakeShop) HasItemsQuery() bool { return true }

func (f *fakeShop) WriteWaybills(_ context.Context, batch []map[string]any) ([]shopdb.WaybillResult, error) {
	f.tr.add("write")
	f.mu.Lock()
	f.writes = append(f.writes, slices.Clone(batch))
	write := f.write
	f.mu.Unlock()
	if write != nil {
		return write(batch)
	}
	out := make([]shopdb.WaybillResult, len(batch))
	for i := range out {
		out[i].Outcome = shopdb.Written
	}
	return out, nil
}

var _ Shop = (*fakeShop)(nil)

// fakeAnnouncer is the outbox.
type fakeAnnouncer struct {
	mu     sync.Mutex
	events []outbox.Event
}

func (f *fakeAnnouncer) Record(_ context.Context, events ...outbox.Event) error {
	f.mu.Lock()
	f.events = append(f.events, events...)
	f.mu.Unlock()
	return nil
}

// fakeClient is a carrier's client: answer decides (nil: a waybill "<prefix>-<order code>"),
// and calls counts the creates by order code.
type fakeClient struct {
	prefix string
	mu     sync.Mutex
	calls  map[string]int
	answer func(ctx context.Context, s carrier.Shipment) (carrier.Waybill, error)
}

func (f *fakeClient) Create(ctx context.Context, s carrier.Shipment) (carrier.Waybill, error) {
	f.mu.Lock()
	f.calls[s.OrderCode]++
	answer := f.answer
	f.mu.Unlock()
	if answer != nil {
		return answer(ctx, s)
	}
	return carrier.Waybill{Number: f.prefix + "-" + s.OrderCode}, nil
}

func (f *fakeClient) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

func (f *fakeClient) count(code string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[code]
}

var _ carrier.Client = (*fakeClient)(nil)

// dataErr stands for a *shopdb.DataError, which cannot be built outside its package (its cause
// is unexported, and a zero one panics in Error); what decide reads of it is Permanent.
type dataErr struct{}

func (dataErr) Error() string {
	return "orders.query weight_kg: strconv.ParseFloat: parsing \"heavy\": invalid syntax"
}
func (dataErr) Permanent() bool { return true }

// env is one stage with its fakes.
type env struct {
	t      *testing.T
	cfg    *config.Config
	tr     *trace
	store  *fakeStore
	shop   *fakeShop
	events *fakeAnnouncer
	a, b   *fakeClient
	set    carrier.Set
	stage  *Stage

	mu   sync.Mutex
	acks map[string]int // acks by job name
}

func newEnv(t *testing.T) *env {
	t.Helper()
	tr := &trace{}
	e := &env{t: t, tr: tr, acks: map[string]int{},
		store:  &fakeStore{tr: tr, claims: map[string]state.Claim{}, settleErr: map[string]error{}, settled: map[string]bool{}},
		shop:   &fakeShop{tr: tr, orders: map[string]shopdb.OrderResult{}, items: map[string]shopdb.ItemsResult{}},
		a:      &fakeClient{prefix: "A", calls: map[string]int{}},
		b:      &fakeClient{prefix: "B", calls: map[string]int{}},
		events: &fakeAnnouncer{},
	}
	carriers := []config.Carrier{
		{Name: "a", ShipperCode: "A", MaxInFlight: "8", Breaker: config.Breaker{Failures: 3, Cooldown: time.Hour}},
		{Name: "b", ShipperCode: "B", MaxInFlight: "8", Breaker: config.Breaker{Failures: 3, Cooldown: time.Hour}},
	}
	e.cfg = &config.Config{
		Sender:   config.Address{Name: "warehouse", Mobile: "15018442396", Province: "上海", City: "上海", Address: "明珠路73号"},
		Carriers: carriers,
		Orders:   config.Orders{ReadyTimeout: 5 * time.Second},
		Routing:  config.Routing{Default: "a", Failover: []string{"b"}},
		Retry:    config.Retry{Interval: 5 * time.Second, MaxAttempts: 3, Backoff: "fixed", MaxInterval: time.Minute},
		Watchdog: config.Watchdog{NoPickupAfter: 48 * time.Hour, SilentAfter: 24 * time.Hour},
		Workers:  config.Workers{Queue: 64, LeaseTTL: time.Minute, DrainTimeout: 10 * time.Second, Batch: 128, Batches: 1},
	}
	e.set = carrier.Set{"a": carrier.New(carriers[0], e.a, nil, nil), "b": carrier.New(carriers[1], e.b, nil, nil)}
	e.stage = New(Options{Store: e.store, Shop: e.shop, Events: e.events, Owner: "test",
		Settings: func() (*config.Config, carrier.Set) { return e.cfg, e.set },
		Log:      slog.New(slog.DiscardHandler)}, e.cfg.Workers.Queue)
	return e
}

// paid makes orders the shop has, with one item each.
func (e *env) paid(keys ...string) {
	for _, k := range keys {
		e.shop.orders[k] = shopdb.OrderResult{Order: shopdb.Order{Code: "SN" + k, ReceiverName: "张三", ReceiverMobile: "13800000000",
			ReceiverProvince: "北京", ReceiverCity: "北京", ReceiverAddress: "长安街1号"}}
		e.shop.items[k] = shopdb.ItemsResult{Items: []shopdb.Item{{Name: "tea", Quantity: 2, WeightKg: 0.5}}}
	}
}

// job is a job for key whose ack, named name, checks that it comes once and only after a
// Settle call that recorded the order has returned (or, for an order finished before the
// batch, without one).
func (e *env) job(name, key string, finished bool) Job {
	return Job{Key: key, PaidAt: time.Now(), Ack: func() {
		e.store.mu.Lock()
		during, settled := e.store.inSettle, e.store.settled[key]
		e.store.mu.Unlock()
		if during {
			e.t.Errorf("job %s acked while Settle was running", name)
		}
		if !finished && !settled {
			e.t.Errorf("job %s acked before its order %s was settled", name, key)
		}
		e.mu.Lock()
		e.acks[name]++
		e.mu.Unlock()
	}}
}

// jobs is one job per key, named by it.
func (e *env) jobs(keys ...string) []Job {
	out := make([]Job, len(keys))
	for i, k := range keys {
		out[i] = e.job(k, k, false)
	}
	return out
}

func (e *env) ship(jobs []Job) []Job {
	return e.stage.ship(context.Background(), "test:1", jobs)
}

func (e *env) ackCount(name string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.acks[name]
}

// settlements is every settlement recorded, by key; a key settled twice fails the test.
func (e *env) settlements() map[string]state.Settlement {
	e.t.Helper()
	out := map[string]state.Settlement{}
	for _, call := range e.store.settles {
		for _, st := range call {
			if _, dup := out[st.Key]; dup {
				e.t.Errorf("order %s settled twice", st.Key)
			}
			out[st.Key] = st
		}
	}
	return out
}

// written is the write-back values of every order written, by key: the waybill and carrier.
func (e *env) written() map[string]string {
	out := map[string]string{}
	for _, call := range e.shop.writes {
		for _, v := range call {
			out[v["key"].(string)] = fmt.Sprintf("%s %s", v["carrier"], v["waybill"])
		}
	}
	return out
}

// TestBatchShips: a batch of orders that all ship makes one round trip of each kind, in the
// order of DESIGN.md §2 (claim, read orders, read items, mark submitting, record waybills,
// write back, settle), and acks every job exactly once, after its settlement is recorded.
func TestBatchShips(t *testing.T) {
	e := newEnv(t)
	keys := []string{"1", "2", "3", "4", "5"}
	e.paid(keys...)
	if again := e.ship(e.jobs(keys...)); len(again) != 0 {
		t.Fatalf("jobs to go round again: %v", again)
	}
	want := []string{"claim", "orders", "items", "submitting", "record", "write", "settle"}
	if got := e.tr.list(); !slices.Equal(got, want) {
		t.Errorf("round trips %v, want %v", got, want)
	}
	for name, calls := range map[string]int{"ClaimMany": len(e.store.claimed), "Orders": len(e.shop.ordersCalls),
		"ItemsOf": len(e.shop.itemsCalls), "SubmittingMany": len(e.store.submits), "RecordWaybills": len(e.store.records),
		"WriteWaybills": len(e.shop.writes), "Settle": len(e.store.settles)} {
		if calls != 1 {
			t.Errorf("%s called %d times, want once for the batch", name, calls)
		}
	}
	if len(e.store.claimed) == 1 && !slices.Equal(e.store.claimed[0], keys) {
		t.Errorf("claimed %v, want %v", e.store.claimed[0], keys)
	}
	if len(e.shop.writes) == 1 && len(e.shop.writes[0]) != len(keys) {
		t.Errorf("the write-back transaction has %d orders, want %d", len(e.shop.writes[0]), len(keys))
	}
	recorded := map[string]string{}
	for _, r := range e.store.records[0] {
		recorded[r.Key] = r.Carrier + " " + r.Waybill
		if r.Owner != "test:1" || r.PickupDue.IsZero() || r.PollDue.IsZero() {
			t.Errorf("waybill record %+v: want the batch's owner and both watches due", r)
		}
	}
	written := e.written()
	st := e.settlements()
	for _, k := range keys {
		wb := "a A-SN" + k
		if recorded[k] != wb || written[k] != wb {
			t.Errorf("order %s: recorded %q, written %q, want %q", k, recorded[k], written[k], wb)
		}
		if st[k].Kind != state.SettleWritten || st[k].Owner != "test:1" {
			t.Errorf("order %s settled %+v, want written by test:1", k, st[k])
		}
		if n := e.a.count("SN" + k); n != 1 {
			t.Errorf("order %s: %d creates, want 1", k, n)
		}
		if n := e.ackCount(k); n != 1 {
			t.Errorf("order %s acked %d times, want once", k, n)
		}
	}
	if e.b.total() != 0 {
		t.Errorf("the failover carrier was asked %d times", e.b.total())
	}
	if n := len(e.events.events); n != len(keys) {
		t.Errorf("%d events, want one waybill_created per order", n)
	}
}

// TestMixedBatch: every order of one batch gets its own outcome.
func TestMixedBatch(t *testing.T) {
	e := newEnv(t)
	old := time.Now().Add(-time.Minute) // detected longer than ready_timeout ago
	e.paid("ok1", "ok2", "dup", "noitems", "bad")
	delete(e.shop.items, "noitems")
	e.shop.orders["bad"] = shopdb.OrderResult{Err: dataErr{}}
	e.store.claims["gone-old"] = state.Claim{Result: state.Claimed, Record: state.Record{State: state.Detected, CreatedAt: old}}
	e.store.claims["waybilled"] = state.Claim{Result: state.Claimed, Record: state.Record{State: state.Waybilled,
		CreatedAt: old, OrderCode: "SNwaybilled", Carrier: "a", ShipperCode: "A", Waybill: "A-EARLIER", Sticky: true}}
	e.store.claims["done"] = state.Claim{Result: state.Done, Record: state.Record{State: state.Written, Waybill: "A-DONE"}}
	e.store.claims["busy"] = state.Claim{Result: state.Busy, Record: state.Record{State: state.Submitting,
		LeaseOwner: "other:7", LeaseUntil: time.Now().Add(time.Second)}}
	start := time.Now()

	jobs := e.jobs("ok1", "gone-fresh", "gone-old", "noitems", "bad", "waybilled", "busy", "ok2")
	jobs = append(jobs, e.job("done", "done", true), e.job("dup#1", "dup", false), e.job("dup#2", "dup", false))
	if again := e.ship(jobs); len(again) != 0 {
		t.Fatalf("jobs to go round again: %v", again)
	}

	if len(e.store.claimed) != 1 || len(e.store.claimed[0]) != 10 {
		t.Fatalf("claims %v: want one call with each of the 10 keys once", e.store.claimed)
	}
	sort := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
	wantRead := []string{"bad", "dup", "gone-fresh", "gone-old", "noitems", "ok1", "ok2"}
	if len(e.shop.ordersCalls) != 1 || !slices.Equal(sort(e.shop.ordersCalls[0]), wantRead) {
		t.Errorf("orders read %v, want one read of %v (not the waybilled, done or busy ones)", e.shop.ordersCalls, wantRead)
	}
	wantItems := []string{"dup", "noitems", "ok1", "ok2"}
	if len(e.shop.itemsCalls) != 1 || !slices.Equal(sort(e.shop.itemsCalls[0]), wantItems) {
		t.Errorf("items read %v, want one read of %v (the orders found)", e.shop.itemsCalls, wantItems)
	}

	type want struct {
		kind         state.Outcome
		countAttempt bool
		sticky       bool
		reason       string // a part of it
	}
	wants := map[string]want{
		"ok1":        {kind: state.SettleWritten},
		"ok2":        {kind: state.SettleWritten},
		"dup":        {kind: state.SettleWritten},
		"waybilled":  {kind: state.SettleWritten},
		"gone-fresh": {kind: state.SettleRetry, reason: "no row yet"},
		"gone-old":   {kind: state.SettleSkipped, reason: "not eligible"},
		"noitems":    {kind: state.SettleRetry, reason: "no items yet"},
		"bad":        {kind: state.SettleDead, countAttempt: true, reason: "weight_kg"},
		"busy":       {kind: state.SettleParked},
	}
	got := e.settlements()
	if len(e.store.settles) != 1 || len(got) != len(wants) {
		t.Errorf("%d Settle calls settling %d orders; want one call for %d (none for the done one)", len(e.store.settles), len(got), len(wants))
	}
	for k, w := range wants {
		st, ok := got[k]
		switch {
		case !ok:
			t.Errorf("order %s: no settlement", k)
		case st.Kind != w.kind || st.CountAttempt != w.countAttempt || st.Sticky != w.sticky || !strings.Contains(st.Reason, w.reason):
			t.Errorf("order %s: settled %+v, want %+v", k, st, w)
		}
	}
	if d := got["gone-fresh"].Due; d.Before(start) || d.After(time.Now().Add(readPause)) {
		t.Errorf("a fresh order without a row is read again at %v, want within %v", d, readPause)
	}
	if d := got["busy"].Due; !d.After(start.Add(time.Second)) || d.After(time.Now().Add(3*time.Second+500*time.Millisecond)) {
		t.Errorf("a busy order is parked until %v, want just after the other lease", d)
	}

	written := e.written()
	wantWritten := map[string]string{"ok1": "a A-SNok1", "ok2": "a A-SNok2", "dup": "a A-SNdup", "waybilled": "a A-EARLIER"}
	if fmt.Sprint(written) != fmt.Sprint(wantWritten) || len(e.shop.writes) != 1 {
		t.Errorf("written %v in %d transactions, want %v in one", written, len(e.shop.writes), wantWritten)
	}
	for _, code := range []string{"SNok1", "SNok2", "SNdup"} {
		if n := e.a.count(code); n != 1 {
			t.Errorf("%s: %d creates, want 1", code, n)
		}
	}
	if n := e.a.total() + e.b.total(); n != 3 {
		t.Errorf("%d carrier calls, want 3 (the waybilled order is not asked again)", n)
	}
	if len(e.store.records) != 1 || len(e.store.records[0]) != 3 {
		t.Errorf("waybills recorded %v, want the 3 new ones in one call", e.store.records)
	}
	for _, name := range []string{"ok1", "ok2", "gone-fresh", "gone-old", "noitems", "bad", "waybilled", "busy", "done", "dup#1", "dup#2"} {
		if n := e.ackCount(name); n != 1 {
			t.Errorf("job %s acked %d times, want once", name, n)
		}
	}
}

// stmtErr is the server refusing a statement (a trigger's SIGNAL SQLSTATE '45000').
var stmtErr = &mysql.MyError{Code: 1644, State: "45000", Message: "write-back refused for this order"}

// TestWriteBackStatementFails: when one order's statement fails the batch's transaction, the
// orders are written one by one and each gets its own outcome.
func TestWriteBackStatementFails(t *testing.T) {
	if !shopdb.StatementFailed(stmtErr) {
		t.Fatal("the fake statement error is not one for StatementFailed")
	}
	e := newEnv(t)
	keys := []string{"1", "2", "3", "4"}
	e.paid(keys...)
	e.shop.write = func(batch []map[string]any) ([]shopdb.WaybillResult, error) {
		if len(batch) > 1 {
			return nil, fmt.Errorf("write back waybills: %w", stmtErr)
		}
		switch batch[0]["key"] {
		case "2":
			return nil, fmt.Errorf("write back waybill: %w", stmtErr)
		case "3":
			return []shopdb.WaybillResult{{Outcome: shopdb.Conflict, Existing: "ZTO999"}}, nil
		case "4":
			return []shopdb.WaybillResult{{Outcome: shopdb.AlreadyWritten}}, nil
		}
		return []shopdb.WaybillResult{{Outcome: shopdb.Written}}, nil
	}
	if again := e.ship(e.jobs(keys...)); len(again) != 0 {
		t.Fatalf("jobs to go round again: %v", again)
	}
	if n := len(e.shop.writes); n != 1+len(keys) {
		t.Fatalf("%d write-back calls, want the batch then each of %d alone", n, len(keys))
	}
	for i, w := range e.shop.writes[1:] {
		if len(w) != 1 || w[0]["key"] != keys[i] {
			t.Errorf("write %d: %v, want order %s alone", i+1, w, keys[i])
		}
	}
	got := e.settlements()
	if st := got["1"]; st.Kind != state.SettleWritten {
		t.Errorf("order 1: %+v, want written", st)
	}
	if st := got["2"]; st.Kind != state.SettleRetry || st.CountAttempt || !st.Sticky || !strings.Contains(st.Reason, "shop database") {
		t.Errorf("order 2 (its statement failed): %+v, want a retry pinned to its waybill, no attempt spent", st)
	}
	if st := got["3"]; st.Kind != state.SettleConflict || !strings.Contains(st.Reason, "ZTO999") {
		t.Errorf("order 3: %+v, want a conflict naming the shop's waybill", st)
	}
	if st := got["4"]; st.Kind != state.SettleWritten {
		t.Errorf("order 4 (a replay): %+v, want written", st)
	}
	for _, k := range keys {
		if n := e.ackCount(k); n != 1 {
			t.Errorf("order %s acked %d times", k, n)
		}
	}
}

// TestWriteBackShopDown: a write-back that fails for another reason (the database is
// unreachable) is not tried order by order: every order retries as "shop down", spending no
// attempt, still pinned to its waybill.
func TestWriteBackShopDown(t *testing.T) {
	down := errors.New("dial tcp 127.0.0.1:23306: connect: connection refused")
	if shopdb.StatementFailed(down) {
		t.Fatal("the fake unreachable-database error counts as a statement failure")
	}
	e := newEnv(t)
	keys := []string{"1", "2", "3"}
	e.paid(keys...)
	e.shop.write = func([]map[string]any) ([]shopdb.WaybillResult, error) { return nil, down }
	e.ship(e.jobs(keys...))
	if n := len(e.shop.writes); n != 1 {
		t.Errorf("%d write-back calls, want 1 (one by one would only fail more)", n)
	}
	for k, st := range e.settlements() {
		if st.Kind != state.SettleRetry || st.CountAttempt || !st.Sticky || !strings.Contains(st.Reason, "shop database") {
			t.Errorf("order %s: %+v, want a retry as shop down, no attempt spent, pinned", k, st)
		}
	}
	if len(e.settlements()) != len(keys) {
		t.Errorf("%d orders settled, want %d", len(e.settlements()), len(keys))
	}
}

// TestFailover: an order goes to the next candidate carrier only when the one asked certainly
// created nothing.
func TestFailover(t *testing.T) {
	t.Run("refused connection: the second carrier creates", func(t *testing.T) {
		e := newEnv(t)
		e.paid("1")
		e.a.answer = func(context.Context, carrier.Shipment) (carrier.Waybill, error) {
			return carrier.Waybill{}, transientErr{}
		}
		e.ship(e.jobs("1"))
		if e.a.count("SN1") != 1 || e.b.count("SN1") != 1 {
			t.Errorf("creates: a %d, b %d; want one each", e.a.count("SN1"), e.b.count("SN1"))
		}
		var marked []string
		for _, call := range e.store.submits {
			for _, s := range call {
				marked = append(marked, s.Carrier)
			}
		}
		if !slices.Equal(marked, []string{"a", "b"}) {
			t.Errorf("marked submitting to %v, want a then b", marked)
		}
		if w := e.written()["1"]; w != "b B-SN1" {
			t.Errorf("written %q, want b's waybill", w)
		}
		if st := e.settlements()["1"]; st.Kind != state.SettleWritten {
			t.Errorf("settled %+v", st)
		}
	})
	t.Run("ambiguous failure: retried pinned to the first, the second never asked", func(t *testing.T) {
		e := newEnv(t)
		e.paid("1")
		e.a.answer = func(context.Context, carrier.Shipment) (carrier.Waybill, error) {
			return carrier.Waybill{}, ambiguousErr{}
		}
		e.ship(e.jobs("1"))
		if e.b.total() != 0 {
			t.Errorf("the second carrier was asked %d times after an ambiguous failure", e.b.total())
		}
		st := e.settlements()["1"]
		if st.Kind != state.SettleRetry || !st.Sticky || !st.CountAttempt {
			t.Errorf("settled %+v, want a retry pinned to a, an attempt spent", st)
		}
		if len(e.shop.writes) != 0 || len(e.store.records) != 0 {
			t.Errorf("written %v, recorded %v: nothing to write", e.shop.writes, e.store.records)
		}
		if e.ackCount("1") != 1 {
			t.Errorf("acked %d times", e.ackCount("1"))
		}
	})
	t.Run("a pinned order goes back to its carrier only, even when it refuses", func(t *testing.T) {
		e := newEnv(t)
		e.paid("1")
		e.store.claims["1"] = state.Claim{Result: state.Claimed, Record: state.Record{State: state.Retry, Carrier: "a",
			Sticky: true, Attempts: 1, CreatedAt: time.Now().Add(-time.Minute)}}
		e.a.answer = func(context.Context, carrier.Shipment) (carrier.Waybill, error) {
			return carrier.Waybill{}, transientErr{}
		}
		e.ship(e.jobs("1"))
		if e.a.count("SN1") != 1 || e.b.total() != 0 {
			t.Errorf("creates: a %d, b %d; want a only", e.a.count("SN1"), e.b.total())
		}
		if st := e.settlements()["1"]; st.Kind != state.SettleRetry || !st.Sticky || !st.CountAttempt {
			t.Errorf("settled %+v, want a retry still pinned", st)
		}
	})
	t.Run("open circuit on the first for every order: the second is asked", func(t *testing.T) {
		e := newEnv(t)
		openCircuit(t, e.set["a"], e.a)
		keys := []string{"1", "2", "3"}
		e.paid(keys...)
		e.ship(e.jobs(keys...))
		if e.a.total() != 0 || e.b.total() != len(keys) {
			t.Errorf("creates: a %d, b %d; want b for each order", e.a.total(), e.b.total())
		}
		if len(e.store.submits) != 1 || len(e.store.submits[0]) != len(keys) || e.store.submits[0][0].Carrier != "b" {
			t.Errorf("marked submitting %v, want one call for b (nothing was sent to a)", e.store.submits)
		}
		got := e.settlements()
		for _, k := range keys {
			if w := e.written()[k]; got[k].Kind != state.SettleWritten || w != "b B-SN"+k {
				t.Errorf("order %s: settled %+v, written %q; want b's waybill", k, got[k], w)
			}
		}
	})
	t.Run("open circuit everywhere: wait for the cooldown, no attempt", func(t *testing.T) {
		e := newEnv(t)
		openCircuit(t, e.set["a"], e.a)
		openCircuit(t, e.set["b"], e.b)
		e.paid("1")
		start := time.Now()
		e.ship(e.jobs("1"))
		if e.a.total()+e.b.total() != 0 || len(e.store.submits) != 0 {
			t.Errorf("carriers asked (a %d, b %d, submits %v) through open circuits", e.a.total(), e.b.total(), e.store.submits)
		}
		st := e.settlements()["1"]
		if st.Kind != state.SettleRetry || st.CountAttempt || st.Sticky || st.Due.Before(start.Add(time.Hour)) {
			t.Errorf("settled %+v, want a retry after the cooldown (1h), no attempt, not pinned", st)
		}
	})
}

// openCircuit opens c's breaker the way calls do: Breaker.Failures transient failures in a
// row. The client's answer and count are reset afterwards.
func openCircuit(t *testing.T, c *carrier.Carrier, client *fakeClient) {
	t.Helper()
	client.answer = func(context.Context, carrier.Shipment) (carrier.Waybill, error) {
		return carrier.Waybill{}, errors.New("HTTP 503")
	}
	for range c.Config.Breaker.Failures {
		call, err := c.Admit()
		if err != nil {
			t.Fatal(err)
		}
		_, _ = call.Create(context.Background(), carrier.Shipment{OrderCode: "warm-up"})
	}
	if _, err := c.Admit(); !errors.As(err, new(carrier.CircuitOpen)) {
		t.Fatalf("circuit of %s not open: %v", c.Name, err)
	}
	client.answer = nil
	client.calls = map[string]int{}
}

// TestUnsettledGoRoundAgain: an order whose settlement is not recorded (Redis failed for it)
// is not acked; ship returns its jobs for another round. The others are acked.
func TestUnsettledGoRoundAgain(t *testing.T) {
	e := newEnv(t)
	e.paid("1", "2", "3")
	e.store.settleErr["2"] = errors.New("settle order 2: i/o timeout")
	jobs := e.jobs("1", "2", "3")
	again := e.ship(jobs)
	if len(again) != 1 || again[0].Key != "2" {
		t.Fatalf("returned %v for another round, want order 2's job", again)
	}
	for k, want := range map[string]int{"1": 1, "2": 0, "3": 1} {
		if n := e.ackCount(k); n != want {
			t.Errorf("order %s acked %d times, want %d", k, n, want)
		}
	}
	// The next round settles it (its waybill is recorded: the carrier is not asked again).
	delete(e.store.settleErr, "2")
	e.store.claims["2"] = state.Claim{Result: state.Claimed, Record: state.Record{State: state.Waybilled, OrderCode: "SN2",
		Carrier: "a", ShipperCode: "A", Waybill: "A-SN2", Sticky: true, CreatedAt: time.Now()}}
	if again := e.ship(again); len(again) != 0 {
		t.Fatalf("second round left %v", again)
	}
	if e.ackCount("2") != 1 || e.a.count("SN2") != 1 {
		t.Errorf("order 2: acked %d times, %d creates; want 1 and 1", e.ackCount("2"), e.a.count("SN2"))
	}
}

// TestRunDrains: when Run's ctx ends, the batch held finishes (acked) and Run returns; jobs
// still queued are not taken, not sent and not acked (their source replays them). A batch
// that outlasts workers.drain_timeout has its calls cancelled and is not acked.
func TestRunDrains(t *testing.T) {
	// Taking a new job after ctx ended would be a coin toss each time (a select with both ready),
	// so the scenario runs several times to catch it.
	for i := range 20 {
		t.Run(fmt.Sprint("round ", i), func(t *testing.T) {
			e := newEnv(t)
			e.cfg.Workers.Batch, e.cfg.Workers.Batches = 2, 1
			e.paid("1", "2", "3", "4")
			entered, release := make(chan string, 4), make(chan struct{})
			e.a.answer = func(_ context.Context, s carrier.Shipment) (carrier.Waybill, error) {
				entered <- s.OrderCode
				<-release
				return carrier.Waybill{Number: "A-" + s.OrderCode}, nil
			}
			for _, j := range e.jobs("1", "2", "3", "4") {
				if err := e.stage.Enqueue(context.Background(), j); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- e.stage.Run(ctx) }()
			<-entered
			<-entered // the first batch (1, 2) is at the carrier
			cancel()
			close(release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			for k, want := range map[string]int{"1": 1, "2": 1, "3": 0, "4": 0} {
				if n := e.ackCount(k); n != want {
					t.Errorf("order %s acked %d times, want %d", k, n, want)
				}
			}
			if n := e.a.total(); n != 2 {
				t.Errorf("%d creates, want 2: jobs queued after the stop were taken", n)
			}
			if q := e.stage.Queued(); q != 2 {
				t.Errorf("%d jobs left queued, want 2", q)
			}
		})
	}
	t.Run("drain timeout", func(t *testing.T) {
		e := newEnv(t)
		e.cfg.Workers.DrainTimeout = 50 * time.Millisecond
		e.paid("1")
		entered := make(chan struct{})
		e.a.answer = func(ctx context.Context, s carrier.Shipment) (carrier.Waybill, error) {
			close(entered)
			<-ctx.Done() // hangs until the drain gives up
			return carrier.Waybill{}, ctx.Err()
		}
		if err := e.stage.Enqueue(context.Background(), e.jobs("1")[0]); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.stage.Run(ctx) }()
		<-entered
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := e.ackCount("1"); n != 0 {
			t.Errorf("an order cut off by the drain timeout was acked %d times", n)
		}
	})
}

// TestRetryDelay: retry.interval as is with backoff fixed; with exponential, interval x
// 2^(attempt-1) with +-20 % jitter, capped at max_interval, never overflowing.
func TestRetryDelay(t *testing.T) {
	fixed := retryDelay(config.Retry{Interval: 5 * time.Second, Backoff: "fixed", MaxInterval: time.Minute})
	for _, n := range []int{0, 1, 7, 100} {
		if d := fixed(n); d != 5*time.Second {
			t.Errorf("fixed, attempt %d: %v", n, d)
		}
	}
	exp := retryDelay(config.Retry{Interval: time.Second, Backoff: "exponential", MaxInterval: time.Minute})
	for _, tt := range []struct {
		attempt int
		base    time.Duration
	}{{0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {5, 16 * time.Second}, {7, time.Minute},
		{40, time.Minute}, {200, time.Minute}} {
		lo, hi := time.Duration(float64(tt.base)*0.8), time.Duration(float64(tt.base)*1.2)
		seen := map[time.Duration]bool{}
		for range 50 {
			d := exp(tt.attempt)
			if d < lo || d > hi {
				t.Fatalf("attempt %d: %v outside [%v, %v]", tt.attempt, d, lo, hi)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("attempt %d: no jitter", tt.attempt)
		}
	}
}

// TestCandidates: the carriers an order is tried at, in order.
func TestCandidates(t *testing.T) {
	cfg := &config.Config{Routing: config.Routing{Default: "sf", Failover: []string{"zto", "sf", "ems"},
		Rules: []config.Rule{
			{Carrier: "ems", Province: []string{"新疆", "西藏"}},
			{Carrier: "zto", MinWeightKg: 20},
			{Carrier: "yto", MinWeightKg: 5, MaxWeightKg: 10},
			{Carrier: "jd", Column: &config.Condition{Column: "shipping_id", In: []string{"9"}}},
			{Carrier: "dhl", Country: []string{"US", "DE"}},
		}}}
	set := carrier.Set{}
	for _, n := range []string{"sf", "zto", "ems", "jd", "yto", "dhl"} {
		set[n] = carrier.New(config.Carrier{Name: n, MaxInFlight: "1", Breaker: config.Breaker{Failures: 1, Cooldown: time.Second}}, nil, nil, nil)
	}
	tests := []struct {
		name  string
		order shopdb.Order
		rec   state.Record
		want  string
	}{
		{"default then failover, no repeats", shopdb.Order{ReceiverProvince: "北京", WeightKg: 1}, state.Record{}, "sf zto ems"},
		{"province rule", shopdb.Order{ReceiverProvince: "西藏", WeightKg: 1}, state.Record{}, "ems zto sf"},
		{"weight rule", shopdb.Order{ReceiverProvince: "北京", WeightKg: 25}, state.Record{}, "zto sf ems"},
		{"weight range rule", shopdb.Order{ReceiverProvince: "北京", WeightKg: 7}, state.Record{}, "yto zto sf ems"},
		{"above the range's max: the next rule", shopdb.Order{ReceiverProvince: "北京", WeightKg: 11}, state.Record{}, "sf zto ems"},
		{"first matching rule wins", shopdb.Order{ReceiverProvince: "新疆", WeightKg: 25}, state.Record{}, "ems zto sf"},
		{"column rule", shopdb.Order{Columns: map[string]string{"shipping_id": "9"}}, state.Record{}, "jd zto sf ems"},
		{"column rule, other value", shopdb.Order{Columns: map[string]string{"shipping_id": "3"}}, state.Record{}, "sf zto ems"},
		{"sticky after an ambiguous failure", shopdb.Order{ReceiverProvince: "西藏"}, state.Record{Carrier: "zto", Sticky: true}, "zto"},
		{"sticky to a carrier no longer configured", shopdb.Order{}, state.Record{Carrier: "gone", Sticky: true}, "error"},
		{"last asked but not pinned: routed anew", shopdb.Order{ReceiverProvince: "西藏"}, state.Record{Carrier: "zto"}, "ems zto sf"},
		{"sent back to a chosen carrier (dlq retry --carrier)", shopdb.Order{ReceiverProvince: "西藏"}, state.Record{Route: "jd"}, "jd"},
		{"the pin beats a chosen carrier", shopdb.Order{}, state.Record{Carrier: "zto", Sticky: true, Route: "jd"}, "zto"},
		{"a chosen carrier no longer configured", shopdb.Order{}, state.Record{Route: "gone"}, "error"},
		{"province rule in English", shopdb.Order{ReceiverProvince: "Tibet", WeightKg: 1}, state.Record{}, "ems zto sf"},
		{"province rule in full", shopdb.Order{ReceiverProvince: "新疆维吾尔自治区", WeightKg: 1}, state.Record{}, "ems zto sf"},
		{"domestic by name", shopdb.Order{ReceiverCountry: "China", ReceiverProvince: "Beijing"}, state.Record{}, "sf zto ems"},
		{"abroad with a rule naming the country", shopdb.Order{ReceiverCountry: "US"}, state.Record{}, "dhl"},
		{"abroad: domestic rules never match", shopdb.Order{ReceiverCountry: "DE", WeightKg: 25}, state.Record{}, "dhl"},
		{"abroad without a rule: never a domestic waybill", shopdb.Order{ReceiverCountry: "JP", ReceiverProvince: "Tokyo"}, state.Record{}, "error"},
	}
	for _, tt := range tests {
		cs, err := candidates(cfg, set, tt.order, tt.rec)
		var names []string
		for _, c := range cs {
			names = append(names, c.Name)
		}
		got := strings.Join(names, " ")
		if err != nil {
			got = "error"
			if len(cs) != 0 {
				t.Errorf("%s: an error with candidates %v", tt.name, names)
			}
		}
		if got != tt.want {
			t.Errorf("%s: %q, want %q (err %v)", tt.name, got, tt.want, err)
		}
	}
}
