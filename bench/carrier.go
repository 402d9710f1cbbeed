package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"
)

// backlogRun pays ids while shipsync is stopped (after it saved a checkpoint) and times the
// drain from daemon start to the last write-back. extra rewrites the config.
func backlogRun(ctx context.Context, b *bench, s *shop, carrierURL, prefix, profile string, ids []int64,
	extra ...[2]string) (time.Duration, string, error) {
	conf, listen, err := b.daemonConfig(s.name, prefix, carrierURL, extra...)
	if err != nil {
		return 0, "", err
	}
	d, err := b.startDaemon(conf, listen, "")
	if err != nil {
		return 0, "", err
	}
	if err := b.waitCheckpoint(ctx, d, prefix, 30*time.Second); err != nil {
		d.stop()
		return 0, "", err
	}
	if err := d.stop(); err != nil {
		return 0, "", err
	}
	if _, err := s.payAll(ctx, ids); err != nil {
		return 0, "", err
	}
	prof := ""
	if profile != "" {
		prof = filepath.Join(b.profDir, profile+".cpu.pprof")
	}
	d, err = b.startDaemon(conf, listen, prof)
	if err != nil {
		return 0, "", err
	}
	defer d.stop()
	cpu := b.meterCPU(map[string]int{"shipsync": d.pid()})
	end, err := waitWritten(ctx, d, float64(len(ids)), 50*time.Millisecond, 10*time.Minute)
	if err != nil {
		return 0, "", err
	}
	note := cpu.String() + "; " + cpu.perOrder(len(ids))
	if top := d.stopCPU(b, profile); top != "" {
		note += "; CPU profile: " + top
	}
	return end.Sub(d.started), note, nil
}

// runSlowCarrier is scenario 4: the carrier answers after 200 ms; throughput with the default
// max_in_flight (auto: the bound sizes itself) and with the old fixed default, 64.
func runSlowCarrier(ctx context.Context, b *bench) error {
	n := b.scale.slowOrders
	s, ids, sim, carrierURL, err := b.shopAndCarrier(ctx, "bench_slow", 2*n, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer s.close()
	defer sim.stop()
	var rates [2]float64
	var notes []string
	for i, inFlight := range []string{"auto", "64"} {
		var extra [][2]string
		if inFlight != "auto" {
			extra = append(extra, [2]string{"max_in_flight: auto", "max_in_flight: " + inFlight})
		}
		dur, note, err := backlogRun(ctx, b, s, carrierURL, fmt.Sprintf("bench-slow-%s:", inFlight),
			"slow-"+inFlight, ids[i*n:(i+1)*n], extra...)
		if err != nil {
			return err
		}
		rates[i] = float64(n) / dur.Seconds()
		logf("max_in_flight %s: %d orders in %s: %.0f orders/s", inFlight, n, dur.Round(time.Millisecond), rates[i])
		notes = append(notes, fmt.Sprintf("max_in_flight %s: %d orders drained in %s (daemon start to last write-back); %s",
			inFlight, n, dur.Round(time.Millisecond), note))
	}
	b.add(row{Scenario: "slow", Metric: "carrier 200 ms, default max_in_flight auto, orders/s", Shipsync: fmt.Sprintf("%.0f", rates[0]),
		Target: "≥ 1000", Verdict: verdict(rates[0] >= 1000), Notes: notes[:1:1]})
	b.add(row{Scenario: "slow", Metric: "carrier 200 ms, max_in_flight 64 (fixed), orders/s",
		Shipsync: fmt.Sprintf("%.0f", rates[1]), Target: "info", Verdict: "info", Notes: notes[1:]})
	return nil
}

// runLatency is scenario 3: the shop pays at a steady rate while shipsync runs, carrier at 50 ms;
// commit → write-back percentiles, measured outside shipsync and from its histogram. With
// latencyLow set it runs a second time at that lower rate, which tells the latency of one order
// from the queueing of a saturated daemon.
func runLatency(ctx context.Context, b *bench) error {
	rates := []int{b.scale.latencyRate}
	if b.scale.latencyLow > 0 {
		rates = append(rates, b.scale.latencyLow)
	}
	for i, rate := range rates {
		if err := latencyAt(ctx, b, rate, i == 0); err != nil {
			return err
		}
	}
	return nil
}

func latencyAt(ctx context.Context, b *bench, rate int, target bool) error {
	n := int(float64(rate) * b.scale.latencyFor.Seconds())
	s, ids, sim, carrierURL, err := b.shopAndCarrier(ctx, fmt.Sprintf("bench_latency_%d", rate), n, 50*time.Millisecond)
	if err != nil {
		return err
	}
	defer s.close()
	defer sim.stop()
	if err := s.wbTrigger(ctx); err != nil {
		return err
	}
	prefix := fmt.Sprintf("bench-latency-%d:", rate)
	conf, listen, err := b.daemonConfig(s.name, prefix, carrierURL)
	if err != nil {
		return err
	}
	label := fmt.Sprintf("latency-%d", rate)
	d, err := b.startDaemon(conf, listen, filepath.Join(b.profDir, label+".cpu.pprof"))
	if err != nil {
		return err
	}
	defer d.stop()
	if err := b.waitCheckpoint(ctx, d, prefix, 30*time.Second); err != nil {
		return err
	}
	cpu := b.meterCPU(map[string]int{"shipsync": d.pid(), "sim-carrier": sim.pid()})
	t0 := time.Now()
	commits, err := s.payPaced(ctx, ids, float64(rate), nil)
	if err != nil {
		return err
	}
	payDur := time.Since(t0)
	if _, err := waitWritten(ctx, d, float64(n), 50*time.Millisecond, 5*time.Minute); err != nil {
		return err
	}
	cpuText := cpu.String()
	top := d.stopCPU(b, label)
	m, err := scrape(d.metrics)
	if err != nil {
		return err
	}
	lat, missing, err := s.latencies(ctx, commits)
	if err != nil {
		return err
	}
	p50, p90, p99 := quantile(lat, .5), quantile(lat, .9), quantile(lat, .99)
	h50, h90, h99 := histQuantile(m, "shipsync_end_to_end_seconds", .5), histQuantile(m, "shipsync_end_to_end_seconds", .9),
		histQuantile(m, "shipsync_end_to_end_seconds", .99)
	c50, c99 := histQuantile(m, "shipsync_carrier_request_duration_seconds", .5), histQuantile(m, "shipsync_carrier_request_duration_seconds", .99)
	logf("%d orders at %.0f/s: commit→write-back p50 %.1f ms p90 %.1f ms p99 %.1f ms (histogram %.0f/%.0f/%.0f ms)",
		n, float64(n)/payDur.Seconds(), 1000*p50, 1000*p90, 1000*p99, 1000*h50, 1000*h90, 1000*h99)
	notes := []string{
		fmt.Sprintf("%d orders paid one commit each at %.0f/s for %s (target rate %d/s), carrier simulator at 50 ms; "+
			"client commit time → the shop's trigger time of the invoice_no update: p50 %.1f / p90 %.1f / p99 %.1f / max %.1f ms; %d without write-back",
			n, float64(n)/payDur.Seconds(), payDur.Round(time.Second), rate, 1000*p50, 1000*p90, 1000*p99, 1000*quantile(lat, 1), missing),
		fmt.Sprintf("shipsync_end_to_end_seconds (histogram_quantile, bucket-interpolated) p50 %.0f / p90 %.0f / p99 %.0f ms: it starts "+
			"when the event arrived, or at the binlog header's whole-second time once shipsync is more than a second behind (then up to "+
			"1 s high); carrier request p50 %.0f / p99 %.0f ms", 1000*h50, 1000*h90, 1000*h99, 1000*c50, 1000*c99),
		cpuText,
	}
	if top != "" {
		notes = append(notes, "CPU profile: "+top)
	}
	r := row{Scenario: "latency", Metric: fmt.Sprintf("%d/s: commit→write-back p99 (p50, p90)", rate),
		Shipsync: fmt.Sprintf("%.0f ms (%.0f, %.0f)", 1000*p99, 1000*p50, 1000*p90), Reference: "carrier 50 ms",
		Target: "≤ 100 ms", Verdict: verdict(p99 <= 0.1), Notes: notes}
	if !target {
		r.Target, r.Verdict = "(below the target rate)", "info"
	}
	b.add(r)
	return nil
}

// runMemory is scenario 5: RSS of shipsync while the shop pays for memoryFor at memoryRate
// (transactions of 100 orders), carrier at 0 ms; peak and final.
func runMemory(ctx context.Context, b *bench) error {
	sc := b.scale
	n := int(float64(sc.memoryRate)*sc.memoryFor.Seconds()) / 100 * 100
	s, ids, sim, carrierURL, err := b.shopAndCarrier(ctx, "bench_memory", n, 0)
	if err != nil {
		return err
	}
	defer s.close()
	defer sim.stop()
	const prefix = "bench-memory:"
	conf, listen, err := b.daemonConfig(s.name, prefix, carrierURL)
	if err != nil {
		return err
	}
	d, err := b.startDaemon(conf, listen, "")
	if err != nil {
		return err
	}
	defer d.stop()
	if err := b.waitCheckpoint(ctx, d, prefix, 30*time.Second); err != nil {
		return err
	}
	startRSS, _ := rssKB(d.pid())

	// RSS sampled every 500 ms: peak, and its value per tenth of the run to show the trend.
	var mu sync.Mutex
	var samples []int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
			r, _ := rssKB(d.pid())
			mu.Lock()
			samples = append(samples, r)
			mu.Unlock()
		}
	}()
	t0 := time.Now()
	every := time.Duration(float64(time.Second) * 100 / float64(sc.memoryRate))
	for i := 0; i < n; i += 100 {
		if w := time.Until(t0.Add(time.Duration(i/100) * every)); w > 0 {
			time.Sleep(w)
		}
		if _, err := s.db.ExecContext(ctx, "UPDATE ecs_order_info SET pay_status = 2, pay_time = UNIX_TIMESTAMP(), order_status = 1 "+
			"WHERE order_id BETWEEN ? AND ?", ids[i], ids[i+99]); err != nil {
			close(stop)
			return err
		}
	}
	payDur := time.Since(t0)
	_, err = waitWritten(ctx, d, float64(n), 100*time.Millisecond, 10*time.Minute)
	total := time.Since(t0)
	close(stop)
	wg.Wait()
	if err != nil {
		return err
	}
	finalRSS, peak := rssKB(d.pid())
	heap := d.heapProfile(b, "memory")
	var trend []string
	for i := 0; i < 10 && len(samples) > 0; i++ {
		trend = append(trend, fmt.Sprintf("%.0f", float64(samples[i*len(samples)/10])/1024))
	}
	logf("%d orders in %s: RSS start %.0f MB, peak %.0f MB, final %.0f MB", n, total.Round(time.Second),
		float64(startRSS)/1024, float64(peak)/1024, float64(finalRSS)/1024)
	budget := " (not 1M: what fits make bench's time; -memory-orders 1000000 runs the million)"
	if n >= 1_000_000 {
		budget = ""
	}
	notes := []string{
		fmt.Sprintf("%d orders%s, paid in transactions of 100 at %.0f/s over %s, "+
			"all written back %s after the first payment; carrier at 0 ms", n, budget, float64(n)/payDur.Seconds(), payDur.Round(time.Second), total.Round(time.Second)),
		fmt.Sprintf("VmRSS at start %.0f MB, VmHWM (peak) %.0f MB, VmRSS at the end %.0f MB; RSS (MB) by tenth of the run: %s",
			float64(startRSS)/1024, float64(peak)/1024, float64(finalRSS)/1024, fmt.Sprint(trend)),
	}
	if heap != "" {
		notes = append(notes, "heap profile (inuse_space) at the end: "+heap)
	}
	b.add(row{Scenario: "memory", Metric: "peak RSS (final)", Shipsync: fmt.Sprintf("%.0f MB (%.0f MB)", float64(peak)/1024, float64(finalRSS)/1024),
		Target: "flat, ≤ 150 MB", Verdict: verdict(peak <= 150*1024), Notes: notes})
	return nil
}
