package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/testenv"
)

func TestDLQCommand(t *testing.T) {
	conf, s := demoShop(t)
	ctx := context.Background()
	for key, reason := range map[string]string{"5": "order SO5 has no receiver_address", "6": "carrier refused: 102 bad phone"} {
		if _, _, err := s.Claim(ctx, key, "p:"+key, time.Minute); err != nil {
			t.Fatal(err)
		}
		if r := s.Settle(ctx, []state.Settlement{{Key: key, Owner: "p:" + key, Kind: state.SettleDead, Reason: reason,
			CountAttempt: true}})[0]; r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := dispatch(ctx, append([]string{"dlq"}, append(args, "--config", conf)...), &out, &errOut)
		return out.String() + errOut.String(), err
	}
	out, err := run("list")
	if err != nil || !strings.Contains(out, "ORDER") || !strings.Contains(out, "no receiver_address") || !strings.Contains(out, "102 bad phone") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = run("list", "--json")
	var entries []dlqEntry
	if err != nil || json.Unmarshal([]byte(out), &entries) != nil || len(entries) != 2 || entries[0].Attempts != 1 {
		t.Fatalf("list --json: %v %v\n%s", err, entries, out)
	}
	if out, err = run("show", "6"); err != nil || !strings.Contains(out, "carrier refused") || !strings.Contains(out, "failed") {
		t.Fatalf("show: %v\n%s", err, out)
	}
	if out, err = run("retry", "5"); err != nil || !strings.Contains(out, "order 5: sent back") {
		t.Fatalf("retry: %v\n%s", err, out)
	}
	if r, _, _ := s.Get(ctx, "5"); r.State != state.Retry || r.Attempts != 0 {
		t.Fatalf("retried record: %+v", r)
	}
	if d, _ := s.RetryDepth(ctx); d != 1 {
		t.Fatalf("retry schedule holds %d", d)
	}
	if out, err = run("drop", "6"); err != nil || !strings.Contains(out, "order 6: dropped") {
		t.Fatalf("drop: %v\n%s", err, out)
	}
	if res, _, _ := s.Claim(ctx, "6", "p:x", time.Minute); res != state.Done {
		t.Fatalf("a dropped order can be claimed: %v", res)
	}
	var code exitCode
	if out, err = run("retry", "6"); err == nil || !strings.Contains(err.Error(), "not in the dead letter: 6") {
		t.Fatalf("retry of a dropped order: %v\n%s", err, out)
	}
	if out, err = run("list"); err != nil || !strings.Contains(out, "empty") {
		t.Fatalf("list after: %v\n%s", err, out)
	}
	if _, err = run("frobnicate"); !errors.As(err, &code) || code != 2 {
		t.Fatalf("unknown subcommand: %v", err)
	}
}

// TestAdminCommandsWithoutTheShop: the dead letter and status need Redis, not the shop. With
// shop.addr on a closed port, or an orders.query that does not prepare, every dlq command works
// and status reports what Redis knows and that the shop is unreachable. `dlq retry --carrier`
// re-routes an unpinned order and refuses, naming the pin, one pinned to another carrier.
func TestAdminCommandsWithoutTheShop(t *testing.T) {
	for _, c := range []struct {
		name     string
		broken   func(t *testing.T) [2]string // a replacement in config.yaml
		shopDown bool
	}{
		{"shop down", func(t *testing.T) [2]string {
			return [2]string{"addr: " + testenv.MySQLAddr(), "addr: " + testenv.FreeAddr(t)}
		}, true},
		{"broken orders.query", func(*testing.T) [2]string {
			return [2]string{"  FROM ecs_order_info o\n", "  FROM no_such_table o\n"}
		}, false},
		// The carriers' secrets live only where the daemon runs: an operator's shell without
		// KDNIAO_APP_KEY still reads and repairs the state.
		{"no carrier secret in the environment", func(t *testing.T) [2]string {
			t.Setenv("KDNIAO_APP_KEY", "")
			os.Unsetenv("KDNIAO_APP_KEY") //nolint:errcheck // restored by t.Setenv at cleanup
			return [2]string{"max_in_flight: auto", "max_in_flight: auto"}
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, name := testenv.NewDatabase(t)
			rdb, prefix := testenv.RequireRedis(t)
			t.Setenv("SHOP_DB_PASSWORD", testenv.MySQLPassword())
			t.Setenv("KDNIAO_APP_KEY", testenv.TestAppKey)
			broken := c.broken(t)
			conf := testenv.WriteConfig(t, name, prefix, "http://127.0.0.1:8700", broken)
			s := state.New(rdb, prefix)
			ctx := context.Background()
			for key, sticky := range map[string]bool{"5": false, "6": true, "7": false} {
				owner := "p:" + key
				if _, _, err := s.Claim(ctx, key, owner, time.Minute); err != nil {
					t.Fatal(err)
				}
				if err := s.Submitting(ctx, key, owner, "SO"+key, "sf", "SF"); err != nil {
					t.Fatal(err)
				}
				if r := s.Settle(ctx, []state.Settlement{{Key: key, Owner: owner, Kind: state.SettleDead,
					Reason: "carrier refused: 102 bad phone", CountAttempt: true, Sticky: sticky}})[0]; r.Err != nil {
					t.Fatal(r.Err)
				}
			}
			if err := s.SaveCheckpoint(ctx, state.Checkpoint{File: "mysql-bin.000001", Pos: 4}); err != nil {
				t.Fatal(err)
			}
			run := func(args ...string) (string, error) {
				var out, errOut bytes.Buffer
				err := dispatch(ctx, append(args, "--config", conf), &out, &errOut)
				return out.String() + errOut.String(), err
			}

			if out, err := run("dlq", "list"); err != nil || strings.Count(out, "102 bad phone") != 3 || !strings.Contains(out, "sf (pinned)") {
				t.Fatalf("dlq list: %v\n%s", err, out)
			}
			if out, err := run("dlq", "show", "6"); err != nil || !strings.Contains(out, "pinned") || !strings.Contains(out, "yes, to sf") {
				t.Fatalf("dlq show of a pinned order: %v\n%s", err, out)
			}
			out, err := run("dlq", "retry", "6", "--carrier", "sim")
			if err == nil || !strings.Contains(err.Error(), "pinned to carrier sf") {
				t.Fatalf("dlq retry --carrier of a pinned order: %v\n%s", err, out)
			}
			if r, _, _ := s.Get(ctx, "6"); r.State != state.Failed || r.Route != "" {
				t.Fatalf("the refused order changed: %+v", r)
			}
			if out, err := run("dlq", "retry", "5", "--carrier", "nope"); err == nil || !strings.Contains(err.Error(), "not a configured carrier") {
				t.Fatalf("dlq retry --carrier of an unknown carrier: %v\n%s", err, out)
			}
			if out, err := run("dlq", "retry", "5", "--carrier", "sim"); err != nil || !strings.Contains(out, "order 5: sent back") {
				t.Fatalf("dlq retry --carrier: %v\n%s", err, out)
			}
			if r, _, _ := s.Get(ctx, "5"); r.State != state.Retry || r.Route != "sim" {
				t.Fatalf("re-routed record: %+v", r)
			}
			if out, err := run("dlq", "drop", "7"); err != nil || !strings.Contains(out, "order 7: dropped") {
				t.Fatalf("dlq drop: %v\n%s", err, out)
			}

			var outBuf, errBuf bytes.Buffer
			if err := dispatch(ctx, []string{"status", "--config", conf, "--json"}, &outBuf, &errBuf); err != nil {
				t.Fatalf("status --json: %v\n%s", err, errBuf.String())
			}
			var r statusReport
			if err := json.Unmarshal(outBuf.Bytes(), &r); err != nil {
				t.Fatalf("%v\n%s", err, outBuf.String())
			}
			if r.Checkpoint != "mysql-bin.000001:4" || r.DeadLetter != 1 || r.RetryQueue != 1 || r.Orders["failed"] != 1 {
				t.Errorf("status: %+v", r)
			}
			if c.shopDown != (r.ShopError != "") || c.shopDown == (r.BinlogEnd != "") {
				t.Errorf("shop down %v, but status says binlog end %q, shop error %q", c.shopDown, r.BinlogEnd, r.ShopError)
			}
			out, err = run("status")
			if err != nil || !strings.Contains(out, "dead letter    1") || c.shopDown != strings.Contains(out, "unreachable") {
				t.Errorf("status table: %v\n%s", err, out)
			}
		})
	}
}
