package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sync/state"
)

func TestDLQCommand(t *testing.T) {
	conf, s := demoShop(t)
	ctx := context.Background()
	for key, reason := range map[string]string{"5": "order SO5 has no receiver_address", "6": "carrier refused: 102 bad phone"} {
		if _, _, err := s.Claim(ctx, key, "p:"+key, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := s.DeadLetter(ctx, key, "p:"+key, reason, true); err != nil {
			t.Fatal(err)
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
