package state_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/testenv"
)

// deadLetter claims key, pins it to carrier for the call, and dead-letters it (still pinned
// when sticky).
func deadLetter(t *testing.T, s *state.Store, key, carrier string, sticky bool) {
	t.Helper()
	ctx := context.Background()
	owner := "p:" + key
	if _, _, err := s.Claim(ctx, key, owner, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Submitting(ctx, key, owner, "SO"+key, carrier, strings.ToUpper(carrier)); err != nil {
		t.Fatal(err)
	}
	mustSettle(t, s, state.Settlement{Key: key, Owner: owner, Kind: state.SettleDead, Reason: "refused",
		CountAttempt: true, Sticky: sticky})
}

// TestReviveToCarrier: `dlq retry --carrier` records the chosen carrier as the route of an
// unpinned order, and refuses (changing nothing) an order pinned to another carrier.
func TestReviveToCarrier(t *testing.T) {
	rdb, prefix := testenv.RequireRedis(t)
	s := state.New(rdb, prefix)
	ctx := context.Background()
	for _, c := range []struct {
		name      string
		sticky    bool
		carrier   string // dlq retry --carrier
		revived   bool
		pinned    bool
		wantRoute string
	}{
		{"unpinned to another carrier", false, "zto", true, false, "zto"},
		{"unpinned as routed", false, "", true, false, ""},
		{"pinned to another carrier", true, "zto", false, true, ""},
		{"pinned to its own carrier", true, "sf", true, false, "sf"},
		{"pinned as routed", true, "", true, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			key := strings.ReplaceAll(c.name, " ", "-")
			deadLetter(t, s, key, "sf", c.sticky)
			ok, err := s.Revive(ctx, key, c.carrier)
			if ok != c.revived || errors.Is(err, state.ErrPinned) != c.pinned || (err != nil && !c.pinned) {
				t.Fatalf("revive: %v %v, want revived %v, pinned %v", ok, err, c.revived, c.pinned)
			}
			if c.pinned && !strings.Contains(err.Error(), "sf") {
				t.Errorf("the refusal %q does not name the pin", err)
			}
			rec, _, _ := s.Get(ctx, key)
			wantState := state.Retry
			if !c.revived {
				wantState = state.Failed
			}
			if rec.State != wantState || rec.Route != c.wantRoute {
				t.Errorf("record state %s, route %q; want %s, %q", rec.State, rec.Route, wantState, c.wantRoute)
			}
			keys, _ := s.DeadKeys(ctx)
			if inDLQ := strings.Contains(strings.Join(keys, " "), key); inDLQ == c.revived {
				t.Errorf("in the dead letter: %v, revived: %v", inDLQ, c.revived)
			}
		})
	}

	// A route stays until another carrier is chosen; not in the dead letter is reported.
	deadLetter(t, s, "again", "sf", false)
	if ok, err := s.Revive(ctx, "again", "jd"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	deadLetter(t, s, "again", "jd", false)
	if ok, err := s.Revive(ctx, "again", ""); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if rec, _, _ := s.Get(ctx, "again"); rec.Route != "jd" {
		t.Errorf("route %q after a plain retry, want jd kept", rec.Route)
	}
	if ok, err := s.Revive(ctx, "never-seen", "zto"); ok || err != nil {
		t.Errorf("an order not in the dead letter: %v %v", ok, err)
	}
}

// roundTrips counts what the client sends: one per command, one per pipeline.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { r.n.Add(1); return next(ctx, cmd) }
}
func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { r.n.Add(1); return next(ctx, cmds) }
}

// TestDeadRecords: the dead letter's records, oldest first, limited, in two round trips
// whatever their number.
func TestDeadRecords(t *testing.T) {
	rdb, prefix := testenv.RequireRedis(t)
	s := state.New(rdb, prefix)
	ctx := context.Background()
	const n = 60
	for i := range n {
		deadLetter(t, s, fmt.Sprintf("%03d", i), "sf", i%2 == 0)
	}
	// Warm: a connection's handshake (HELLO, CLIENT SETINFO) goes through the hooks too.
	if _, err := s.DeadRecords(ctx, 0); err != nil {
		t.Fatal(err)
	}
	var rt roundTrips
	rdb.AddHook(&rt)
	for _, c := range []struct {
		limit, want int
	}{{0, n}, {10, 10}, {n + 5, n}} {
		before := rt.n.Load()
		recs, err := s.DeadRecords(ctx, c.limit)
		if err != nil {
			t.Fatal(err)
		}
		if trips := rt.n.Load() - before; trips > 2 {
			t.Errorf("limit %d: %d round trips, want at most 2", c.limit, trips)
		}
		if len(recs) != c.want {
			t.Fatalf("limit %d: %d records, want %d", c.limit, len(recs), c.want)
		}
		for i, r := range recs {
			if want := fmt.Sprintf("%03d", i); r.Key != want || r.State != state.Failed || r.OrderCode != "SO"+want || r.Sticky != (i%2 == 0) {
				t.Fatalf("limit %d: record %d is %+v, want order %s, failed, sticky %v", c.limit, i, r, want, i%2 == 0)
			}
		}
	}
}
