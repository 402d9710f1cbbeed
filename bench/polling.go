package main

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
)

// pollQuery is the usual alternative to shipsync: a cron job or poller looking for paid orders
// without a waybill every few seconds.
const pollQuery = "SELECT order_id FROM ecs_order_info WHERE pay_status = 2 AND invoice_no = ''"

// Index sets of the poller variants: none usable, ECShop's stock KEY pay_status (most rows of a
// real order table are paid, so it narrows little), and a composite index made for the query.
var pollIndexes = map[string][]string{
	"unindexed":    nil,
	"ecshop-index": {"pay_status"},
	"indexed":      {"paid_no_invoice"},
}

var indexDDL = map[string]string{
	"pay_status":      "ADD KEY pay_status (pay_status)",
	"paid_no_invoice": "ADD KEY paid_no_invoice (pay_status, invoice_no)",
}

// runPolling is scenario 6: rows examined on the shop per detected order and detection latency,
// shipsync against the poller, at growing order-table sizes.
func runPolling(ctx context.Context, b *bench) error {
	sc := b.scale
	perRun := int(float64(sc.pollRate) * sc.pollFor.Seconds())
	s, err := b.newShop(ctx, "bench_poll")
	if err != nil {
		return err
	}
	defer s.close()
	pool, err := s.unpaidRange(ctx, perRun*len(sc.pollSizes)*(len(sc.pollVariant)+1))
	if err != nil {
		return err
	}
	if err := s.wbTrigger(ctx); err != nil {
		return err
	}
	sim, carrierURL, err := b.carrierSim(0)
	if err != nil {
		return err
	}
	defer sim.stop()
	next := func() []int64 { ids := pool[:perRun]; pool = pool[perRun:]; return ids }

	for _, size := range sc.pollSizes {
		var count int
		if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM ecs_order_info").Scan(&count); err != nil {
			return err
		}
		if count < size {
			logf("growing ecs_order_info from %d to %d rows (history: paid, received, with a waybill)", count, size)
			if _, _, err := s.clone(ctx, size-count, false); err != nil {
				return err
			}
			count = size
		}
		label := fmt.Sprintf("%dk rows", count/1000)

		// shipsync first, on the stock ECShop indexes.
		if err := setIndexes(ctx, s, pollIndexes["ecshop-index"]); err != nil {
			return err
		}
		sr, err := pollShipsync(ctx, b, s, carrierURL, size, next())
		if err != nil {
			return err
		}
		logf("%s shipsync: %.1f rows read per order, commit→write-back p50 %.0f ms", label, sr.rowsPerOrder, 1000*sr.p50)

		for _, v := range sc.pollVariant {
			if err := setIndexes(ctx, s, pollIndexes[v]); err != nil {
				return err
			}
			pr, err := pollBaseline(ctx, b, s, next())
			if err != nil {
				return err
			}
			logf("%s poller %s: %.0f rows examined per order (%d polls, %.0f ms per poll), detection p50 %.0f ms",
				label, v, pr.rowsPerOrder, pr.polls, 1000*pr.pollSec, 1000*pr.p50)
			b.add(row{Scenario: "polling", Metric: fmt.Sprintf("%s: rows examined/order vs %s poller", label, v),
				Shipsync: fmt.Sprintf("%.1f", sr.rowsPerOrder), Reference: fmt.Sprintf("%.0f", pr.rowsPerOrder),
				Ratio: ratio(sr.rowsPerOrder, pr.rowsPerOrder), Target: "~1 (enrichment by key)", Verdict: "info",
				Notes: []string{fmt.Sprintf("detection latency p50/p99: shipsync ≤ %.0f/%.0f ms (commit→write-back, carrier at 0 ms), "+
					"poller %.0f/%.0f ms (commit→poll result, every %s, %.1f ms per poll, %d polls, Handler_read_* of its session)",
					1000*sr.p50, 1000*sr.p99, 1000*pr.p50, 1000*pr.p99, sc.pollEvery, 1000*pr.pollSec, pr.polls)}})
		}
		b.report.Rows[len(b.report.Rows)-1].Notes = append(b.report.Rows[len(b.report.Rows)-1].Notes,
			fmt.Sprintf("shipsync at %s: %.1f rows read per order by user shipsync (userstat), all queries included: %s", label, sr.rowsPerOrder, sr.breakdown))
	}
	return setIndexes(ctx, s, pollIndexes["ecshop-index"])
}

type pollResult struct {
	rowsPerOrder float64
	p50, p99     float64
	polls        int
	pollSec      float64
	breakdown    string
}

// setIndexes makes the bench-managed secondary indexes of ecs_order_info exactly want.
func setIndexes(ctx context.Context, s *shop, want []string) error {
	have := map[string]bool{}
	rows, err := s.db.QueryContext(ctx, "SELECT DISTINCT index_name FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'ecs_order_info'")
	if err != nil {
		return err
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		have[n] = true
	}
	rows.Close()
	var alter []string
	for name, ddl := range indexDDL {
		switch in := slices.Contains(want, name); {
		case in && !have[name]:
			alter = append(alter, ddl)
		case !in && have[name]:
			alter = append(alter, "DROP KEY "+name)
		}
	}
	if len(alter) == 0 {
		return nil
	}
	_, err = s.db.ExecContext(ctx, "ALTER TABLE ecs_order_info "+strings.Join(alter, ", "))
	return err
}

// pollBaseline pays ids at the poll rate while a poller finds them with pollQuery every
// pollEvery and marks them shipped (invoice_no) as a poller's job would.
func pollBaseline(ctx context.Context, b *bench, s *shop, ids []int64) (pollResult, error) {
	pdb, err := openDB(b.mysqlAddr(), pollUser, mysqlPassword, s.name)
	if err != nil {
		return pollResult{}, err
	}
	defer pdb.Close()
	conn, err := pdb.Conn(ctx)
	if err != nil {
		return pollResult{}, err
	}
	defer conn.Close()
	// The cost of SHOW STATUS itself, subtracted from every reading.
	a, _ := handlerReads(ctx, conn)
	c, _ := handlerReads(ctx, conn)
	overhead := c - a

	var commits map[int64]time.Time
	var payErr error
	payDone := make(chan struct{})
	go func() {
		commits, payErr = s.payPaced(ctx, ids, float64(b.scale.pollRate), nil)
		close(payDone)
	}()
	detected := map[int64]time.Time{}
	want := map[int64]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var examined int64
	var polls int
	var pollTime time.Duration
	tick := time.NewTicker(b.scale.pollEvery)
	defer tick.Stop()
	for len(detected) < len(ids) {
		select {
		case <-ctx.Done():
			return pollResult{}, ctx.Err()
		case <-tick.C:
		}
		before, err := handlerReads(ctx, conn)
		if err != nil {
			return pollResult{}, err
		}
		t0 := time.Now()
		found, err := queryIDs(ctx, conn, pollQuery)
		if err != nil {
			return pollResult{}, err
		}
		now := time.Now()
		pollTime += now.Sub(t0)
		after, err := handlerReads(ctx, conn)
		if err != nil {
			return pollResult{}, err
		}
		examined += after - before - overhead
		polls++
		var mark []string
		for _, id := range found {
			if want[id] {
				if _, ok := detected[id]; !ok {
					detected[id] = now
				}
			}
			mark = append(mark, fmt.Sprint(id))
		}
		if len(mark) > 0 {
			if _, err := s.db.ExecContext(ctx, "UPDATE ecs_order_info SET invoice_no = CONCAT('POLL', order_id), shipping_status = 1 "+
				"WHERE order_id IN ("+strings.Join(mark, ",")+")"); err != nil {
				return pollResult{}, err
			}
		}
		select {
		case <-payDone:
			if payErr != nil {
				return pollResult{}, payErr
			}
		default:
		}
	}
	<-payDone
	var lat []float64
	for id, at := range detected {
		lat = append(lat, at.Sub(commits[id]).Seconds())
	}
	slices.Sort(lat)
	return pollResult{rowsPerOrder: float64(examined) / float64(len(detected)), p50: quantile(lat, .5), p99: quantile(lat, .99),
		polls: polls, pollSec: pollTime.Seconds() / float64(polls)}, nil
}

// handlerReads sums the session's Handler_read_* counters: rows (and index entries) the server
// read for this connection.
func handlerReads(ctx context.Context, conn *sql.Conn) (int64, error) {
	rows, err := conn.QueryContext(ctx, "SHOW SESSION STATUS LIKE 'Handler_read%'")
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var total int64
	for rows.Next() {
		var name string
		var v int64
		if err := rows.Scan(&name, &v); err != nil {
			return 0, err
		}
		total += v
	}
	return total, rows.Err()
}

func queryIDs(ctx context.Context, conn *sql.Conn, q string) ([]int64, error) {
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// pollShipsync runs shipsync while the shop pays ids at the poll rate, and counts what user
// shipsync read on the shop (information_schema.USER_STATISTICS), per order.
func pollShipsync(ctx context.Context, b *bench, s *shop, carrierURL string, size int, ids []int64) (pollResult, error) {
	prefix := fmt.Sprintf("bench-poll-%d:", size)
	conf, listen, err := b.daemonConfig(s.name, prefix, carrierURL)
	if err != nil {
		return pollResult{}, err
	}
	d, err := b.startDaemon(conf, listen, "")
	if err != nil {
		return pollResult{}, err
	}
	defer d.stop()
	// The first start runs the backfill query; it is done once the checkpoint exists.
	if err := b.waitCheckpoint(ctx, d, prefix, time.Minute); err != nil {
		return pollResult{}, err
	}
	m, err := scrape(d.metrics)
	if err != nil {
		return pollResult{}, err
	}
	base := written(m)
	u0, t0, err := readStats(ctx, s.db)
	if err != nil {
		return pollResult{}, err
	}
	commits, err := s.payPaced(ctx, ids, float64(b.scale.pollRate), nil)
	if err != nil {
		return pollResult{}, err
	}
	if _, err := waitWritten(ctx, d, base+float64(len(ids)), 50*time.Millisecond, 5*time.Minute); err != nil {
		return pollResult{}, err
	}
	u1, t1, err := readStats(ctx, s.db)
	if err != nil {
		return pollResult{}, err
	}
	lat, _, err := s.latencies(ctx, commits)
	if err != nil {
		return pollResult{}, err
	}
	n := float64(len(ids))
	var parts []string
	for _, t := range []string{"ecs_order_info", "ecs_order_goods", "ecs_goods", "ecs_region", "ecs_order_action"} {
		d := float64(t1[t] - t0[t])
		if t == "ecs_order_info" {
			d -= n // the shop's own UPDATE by key reads one row per order
		}
		parts = append(parts, fmt.Sprintf("%s %.1f", t, d/n))
	}
	return pollResult{rowsPerOrder: float64(u1-u0) / n, p50: quantile(lat, .5), p99: quantile(lat, .99),
		breakdown: "per table (TABLE_STATISTICS minus the shop's own reads): " + strings.Join(parts, ", ")}, nil
}

// readStats reads ROWS_READ of user shipsync and per table of the shop's schema.
func readStats(ctx context.Context, db *sql.DB) (int64, map[string]int64, error) {
	var user int64
	if err := db.QueryRowContext(ctx, "SELECT COALESCE(SUM(ROWS_READ), 0) FROM information_schema.USER_STATISTICS WHERE USER = ?",
		mysqlUser).Scan(&user); err != nil {
		return 0, nil, err
	}
	rows, err := db.QueryContext(ctx, "SELECT TABLE_NAME, ROWS_READ FROM information_schema.TABLE_STATISTICS WHERE TABLE_SCHEMA = DATABASE()")
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	tables := map[string]int64{}
	for rows.Next() {
		var t string
		var n int64
		if err := rows.Scan(&t, &n); err != nil {
			return 0, nil, err
		}
		tables[t] = n
	}
	return user, tables, rows.Err()
}
