package shopdb_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/shipsync/shipsync/sinks/shopdb"
	"github.com/shipsync/shipsync/testenv"
	"github.com/shipsync/shipsync/testenv/demo"
)

// The root config.yaml's ECShop write-back, as statements.
var waybillSQL = []string{
	"UPDATE ecs_order_info SET invoice_no = :waybill, shipping_status = 1 WHERE order_id = :key AND invoice_no = ''",
	`INSERT INTO ecs_order_action (order_id, action_user, order_status, shipping_status, pay_status, action_place, action_note, log_time)
	 SELECT order_id, 'shipsync', order_status, shipping_status, pay_status, 0, CONCAT(:carrier, ' waybill ', :waybill), UNIX_TIMESTAMP()
	   FROM ecs_order_info o WHERE order_id = :key
	    AND NOT EXISTS (SELECT 1 FROM ecs_order_action a WHERE a.order_id = o.order_id
	                       AND a.action_user = 'shipsync' AND a.action_note = CONCAT(:carrier, ' waybill ', :waybill))`,
}

func open(t *testing.T) (*shopdb.DB, []int64, func(q string, args ...any) int, *sql.DB) {
	t.Helper()
	return openWith(t, false)
}

// openWith loads the demo shop; with connect, shopdb works through a pool made by Connect (READ
// COMMITTED sessions) instead of the test's own.
func openWith(t *testing.T, connect bool) (*shopdb.DB, []int64, func(q string, args ...any) int, *sql.DB) {
	t.Helper()
	db, name := testenv.NewDatabase(t)
	ctx := context.Background()
	if err := demo.LoadSchema(ctx, db); err != nil {
		t.Fatal(err)
	}
	ids, err := demo.Seed(ctx, db, 200, 3)
	if err != nil {
		t.Fatal(err)
	}
	pool := db
	if connect {
		pool = shopdb.Connect(testenv.MySQLAddr(), testenv.MySQLUser(), testenv.MySQLPassword(), name, "", 80)
		t.Cleanup(func() { pool.Close() })
	}
	s, err := shopdb.Open(ctx, pool, shopdb.Config{
		Query:          "SELECT order_sn AS order_code FROM ecs_order_info WHERE order_id = :key",
		Waybill:        waybillSQL,
		CurrentWaybill: "SELECT invoice_no FROM ecs_order_info WHERE order_id = :key",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	count := func(q string, args ...any) int {
		var n int
		if err := db.QueryRow(q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	return s, ids, count, db
}

// TestConcurrentWriteBack: 64 workers writing back at once on InnoDB race for the note table's
// AUTO-INC lock; lock errors are retried inside shopdb, so every write lands exactly once. Both
// with any pool (READ COMMITTED per transaction) and with Connect's (READ COMMITTED sessions).
func TestConcurrentWriteBack(t *testing.T) {
	for _, connect := range []bool{false, true} {
		t.Run(fmt.Sprintf("connect=%v", connect), func(t *testing.T) { concurrentWriteBack(t, connect) })
	}
}

func concurrentWriteBack(t *testing.T, connect bool) {
	s, ids, count, _ := openWith(t, connect)
	var wg sync.WaitGroup
	errs := make(chan error, len(ids))
	sem := make(chan struct{}, 64)
	for _, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func(id int64) {
			defer wg.Done()
			defer func() { <-sem }()
			out, _, err := s.WriteWaybill(context.Background(), map[string]any{"key": id, "waybill": fmt.Sprintf("W%d", id), "carrier": "sim"})
			if err == nil && out != shopdb.Written {
				err = fmt.Errorf("order %d: outcome %v", id, out)
			}
			if err != nil {
				errs <- err
			}
		}(id)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := count("SELECT COUNT(*) FROM ecs_order_action WHERE action_user = 'shipsync'"); n != len(ids) {
		t.Errorf("%d notes, want %d", n, len(ids))
	}
}

// TestWriteBackOutcomes: a replay is recognised and completes what is missing; another waybill
// is a conflict and stays; a row that is gone is missing.
func TestWriteBackOutcomes(t *testing.T) {
	s, ids, count, db := open(t)
	ctx := context.Background()
	w := func(id int64, waybill string) (shopdb.Outcome, string) {
		t.Helper()
		out, existing, err := s.WriteWaybill(ctx, map[string]any{"key": id, "waybill": waybill, "carrier": "sim"})
		if err != nil {
			t.Fatal(err)
		}
		return out, existing
	}
	if out, _ := w(ids[0], "W1"); out != shopdb.Written {
		t.Fatalf("first write: %v", out)
	}
	if out, _ := w(ids[0], "W1"); out != shopdb.AlreadyWritten {
		t.Fatalf("replay: %v", out)
	}
	if n := count("SELECT COUNT(*) FROM ecs_order_action WHERE order_id = ?", ids[0]); n != 1 {
		t.Fatalf("replay wrote the note again: %d notes", n)
	}
	// A crash on MyISAM can leave the waybill without its note: the replay completes it.
	if out, _ := w(ids[1], "W2"); out != shopdb.Written {
		t.Fatalf("first write: %v", out)
	}
	if _, err := db.Exec("DELETE FROM ecs_order_action WHERE order_id = ?", ids[1]); err != nil {
		t.Fatal(err)
	}
	if out, _ := w(ids[1], "W2"); out != shopdb.AlreadyWritten {
		t.Fatalf("replay after a cut: %v", out)
	}
	if n := count("SELECT COUNT(*) FROM ecs_order_action WHERE order_id = ?", ids[1]); n != 1 {
		t.Fatalf("the replay did not complete the cut write-back: %d notes", n)
	}
	if out, existing := w(ids[0], "OTHER"); out != shopdb.Conflict || existing != "W1" {
		t.Fatalf("another waybill: %v %q", out, existing)
	}
	if out, _ := w(999999, "W3"); out != shopdb.Missing {
		t.Fatalf("missing row: %v", out)
	}
}

// TestUnusableData: a query whose result cannot be used fails permanently (the dead letter),
// not as a database outage retried forever.
func TestUnusableData(t *testing.T) {
	_, ids, _, db := open(t)
	ctx := context.Background()
	for _, q := range []string{
		"SELECT order_sn AS code FROM ecs_order_info WHERE order_id = :key",
		"SELECT order_sn AS order_code, 'heavy' AS weight_kg FROM ecs_order_info WHERE order_id = :key",
	} {
		s, err := shopdb.Open(ctx, db, shopdb.Config{Query: q, Waybill: waybillSQL[:1],
			CurrentWaybill: "SELECT invoice_no FROM ecs_order_info WHERE order_id = :key"})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = s.Order(ctx, fmt.Sprint(ids[0]))
		var p interface{ Permanent() bool }
		if err == nil || !errors.As(err, &p) || !p.Permanent() {
			t.Errorf("%s: %v, want a permanent error", q, err)
		}
		s.Close()
	}
}

// TestWriteWaybillsBatch: one transaction for several orders gives each the outcome WriteWaybill
// would (written, replay completed, conflict left alone, missing), and a failing statement rolls
// the whole batch back.
func TestWriteWaybillsBatch(t *testing.T) {
	s, ids, count, db := openWith(t, true)
	ctx := context.Background()
	vals := func(id int64, waybill string) map[string]any {
		return map[string]any{"key": id, "waybill": waybill, "carrier": "sim"}
	}
	if out, _, err := s.WriteWaybill(ctx, vals(ids[0], "W0")); err != nil || out != shopdb.Written {
		t.Fatalf("first write: %v %v", out, err)
	}
	if _, err := db.Exec("DELETE FROM ecs_order_action WHERE order_id = ?", ids[0]); err != nil { // a cut write-back
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE ecs_order_info SET invoice_no = 'OTHER' WHERE order_id = ?", ids[1]); err != nil {
		t.Fatal(err)
	}
	batch := []map[string]any{vals(ids[0], "W0"), vals(ids[1], "W1"), vals(999999, "W2"), vals(ids[3], "W3"), vals(ids[4], "W4")}
	res, err := s.WriteWaybills(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	want := []shopdb.WaybillResult{{shopdb.AlreadyWritten, "W0"}, {shopdb.Conflict, "OTHER"}, {shopdb.Missing, ""},
		{shopdb.Written, ""}, {shopdb.Written, ""}}
	if !reflect.DeepEqual(res, want) {
		t.Fatalf("outcomes %+v, want %+v", res, want)
	}
	for _, c := range []struct {
		id    int64
		notes int
	}{{ids[0], 1}, {ids[1], 0}, {ids[3], 1}, {ids[4], 1}} {
		if n := count("SELECT COUNT(*) FROM ecs_order_action WHERE order_id = ?", c.id); n != c.notes {
			t.Errorf("order %d: %d notes, want %d", c.id, n, c.notes)
		}
	}
	if n := count("SELECT COUNT(*) FROM ecs_order_info WHERE order_id = ? AND invoice_no = 'OTHER'", ids[1]); n != 1 {
		t.Error("the conflicting waybill was overwritten")
	}

	// A waybill too long for the column fails its statement: the batch's other order is not kept.
	if _, err := s.WriteWaybills(ctx, []map[string]any{vals(ids[5], "W5"), vals(ids[6], strings.Repeat("x", 300))}); err == nil {
		t.Fatal("a failing statement did not fail the batch")
	}
	if n := count("SELECT COUNT(*) FROM ecs_order_info WHERE order_id = ? AND invoice_no = ''", ids[5]); n != 1 {
		t.Error("the failed batch's first order was written (not rolled back)")
	}
}
