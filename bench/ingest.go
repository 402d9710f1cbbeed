package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/shipsync/shipsync/sync/state"
)

// Per generated round of ingestRound row events: 10 % paid transitions (25 single-row
// transactions, 75 in a multi-row, multi-table transaction), 40 % other changes of the watched
// ecs_order_info (insert-free updates that leave orders unpaid, toggle 0↔1 "paying", or touch
// orders already paid), 50 % rows of unwatched tables (ecs_order_action, ecs_order_goods).
const (
	ingestRound       = 1000
	ingestPaidPerRnd  = 100
	ingestWatchPerRnd = 500 // paid included
)

// runIngest is scenario 1: binlog decoding + paid detection (shipsync --dry-run) against go-mysql
// canal with an empty handler, on the same binlog range, both decoding ecs_order_info only.
func runIngest(ctx context.Context, b *bench) error {
	rounds := max(1, b.scale.ingestRows/ingestRound)
	s, err := b.newShop(ctx, "bench_ingest")
	if err != nil {
		return err
	}
	defer s.close()
	payFirst, _, err := s.clone(ctx, rounds*ingestPaidPerRnd, true)
	if err != nil {
		return err
	}
	from, err := b.masterPos(ctx)
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := generateIngest(ctx, s, rounds, payFirst); err != nil {
		return err
	}
	to, err := b.masterPos(ctx)
	if err != nil {
		return err
	}
	genDur := time.Since(t0)
	wantPaid := float64(rounds * ingestPaidPerRnd)
	wantWatched := float64(rounds * ingestWatchPerRnd)
	logf("generated %d row events (%d paid) in %s: binlog %s:%d → %s:%d", rounds*ingestRound, rounds*ingestPaidPerRnd,
		genDur.Round(time.Millisecond), from.File, from.Pos, to.File, to.Pos)

	var ss, cs []ingestRun
	for i := range b.scale.ingestRuns {
		c, err := b.canalRun(ctx, s.name, from, to)
		if err != nil {
			return err
		}
		cs = append(cs, c)
		r, err := b.dryRun(ctx, s.name, i, from, wantPaid, wantWatched)
		if err != nil {
			return err
		}
		ss = append(ss, r)
		logf("run %d: canal stream %.3f s (startup %.3f s), shipsync stream %.3f s (startup %.3f s)",
			i+1, c.stream, c.startup, r.stream, r.startup)
	}
	all := float64(rounds * ingestRound)
	sm, cm := median(ss), median(cs)
	sRate, cRate := all/sm.stream, all/cm.stream
	notes := []string{
		fmt.Sprintf("binlog of %d row events in %d transactions-rounds (%.0f paid transitions = 10 %%, %.0f other ecs_order_info rows, "+
			"%.0f rows of ecs_order_action/ecs_order_goods), generated in %s",
			rounds*ingestRound, rounds, wantPaid, wantWatched-wantPaid, all-wantWatched, genDur.Round(time.Second)),
		"both sides decode the rows of ecs_order_info only (canal: IncludeTableRegex; shipsync: its RowsEventDecodeFunc); " +
			"canal's handler is empty except a row counter; shipsync runs --dry-run (decode + paid detection + counters, no claim/carrier/write-back)",
		fmt.Sprintf("rate = all row events in the range / time from the first decoded row to the end position; median of %d runs each, "+
			"alternating. canal: %s; shipsync: %s", len(ss), fmtRuns(cs), fmtRuns(ss)),
		fmt.Sprintf("startup (process start to first row; shipsync measured by polling /metrics every 25 ms): canal %.3f s, shipsync %.3f s; "+
			"including startup: canal %.0f/s, shipsync %.0f/s (ratio %s)", cm.startup, sm.startup,
			all/(cm.startup+cm.stream), all/(sm.startup+sm.stream), ratio(all/(sm.startup+sm.stream), all/(cm.startup+cm.stream))),
	}
	if top := ss[0].profile; top != "" {
		notes = append(notes, "CPU profile of shipsync's first dry run: "+top)
	}
	b.add(row{Scenario: "ingest", Metric: "row events/s (decode + detect)", Shipsync: fmt.Sprintf("%.0f", sRate),
		Reference: fmt.Sprintf("%.0f (canal)", cRate), Ratio: ratio(sRate, cRate), Target: "≥ 0.9",
		Verdict: verdict(sRate >= 0.9*cRate), Notes: notes})
	// CPU time is the steadier figure on a shared machine: wall time also measures who else ran.
	sCPU, cCPU := meanCPU(ss), meanCPU(cs)
	b.add(row{Scenario: "ingest", Metric: "row events per CPU second", Shipsync: fmt.Sprintf("%.0f", all/sCPU),
		Reference: fmt.Sprintf("%.0f (canal)", all/cCPU), Ratio: ratio(cCPU, sCPU), Target: "≥ 0.9",
		Verdict: verdict(cCPU >= 0.9*sCPU), Notes: []string{fmt.Sprintf("user+sys CPU of the whole process, mean of %d runs: "+
			"canal %.2f s, shipsync %.2f s (startup included on both sides)", len(ss), cCPU, sCPU)}})
	return nil
}

// generateIngest writes the ingest binlog: rounds of ingestRound row events, see the constants.
func generateIngest(ctx context.Context, s *shop, rounds int, payFirst int64) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	exec := func(q string, args ...any) error {
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
		return nil
	}
	noise := s.tmpl // template orders stay unpaid: the noise pool
	noiseN := noise[1] - noise[0] + 1
	for r := range rounds {
		p := payFirst + int64(r*ingestPaidPerRnd)
		// 75 paid in one transaction together with 75 order_action rows (multi-row, multi-table).
		if err := exec("BEGIN"); err != nil {
			return err
		}
		if err := exec("UPDATE ecs_order_info SET pay_status = 2, pay_time = UNIX_TIMESTAMP(), order_status = 1 "+
			"WHERE order_id BETWEEN ? AND ?", p, p+74); err != nil {
			return err
		}
		if err := exec("INSERT INTO ecs_order_action (order_id, action_user, order_status, shipping_status, pay_status, action_note, log_time) "+
			"SELECT order_id, 'buyer', order_status, shipping_status, pay_status, 'paid', pay_time FROM ecs_order_info "+
			"WHERE order_id BETWEEN ? AND ?", p, p+74); err != nil {
			return err
		}
		if err := exec("COMMIT"); err != nil {
			return err
		}
		// 25 paid, one autocommitted UPDATE each.
		for id := p + 75; id < p+100; id++ {
			if err := exec(payStmt, id); err != nil {
				return err
			}
		}
		// Noise on the watched table: 200 rows edited, 100 toggled 0↔1 (paying, not paid),
		// 100 already-paid rows touched again (2 → 2 is no transition).
		n := noise[0] + int64(r*300)%(noiseN-300)
		if err := exec("UPDATE ecs_order_info SET postscript = ? WHERE order_id BETWEEN ? AND ?",
			"round "+strconv.Itoa(r), n, n+199); err != nil {
			return err
		}
		if err := exec("UPDATE ecs_order_info SET pay_status = 1 - pay_status WHERE order_id BETWEEN ? AND ?", n+200, n+299); err != nil {
			return err
		}
		if err := exec("UPDATE ecs_order_info SET pay_time = pay_time + 1 WHERE order_id BETWEEN ? AND ?", p, p+99); err != nil {
			return err
		}
		// Noise on unwatched tables: 200 order_action rows and 225 order_goods rows.
		if err := exec("INSERT INTO ecs_order_action (order_id, action_user, action_note, log_time) "+
			"SELECT order_id, 'admin', 'note', add_time FROM ecs_order_info WHERE order_id BETWEEN ? AND ?", n, n+199); err != nil {
			return err
		}
		// A primary-key range of the seeded items: an INSERT ... SELECT from its own table goes
		// through a temporary table, which must stay 225 rows, not the whole growing table.
		g := 1 + int64(r*225)%10_000
		if err := exec("INSERT INTO ecs_order_goods (order_id, goods_id, goods_name, goods_sn, goods_number, goods_price) "+
			"SELECT order_id, goods_id, goods_name, goods_sn, goods_number, goods_price FROM ecs_order_goods "+
			"WHERE rec_id BETWEEN ? AND ?", g, g+224); err != nil {
			return err
		}
	}
	return nil
}

type ingestRun struct {
	startup, stream, cpu float64
	profile              string
}

func median(runs []ingestRun) ingestRun {
	s := slices.Clone(runs)
	slices.SortFunc(s, func(a, b ingestRun) int {
		switch {
		case a.stream < b.stream:
			return -1
		case a.stream > b.stream:
			return 1
		}
		return 0
	})
	return s[len(s)/2]
}

func meanCPU(runs []ingestRun) float64 {
	var t float64
	for _, r := range runs {
		t += r.cpu
	}
	return t / float64(len(runs))
}

func fmtRuns(runs []ingestRun) string {
	var out string
	for i, r := range runs {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%.3f s", r.stream)
	}
	return out
}

// canalRun runs the canal reference from one position to the other.
func (b *bench) canalRun(ctx context.Context, schema string, from, to binlogPos) (ingestRun, error) {
	cmd := exec.CommandContext(ctx, b.canalref, "-addr", b.mysqlAddr(), "-user", mysqlUser, "-schema", schema,
		"-table", "ecs_order_info", "-file", from.File, "-pos", strconv.FormatUint(uint64(from.Pos), 10),
		"-end-file", to.File, "-end-pos", strconv.FormatUint(uint64(to.Pos), 10),
		"-server-id", strconv.Itoa(7000+int(time.Now().UnixNano()%1000)))
	cmd.Env = append(os.Environ(), "CANALREF_PASSWORD="+mysqlPassword)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return ingestRun{}, fmt.Errorf("canal reference: %w", err)
	}
	var res struct {
		Rows       map[string]int64 `json:"rows"`
		StartupSec float64          `json:"startup_sec"`
		StreamSec  float64          `json:"stream_sec"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return ingestRun{}, fmt.Errorf("canal reference output %q: %w", out, err)
	}
	st := cmd.ProcessState
	return ingestRun{startup: res.StartupSec, stream: res.StreamSec, cpu: (st.UserTime() + st.SystemTime()).Seconds()}, nil
}

// dryRun runs shipsync --dry-run from a checkpoint at from until it has detected wantPaid orders
// and counted wantWatched row images.
func (b *bench) dryRun(ctx context.Context, db string, i int, from binlogPos, wantPaid, wantWatched float64) (ingestRun, error) {
	prefix := fmt.Sprintf("bench-ingest-%d:", i)
	if err := state.New(b.rdb, prefix).SaveCheckpoint(ctx, state.Checkpoint{File: from.File, Pos: from.Pos}); err != nil {
		return ingestRun{}, err
	}
	conf, listen, err := b.daemonConfig(db, prefix, "http://127.0.0.1:9")
	if err != nil {
		return ingestRun{}, err
	}
	prof := ""
	if i == 0 {
		prof = filepath.Join(b.profDir, "ingest.cpu.pprof")
	}
	d, err := b.startDaemon(conf, listen, prof, "--dry-run")
	if err != nil {
		return ingestRun{}, err
	}
	defer d.stop()
	t0, _ := cpuTicks(d.pid())
	var first time.Time
	deadline := time.Now().Add(10 * time.Minute)
	for {
		m, err := scrape(d.metrics)
		now := time.Now()
		if err == nil {
			rows := sum(m, "shipsync_binlog_row_events_total")
			if rows > 0 && first.IsZero() {
				first = now
			}
			if sum(m, "shipsync_paid_detected_total") >= wantPaid && rows >= wantWatched {
				t1, _ := cpuTicks(d.pid())
				r := ingestRun{startup: first.Sub(d.started).Seconds(), stream: now.Sub(first).Seconds(), cpu: float64(t1-t0) / 100}
				r.profile = d.stopCPU(b, "ingest")
				return r, nil
			}
		}
		select {
		case <-d.done:
			return ingestRun{}, fmt.Errorf("shipsync --dry-run exited: %v\n%s", d.err, d.tail(30))
		case <-ctx.Done():
			return ingestRun{}, ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
		if now.After(deadline) {
			return ingestRun{}, fmt.Errorf("shipsync --dry-run: not done after 10 minutes")
		}
	}
}
