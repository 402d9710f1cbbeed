package pipeline

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shipsync/shipsync/sources/binlog"
	"github.com/shipsync/shipsync/sync/metrics"
	"github.com/shipsync/shipsync/sync/parcel"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/sync/statuspage"
)

// observer keeps what metrics, readiness and the status page read: when the binlog was last
// heard from, whether each dependency is up, and what the next history sample adds (orders
// written back, carrier creates, the latest orders; sync/state keeps the history).
type observer struct {
	m *metrics.Metrics

	lastEvent  atomic.Int64 // unix nanos of the newest binlog event time, or of the last heartbeat
	lastMove   atomic.Int64 // unix nanos when the checkpoint last moved
	streamUp   atomic.Bool
	pingSince  atomic.Int64 // unix nanos when the outstanding shop ping started; 0: none
	redisUp    atomic.Bool
	shopUp     atomic.Bool
	checkpoint atomic.Pointer[string]

	mu sync.Mutex
	// latest are this process's latest orders with their receivers (which Redis never holds),
	// newest last, at most state.LatestMax.
	latest []statuspage.OrderRow
	// What the next history sample adds (take returns and resets them): the orders written
	// back, their keys (oldest first, at most state.LatestMax) and the carriers' creates.
	shipped int64
	fresh   []string
	calls   map[string]*state.CarrierSample
}

func newObserver(m *metrics.Metrics) *observer {
	o := &observer{m: m, calls: map[string]*state.CarrierSample{}}
	o.lastMove.Store(time.Now().UnixNano())
	return o
}

// Heard records a binlog event's time; a heartbeat means "caught up" and counts as now.
func (o *observer) Heard(t time.Time) {
	if t.IsZero() {
		return
	}
	o.lastEvent.Store(t.UnixNano())
}

func (o *observer) lag() float64 {
	last := o.lastEvent.Load()
	if last == 0 {
		return 0
	}
	return max(time.Since(time.Unix(0, last)).Seconds(), 0)
}

// StreamUp records whether the binlog stream is connected.
func (o *observer) StreamUp(up bool) { o.streamUp.Store(up) }

// Saved records a checkpoint written.
func (o *observer) Saved(pos binlog.Position) {
	o.lastMove.Store(time.Now().UnixNano())
	cp := pos.String()
	o.checkpoint.Store(&cp)
}

// carrierCall records one create's outcome and duration.
func (o *observer) carrierCall(carrier, op, outcome string, d time.Duration) {
	o.m.CarrierRequests.WithLabelValues(carrier, op, outcome).Inc()
	o.m.CarrierDuration.WithLabelValues(carrier, op).Observe(d.Seconds())
	if op != "create" {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	ok := outcome == "success" || outcome == "repeat"
	x := o.calls[carrier]
	if x == nil {
		x = &state.CarrierSample{Buckets: make([]int64, len(state.LatencyBuckets)+1)}
		o.calls[carrier] = x
	}
	x.Requests++
	if ok {
		x.OK++
	}
	x.Buckets[bucketOf(d.Seconds())]++
}

// bucketOf is the index of the history's latency bucket that holds sec.
func bucketOf(sec float64) int {
	i, _ := slices.BinarySearch(state.LatencyBuckets, sec)
	return i
}

// take returns what the next history sample adds and starts counting again.
func (o *observer) take() (shipped int64, fresh []string, calls map[string]state.CarrierSample) {
	o.mu.Lock()
	defer o.mu.Unlock()
	shipped, fresh, calls = o.shipped, o.fresh, o.unsampled()
	o.shipped, o.fresh = 0, nil
	clear(o.calls)
	return shipped, fresh, calls
}

// giveBack returns what take took to the next sample (its sample was not recorded).
func (o *observer) giveBack(shipped int64, fresh []string, calls map[string]state.CarrierSample) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.shipped += shipped
	o.fresh = append(fresh, o.fresh...)
	if len(o.fresh) > state.LatestMax {
		o.fresh = slices.Delete(o.fresh, 0, len(o.fresh)-state.LatestMax)
	}
	for name, c := range calls {
		x := o.calls[name]
		if x == nil {
			x = &state.CarrierSample{Buckets: make([]int64, len(state.LatencyBuckets)+1)}
			o.calls[name] = x
		}
		x.Requests += c.Requests
		x.OK += c.OK
		for i, b := range c.Buckets {
			x.Buckets[i] += b
		}
	}
}

// unsampled copies the creates counted since the last sample. The caller holds mu.
func (o *observer) unsampled() map[string]state.CarrierSample {
	calls := make(map[string]state.CarrierSample, len(o.calls))
	for name, x := range o.calls {
		c := *x
		c.Buckets = slices.Clone(x.Buckets)
		calls[name] = c
	}
	return calls
}

// remember counts an order written back for the next history sample and keeps it (with its
// receiver) for the page's latest orders.
func (o *observer) remember(row statuspage.OrderRow) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.shipped++
	o.fresh = append(o.fresh, row.Key)
	if len(o.fresh) > state.LatestMax {
		o.fresh = slices.Delete(o.fresh, 0, len(o.fresh)-state.LatestMax)
	}
	o.latest = append(o.latest, row)
	if len(o.latest) > state.LatestMax {
		o.latest = slices.Delete(o.latest, 0, len(o.latest)-state.LatestMax)
	}
}

// Ready reports whether the binlog stream, Redis and the shop database are all up, and if not
// which is down.
func (p *Pipeline) Ready() (bool, string) {
	switch {
	case !p.obs.streamUp.Load() && p.inbox != nil && !p.dryRun:
		return false, "kafka consumer down"
	case !p.obs.streamUp.Load():
		return false, "binlog stream down"
	case !p.obs.redisUp.Load():
		return false, "redis down"
	case !p.obs.shopUp.Load():
		return false, "shop database down"
	}
	return true, ""
}

// Metrics returns the pipeline's metrics.
func (p *Pipeline) Metrics() *metrics.Metrics { return p.obs.m }

// refresh updates the gauges and dependency checks; it runs every checkpoint tick.
func (p *Pipeline) refresh(ctx context.Context) {
	o := p.obs
	o.m.BinlogLag.Set(o.lag())
	o.m.CheckpointAge.Set(time.Since(time.Unix(0, o.lastMove.Load())).Seconds())
	o.m.QueueDepth.Set(float64(p.ship.Queued()))
	o.m.PendingTx.Set(float64(p.tail.Pending()))
	_, set := p.current()
	for name, c := range set {
		o.m.InFlightLimit.WithLabelValues(name).Set(float64(c.InFlightLimit()))
	}
	retry, err1 := p.store.RetryDepth(ctx)
	dead, err2 := p.store.DeadDepth(ctx)
	o.redisUp.Store(err1 == nil && err2 == nil)
	if err1 == nil && err2 == nil {
		o.m.RetryDepth.Set(float64(retry))
		o.m.DeadLetterDepth.Set(float64(dead))
	}
	if p.out != nil {
		if n, err := p.store.OutboxDepth(ctx); err == nil {
			o.m.EventsOutbox.Set(float64(n))
		}
	}
	if err := p.syncPaused(ctx); err != nil && ctx.Err() == nil {
		p.log.Warn("cannot read the paused carriers", "err", err)
	}
	p.pingShop()
	ready, _ := p.Ready()
	o.m.Ready.Set(b2f(ready))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// pingShop checks the shop connection without blocking the caller. The ping runs without a
// cancellable context: go-mysql's driver closes a connection whose context ends mid-command
// from another goroutine, unsynchronised (a data race the race detector reports). Pings run
// every second, so they must never be the ones cut off; the other deadlines (push replies,
// drain) end a command only when the database is already in trouble. A ping outstanding for
// 5 s means the shop is down.
func (p *Pipeline) pingShop() {
	o := p.obs
	now := time.Now().UnixNano()
	if !o.pingSince.CompareAndSwap(0, now) {
		if time.Since(time.Unix(0, o.pingSince.Load())) > 5*time.Second {
			o.shopUp.Store(false)
		}
		return
	}
	go func() {
		o.shopUp.Store(p.meta.PingContext(context.Background()) == nil)
		o.pingSince.Store(0)
	}()
}

// Snapshot is what the status page shows.
func (p *Pipeline) Snapshot(ctx context.Context) (statuspage.Snapshot, error) {
	o := p.obs
	ready, _ := p.Ready()
	s := statuspage.Snapshot{Now: time.Now(), Ready: ready, BinlogLagSeconds: o.lag(),
		CheckpointAgeSeconds: time.Since(time.Unix(0, o.lastMove.Load())).Seconds(),
		StaleParcels:         int64(metrics.Value(o.m.NoPickup) + metrics.Value(o.m.StuckOrders)),
		CancelAfterPickup:    int64(metrics.Value(o.m.Cancels.WithLabelValues(string(parcel.AfterPickup))))}
	if cp := o.checkpoint.Load(); cp != nil {
		s.Checkpoint = *cp
	}
	var err error
	if s.RetryQueue, err = p.store.RetryDepth(ctx); err != nil {
		return s, err
	}
	if s.DeadLetter, err = p.store.DeadDepth(ctx); err != nil {
		return s, err
	}
	if s.Labels, err = p.labelsView(ctx); err != nil {
		return s, err
	}
	if s.OrdersPerMinute, err = p.ordersPerMinute(ctx); err != nil {
		return s, err
	}
	if s.Carriers, err = p.carrierStats(ctx); err != nil {
		return s, err
	}
	if s.Latest, err = p.latestOrders(ctx); err != nil {
		return s, err
	}
	return s, nil
}

// carrierStats are the carriers' creates of about the last hour, as the page's carrier table
// shows them: from the history in Redis (the last hour's 5 min steps, so a restart or another
// worker's creates count too) and what this process has not sampled yet.
func (p *Pipeline) carrierStats(ctx context.Context) ([]statuspage.CarrierStats, error) {
	now := time.Now()
	pts, err := p.store.SeriesSince(ctx, state.Coarse, now.Add(-time.Hour), now)
	if err != nil {
		return nil, err
	}
	o := p.obs
	o.mu.Lock()
	sums := o.unsampled()
	o.mu.Unlock()
	for _, pt := range pts {
		for name, c := range pt.Carriers {
			sum := sums[name]
			if sum.Buckets == nil {
				sum.Buckets = make([]int64, len(state.LatencyBuckets)+1)
			}
			sum.Requests += c.Requests
			sum.OK += c.OK
			for i, b := range c.Buckets {
				sum.Buckets[i] += b
			}
			sums[name] = sum
		}
	}
	_, set := p.current()
	var out []statuspage.CarrierStats
	for _, c := range p.conf().Carriers {
		cs := statuspage.CarrierStats{Name: c.Name}
		if cr, ok := set[c.Name]; ok {
			cs.Paused = cr.Paused()
		}
		if sum := sums[c.Name]; sum.Requests > 0 {
			cs.Requests, cs.SuccessRate = sum.Requests, float64(sum.OK)/float64(sum.Requests)
			cs.P50Seconds, cs.P99Seconds = state.Quantile(.5, sum.Buckets), state.Quantile(.99, sum.Buckets)
		}
		out = append(out, cs)
	}
	return out, nil
}

// latestOrders are the deployment's latest orders written back, newest first, with their state
// from Redis. The receivers' data is only what this process still holds in memory (Redis never
// holds any): an order another worker shipped, or shipped before a restart, shows none.
func (p *Pipeline) latestOrders(ctx context.Context) ([]statuspage.OrderRow, error) {
	o := p.obs
	o.mu.Lock()
	keys := slices.Clone(o.fresh)
	mem := make(map[string]statuspage.OrderRow, len(o.latest))
	for _, r := range o.latest {
		mem[r.Key] = r
	}
	o.mu.Unlock()
	slices.Reverse(keys) // newest first
	stored, err := p.store.LatestOrders(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range stored {
		if len(keys) < state.LatestMax && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	recs, err := p.store.Records(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make([]statuspage.OrderRow, 0, len(keys))
	for i, rec := range recs {
		if rec == nil {
			continue // expired with its retention
		}
		row := mem[keys[i]]
		row.Key, row.OrderCode, row.Carrier, row.Waybill = rec.Key, rec.OrderCode, rec.Carrier, rec.Waybill
		row.State, row.Status, row.Exception, row.UpdatedAt = rec.State, rec.Status, rec.StatusException, rec.UpdatedAt
		out = append(out, row)
	}
	return out, nil
}

// ordersPerMinute is the deployment's rate of orders written back over about the last minute:
// the history's last five 10 s steps (the current one included) and what this process has not
// sampled yet, per the time they cover (a step's samples count what happened up to one sampling
// interval before it began).
func (p *Pipeline) ordersPerMinute(ctx context.Context) (float64, error) {
	now := time.Now()
	since := now.Add(-time.Minute + 2*state.Fine.Step).Truncate(state.Fine.Step)
	pts, err := p.store.SeriesSince(ctx, state.Fine, since, now)
	if err != nil {
		return 0, err
	}
	p.obs.mu.Lock()
	n := p.obs.shipped
	p.obs.mu.Unlock()
	for _, pt := range pts {
		n += pt.Shipped
	}
	covered := now.Sub(since) + p.sample
	return float64(n) * float64(time.Minute) / float64(covered), nil
}
