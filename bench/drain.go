package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// runDrain is scenario 2: a backlog paid while shipsync was stopped, drained with the carrier
// simulator at 0 ms and write-back on; then the same number of orders paid while it runs.
func runDrain(ctx context.Context, b *bench) error {
	n := b.scale.drainOrders
	s, ids, sim, carrierURL, err := b.shopAndCarrier(ctx, "bench_drain", 2*n, 0) // n for the backlog, n for the live run
	if err != nil {
		return err
	}
	defer s.close()
	defer sim.stop()
	const prefix = "bench-drain:"
	conf, listen, err := b.daemonConfig(s.name, prefix, carrierURL)
	if err != nil {
		return err
	}

	// First start: no checkpoint, so shipsync starts at the current position (with an empty
	// backfill) and saves one; then it is stopped, as after an outage.
	d, err := b.startDaemon(conf, listen, "")
	if err != nil {
		return err
	}
	if err := b.waitCheckpoint(ctx, d, prefix, 30*time.Second); err != nil {
		d.stop()
		return err
	}
	if err := d.stop(); err != nil {
		return fmt.Errorf("shipsync stop: %w", err)
	}

	shopRate, err := s.payAll(ctx, ids[:n])
	if err != nil {
		return err
	}
	logf("shop paid %d orders, one commit each, at %.0f commits/s", n, shopRate)

	before, err := s.serverCounters(ctx)
	if err != nil {
		return err
	}
	d, err = b.startDaemon(conf, listen, filepath.Join(b.profDir, "drain.cpu.pprof"))
	if err != nil {
		return err
	}
	defer d.stop()
	cpu := b.meterCPU(map[string]int{"shipsync": d.pid(), "sim-carrier": sim.pid()})
	end, err := waitWritten(ctx, d, float64(n), 50*time.Millisecond, 10*time.Minute)
	if err != nil {
		return err
	}
	dur := end.Sub(d.started)
	after, err := s.serverCounters(ctx)
	if err != nil {
		return err
	}
	cpuText := cpu.String() + "; " + cpu.perOrder(n) + "; " + perOrderCounters(before, after, n)
	_, peakKB := rssKB(d.pid())
	top := d.stopCPU(b, "drain")
	got, err := s.countWritten(ctx, ids[0], ids[n-1])
	if err != nil {
		return err
	}
	rate := float64(n) / dur.Seconds()
	logf("drained %d orders in %s: %.0f orders/s; %s", n, dur.Round(time.Millisecond), rate, cpuText)
	notes := []string{
		fmt.Sprintf("%d orders paid while shipsync was stopped (one connection, one autocommit each, %.0f commits/s); "+
			"drain timed from daemon start to the last write-back (metrics polled every 50 ms): %s", n, shopRate, dur.Round(time.Millisecond)),
		fmt.Sprintf("%d of %d orders carry an invoice_no afterwards; shipsync peak RSS during the drain %.0f MB", got, n, float64(peakKB)/1024),
		cpuText,
	}
	if top != "" {
		notes = append(notes, "CPU profile of shipsync during the drain: "+top)
	}
	b.add(row{Scenario: "drain", Metric: "backlog drain, orders/s", Shipsync: fmt.Sprintf("%.0f", rate),
		Target: "≥ 5000", Verdict: verdict(rate >= 5000), Notes: notes})
	b.add(row{Scenario: "drain", Metric: "drain ÷ shop commit rate", Shipsync: fmt.Sprintf("%.0f/s", rate),
		Reference: fmt.Sprintf("%.0f/s", shopRate), Ratio: ratio(rate, shopRate), Target: "≥ 0.5",
		Verdict: verdict(rate >= 0.5*shopRate)})

	return liveRun(ctx, b, s, d, ids[n:])
}

// liveRun pays ids as fast as one shop connection goes while shipsync runs, and reports the
// largest backlog and commit → write-back lag.
func liveRun(ctx context.Context, b *bench, s *shop, d *daemon, ids []int64) error {
	if err := s.wbTrigger(ctx); err != nil {
		return err
	}
	m, err := scrape(d.metrics)
	if err != nil {
		return err
	}
	base := written(m)
	var committed atomic.Int64
	var maxBacklog, maxLagGauge float64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			c := float64(committed.Load())
			m, err := scrape(d.metrics)
			if err != nil {
				continue
			}
			maxBacklog = max(maxBacklog, c-(written(m)-base))
			maxLagGauge = max(maxLagGauge, sum(m, "shipsync_binlog_lag_seconds"))
		}
	}()
	t0 := time.Now()
	commits, err := s.payPaced(ctx, ids, 0, func(i int) { committed.Store(int64(i)) })
	payDur := time.Since(t0)
	if err != nil {
		close(stop)
		return err
	}
	_, err = waitWritten(ctx, d, base+float64(len(ids)), 50*time.Millisecond, 10*time.Minute)
	close(stop)
	wg.Wait()
	if err != nil {
		return err
	}
	lat, missing, err := s.latencies(ctx, commits)
	if err != nil {
		return err
	}
	shopRate := float64(len(ids)) / payDur.Seconds()
	logf("live: shop paid %d orders at %.0f commits/s; max lag %.3f s, max backlog %.0f orders", len(ids), shopRate,
		quantile(lat, 1), maxBacklog)
	b.add(row{Scenario: "drain", Metric: "live: max commit→write-back", Shipsync: fmt.Sprintf("%.0f ms", 1000*quantile(lat, 1)),
		Notes: []string{fmt.Sprintf("%d orders paid while shipsync ran, one connection at full speed (%.0f commits/s); "+
			"commit→write-back p50 %.1f ms, p99 %.1f ms, max %.1f ms (client commit time to the shop's own trigger time of the "+
			"invoice_no update); largest backlog seen %.0f orders; max shipsync_binlog_lag_seconds %.0f; %d without write-back",
			len(ids), shopRate, 1000*quantile(lat, .5), 1000*quantile(lat, .99), 1000*quantile(lat, 1), maxBacklog, maxLagGauge, missing)}})
	return nil
}
