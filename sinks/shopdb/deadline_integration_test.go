package shopdb_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shipsync/shipsync/sinks/shopdb"
	"github.com/shipsync/shipsync/testenv"
)

// TestDeadlines: a shop connection that goes silent (a proxy that stops forwarding without
// closing anything) fails each call within its deadline instead of hanging, and once the shop
// answers again the very same pool works: the timed-out connection was discarded, not handed
// to the next caller.
func TestDeadlines(t *testing.T) {
	ctx := context.Background()
	_, name, ids := testenv.DemoShop(t, 5)
	px := testenv.NewProxy(t, testenv.MySQLAddr())
	// One connection: a poisoned one would be the next call's.
	pool := shopdb.Connect(px.Addr(), testenv.MySQLUser(), testenv.MySQLPassword(), name, "", 1)
	t.Cleanup(func() { pool.Close() })
	const timeout = time.Second
	s, err := shopdb.Open(ctx, pool, shopdb.Config{
		Query:          "SELECT order_sn AS order_code FROM ecs_order_info WHERE order_id = :key",
		ItemsQuery:     "SELECT goods_name AS name, goods_number AS quantity FROM ecs_order_goods WHERE order_id = :key",
		Waybill:        waybillSQL,
		CurrentWaybill: "SELECT invoice_no FROM ecs_order_info WHERE order_id = :key",
		Status:         map[string][]string{"delivered": {"UPDATE ecs_order_info SET shipping_status = 2 WHERE order_id = :key"}},
		ReadTimeout:    timeout,
		WriteTimeout:   timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	// The same reads by :keys; a batch of three needs the size class 4, prepared on first use,
	// which the deadline covers too.
	batched, err := shopdb.Open(ctx, pool, shopdb.Config{
		Query:          "SELECT order_id AS order_key, order_sn AS order_code FROM ecs_order_info WHERE order_id IN (:keys)",
		ItemsQuery:     "SELECT order_id AS order_key, goods_name AS name FROM ecs_order_goods WHERE order_id IN (:keys)",
		Waybill:        waybillSQL,
		CurrentWaybill: "SELECT invoice_no FROM ecs_order_info WHERE order_id = :key",
		ReadTimeout:    timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { batched.Close() })
	three := []string{fmt.Sprint(ids[0]), fmt.Sprint(ids[1]), fmt.Sprint(ids[2])}

	for i, c := range []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"orders.query", func(ctx context.Context) error {
			_, found, err := s.Order(ctx, fmt.Sprint(ids[0]))
			if err == nil && !found {
				err = errors.New("order not found")
			}
			return err
		}},
		{"orders.items_query", func(ctx context.Context) error {
			items, err := s.Items(ctx, fmt.Sprint(ids[1]))
			if err == nil && len(items) == 0 {
				err = errors.New("no items")
			}
			return err
		}},
		{"orders.query by :keys", func(ctx context.Context) error {
			res, err := batched.Orders(ctx, three)
			if err == nil && len(res) != len(three) {
				err = fmt.Errorf("%d orders of %d", len(res), len(three))
			}
			return err
		}},
		{"orders.items_query by :keys", func(ctx context.Context) error {
			res, err := batched.ItemsOf(ctx, three)
			if err == nil && len(res) != len(three) {
				err = fmt.Errorf("items of %d orders of %d", len(res), len(three))
			}
			return err
		}},
		{"writeback.waybill", func(ctx context.Context) error {
			_, _, err := s.WriteWaybill(ctx, map[string]any{"key": ids[2], "waybill": "W2", "carrier": "sim"})
			return err
		}},
		{"writeback.waybills", func(ctx context.Context) error {
			_, err := s.WriteWaybills(ctx, []map[string]any{{"key": ids[3], "waybill": "W3", "carrier": "sim"}})
			return err
		}},
		{"writeback.status", func(ctx context.Context) error {
			_, err := s.WriteStatus(ctx, "delivered", map[string]any{"key": ids[4]})
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Warm: the pool's one connection is open and idle when the shop goes silent.
			if err := pool.PingContext(ctx); err != nil {
				t.Fatal(err)
			}
			px.Freeze()
			start := time.Now()
			done := make(chan error, 1)
			go func() { done <- c.call(context.Background()) }() // no deadline of the caller's
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("succeeded through a silent connection")
				}
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("error %q does not say the deadline passed", err)
				}
				t.Logf("failed after %s: %v", time.Since(start).Round(10*time.Millisecond), err)
			case <-time.After(10 * timeout):
				px.Restore() // let the call end before the test's cleanup
				<-done
				t.Fatalf("%s still blocked %s after the shop went silent (deadline %s)", c.name, 10*timeout, timeout)
			}
			px.Restore()
			if err := c.call(ctx); err != nil {
				t.Fatalf("after the shop answers again (case %d): %v", i, err)
			}
		})
	}
}
