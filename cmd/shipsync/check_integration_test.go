package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

// demoShop is an empty demo shop, a Redis prefix and a config file for them.
func demoShop(t *testing.T) (conf string, s *state.Store) {
	t.Helper()
	db, name := testenv.NewDatabase(t)
	if err := demo.LoadSchema(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	rdb, prefix := testenv.RequireRedis(t)
	t.Setenv("SHOP_DB_PASSWORD", testenv.MySQLPassword())
	t.Setenv("KDNIAO_APP_KEY", testenv.TestAppKey)
	return testenv.WriteConfig(t, name, prefix, "http://127.0.0.1:8700"), state.New(rdb, prefix)
}

func TestCheck(t *testing.T) {
	good, _ := demoShop(t)

	run := func(path string) (string, error) {
		var out, errOut bytes.Buffer
		err := dispatch(context.Background(), []string{"check", "--config", path}, &out, &errOut)
		return out.String() + errOut.String(), err
	}
	out, err := run(good)
	if err != nil {
		t.Fatalf("check on a good setup: %v\n%s", err, out)
	}
	for _, want := range []string{"ok   log_bin=ON", "ok   binlog_format=ROW", "ok   binlog_row_image=FULL",
		"ok   SQL templates prepare", "ok   redis reachable",
		"ok   binlog_transaction_compression: not applicable (MariaDB", "ok   binlog_row_value_options: not applicable (MariaDB"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}

	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	badSQL := filepath.Join(t.TempDir(), "bad-sql.yaml")
	if err := os.WriteFile(badSQL, bytes.Replace(raw, []byte("SET invoice_no = :waybill"), []byte("SET invoice_number = :waybill"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = run(badSQL)
	var code exitCode
	if !errors.As(err, &code) || code != 1 || !strings.Contains(out, "FAIL SQL templates prepare: prepare writeback.waybill[0]") {
		t.Errorf("a template naming a missing column: err %v, output:\n%s", err, out)
	}

	// What a newcomer on OpenCart tripped over: a misspelt alias passed check and the orders
	// were dead-lettered later; a paid value of the wrong type meant nothing was ever detected.
	for _, c := range []struct{ name, from, to, want string }{
		{"misspelt alias", "AS receiver_province", "AS receiver_provnce",
			"FAIL orders.query column receiver_provnce: not a column shipsync knows: did you mean receiver_province?"},
		{"paid value of the wrong type", `in: ["2"] # values compare`, `in: ["Processing"] # values compare`,
			`FAIL orders.paid: "Processing" can never match pay_status (tinyint(1) unsigned): the column holds whole numbers`},
		{"paid column misspelt", "column: pay_status", "column: pay_stauts",
			`FAIL orders.paid.column: `},
	} {
		path := filepath.Join(t.TempDir(), "trap.yaml")
		if !bytes.Contains(raw, []byte(c.from)) {
			t.Fatalf("%s: config.yaml has no %q", c.name, c.from)
		}
		if err := os.WriteFile(path, bytes.Replace(raw, []byte(c.from), []byte(c.to), 1), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err = run(path)
		if !errors.As(err, &code) || code != 1 || !strings.Contains(out, c.want) {
			t.Errorf("%s: err %v, want a line %q in:\n%s", c.name, err, c.want, out)
		}
	}
	if out, _ := run(good); !strings.Contains(out, "ok   orders.query columns: order_key, order_code") || !strings.Contains(out, "ok   orders.paid: pay_status is tinyint") {
		t.Errorf("a good setup's column checks:\n%s", out)
	}

	badYAML := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(badYAML, bytes.Replace(raw, []byte("max_in_flight: auto"), []byte("max_in_flight: lots"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = run(badYAML)
	if !errors.As(err, &code) || code != 1 || !strings.Contains(out, "carriers[0].max_in_flight") {
		t.Errorf("a config with a wrong type: err %v, output:\n%s", err, out)
	}
}

func TestStatusJSON(t *testing.T) {
	conf, s := demoShop(t)
	ctx := context.Background()
	if err := s.SaveCheckpoint(ctx, state.Checkpoint{File: "mysql-bin.000001", Pos: 4}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Claim(ctx, "1", "p:1", time.Minute); err != nil {
		t.Fatal(err)
	}
	if r := s.Settle(ctx, []state.Settlement{{Key: "1", Owner: "p:1", Kind: state.SettleDead, Reason: "refused",
		CountAttempt: true}})[0]; r.Err != nil {
		t.Fatal(r.Err)
	}
	var out, errOut bytes.Buffer
	if err := dispatch(ctx, []string{"status", "--config", conf, "--json"}, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	var r statusReport
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if r.Checkpoint != "mysql-bin.000001:4" || r.BinlogEnd == "" || r.DeadLetter != 1 || r.Orders["failed"] != 1 {
		t.Errorf("status: %+v", r)
	}
	out.Reset()
	if err := dispatch(ctx, []string{"status", "--config", conf}, &out, &errOut); err != nil ||
		!strings.Contains(out.String(), "dead letter    1") || !strings.Contains(out.String(), "failed") {
		t.Errorf("status table: %v\n%s", err, out.String())
	}
}
