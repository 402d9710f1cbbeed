package main

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"math"
	"slices"
	"time"

	"github.com/shipsync/shipsync/testenv/demo"
)

// seedTemplate is how many orders demo.Seed writes per shop; larger tables are grown by copying
// them (INSERT ... SELECT), which is two orders of magnitude faster than seeding row by row.
const seedTemplate = 10_000

// shop is one benchmark's shop database: the demo schema (ECShop names and types, InnoDB).
type shop struct {
	name string
	db   *sql.DB // as shopUser, default database name
	tmpl [2]int64
}

// newShop creates database name with the demo schema, regions, goods and seedTemplate unpaid orders
// (ids 1..seedTemplate) with their items.
func (b *bench) newShop(ctx context.Context, name string) (*shop, error) {
	if _, err := b.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
		return nil, err
	}
	if _, err := b.admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"); err != nil {
		return nil, err
	}
	db, err := openDB(b.mysqlAddr(), shopUser, mysqlPassword, name)
	if err != nil {
		return nil, err
	}
	if err := demo.LoadSchema(ctx, db); err != nil {
		return nil, err
	}
	ids, err := demo.Seed(ctx, db, seedTemplate, 1)
	if err != nil {
		return nil, fmt.Errorf("seed %s: %w", name, err)
	}
	return &shop{name: name, db: db, tmpl: [2]int64{slices.Min(ids), slices.Max(ids)}}, nil
}

func (s *shop) close() { s.db.Close() }

// copiedColumns are ecs_order_info's columns other than the ones clone sets itself.
const copiedColumns = "order_status, consignee, country, province, city, district, address, zipcode, tel, mobile, " +
	"email, postscript, shipping_id, shipping_name, pay_id, pay_name, goods_amount, order_amount, add_time, pay_time, shipping_time"

// clone appends n orders copied from the seeded template and returns their id range. unpaid
// orders (pay_status 0, shipping_status 0, empty invoice_no) get items too, so shipsync can ship
// them; history orders are paid, received (shipping_status 2) and carry a waybill, like most rows
// of a real shop's order table, and have no items (nobody reads them).
func (s *shop) clone(ctx context.Context, n int, unpaid bool) (first, last int64, err error) {
	var maxID int64
	if err := s.db.QueryRowContext(ctx, "SELECT COALESCE(MAX(order_id), 0) FROM ecs_order_info").Scan(&maxID); err != nil {
		return 0, 0, err
	}
	pay, ship, inv := 2, 2, "CONCAT('H', order_id + ?)"
	if unpaid {
		pay, ship, inv = 0, 0, "''"
	}
	tmplN := s.tmpl[1] - s.tmpl[0] + 1
	for done := int64(0); done < int64(n); {
		k := min(tmplN, int64(n)-done)
		off := maxID + done - s.tmpl[0] + 1
		q := fmt.Sprintf("INSERT INTO ecs_order_info (order_id, order_sn, pay_status, shipping_status, invoice_no, %s) "+
			"SELECT order_id + ?, CONCAT('B', order_id + ?), %d, %d, %s, %s FROM ecs_order_info WHERE order_id BETWEEN ? AND ?",
			copiedColumns, pay, ship, inv, copiedColumns)
		args := []any{off, off, off, s.tmpl[0], s.tmpl[0] + k - 1}
		if unpaid {
			args = args[1:] // no waybill to number
		}
		if _, err := s.db.ExecContext(ctx, q, args...); err != nil {
			return 0, 0, fmt.Errorf("clone orders: %w", err)
		}
		if unpaid {
			if _, err := s.db.ExecContext(ctx, "INSERT INTO ecs_order_goods (order_id, goods_id, goods_name, goods_sn, goods_number, goods_price) "+
				"SELECT order_id + ?, goods_id, goods_name, goods_sn, goods_number, goods_price FROM ecs_order_goods WHERE order_id BETWEEN ? AND ?",
				off, s.tmpl[0], s.tmpl[0]+k-1); err != nil {
				return 0, 0, fmt.Errorf("clone order goods: %w", err)
			}
		}
		done += k
	}
	return maxID + 1, maxID + int64(n), nil
}

// unpaidRange returns n unpaid order ids: the template first, then clones.
func (s *shop) unpaidRange(ctx context.Context, n int) ([]int64, error) {
	var ids []int64
	for id := s.tmpl[0]; id <= s.tmpl[1] && len(ids) < n; id++ {
		ids = append(ids, id)
	}
	if len(ids) < n {
		first, last, err := s.clone(ctx, n-len(ids), true)
		if err != nil {
			return nil, err
		}
		for id := first; id <= last; id++ {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

const payStmt = "UPDATE ecs_order_info SET pay_status = 2, pay_time = UNIX_TIMESTAMP(), order_status = 1 WHERE order_id = ?"

// payAll pays ids the way ECShop's payment callback does (demo.Pay): one autocommitted UPDATE per
// order on one connection, as fast as it goes. It returns the commit rate.
func (s *shop) payAll(ctx context.Context, ids []int64) (float64, error) {
	t0 := time.Now()
	if err := demo.Pay(ctx, s.db, ids); err != nil {
		return 0, err
	}
	return float64(len(ids)) / time.Since(t0).Seconds(), nil
}

// payPaced pays ids one commit each at rate orders/s on one connection (an open-loop schedule:
// a late commit does not push the next ones back), recording when each commit returned.
// onCommit, when set, is called after each commit with how many are done.
func (s *shop) payPaced(ctx context.Context, ids []int64, rate float64, onCommit func(int)) (map[int64]time.Time, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stmt, err := conn.PrepareContext(ctx, payStmt)
	if err != nil {
		return nil, err
	}
	defer stmt.Close()
	at := make(map[int64]time.Time, len(ids))
	t0 := time.Now()
	for i, id := range ids {
		if rate > 0 {
			if d := time.Until(t0.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
				time.Sleep(d)
			}
		}
		if _, err := stmt.ExecContext(ctx, id); err != nil {
			return at, fmt.Errorf("pay order %d: %w", id, err)
		}
		at[id] = time.Now()
		if onCommit != nil {
			onCommit(i + 1)
		}
	}
	return at, nil
}

// wbTrigger makes the shop record when each order's waybill was written (invoice_no going from empty
// to a value) in bench_wb, in µs since the epoch, read with the server's clock (the same clock as
// the harness's): the end of the commit → write-back interval, measured without shipsync's help.
// SYSDATE is the time the statement runs; the write-back transaction commits ~1 ms later.
func (s *shop) wbTrigger(ctx context.Context) error {
	for _, q := range []string{
		"CREATE TABLE IF NOT EXISTS bench_wb (order_id INT UNSIGNED PRIMARY KEY, at_us BIGINT NOT NULL) ENGINE=InnoDB",
		"DROP TRIGGER IF EXISTS bench_wb_at",
		"CREATE TRIGGER bench_wb_at AFTER UPDATE ON ecs_order_info FOR EACH ROW " +
			"IF OLD.invoice_no = '' AND NEW.invoice_no <> '' THEN " +
			"INSERT IGNORE INTO bench_wb VALUES (NEW.order_id, FLOOR(UNIX_TIMESTAMP(SYSDATE(6)) * 1000000)); END IF",
	} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// latencies joins the commit times with bench_wb: seconds from commit to write-back per order,
// sorted, and how many orders have no write-back yet.
func (s *shop) latencies(ctx context.Context, commits map[int64]time.Time) ([]float64, int, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT order_id, at_us FROM bench_wb")
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var lat []float64
	seen := 0
	for rows.Next() {
		var id, us int64
		if err := rows.Scan(&id, &us); err != nil {
			return nil, 0, err
		}
		if c, ok := commits[id]; ok {
			lat = append(lat, time.UnixMicro(us).Sub(c).Seconds())
			seen++
		}
	}
	slices.Sort(lat)
	return lat, len(commits) - seen, rows.Err()
}

// quantile of sorted values (nearest rank).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// countWritten counts orders of ids' range whose invoice_no is set.
func (s *shop) countWritten(ctx context.Context, first, last int64) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM ecs_order_info WHERE order_id BETWEEN ? AND ? AND invoice_no <> ''",
		first, last).Scan(&n)
	return n, err
}

// waitWritten polls the daemon's metrics until want write-backs are done (or the timeout), and
// returns when the last one was seen. every sets the polling interval.
func waitWritten(ctx context.Context, d *daemon, want float64, every, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	last, lastChange := -1.0, time.Now()
	for {
		m, err := scrape(d.metrics)
		now := time.Now()
		if err == nil {
			w := written(m)
			if w >= want {
				return now, nil
			}
			if w != last {
				last, lastChange = w, now
			}
			if now.Sub(lastChange) > 60*time.Second {
				return now, fmt.Errorf("stuck at %.0f of %.0f write-backs for a minute", w, want)
			}
		}
		select {
		case <-d.done:
			return now, fmt.Errorf("shipsync exited: %v\n%s", d.err, d.tail(30))
		case <-ctx.Done():
			return now, ctx.Err()
		case <-time.After(every):
		}
		if time.Now().After(deadline) {
			return time.Now(), fmt.Errorf("only %.0f of %.0f write-backs after %s", last, want, timeout)
		}
	}
}

// waitCheckpoint waits until the daemon has saved a checkpoint under prefix (its first start
// saves one once the empty backfill is settled).
func (b *bench) waitCheckpoint(ctx context.Context, d *daemon, prefix string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		n, err := b.rdb.Exists(ctx, prefix+"checkpoint").Result()
		if err == nil && n == 1 {
			return nil
		}
		select {
		case <-d.done:
			return fmt.Errorf("shipsync exited: %v\n%s", d.err, d.tail(30))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no checkpoint under %scheckpoint after %s\n%s", prefix, timeout, d.tail(20))
		}
	}
}

func logf(format string, args ...any) { log.Printf("  "+format, args...) }

// shopAndCarrier is a scenario's start: a fresh shop database with n unpaid orders set aside for
// it, and a carrier simulator answering after latency. The caller closes the shop and stops the
// simulator.
func (b *bench) shopAndCarrier(ctx context.Context, name string, n int, latency time.Duration) (*shop, []int64, *proc, string, error) {
	s, err := b.newShop(ctx, name)
	if err != nil {
		return nil, nil, nil, "", err
	}
	ids, err := s.unpaidRange(ctx, n)
	if err != nil {
		s.close()
		return nil, nil, nil, "", err
	}
	sim, carrierURL, err := b.carrierSim(latency)
	if err != nil {
		s.close()
		return nil, nil, nil, "", err
	}
	return s, ids, sim, carrierURL, nil
}

// serverCounters reads the shop server's own statement counters (SHOW GLOBAL STATUS), for the
// statements a drain costs the shop per order.
func (s *shop) serverCounters(ctx context.Context) (map[string]float64, error) {
	rows, err := s.db.QueryContext(ctx, "SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions', 'Com_stmt_execute', 'Com_commit', 'Com_select', 'Com_update', 'Com_insert')")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]float64{}
	for rows.Next() {
		var name string
		var v float64
		if err := rows.Scan(&name, &v); err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, rows.Err()
}

// perOrderCounters is the counters' growth between two readings, per order (the reading
// itself adds one statement, noise at these sizes).
func perOrderCounters(before, after map[string]float64, n int) string {
	f := func(k string) float64 { return (after[k] - before[k]) / float64(n) }
	return fmt.Sprintf("shop statements per order (server counters): Questions %.2f, of which prepared executions %.2f; "+
		"SELECT %.2f, UPDATE %.2f, INSERT %.2f, COMMIT %.2f", f("Questions"), f("Com_stmt_execute"),
		f("Com_select"), f("Com_update"), f("Com_insert"), f("Com_commit"))
}
