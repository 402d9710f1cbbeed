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
// heard from, whether each dependency is up, and short in-memory windows (orders per second,
// carrier response times, the latest orders).
type observer struct {
	m *metrics.Metrics

	lastEvent  atomic.Int64 // unix nanos of the newest binlog event time, or of the last heartbeat
	lastMove   atomic.Int64 // unix nanos when the checkpoint last moved
	streamUp   atomic.Bool
	pingSince  atomic.Int64 // unix nanos when the outstanding shop ping started; 0: none
	redisUp    atomic.Bool
	shopUp     atomic.Bool
	checkpoint atomic.Pointer[string]

	mu        sync.Mutex
	perSecond [60]int64 // written orders, by second modulo 60
	secondOf  [60]int64
	durations map[string]*reservoir // carrier -> recent create durations
	requests  map[string][2]int64   // carrier -> {all, successful} creates
	latest    []statuspage.OrderRow // newest last, at most latestMax
	// What the next history sample adds (sample takes and resets them).
	shipped int64
	calls   map[string]*state.CarrierSample
}

const latestMax = 20

func newObserver(m *metrics.Metrics) *observer {
	o := &observer{m: m, durations: map[string]*reservoir{}, requests: map[string][2]int64{},
		calls: map[string]*state.CarrierSample{}}
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

func (o *observer) perMinute() float64 {
	now := time.Now().Unix()
	o.mu.Lock()
	defer o.mu.Unlock()
	var n int64
	for i := range o.perSecond {
		if now-o.secondOf[i] < 60 {
			n += o.perSecond[i]
		}
	}
	return float64(n)
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
	r := o.durations[carrier]
	if r == nil {
		r = &reservoir{}
		o.durations[carrier] = r
	}
	r.add(d.Seconds())
	c := o.requests[carrier]
	c[0]++
	ok := outcome == "success" || outcome == "repeat"
	if ok {
		c[1]++
	}
	o.requests[carrier] = c
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
func (o *observer) take() (shipped int64, calls map[string]state.CarrierSample) {
	o.mu.Lock()
	defer o.mu.Unlock()
	shipped, o.shipped = o.shipped, 0
	calls = make(map[string]state.CarrierSample, len(o.calls))
	for name, x := range o.calls {
		calls[name] = *x
	}
	clear(o.calls)
	return shipped, calls
}

// remember keeps an order that got its waybill for the page's latest orders and its orders
// per minute.
func (o *observer) remember(row statuspage.OrderRow) {
	now := time.Now().Unix()
	o.mu.Lock()
	defer o.mu.Unlock()
	i := now % 60
	if o.secondOf[i] != now {
		o.secondOf[i], o.perSecond[i] = now, 0
	}
	o.perSecond[i]++
	o.shipped++
	o.latest = append(o.latest, row)
	if len(o.latest) > latestMax {
		o.latest = slices.Delete(o.latest, 0, len(o.latest)-latestMax)
	}
}

// reservoir keeps the last 1024 observations for exact recent percentiles.
type reservoir struct {
	vals [1024]float64
	n    int
}

func (r *reservoir) add(v float64) { r.vals[r.n%len(r.vals)] = v; r.n++ }

func (r *reservoir) quantile(q float64) float64 {
	n := min(r.n, len(r.vals))
	if n == 0 {
		return 0
	}
	s := slices.Clone(r.vals[:n])
	slices.Sort(s)
	return s[min(int(q*float64(n)), n-1)]
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
		OrdersPerMinute:      o.perMinute(),
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
	_, set := p.current()
	o.mu.Lock()
	for _, c := range p.conf().Carriers {
		cs := statuspage.CarrierStats{Name: c.Name}
		if cr, ok := set[c.Name]; ok {
			cs.Paused = cr.Paused()
		}
		if n := o.requests[c.Name]; n[0] > 0 {
			cs.Requests, cs.SuccessRate = n[0], float64(n[1])/float64(n[0])
		}
		if r := o.durations[c.Name]; r != nil {
			cs.P50Seconds, cs.P99Seconds = r.quantile(.5), r.quantile(.99)
		}
		s.Carriers = append(s.Carriers, cs)
	}
	latest := slices.Clone(o.latest)
	o.mu.Unlock()
	for i := len(latest) - 1; i >= 0; i-- {
		row := latest[i]
		if rec, ok, err := p.store.Get(ctx, row.Key); err == nil && ok {
			row.State, row.Status, row.Exception, row.UpdatedAt = rec.State, rec.Status, rec.StatusException, rec.UpdatedAt
			row.Waybill = rec.Waybill
		}
		s.Latest = append(s.Latest, row)
	}
	return s, nil
}
