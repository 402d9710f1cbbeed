package state_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/testenv"
)

func TestClaimAndLease(t *testing.T) {
	rdb, prefix := testenv.RequireRedis(t)
	s := state.New(rdb, prefix)
	ctx := context.Background()
	lease := time.Minute
	if err := s.Alive(ctx, "procA", time.Minute); err != nil {
		t.Fatal(err)
	}

	res, rec, err := s.Claim(ctx, "7", "procA:1", lease)
	if err != nil || res != state.Claimed || rec.State != state.Detected {
		t.Fatalf("first claim: %v %+v %v", res, rec, err)
	}
	// A second worker of a live process finds it busy.
	if res, _, _ := s.Claim(ctx, "7", "procA:2", lease); res != state.Busy {
		t.Fatalf("claim while held by a live process: %v", res)
	}
	// A process that is not alive (killed: its liveness key expired) loses the order at once.
	if res, _, _ := s.Claim(ctx, "7", "procB:1", lease); res != state.Busy {
		// procA is alive, so procB must wait too
		t.Fatalf("claim by another process while the holder lives: %v", res)
	}
	if _, err := rdb.Del(ctx, prefix+"proc:procA").Result(); err != nil {
		t.Fatal(err)
	}
	if res, _, _ := s.Claim(ctx, "7", "procB:1", lease); res != state.Claimed {
		t.Fatalf("takeover from a dead process: %v", res)
	}
	// The old holder's writes are fenced off.
	if err := s.RecordWaybill(ctx, "7", "procA:1", "sim", "W-OLD", "", time.Time{}, time.Now()); !errors.Is(err, state.ErrLeaseLost) {
		t.Fatalf("write by a lapsed holder: %v", err)
	}
	if err := s.Submitting(ctx, "7", "procB:1", "SO7", "sim", "SIM"); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordWaybill(ctx, "7", "procB:1", "sim", "W1", "2024-05-01 10:00:00", time.Now().Add(time.Hour), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// A crash here: the next claim sees the waybill and only writes back.
	if _, err := rdb.Del(ctx, prefix+"proc:procB").Result(); err != nil {
		t.Fatal(err)
	}
	res, rec, err = s.Claim(ctx, "7", "procC:1", lease)
	if err != nil || res != state.Claimed || rec.Waybill != "W1" || rec.OrderCode != "SO7" || rec.State != state.Waybilled {
		t.Fatalf("claim after a crash: %v %+v %v", res, rec, err)
	}
	mustSettle(t, s, state.Settlement{Key: "7", Owner: "procC:1", Kind: state.SettleWritten})
	if res, _, _ := s.Claim(ctx, "7", "procD:1", lease); res != state.Done {
		t.Fatalf("claim of a written order: %v", res)
	}
}

func TestRetryAndDeadLetter(t *testing.T) {
	rdb, prefix := testenv.RequireRedis(t)
	s := state.New(rdb, prefix)
	ctx := context.Background()
	lease := time.Minute
	claim := func(key, owner string, revive bool) state.ClaimResult {
		t.Helper()
		if revive {
			if ok, err := s.Revive(ctx, key, ""); err != nil || !ok {
				t.Fatalf("revive %s: %v %v", key, ok, err)
			}
		}
		res, _, err := s.Claim(ctx, key, owner, lease)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	claim("1", "p:1", false)
	r := s.Settle(ctx, []state.Settlement{{Key: "1", Owner: "p:1", Kind: state.SettleRetry, Reason: "timeout",
		Due: time.Now().Add(-time.Millisecond), CountAttempt: true}})[0]
	if r.Err != nil || r.Attempts != 1 {
		t.Fatalf("schedule retry: %d %v", r.Attempts, r.Err)
	}
	claim("2", "p:2", false)
	mustSettle(t, s, state.Settlement{Key: "2", Owner: "p:2", Kind: state.SettleRetry, Reason: "timeout",
		Due: time.Now().Add(time.Hour), CountAttempt: true})
	due, err := s.TakeDue(ctx, 10, time.Minute)
	if err != nil || !slices.Equal(due, []string{"1"}) {
		t.Fatalf("due: %v %v", due, err)
	}
	if again, _ := s.TakeDue(ctx, 10, time.Minute); len(again) != 0 {
		t.Fatalf("a taken entry was handed out again at once: %v", again)
	}
	if d, _ := s.RetryDepth(ctx); d != 2 {
		t.Fatalf("retry depth %d: taken entries stay scheduled until they settle", d)
	}
	if res := claim("1", "p:3", false); res != state.Claimed {
		t.Fatalf("claim of a retry: %v", res)
	}
	mustSettle(t, s, state.Settlement{Key: "1", Owner: "p:3", Kind: state.SettleDead, Reason: "carrier refused: bad address",
		CountAttempt: true})
	rec, _, _ := s.Get(ctx, "1")
	if rec.State != state.Failed || rec.Attempts != 2 || rec.LastError != "carrier refused: bad address" {
		t.Fatalf("dead-lettered record: %+v", rec)
	}
	if d, _ := s.RetryDepth(ctx); d != 1 {
		t.Fatalf("retry depth %d after dead-lettering", d)
	}
	if keys, _ := s.DeadKeys(ctx); !slices.Equal(keys, []string{"1"}) {
		t.Fatalf("dead letter: %v", keys)
	}
	if res := claim("1", "p:4", false); res != state.Dead {
		t.Fatalf("a replayed event claimed a dead-lettered order: %v", res)
	}
	if res := claim("1", "p:5", true); res != state.Claimed {
		t.Fatalf("dlq retry could not claim: %v", res)
	}
}

func TestCheckpoint(t *testing.T) {
	rdb, prefix := testenv.RequireRedis(t)
	s := state.New(rdb, prefix)
	ctx := context.Background()
	if _, ok, err := s.LoadCheckpoint(ctx); ok || err != nil {
		t.Fatalf("fresh store has a checkpoint: %v %v", ok, err)
	}
	want := state.Checkpoint{File: "mysql-bin.000003", Pos: 1234, GTID: "0-1-99"}
	if err := s.SaveCheckpoint(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.LoadCheckpoint(ctx)
	if err != nil || !ok || got.File != want.File || got.Pos != want.Pos || got.GTID != want.GTID || got.SavedAt.IsZero() {
		t.Fatalf("loaded %+v %v %v", got, ok, err)
	}
	if err := s.DeleteCheckpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.LoadCheckpoint(ctx); ok {
		t.Fatal("checkpoint survived delete")
	}
}

func TestLeaderLeaseAndFencing(t *testing.T) {
	rdb, prefix := testenv.RequireRedis(t)
	s := state.New(rdb, prefix)
	ctx := context.Background()
	ttl := 300 * time.Millisecond
	// A's process stops answering after ttl (it is paused or killed); B's stays alive.
	if err := s.Alive(ctx, "A", ttl); err != nil {
		t.Fatal(err)
	}
	if err := s.Alive(ctx, "B", time.Minute); err != nil {
		t.Fatal(err)
	}
	a, err := s.Lead(ctx, "A", ttl)
	if err != nil || a <= 0 {
		t.Fatalf("first leader: %d %v", a, err)
	}
	if b, _ := s.Lead(ctx, "B", ttl); b != 0 {
		t.Fatalf("a second process took a held lease: %d", b)
	}
	if again, _ := s.Lead(ctx, "A", ttl); again != a {
		t.Fatalf("renewal changed the token: %d -> %d", a, again)
	}
	cp := state.Checkpoint{File: "mysql-bin.000001", Pos: 100}
	if err := s.SaveCheckpointFenced(ctx, cp, a); err != nil {
		t.Fatal(err)
	}
	// A pauses past its lease; B takes over with a higher token.
	var b int64
	testenv.Eventually(t, 5*time.Second, 20*time.Millisecond, func() (bool, string) {
		b, _ = s.Lead(ctx, "B", ttl)
		return b > a, "B has not taken over"
	})
	if err := s.SaveCheckpointFenced(ctx, state.Checkpoint{File: "mysql-bin.000001", Pos: 50}, a); !errors.Is(err, state.ErrFenced) {
		t.Fatalf("the deposed leader moved the checkpoint: %v", err)
	}
	if got, _, _ := s.LoadCheckpoint(ctx); got.Pos != 100 {
		t.Fatalf("checkpoint %d after a fenced write", got.Pos)
	}
	if err := s.SaveCheckpointFenced(ctx, state.Checkpoint{File: "mysql-bin.000001", Pos: 200}, b); err != nil {
		t.Fatal(err)
	}
	if tok, _ := s.Lead(ctx, "A", ttl); tok != 0 {
		t.Fatal("the old leader got the lease back while B holds it")
	}
	if err := s.Resign(ctx, "B"); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Lead(ctx, "C", ttl); c <= b {
		t.Fatalf("after B resigned, C got token %d (B had %d)", c, b)
	}
}

// A duplicate parked while the order was settling must not come back forever.
func TestClaimClearsParkedDuplicate(t *testing.T) {
	rdb, prefix := testenv.RequireRedis(t)
	s := state.New(rdb, prefix)
	ctx := context.Background()
	if _, _, err := s.Claim(ctx, "9", "p:1", time.Minute); err != nil {
		t.Fatal(err)
	}
	mustSettle(t, s, state.Settlement{Key: "9", Owner: "p:1", Kind: state.SettleWritten})
	mustSettle(t, s, state.Settlement{Key: "9", Kind: state.SettleParked, Due: time.Now()}) // the duplicate's late park
	if res, _, _ := s.Claim(ctx, "9", "p:2", time.Minute); res != state.Done {
		t.Fatalf("claim: %v", res)
	}
	if d, _ := s.RetryDepth(ctx); d != 0 {
		t.Fatalf("a settled order stays in the retry schedule (%d)", d)
	}
}

// Settle records several written orders in one round trip, each fenced by its own claim.
func TestSettleWrittenMany(t *testing.T) {
	rdb, prefix := testenv.RequireRedis(t)
	s := state.New(rdb, prefix)
	ctx := context.Background()
	for _, k := range []string{"1", "2"} {
		if _, _, err := s.Claim(ctx, k, "p:"+k, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	rs := s.Settle(ctx, []state.Settlement{{Key: "1", Owner: "p:1", Kind: state.SettleWritten},
		{Key: "2", Owner: "someone else", Kind: state.SettleWritten}})
	if rs[0].Err != nil || !errors.Is(rs[1].Err, state.ErrLeaseLost) {
		t.Fatalf("errors %v, %v; want nil and a lost lease", rs[0].Err, rs[1].Err)
	}
	if res, _, _ := s.Claim(ctx, "1", "p:3", time.Minute); res != state.Done {
		t.Errorf("order 1 after Settle: claim %v, want done", res)
	}
	if res, _, _ := s.Claim(ctx, "2", "p:3", time.Minute); res == state.Done {
		t.Error("order 2 was marked written by a stranger")
	}
	// After a Redis restart the script is gone from its cache: Settle still works.
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Claim(ctx, "4", "p:4", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if r := s.Settle(ctx, []state.Settlement{{Key: "4", Owner: "p:4", Kind: state.SettleWritten}})[0]; r.Err != nil {
		t.Fatalf("after SCRIPT FLUSH: %v", r.Err)
	}
}

// A waybilled order dropped from the dead letter leaves the pickup watch and the polls: nobody
// ships or watches it any more.
func TestDropForgetsTheParcel(t *testing.T) {
	rdb, prefix := testenv.RequireRedis(t)
	s := state.New(rdb, prefix)
	ctx := context.Background()
	if _, _, err := s.Claim(ctx, "7", "p:1", time.Minute); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Minute)
	if err := s.RecordWaybill(ctx, "7", "p:1", "sim", "W7", "", past, past); err != nil {
		t.Fatal(err)
	}
	mustSettle(t, s, state.Settlement{Key: "7", Owner: "p:1", Kind: state.SettleDead, Reason: "write-back matched no row"})
	if ok, err := s.Drop(ctx, "7"); !ok || err != nil {
		t.Fatalf("drop: %v %v", ok, err)
	}
	pickups, err1 := s.DuePickups(ctx, time.Now(), 10)
	polls, err2 := s.DuePolls(ctx, 10, time.Minute)
	if err1 != nil || err2 != nil || len(pickups) != 0 || len(polls) != 0 {
		t.Fatalf("after drop: pickups %v, polls %v (%v %v)", pickups, polls, err1, err2)
	}
	if rec, _, _ := s.Get(ctx, "7"); rec.State != state.Dropped {
		t.Fatalf("state %q", rec.State)
	}
}
