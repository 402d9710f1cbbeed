package state_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/testenv"
)

// wire records what a client sends: single commands, each pipeline's size, and how many
// answers were NOSCRIPT (the server had lost a script). A new connection's handshake (HELLO,
// then CLIENT SETINFO in a pipeline) is no operation's and is left out.
type wire struct {
	mu        sync.Mutex
	singles   int
	pipelines []int
	noscript  int
}

func (w *wire) DialHook(next redis.DialHook) redis.DialHook { return next }

func (w *wire) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() != "hello" {
			w.mu.Lock()
			w.singles++
			w.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}

func (w *wire) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if !slices.ContainsFunc(cmds, func(c redis.Cmder) bool { return c.Name() != "client" }) {
			return err
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		w.pipelines = append(w.pipelines, len(cmds))
		for _, c := range cmds {
			if e := c.Err(); e != nil && (errors.Is(e, redis.ErrNoScript) || redis.HasErrorPrefix(e, "NOSCRIPT")) {
				w.noscript++
			}
		}
		return err
	}
}

// take returns what was sent since the last take.
func (w *wire) take() (singles int, pipelines []int, noscript int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	singles, pipelines, noscript = w.singles, w.pipelines, w.noscript
	w.singles, w.pipelines, w.noscript = 0, nil, 0
	return singles, pipelines, noscript
}

// batchStore is a store on a fresh prefix whose client reports to the returned wire, with
// processes "A" (the batch's, owner tokens "A:n") and "B" (another live worker) alive.
func batchStore(t *testing.T, opts ...state.Option) (*state.Store, *redis.Client, string, *wire) {
	t.Helper()
	rdb, prefix := testenv.RequireRedis(t)
	s := state.New(rdb, prefix, opts...)
	for _, p := range []string{"A", "B"} {
		if err := s.Alive(context.Background(), p, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	w := &wire{}
	rdb.AddHook(w)
	return s, rdb, prefix, w
}

func mustClaim(t *testing.T, s *state.Store, key, owner string) state.Record {
	t.Helper()
	res, rec, err := s.Claim(context.Background(), key, owner, time.Minute)
	if err != nil || res != state.Claimed {
		t.Fatalf("claim %s by %s: %v %v", key, owner, res, err)
	}
	return rec
}

// mustSettle settles one order alone (one Settle call), failing the test on its error.
func mustSettle(t *testing.T, s *state.Store, st state.Settlement) state.SettleResult {
	t.Helper()
	r := s.Settle(context.Background(), []state.Settlement{st})[0]
	if r.Err != nil {
		t.Fatalf("settle %s (%v): %v", st.Key, st.Kind, r.Err)
	}
	return r
}

// takeOver makes owner (another process) the holder of key, as after the holder's process died.
func takeOver(t *testing.T, s *state.Store, rdb *redis.Client, prefix, key, holderProc, owner string) {
	t.Helper()
	ctx := context.Background()
	if err := rdb.Del(ctx, prefix+"proc:"+holderProc).Err(); err != nil {
		t.Fatal(err)
	}
	mustClaim(t, s, key, owner)
	if err := s.Alive(ctx, holderProc, time.Minute); err != nil {
		t.Fatal(err)
	}
}

func record(t *testing.T, rdb *redis.Client, prefix, key string) map[string]string {
	t.Helper()
	m, err := rdb.HGetAll(context.Background(), prefix+"order:"+key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// score is key's due time in the set (retry, dlq), or -1 when it is not a member.
func score(t *testing.T, rdb *redis.Client, set, key string) int64 {
	t.Helper()
	v, err := rdb.ZScore(context.Background(), set, key).Result()
	if errors.Is(err, redis.Nil) {
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	return int64(v)
}

// TestClaimMany: one batch of every kind of order answers each as Claim would, and a key given
// twice is claimed once.
func TestClaimMany(t *testing.T) {
	s, rdb, prefix, w := batchStore(t, state.WithRetention(time.Hour))
	ctx := context.Background()
	// done: written, with a late duplicate parked in the retry schedule.
	mustClaim(t, s, "done", "A:0")
	mustSettle(t, s, state.Settlement{Key: "done", Owner: "A:0", Kind: state.SettleWritten})
	mustSettle(t, s, state.Settlement{Key: "done", Kind: state.SettleParked, Due: time.Now()})
	// dead: in the dead letter.
	mustClaim(t, s, "dead", "A:0")
	mustSettle(t, s, state.Settlement{Key: "dead", Owner: "A:0", Kind: state.SettleDead, Reason: "refused", CountAttempt: true})
	// busy: held by a live worker of another process.
	mustClaim(t, s, "busy", "B:1")
	// orphan: held by a process that died (its liveness key is gone) before its lease ran out.
	if err := s.Alive(ctx, "C", time.Minute); err != nil {
		t.Fatal(err)
	}
	mustClaim(t, s, "orphan", "C:1")
	if err := rdb.Del(ctx, prefix+"proc:C").Err(); err != nil {
		t.Fatal(err)
	}
	// skipped, now paid again: settled (it has a TTL) until this claim makes it open work again.
	mustClaim(t, s, "again", "A:0")
	mustSettle(t, s, state.Settlement{Key: "again", Owner: "A:0", Kind: state.SettleSkipped, Reason: "order gone"})
	if ttl := rdb.PTTL(ctx, prefix+"order:again").Val(); ttl <= 0 {
		t.Fatalf("a skipped order has TTL %v, want one", ttl)
	}

	w.take()
	before := time.Now()
	keys := []string{"new", "done", "dead", "busy", "orphan", "again", "new"}
	claims := s.ClaimMany(ctx, keys, "A:1", time.Minute)
	singles, pipelines, noscript := w.take()

	want := []state.ClaimResult{state.Claimed, state.Done, state.Dead, state.Busy, state.Claimed, state.Claimed, state.Busy}
	wantOwner := []string{"A:1", "", "", "B:1", "A:1", "A:1", "A:1"}
	for i, c := range claims {
		if c.Err != nil || c.Key != keys[i] || c.Result != want[i] || c.Record.LeaseOwner != wantOwner[i] {
			t.Errorf("claims[%d] = %s %v owner %q err %v; want %s %v owner %q", i, c.Key, c.Result, c.Record.LeaseOwner,
				c.Err, keys[i], want[i], wantOwner[i])
		}
	}
	if n := claims[0]; n.Record.State != state.Detected || n.Record.Attempts != 0 || n.Record.CreatedAt.Before(before.Truncate(time.Millisecond)) ||
		n.Record.LeaseUntil.Before(before.Add(time.Minute).Truncate(time.Millisecond)) {
		t.Errorf("a new order's record: %+v", n.Record)
	}
	if d := claims[6]; d.Record.LeaseUntil != claims[0].Record.LeaseUntil {
		t.Errorf("the duplicate's record %+v is not the claim's %+v", d.Record, claims[0].Record)
	}
	if o := claims[4].Record; o.State != state.Detected || o.LeaseOwner != "A:1" {
		t.Errorf("the taken over order's record: %+v", o)
	}
	// The per-order rules of the claim script held.
	if sc := score(t, rdb, prefix+"retry", "done"); sc != -1 {
		t.Errorf("the done order's parked duplicate is still scheduled (%d)", sc)
	}
	if ttl := rdb.PTTL(ctx, prefix+"order:again").Val(); ttl != -1 {
		t.Errorf("the skipped order paid again has TTL %v, want none", ttl)
	}
	if r := record(t, rdb, prefix, "busy"); r["lease_owner"] != "B:1" {
		t.Errorf("the busy order's lease went to %q", r["lease_owner"])
	}
	// One round trip, and the duplicate was not sent.
	if singles != 0 || len(pipelines) != 1+min(noscript, 1) || pipelines[0] != 6 {
		t.Errorf("sent %d commands and pipelines %v (%d NOSCRIPT); want one pipeline of 6", singles, pipelines, noscript)
	}
	// The claim of the duplicate's first entry is a real claim: it can be settled once.
	mustSettle(t, s, state.Settlement{Key: "new", Owner: "A:1", Kind: state.SettleWritten})
}

// TestSubmittingManyAndRecordWaybills: each order of a batch is fenced by its own lease; the one
// taken over by another worker fails alone and keeps what that worker recorded.
func TestSubmittingManyAndRecordWaybills(t *testing.T) {
	s, rdb, prefix, _ := batchStore(t)
	ctx := context.Background()
	keys := []string{"1", "2", "lost", "3"}
	for _, k := range keys {
		mustClaim(t, s, k, "A:1")
	}
	takeOver(t, s, rdb, prefix, "lost", "A", "B:7")
	if err := s.Submitting(ctx, "lost", "B:7", "SO-B", "sf", "SF"); err != nil {
		t.Fatal(err)
	}
	lostBefore := record(t, rdb, prefix, "lost")

	subs := make([]state.Submit, len(keys))
	for i, k := range keys {
		subs[i] = state.Submit{Key: k, Owner: "A:1", OrderCode: "SO" + k, Carrier: "zto", ShipperCode: "ZTO"}
	}
	errs := s.SubmittingMany(ctx, subs)
	for i, k := range keys {
		if k == "lost" {
			if !errors.Is(errs[i], state.ErrLeaseLost) {
				t.Errorf("submitting %s: %v, want ErrLeaseLost", k, errs[i])
			}
			continue
		}
		if errs[i] != nil {
			t.Fatalf("submitting %s: %v", k, errs[i])
		}
		rec, _, _ := s.Get(ctx, k)
		if rec.State != state.Submitting || rec.OrderCode != "SO"+k || rec.Carrier != "zto" || rec.ShipperCode != "ZTO" ||
			!rec.Sticky || rec.LeaseOwner != "A:1" {
			t.Errorf("order %s after SubmittingMany: %+v", k, rec)
		}
	}

	past, later := time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
	ws := make([]state.WaybillRecord, len(keys))
	for i, k := range keys {
		ws[i] = state.WaybillRecord{Key: k, Owner: "A:1", Carrier: "zto", Waybill: "ZT" + k, PickupTime: "2024-05-01 10:00:00",
			PickupDue: past, PollDue: later}
	}
	ws[3].PickupDue = time.Time{} // no pickup watch
	errs = s.RecordWaybills(ctx, ws)
	for i, k := range keys {
		if k == "lost" {
			if !errors.Is(errs[i], state.ErrLeaseLost) {
				t.Errorf("waybill of %s: %v, want ErrLeaseLost", k, errs[i])
			}
			continue
		}
		if errs[i] != nil {
			t.Fatalf("waybill of %s: %v", k, errs[i])
		}
		rec, _, _ := s.Get(ctx, k)
		if rec.State != state.Waybilled || rec.Waybill != "ZT"+k || rec.PickupTime != "2024-05-01 10:00:00" || rec.WaybillAt.IsZero() {
			t.Errorf("order %s after RecordWaybills: %+v", k, rec)
		}
		if got, ok, err := s.OrderByWaybill(ctx, "ZTO", "ZT"+k); got != k || !ok || err != nil {
			t.Errorf("waybill ZT%s indexed as %q %v %v", k, got, ok, err)
		}
		if sc := score(t, rdb, prefix+"poll", k); sc != later.UnixMilli() {
			t.Errorf("order %s polled at %d, want %d", k, sc, later.UnixMilli())
		}
	}
	if pickups, err := s.DuePickups(ctx, time.Now(), 10); err != nil || len(pickups) != 2 || pickups[0] == "3" || pickups[1] == "3" {
		t.Errorf("pickup watch %v %v, want orders 1 and 2", pickups, err)
	}
	if got := record(t, rdb, prefix, "lost"); !maps.Equal(got, lostBefore) {
		t.Errorf("the lost order changed:\n%v\nwas\n%v", got, lostBefore)
	}
	if _, ok, _ := s.OrderByWaybill(ctx, "ZTO", "ZTlost"); ok {
		t.Error("the lost order's waybill was indexed")
	}
	if sc := score(t, rdb, prefix+"poll", "lost"); sc != -1 {
		t.Error("the lost order was scheduled for polls")
	}
}

// TestSettle: every outcome in one batch, each with the effects of the single-order function it
// replaces on the record, the retry schedule, the dead letter and the retention; a lost lease,
// an unknown outcome and a second settlement of one order fail alone.
func TestSettle(t *testing.T) {
	const retention = time.Hour
	s, rdb, prefix, w := batchStore(t, state.WithRetention(retention))
	ctx := context.Background()
	due := time.Now().Add(10 * time.Minute).Truncate(time.Millisecond)
	// prepare claims key for A:1 with one attempt spent and pins it to zto; waybill "" for none.
	// It is in the retry schedule, as a retried order is while it is worked on.
	prepare := func(key, waybill string) {
		t.Helper()
		mustClaim(t, s, key, "A:1")
		if err := s.Submitting(ctx, key, "A:1", "SO"+key, "zto", "ZTO"); err != nil {
			t.Fatal(err)
		}
		if waybill != "" {
			if err := s.RecordWaybill(ctx, key, "A:1", "zto", waybill, "", time.Time{}, due); err != nil {
				t.Fatal(err)
			}
		}
		if err := rdb.HSet(ctx, prefix+"order:"+key, "attempts", 1).Err(); err != nil {
			t.Fatal(err)
		}
		if err := rdb.ZAdd(ctx, prefix+"retry", redis.Z{Score: 1, Member: key}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		waybill string
		st      state.Settlement
		// want
		state, lastError string
		attempts         int
		sticky           bool
		retry            int64 // score, -1 not scheduled
		dead             bool
		expires          bool
	}{
		{name: "written", waybill: "W1", st: state.Settlement{Kind: state.SettleWritten, Reason: "ignored"},
			state: state.Written, attempts: 1, sticky: true, retry: -1},
		{name: "skipped", st: state.Settlement{Kind: state.SettleSkipped, Reason: "order gone"},
			state: state.Skipped, lastError: "order gone", attempts: 1, sticky: true, retry: -1, expires: true},
		{name: "conflict", waybill: "W3", st: state.Settlement{Kind: state.SettleConflict, Reason: state.ConflictReason("OTHER")},
			state: state.Conflict, lastError: "shop already has waybill OTHER", attempts: 1, sticky: true, retry: -1, expires: true},
		{name: "retry, attempt spent", st: state.Settlement{Kind: state.SettleRetry, Reason: "timeout", Due: due, CountAttempt: true, Sticky: true},
			state: state.Retry, lastError: "timeout", attempts: 2, sticky: true, retry: due.UnixMilli()},
		{name: "retry, unpinned, no attempt", st: state.Settlement{Kind: state.SettleRetry, Reason: "circuit open", Due: due},
			state: state.Retry, lastError: "circuit open", attempts: 1, sticky: false, retry: due.UnixMilli()},
		{name: "retry of a waybilled order", waybill: "W6", st: state.Settlement{Kind: state.SettleRetry, Reason: "shop down", Due: due, Sticky: true},
			state: state.Waybilled, lastError: "shop down", attempts: 1, sticky: true, retry: due.UnixMilli()},
		{name: "dead, pinned", st: state.Settlement{Kind: state.SettleDead, Reason: "gave up", CountAttempt: true, Sticky: true},
			state: state.Failed, lastError: "gave up", attempts: 2, sticky: true, retry: -1, dead: true},
		{name: "dead, unpinned", waybill: "W8", st: state.Settlement{Kind: state.SettleDead, Reason: "no row"},
			state: state.Failed, lastError: "no row", attempts: 1, sticky: false, retry: -1, dead: true},
	}
	var batch []state.Settlement
	for i, tt := range tests {
		key := strconv.Itoa(i)
		prepare(key, tt.waybill)
		st := tt.st
		st.Key, st.Owner = key, "A:1"
		batch = append(batch, st)
	}
	// held: another worker's; parked, record untouched.
	mustClaim(t, s, "held", "B:1")
	held := record(t, rdb, prefix, "held")
	// lost: taken over by B after A's process was declared dead.
	prepare("lost", "")
	takeOver(t, s, rdb, prefix, "lost", "A", "B:2")
	lost := record(t, rdb, prefix, "lost")
	// twice: settled twice in one call; bad: no outcome.
	prepare("twice", "")
	prepare("bad", "")
	bad := record(t, rdb, prefix, "bad")
	extra := []state.Settlement{
		{Key: "held", Kind: state.SettleParked, Due: due},
		{Key: "lost", Owner: "A:1", Kind: state.SettleWritten},
		{Key: "twice", Owner: "A:1", Kind: state.SettleWritten},
		{Key: "twice", Owner: "A:1", Kind: state.SettleSkipped, Reason: "second"},
		{Key: "bad", Owner: "A:1"},
		// A duplicate of the retried order "3", parked earlier than its retry: dropped.
		{Key: "3", Kind: state.SettleParked, Due: time.Now()},
	}
	batch = append(batch, extra...)

	w.take()
	results := s.Settle(ctx, batch)
	singles, pipelines, noscript := w.take()
	if singles != 0 || len(pipelines) != 1+min(noscript, 1) || pipelines[0] != len(batch)-2 {
		t.Errorf("sent %d commands and pipelines %v (%d NOSCRIPT); want one pipeline of %d (no bad, no dropped park)",
			singles, pipelines, noscript, len(batch)-2)
	}

	for i, tt := range tests {
		key := strconv.Itoa(i)
		if r := results[i]; r.Err != nil || r.Attempts != tt.attempts {
			t.Errorf("%s: result %+v, want %d attempts", tt.name, r, tt.attempts)
		}
		rec, _, _ := s.Get(ctx, key)
		if rec.State != tt.state || rec.LastError != tt.lastError || rec.Attempts != tt.attempts || rec.Sticky != tt.sticky ||
			rec.LeaseOwner != "" || !rec.LeaseUntil.IsZero() || rec.Waybill != tt.waybill {
			t.Errorf("%s: record %+v; want state %s, last error %q, %d attempts, sticky %v, released",
				tt.name, rec, tt.state, tt.lastError, tt.attempts, tt.sticky)
		}
		if sc := score(t, rdb, prefix+"retry", key); sc != tt.retry {
			t.Errorf("%s: retry schedule %d, want %d", tt.name, sc, tt.retry)
		}
		if inDLQ := score(t, rdb, prefix+"dlq", key) != -1; inDLQ != tt.dead {
			t.Errorf("%s: in the dead letter %v, want %v", tt.name, inDLQ, tt.dead)
		}
		keys := []string{prefix + "order:" + key}
		if tt.waybill != "" {
			keys = append(keys, prefix+"wb:ZTO/"+tt.waybill)
		}
		for _, k := range keys {
			ttl := rdb.PTTL(ctx, k).Val()
			if tt.expires && (ttl <= 0 || ttl > retention) || !tt.expires && ttl != -1 {
				t.Errorf("%s: %s has TTL %v, want expiring %v", tt.name, k, ttl, tt.expires)
			}
		}
	}
	r := results[len(tests):]
	if r[0].Err != nil || record(t, rdb, prefix, "held")["lease_owner"] != "B:1" || !maps.Equal(record(t, rdb, prefix, "held"), held) ||
		score(t, rdb, prefix+"retry", "held") != due.UnixMilli() {
		t.Errorf("parked: %v, record %v (was %v), scheduled at %d, want %d", r[0].Err, record(t, rdb, prefix, "held"), held,
			score(t, rdb, prefix+"retry", "held"), due.UnixMilli())
	}
	if !errors.Is(r[1].Err, state.ErrLeaseLost) || !maps.Equal(record(t, rdb, prefix, "lost"), lost) || score(t, rdb, prefix+"retry", "lost") != 1 {
		t.Errorf("lost lease: %v, record %v (was %v), retry %d", r[1].Err, record(t, rdb, prefix, "lost"), lost, score(t, rdb, prefix+"retry", "lost"))
	}
	if r[2].Err != nil || !errors.Is(r[3].Err, state.ErrLeaseLost) || record(t, rdb, prefix, "twice")["state"] != state.Written {
		t.Errorf("settled twice: %v, %v, state %s; want the first to count", r[2].Err, r[3].Err, record(t, rdb, prefix, "twice")["state"])
	}
	if r[4].Err == nil || errors.Is(r[4].Err, state.ErrLeaseLost) || !maps.Equal(record(t, rdb, prefix, "bad"), bad) {
		t.Errorf("no outcome: %v, record %v (was %v)", r[4].Err, record(t, rdb, prefix, "bad"), bad)
	}
	if r[5].Err != nil {
		t.Errorf("dropped park: %v", r[5].Err)
	}
}

// TestBatchScriptFlushed: after SCRIPT FLUSH (a Redis restart) every batch operation still
// works, sending again only the calls that met NOSCRIPT, in one more round trip.
func TestBatchScriptFlushed(t *testing.T) {
	s, rdb, prefix, w := batchStore(t)
	ctx := context.Background()
	n := 0
	// flushed runs op right after a SCRIPT FLUSH and reports the pipelines it sent. Another
	// client may load the script between the flush and op (other tests share the server), so
	// it tries until op met NOSCRIPT.
	flushed := func(name string, op func() error) []int {
		t.Helper()
		for range 5 {
			if err := rdb.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			w.take()
			err := op()
			singles, pipelines, noscript := w.take()
			if err != nil {
				t.Fatalf("%s after SCRIPT FLUSH: %v", name, err)
			}
			if noscript > 0 {
				if singles != 0 || len(pipelines) != 2 {
					t.Errorf("%s: %d commands, pipelines %v; want two pipelines", name, singles, pipelines)
				}
				return pipelines
			}
		}
		t.Fatalf("%s never met NOSCRIPT after SCRIPT FLUSH", name)
		return nil
	}
	keys := func() []string {
		n++
		return []string{fmt.Sprintf("k%d-1", n), fmt.Sprintf("k%d-2", n)}
	}
	{
		k := keys()
		if p := flushed("ClaimMany", func() error {
			for _, c := range s.ClaimMany(ctx, append(k, k[0]), "A:1", time.Minute) {
				if c.Err != nil {
					return c.Err
				}
			}
			return nil
		}); p[0] != 2 || p[1] != 2 {
			t.Errorf("ClaimMany sent %v, want 2 claims, then the same 2 again", p)
		}
		if r, _, _ := s.Get(ctx, k[1]); r.State != state.Detected || r.LeaseOwner != "A:1" {
			t.Errorf("claimed after SCRIPT FLUSH: %+v", r)
		}
		flushed("SubmittingMany", func() error {
			return errors.Join(s.SubmittingMany(ctx, []state.Submit{{Key: k[0], Owner: "A:1", OrderCode: "SO1", Carrier: "zto", ShipperCode: "ZTO"},
				{Key: k[1], Owner: "A:1", OrderCode: "SO2", Carrier: "zto", ShipperCode: "ZTO"}})...)
		})
		flushed("RecordWaybills", func() error {
			return errors.Join(s.RecordWaybills(ctx, []state.WaybillRecord{{Key: k[0], Owner: "A:1", Carrier: "zto", Waybill: "W" + k[0], PollDue: time.Now()},
				{Key: k[1], Owner: "A:1", Carrier: "zto", Waybill: "W" + k[1], PollDue: time.Now()}})...)
		})
		if r, _, _ := s.Get(ctx, k[1]); r.State != state.Waybilled || r.OrderCode != "SO2" || r.Waybill != "W"+k[1] {
			t.Errorf("recorded after SCRIPT FLUSH: %+v", r)
		}
		var attempts int
		if p := flushed("Settle", func() error {
			rs := s.Settle(ctx, []state.Settlement{{Key: k[0], Owner: "A:1", Kind: state.SettleWritten},
				{Key: k[1], Owner: "A:1", Kind: state.SettleRetry, Due: time.Now(), CountAttempt: true},
				{Key: "elsewhere", Kind: state.SettleParked, Due: time.Now()}})
			attempts = rs[1].Attempts
			return errors.Join(rs[0].Err, rs[1].Err, rs[2].Err)
		}); p[0] != 3 || p[1] != 2 {
			t.Errorf("Settle sent %v, want 2 scripts and a park, then the 2 scripts again (the park was done)", p)
		}
		if r, _, _ := s.Get(ctx, k[1]); r.State != state.Waybilled || r.Attempts != 1 || attempts != 1 {
			t.Errorf("settled after SCRIPT FLUSH: %+v (answered %d attempts); want one attempt counted once", r, attempts)
		}
		if sc := score(t, rdb, prefix+"retry", "elsewhere"); sc == -1 {
			t.Error("the park was lost")
		}
	}
}

// TestBatchOneRoundTrip: a batch of 128 orders costs one round trip per step, whatever each
// order's fate.
func TestBatchOneRoundTrip(t *testing.T) {
	s, _, _, w := batchStore(t)
	ctx := context.Background()
	const n = 128
	keys := make([]string, n)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
	}
	// Warm: the connection's handshake goes through the hooks too.
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	step := func(name string, want int, op func()) {
		t.Helper()
		w.take()
		op()
		singles, pipelines, noscript := w.take()
		// A SCRIPT FLUSH by a test elsewhere costs one more (counted) round trip.
		if singles != 0 || len(pipelines) != 1+min(noscript, 1) || pipelines[0] != want {
			t.Errorf("%s: %d commands, pipelines %v (%d NOSCRIPT); want one pipeline of %d", name, singles, pipelines, noscript, want)
		}
	}
	var claims []state.Claim
	step("ClaimMany", n, func() { claims = s.ClaimMany(ctx, keys, "A:1", time.Minute) })
	for _, c := range claims {
		if c.Err != nil || c.Result != state.Claimed {
			t.Fatalf("claim %s: %v %v", c.Key, c.Result, c.Err)
		}
	}
	subs := make([]state.Submit, n)
	ws := make([]state.WaybillRecord, n)
	ss := make([]state.Settlement, n)
	kinds := []state.Outcome{state.SettleWritten, state.SettleSkipped, state.SettleConflict, state.SettleRetry, state.SettleDead, state.SettleParked}
	for i, k := range keys {
		subs[i] = state.Submit{Key: k, Owner: "A:1", OrderCode: "SO" + k, Carrier: "zto", ShipperCode: "ZTO"}
		ws[i] = state.WaybillRecord{Key: k, Owner: "A:1", Carrier: "zto", Waybill: "W" + k, PollDue: time.Now()}
		ss[i] = state.Settlement{Key: k, Owner: "A:1", Kind: kinds[i%len(kinds)], Reason: "r", Due: time.Now()}
	}
	check := func(name string, errs []error) {
		t.Helper()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	step("SubmittingMany", n, func() { check("SubmittingMany", s.SubmittingMany(ctx, subs)) })
	step("RecordWaybills", n, func() { check("RecordWaybills", s.RecordWaybills(ctx, ws)) })
	var results []state.SettleResult
	step("Settle", n, func() { results = s.Settle(ctx, ss) })
	for i, r := range results {
		if r.Err != nil {
			t.Fatalf("settle %s as %v: %v", ss[i].Key, ss[i].Kind, r.Err)
		}
	}
	step("Claim", 1, func() { _, _, _ = s.Claim(ctx, "one", "A:1", time.Minute) })
}
