package state_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/testenv"
)

// settle drives order key through the shipping path to its waybill, as the pipeline does.
func settle(t *testing.T, s *state.Store, key, waybill string) {
	t.Helper()
	ctx := context.Background()
	owner := "p:" + key
	if res, _, err := s.Claim(ctx, key, owner, time.Minute); err != nil || res != state.Claimed {
		t.Fatalf("claim %s: %v %v", key, res, err)
	}
	if err := s.Submitting(ctx, key, owner, "SO"+key, "zto", "ZTO"); err != nil {
		t.Fatal(err)
	}
	if waybill == "" {
		return
	}
	later := time.Now().Add(time.Hour)
	if err := s.RecordWaybill(ctx, key, owner, "zto", waybill, "", later, later); err != nil {
		t.Fatal(err)
	}
}

// TestRetention: with a retention of 2 s, settled orders (delivered, conflict, skipped,
// dropped) lose their record and waybill index key; open work (dead letter, retrying,
// waybilled, written but still in transit, a skipped order paid again) never gets a TTL.
func TestRetention(t *testing.T) {
	rdb, prefix := testenv.RequireRedis(t)
	const retention = 2 * time.Second
	s := state.New(rdb, prefix, state.WithRetention(retention))
	ctx := context.Background()
	// one settles one order alone and answers its error.
	one := func(st state.Settlement) error { return s.Settle(ctx, []state.Settlement{st})[0].Err }
	status := func(key, st string, terminal bool) {
		t.Helper()
		err := s.SetStatus(ctx, key, state.ParcelStatus{Status: st, Time: time.Now(), PickedUp: true,
			Terminal: terminal, NextPoll: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		waybill string // "" for none
		drive   func(key string) error
		expires bool
	}{
		{"written and delivered", "W1", func(k string) error {
			if err := one(state.Settlement{Key: k, Owner: "p:" + k, Kind: state.SettleWritten}); err != nil {
				return err
			}
			status(k, "in_transit", false)
			status(k, "delivered", true)
			return nil
		}, true},
		{"conflict", "W2", func(k string) error {
			return one(state.Settlement{Key: k, Owner: "p:" + k, Kind: state.SettleConflict, Reason: state.ConflictReason("OTHER1")})
		}, true},
		{"skipped", "", func(k string) error {
			return one(state.Settlement{Key: k, Owner: "p:" + k, Kind: state.SettleSkipped, Reason: "order gone"})
		}, true},
		{"dropped from the dead letter", "W4", func(k string) error {
			if err := one(state.Settlement{Key: k, Owner: "p:" + k, Kind: state.SettleDead, Reason: "bad address", Sticky: true}); err != nil {
				return err
			}
			_, err := s.Drop(ctx, k)
			return err
		}, true},
		{"written, in transit", "W5", func(k string) error {
			if err := one(state.Settlement{Key: k, Owner: "p:" + k, Kind: state.SettleWritten}); err != nil {
				return err
			}
			status(k, "in_transit", false)
			return nil
		}, false},
		{"written, no news yet", "W6", func(k string) error {
			return one(state.Settlement{Key: k, Owner: "p:" + k, Kind: state.SettleWritten})
		}, false},
		{"dead letter", "", func(k string) error {
			return one(state.Settlement{Key: k, Owner: "p:" + k, Kind: state.SettleDead, Reason: "bad address", CountAttempt: true})
		}, false},
		{"retrying", "", func(k string) error {
			return one(state.Settlement{Key: k, Owner: "p:" + k, Kind: state.SettleRetry, Reason: "timeout",
				Due: time.Now().Add(time.Hour), CountAttempt: true, Sticky: true})
		}, false},
		{"waybilled, not written back", "W9", func(string) error { return nil }, false},
		{"skipped, then paid again", "", func(k string) error {
			if err := one(state.Settlement{Key: k, Owner: "p:" + k, Kind: state.SettleSkipped, Reason: "order gone"}); err != nil {
				return err
			}
			_, _, err := s.Claim(ctx, k, "p:again", time.Minute)
			return err
		}, false},
		{"dead letter revived", "W11", func(k string) error {
			if err := one(state.Settlement{Key: k, Owner: "p:" + k, Kind: state.SettleDead, Reason: "write-back failed", Sticky: true}); err != nil {
				return err
			}
			_, err := s.Revive(ctx, k, "")
			return err
		}, false},
	}
	keys := func(i int) []string {
		k := []string{prefix + "order:" + strconv.Itoa(i)}
		if w := tests[i].waybill; w != "" {
			k = append(k, prefix+"wb:ZTO/"+w)
		}
		return k
	}
	for i, tt := range tests {
		key := strconv.Itoa(i)
		settle(t, s, key, tt.waybill)
		if err := tt.drive(key); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		for _, k := range keys(i) {
			ttl, err := rdb.PTTL(ctx, k).Result()
			switch {
			case err != nil:
				t.Fatal(err)
			case tt.expires && (ttl <= 0 || ttl > retention):
				t.Errorf("%s: %s has TTL %v, want (0, %v]", tt.name, k, ttl, retention)
			case !tt.expires && ttl != -1:
				t.Errorf("%s: %s has TTL %v, want none (-1ns)", tt.name, k, ttl)
			}
		}
	}
	testenv.Eventually(t, 15*time.Second, 50*time.Millisecond, func() (bool, string) {
		for i, tt := range tests {
			if !tt.expires {
				continue
			}
			if n, err := rdb.Exists(ctx, keys(i)...).Result(); err != nil || n != 0 {
				return false, fmt.Sprintf("%s: %d of %v still there (%v)", tt.name, n, keys(i), err)
			}
		}
		return true, ""
	})
	for i, tt := range tests {
		if tt.expires {
			continue
		}
		if n, err := rdb.Exists(ctx, keys(i)...).Result(); err != nil || n != int64(len(keys(i))) {
			t.Errorf("%s: only %d of %v left after the retention (%v)", tt.name, n, keys(i), err)
		}
	}
	// An expired waybill is unknown, so its late pushes are answered like any unknown one.
	if _, ok, err := s.OrderByWaybill(ctx, "ZTO", "W1"); ok || err != nil {
		t.Errorf("the expired waybill W1 is still found: %v %v", ok, err)
	}
}

// TestWaybillIndex: a waybill is found by its courier's shipper code and number, not by the
// carrier's name; waybills recorded before the per-waybill keys are still found in the old
// hash by carrier name, and new waybills never go there.
func TestWaybillIndex(t *testing.T) {
	rdb, prefix := testenv.RequireRedis(t)
	s := state.New(rdb, prefix)
	ctx := context.Background()
	if err := rdb.HSet(ctx, prefix+"waybills", "sf/SF100", "9").Err(); err != nil { // as the previous release wrote it
		t.Fatal(err)
	}
	settle(t, s, "1", "ZT100")
	tests := []struct {
		name             string
		shipper, waybill string
		legacy           []string
		want             string // "" for not found
	}{
		{"by shipper code", "ZTO", "ZT100", nil, "1"},
		{"another courier's code", "SF", "ZT100", []string{"sf"}, ""},
		{"old hash, by carrier name", "SF", "SF100", []string{"zto", "sf"}, "9"},
		{"old hash, another carrier", "SF", "SF100", []string{"zto"}, ""},
		{"old hash needs a name", "SF", "SF100", nil, ""},
	}
	for _, tt := range tests {
		got, ok, err := s.OrderByWaybill(ctx, tt.shipper, tt.waybill, tt.legacy...)
		if err != nil || got != tt.want || ok != (tt.want != "") {
			t.Errorf("%s: OrderByWaybill(%s, %s, %v) = %q %v %v, want %q", tt.name, tt.shipper, tt.waybill, tt.legacy, got, ok, err, tt.want)
		}
	}
	if n, err := rdb.HLen(ctx, prefix+"waybills").Result(); err != nil || n != 1 {
		t.Errorf("the old hash has %d fields (%v), want only the old one", n, err)
	}
}

// TestMemoryPerSettledOrder measures what a settled (delivered) order leaves in Redis until it
// expires: its record and its waybill index key. SHIPSYNC_MEMORY_ORDERS sets how many orders
// (default 200; the README's figure was measured with 10000).
func TestMemoryPerSettledOrder(t *testing.T) {
	rdb, prefix := testenv.RequireRedis(t)
	s := state.New(rdb, prefix)
	ctx := context.Background()
	n := 200
	if v, err := strconv.Atoi(os.Getenv("SHIPSYNC_MEMORY_ORDERS")); err == nil && v > 0 {
		n = v
	}
	before := usedMemory(t, rdb)
	var usage int64
	for i := range n {
		key := strconv.Itoa(1_000_000 + i)
		settle(t, s, key, fmt.Sprintf("ZT%013d", 7_300_000_000_000+i))
		mustSettle(t, s, state.Settlement{Key: key, Owner: "p:" + key, Kind: state.SettleWritten})
		for _, st := range []string{"picked_up", "in_transit", "delivered"} {
			err := s.SetStatus(ctx, key, state.ParcelStatus{Status: st, Time: time.Now(), PickedUp: true,
				Terminal: st == "delivered", NextPoll: time.Now().Add(24 * time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, k := range []string{prefix + "order:" + key, fmt.Sprintf("%swb:ZTO/ZT%013d", prefix, 7_300_000_000_000+i)} {
			b, err := rdb.MemoryUsage(ctx, k, 0).Result()
			if err != nil {
				t.Fatal(err)
			}
			usage += b
		}
	}
	after := usedMemory(t, rdb)
	perOrder := usage / int64(n)
	t.Logf("%d settled orders: MEMORY USAGE %d bytes/order (record + waybill key); used_memory grew %d bytes/order (with the TTLs and the keyspace's own overhead)",
		n, perOrder, (after-before)/int64(n))
	// The record is a small hash (listpack) and the index a short string: well under 1 KiB.
	if perOrder > 1024 {
		t.Errorf("a settled order takes %d bytes, want <= 1024", perOrder)
	}
	for _, set := range []string{"watch:pickup", "poll", "retry", "dlq"} {
		if c, err := rdb.ZCard(ctx, prefix+set).Result(); err != nil || c != 0 {
			t.Errorf("settled orders left %d members in %s (%v)", c, set, err)
		}
	}
}

var usedMemoryRe = regexp.MustCompile(`(?m)^used_memory:(\d+)`)

func usedMemory(t *testing.T, rdb *redis.Client) int64 {
	t.Helper()
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	m := usedMemoryRe.FindStringSubmatch(info)
	if m == nil {
		t.Fatalf("no used_memory in INFO memory: %q", info)
	}
	v, _ := strconv.ParseInt(m[1], 10, 64)
	return v
}

// TestChildWaybills: an order's child waybills (several parcels) are indexed like its parent,
// so a push naming any of them finds the order, and expire with it once it is settled.
func TestChildWaybills(t *testing.T) {
	rdb, prefix := testenv.RequireRedis(t)
	s := state.New(rdb, prefix, state.WithRetention(2*time.Second))
	ctx := context.Background()
	settle(t, s, "7", "")
	later := time.Now().Add(time.Hour)
	if err := s.RecordWaybills(ctx, []state.WaybillRecord{{Key: "7", Owner: "p:7", Carrier: "zto", Waybill: "ZT700",
		Children: []string{"ZT701", "ZT702"}, Warehouse: "east", PickupDue: later, PollDue: later}})[0]; err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"ZT700", "ZT701", "ZT702"} {
		if got, ok, err := s.OrderByWaybill(ctx, "ZTO", w); err != nil || !ok || got != "7" {
			t.Errorf("OrderByWaybill(ZTO, %s) = %q %v %v, want order 7", w, got, ok, err)
		}
	}
	rec, _, err := s.Get(ctx, "7")
	if err != nil || strings.Join(rec.Children, ",") != "ZT701,ZT702" || rec.Warehouse != "east" {
		t.Fatalf("record: %+v %v; want the children and the warehouse", rec, err)
	}
	if r := s.Settle(ctx, []state.Settlement{{Key: "7", Owner: "p:7", Kind: state.SettleWritten}})[0]; r.Err != nil {
		t.Fatal(r.Err)
	}
	if err := s.SetStatus(ctx, "7", state.ParcelStatus{Status: "delivered", Time: time.Now(), Terminal: true}); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"ZT700", "ZT701", "ZT702"} {
		if ttl, err := rdb.PTTL(ctx, prefix+"wb:ZTO/"+w).Result(); err != nil || ttl <= 0 || ttl > 2*time.Second {
			t.Errorf("index of %s: TTL %v (%v), want the retention", w, ttl, err)
		}
	}
}
