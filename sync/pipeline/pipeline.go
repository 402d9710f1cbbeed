package pipeline

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shipsync/shipsync/sinks/shopdb"
	"github.com/shipsync/shipsync/sources/binlog"
	"github.com/shipsync/shipsync/sources/webhook"
	"github.com/shipsync/shipsync/sync/checkpoint"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/metrics"
	"github.com/shipsync/shipsync/sync/state"
)

// Options are the parts of a pipeline built outside it.
type Options struct {
	Config   *config.Config
	Log      *slog.Logger
	Shop     *shopdb.DB
	Meta     *sql.DB // the shop connection pool, for binlog metadata and positions
	Store    *state.Store
	Carriers map[string]Carrier // by configured name
	Recover  bool               // restart from the current position and backfill (DESIGN.md §2)
	// DryRun detects paid orders and counts them, and does nothing else: no lease, no claim, no
	// carrier call, no write-back, no checkpoint. For trying a configuration on a live shop and
	// for measuring the source (make bench).
	DryRun bool
	// CheckpointEvery is how often the settled position is saved (default 1s).
	CheckpointEvery time.Duration
	// Metrics to record into; a fresh set when nil.
	Metrics *metrics.Metrics
	// Events receives lifecycle events; none when nil.
	Events Events
	// Orders is the paid-order topic a reader publishes to (required in mode reader).
	Orders OrdersOutlet
	// Inbox is the paid-order topic a worker consumes (required in mode worker).
	Inbox OrdersInbox
}

// Pipeline is shipsync's single-process mode: binlog → workers → carrier → write-back.
type Pipeline struct {
	live     atomic.Pointer[settings] // replaced whole by Reload
	poolSize int                      // workers started: the carriers' max_in_flight at start
	log      *slog.Logger
	db       *shopdb.DB
	meta     *sql.DB
	store    *state.Store
	rule     rule
	recover  bool
	dryRun   bool
	every    time.Duration

	tracker *checkpoint.Tracker[binlog.Position]
	jobs    chan job
	writes  chan writeReq // waybill write-backs, to the batch writers
	owner   string
	seq     atomic.Uint64
	token   atomic.Int64 // the leader lease's fencing token while this process tails the binlog
	stats   Stats
	obs     *observer
	events  Events
	orders  OrdersOutlet
	inbox   OrdersInbox
	saved   binlog.Position // last checkpoint written; only the checkpoint loop and Run's end touch it
	paid    *paidOutlet     // records paid events before the orders move on; nil without events
}

// settings are what a reload replaces at once: the configuration and the carrier slots built
// from it. Readers take one snapshot (conf, slots) and never see half of a reload.
type settings struct {
	cfg      *config.Config
	carriers map[string]*carrierSlot
}

// conf is the configuration in force.
func (p *Pipeline) conf() *config.Config { return p.live.Load().cfg }

// slots are the configured carriers' clients with their protections, by name.
func (p *Pipeline) slots() map[string]*carrierSlot { return p.live.Load().carriers }

func newSlot(c config.Carrier, cl Carrier) *carrierSlot {
	return &carrierSlot{name: c.Name, shipperCode: c.ShipperCode, c: cl,
		sem: make(chan struct{}, inFlight(c)), limit: newLimiter(c.RateLimit),
		br: &breaker{failures: c.Breaker.Failures, cooldown: c.Breaker.Cooldown}}
}

// inFlight is the carrier's bound on calls at once (auto: 64, until the ship stage sizes it).
func inFlight(c config.Carrier) int {
	if n, auto := c.MaxInFlight.Fixed(); !auto {
		return n
	}
	return 64
}

type carrierSlot struct {
	name, shipperCode string
	c                 Carrier
	sem               chan struct{}
	br                *breaker
	limit             *limiter
}

type job struct {
	key  string
	at   time.Time // when the binlog event that made it paid was written; zero for retries
	done func()    // acknowledges the order to its checkpoint once settled; nil for retries
}

// Stats are running totals, for the demo summary and tests (Prometheus metrics come from them).
type Stats struct {
	Detected, Written, AlreadyWritten, Skipped, Conflicts, DeadLettered, Retries, CarrierCalls atomic.Int64
	StatusWrites, UnknownCodes, NoPickup, Stuck, Polls, WatchdogScans                          atomic.Int64

	mu     sync.Mutex
	pushes map[webhook.Outcome]int64
}

func (s *Stats) push(o webhook.Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pushes == nil {
		s.pushes = map[webhook.Outcome]int64{}
	}
	s.pushes[o]++
}

// Pushes counts push updates (and rejected pushes) by outcome.
func (s *Stats) Pushes(o webhook.Outcome) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pushes[o]
}

// ErrCheckpointPurged means the saved binlog position is no longer on the server.
var ErrCheckpointPurged = errors.New("checkpoint purged from the server")

// New builds a pipeline; it does no I/O.
func New(o Options) (*Pipeline, error) {
	cfg := o.Config
	p := &Pipeline{
		log: o.Log.With("component", "pipeline"), db: o.Shop, meta: o.Meta, store: o.Store,
		rule:    rule{paid: cfg.Orders.Paid, when: cfg.Orders.When},
		recover: o.Recover, dryRun: o.DryRun, every: o.CheckpointEvery,
		tracker: checkpoint.New[binlog.Position](),
		jobs:    make(chan job, cfg.Workers.Queue),
		writes:  make(chan writeReq),
		owner:   randomID(),
	}
	if p.every <= 0 {
		p.every = time.Second
	}
	m := o.Metrics
	if m == nil {
		m = metrics.New()
	}
	p.obs = newObserver(m)
	p.events, p.orders, p.inbox = o.Events, o.Orders, o.Inbox
	switch {
	case cfg.Mode == config.ModeReader && o.Orders == nil && !o.DryRun:
		return nil, errors.New("mode reader: no paid-order outlet (kafka)")
	case cfg.Mode == config.ModeWorker && o.Inbox == nil && !o.DryRun:
		return nil, errors.New("mode worker: no paid-order inbox (kafka)")
	}
	slots := map[string]*carrierSlot{}
	for _, c := range cfg.Carriers {
		cl, ok := o.Carriers[c.Name]
		if !ok {
			return nil, fmt.Errorf("carrier %s: no client", c.Name)
		}
		slots[c.Name] = newSlot(c, cl)
	}
	if _, ok := slots[cfg.Routing.Default]; !ok {
		return nil, fmt.Errorf("routing.default %q is not a configured carrier", cfg.Routing.Default)
	}
	p.live.Store(&settings{cfg: cfg, carriers: slots})
	p.poolSize = p.workerCount()
	labels := metrics.Labels{Statuses: config.Statuses()}
	for _, c := range cfg.Carriers {
		labels.Carriers = append(labels.Carriers, c.Name)
	}
	for _, o := range webhook.Outcomes {
		labels.PushOutcomes = append(labels.PushOutcomes, string(o))
	}
	m.Init(labels)
	return p, nil
}

// Stats returns the running totals.
func (p *Pipeline) Stats() *Stats { return &p.stats }

func randomID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (p *Pipeline) workerCount() int {
	n := 0
	for _, c := range p.slots() {
		n += cap(c.sem)
	}
	return n
}

// Run runs the configured mode until ctx is done (DESIGN.md §2): mode all tails the binlog and
// ships paid orders; mode reader tails the binlog and publishes them to Kafka; mode worker
// consumes them from Kafka and ships them. On the way out it stops reading, lets the workers
// finish what they hold (up to workers.drain_timeout) and saves the checkpoint (or commits the
// consumer's offsets).
func (p *Pipeline) Run(ctx context.Context) error {
	if p.dryRun {
		return p.runDry(ctx)
	}
	if err := p.store.Alive(ctx, p.owner, aliveTTL); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	// Alive while waiting as a standby too, and until the last worker is done, drain included.
	aliveCtx, stopAlive := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAlive()
	go p.aliveLoop(aliveCtx)
	if p.conf().Mode == config.ModeWorker {
		return p.runWorker(ctx)
	}

	token, err := p.lead(ctx)
	if err != nil || token == 0 {
		return err // 0: stopped while standing by
	}
	p.token.Store(token)
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := p.store.Resign(rctx, p.owner); err != nil {
			p.log.Warn("leader lease not given up; a standby takes over when it expires", "err", err)
		}
	}()
	start, backfill, err := p.startPosition(ctx)
	if err != nil {
		return err
	}

	var pool *workerPool
	if p.conf().Mode == config.ModeAll {
		pool = p.startWorkers(ctx)
	}
	// The loops stop with the reader, whether ctx ended, the reader failed or the lease was lost.
	readCtx, stopReading := context.WithCancelCause(ctx)
	defer stopReading(nil)
	// The lease is renewed until the final checkpoint is saved, through the drain: a drain longer
	// than the lease must not hand the binlog to a standby and fence that save.
	leadCtx, stopLead := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLead()
	leading := p.startLoops(leadCtx, p.keepLead(stopReading))
	loops := p.startLoops(readCtx, p.checkpointLoop)
	if pool != nil {
		loops.Add(p.watchdog, p.poller, p.retryLoop)
	}
	if p.events != nil {
		loops.Add(p.forwardEvents)
	}

	p.paid = p.startPaidOutlet(readCtx)
	var readErr error
	if backfill {
		readErr = p.backfill(readCtx, start)
	}
	if readErr == nil {
		p.obs.m.Leader.Set(1)
		readErr = p.read(readCtx, start)
		p.obs.m.Leader.Set(0)
	}
	stopReading(nil)
	p.paid.close()
	if cause := context.Cause(readCtx); errors.Is(cause, errLeaderLost) {
		readErr = cause
	}

	if pool != nil {
		pool.drain()
	} else {
		p.flushOrders(ctx)
	}
	loops.Wait()
	p.flushEvents(ctx, 5*time.Second)
	saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := p.saveCheckpoint(saveCtx); err != nil {
		p.log.Error("final checkpoint not saved", "err", err)
	}
	stopLead()
	leading.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return readErr
}

// runDry tails the binlog from where the daemon would and counts paid orders (Options.DryRun).
func (p *Pipeline) runDry(ctx context.Context) error {
	start, ok, err := p.store.LoadCheckpoint(ctx)
	if err != nil {
		return err
	}
	from := binlog.Position{File: start.File, Pos: start.Pos, GTID: start.GTID}
	if !ok || p.recover {
		if from, err = binlog.CurrentPosition(ctx, p.meta); err != nil {
			return err
		}
	}
	p.log.Info("dry run: detecting paid orders only; no claim, carrier call, write-back or checkpoint",
		"file", from.File, "pos", from.Pos)
	loops := p.startLoops(ctx, func(ctx context.Context) { tick(ctx, p.every, func() { p.refresh(ctx) }) })
	defer loops.Wait()
	return p.read(ctx, from)
}

// workerPool runs the carrier workers of modes all and worker, and the batch writers they
// hand their write-backs to.
type workerPool struct {
	p           *Pipeline
	stop        chan struct{}      // workers: take no new job
	cancel      context.CancelFunc // cancels held work once the drain budget is spent
	workers     sync.WaitGroup
	stopWriters context.CancelFunc
	writers     *sync.WaitGroup
}

func (p *Pipeline) startWorkers(ctx context.Context) *workerPool {
	workCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w := &workerPool{p: p, stop: make(chan struct{}), cancel: cancel}
	// The writers outlive the workers (they serve the drain), and stop after them.
	writeCtx, stopWriters := context.WithCancel(workCtx)
	w.stopWriters, w.writers = stopWriters, p.startWriters(writeCtx)
	for i := 0; i < p.poolSize; i++ {
		w.workers.Add(1)
		go func() {
			defer w.workers.Done()
			p.work(workCtx, w.stop)
		}()
	}
	return w
}

// drain is the two-step shutdown: stop taking work, let held work finish within the budget.
func (w *workerPool) drain() {
	close(w.stop)
	done := make(chan struct{})
	go func() { w.workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(w.p.conf().Workers.DrainTimeout):
		w.p.log.Warn("drain timeout: abandoning orders in flight; they are replayed on restart",
			"timeout", w.p.conf().Workers.DrainTimeout)
		w.cancel()
		<-done
	}
	w.stopWriters()
	w.writers.Wait()
	w.cancel()
}

// loopGroup runs background loops until their context ends.
type loopGroup struct {
	ctx context.Context
	wg  sync.WaitGroup
}

func (p *Pipeline) startLoops(ctx context.Context, fns ...func(context.Context)) *loopGroup {
	g := &loopGroup{ctx: ctx}
	g.Add(fns...)
	return g
}

func (g *loopGroup) Add(fns ...func(context.Context)) {
	for _, fn := range fns {
		g.wg.Add(1)
		go func() { defer g.wg.Done(); fn(g.ctx) }()
	}
}

func (g *loopGroup) Wait() { g.wg.Wait() }

// startPosition decides where the stream starts: the checkpoint, or (first start, --recover) the
// current position with a backfill.
func (p *Pipeline) startPosition(ctx context.Context) (binlog.Position, bool, error) {
	if p.recover {
		if err := p.store.DeleteCheckpoint(ctx); err != nil {
			return binlog.Position{}, false, err
		}
	}
	cp, ok, err := p.store.LoadCheckpoint(ctx)
	if err != nil {
		return binlog.Position{}, false, err
	}
	if ok {
		has, err := binlog.HasFile(ctx, p.meta, cp.File)
		if err != nil {
			return binlog.Position{}, false, err
		}
		if !has {
			return binlog.Position{}, false, fmt.Errorf("%w: the saved position %s:%d is no longer on the server "+
				"(binlog expired or purged while shipsync was stopped); restart with --recover to resume at the "+
				"current position and run orders.backfill_query, which ships every order still paid and unshipped",
				ErrCheckpointPurged, cp.File, cp.Pos)
		}
		p.log.Info("resuming at checkpoint", "file", cp.File, "pos", cp.Pos, "gtid", cp.GTID)
		return binlog.Position{File: cp.File, Pos: cp.Pos, GTID: cp.GTID}, false, nil
	}
	pos, err := binlog.CurrentPosition(ctx, p.meta)
	if err != nil {
		return binlog.Position{}, false, err
	}
	p.log.Info("no checkpoint: starting at the current position with a backfill", "file", pos.File, "pos", pos.Pos)
	return pos, true, nil
}

// backfill queues the backfill query's keys as one pseudo-transaction ending at the start
// position, so the checkpoint is first saved once all of them are settled.
func (p *Pipeline) backfill(ctx context.Context, start binlog.Position) error {
	keys, err := p.db.Backfill(ctx)
	if err != nil {
		return err
	}
	p.log.Info("backfill", "orders", len(keys))
	paid := &paidSender{p: p, o: p.paid}
	for _, k := range keys {
		p.obs.m.Detected.Inc()
		if err := paid.add(ctx, job{key: k, done: p.ackFunc(p.tracker.Add())}, Event{Type: EventPaid, Order: k}); err != nil {
			return err
		}
	}
	p.tracker.End(start)
	return paid.flush(ctx)
}

// ackFunc acknowledges binlog transaction seq's order to the checkpoint.
func (p *Pipeline) ackFunc(seq uint64) func() { return func() { p.tracker.Ack(seq) } }

// dispatch hands a paid order from the binlog to whoever ships it: this process's workers (mode
// all), Kafka (mode reader), or nobody (a dry run, which only counts it).
func (p *Pipeline) dispatch(ctx context.Context, j job) error {
	switch {
	case p.dryRun:
		p.log.Debug("dry run: paid order detected", "order", j.key)
		j.done()
		return nil
	case p.conf().Mode == config.ModeReader:
		return p.publish(ctx, j)
	}
	return p.enqueue(ctx, j)
}

func (p *Pipeline) enqueue(ctx context.Context, j job) error {
	select {
	case p.jobs <- j:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// read tails the binlog, reconnecting at the end of the last whole transaction read (replayed
// rows are harmless: claims are idempotent).
func (p *Pipeline) read(ctx context.Context, from binlog.Position) error {
	schema, table := p.conf().Orders.SchemaTable()
	if schema == "" {
		schema = p.conf().Shop.Database
	}
	tc, err := p.conf().Shop.TLS.Client("shop.tls", p.conf().Shop.Addr)
	if err != nil {
		return err // the files were readable when the pool connected: they changed since
	}
	cfg := binlog.Config{Addr: p.conf().Shop.Addr, User: p.conf().Shop.User, Password: p.conf().Shop.Password,
		Flavor: p.conf().Shop.Flavor, ServerID: p.conf().Shop.ServerID, Charset: p.conf().Shop.Charset,
		Heartbeat: p.conf().Shop.Heartbeat, Schema: schema, Table: table, TLS: tc}
	backoff := time.Second
	for {
		last, err := p.stream(ctx, cfg, from)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, binlog.ErrColumnMismatch) || errors.Is(err, binlog.ErrPartialJSON) ||
			errors.Is(err, binlog.ErrUnknownRowsEvent) || errors.Is(err, errConfig) {
			return err // reading again would meet the same event: stop with the remedy
		}
		if !last.IsZero() {
			from = last
			backoff = time.Second
		}
		if has, herr := binlog.HasFile(ctx, p.meta, from.File); herr == nil && !has {
			// Purged while we were away (a long outage): never silently skip.
			return fmt.Errorf("%w: reconnecting at %s, which is no longer on the server; restart with --recover "+
				"to resume at the current position and run orders.backfill_query", ErrCheckpointPurged, from)
		}
		p.log.Warn("binlog stream interrupted; reconnecting", "at", from.String(), "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

var errConfig = errors.New("configuration does not match the table")

// paidAt is when an order became paid, for the end-to-end histogram: the binlog header's time
// has whole seconds only, so an event that arrives within that second is timed from its arrival
// (the delivery delay is milliseconds); one read later (a backlog) keeps its header time.
func paidAt(header, arrived time.Time) time.Time {
	if arrived.Sub(header) < time.Second {
		return arrived
	}
	return header
}

// stream reads one connection's worth of events; it returns the end of the last whole
// transaction it read.
func (p *Pipeline) stream(ctx context.Context, cfg binlog.Config, from binlog.Position) (binlog.Position, error) {
	s := binlog.New(cfg, p.meta, p.log.With("component", "binlog"))
	if err := s.Start(ctx, from); err != nil {
		return binlog.Position{}, err
	}
	defer s.Close()
	p.obs.streamUp.Store(true)
	defer p.obs.streamUp.Store(false)
	var last binlog.Position
	checked := false
	// A transaction's paid orders move on together at its end (one outbox round trip for their
	// events); whatever was read of an unfinished one moves on when the stream stops, as it
	// did before batching.
	paid := &paidSender{p: p, o: p.paid}
	defer paid.flush(ctx) //nolint:errcheck // only fails when ctx ended: then nothing is acked and all is replayed
	for {
		ev, err := s.Next(ctx)
		if err != nil {
			return last, err
		}
		switch ev.Kind {
		case binlog.KindHeartbeat:
			p.obs.heard(time.Now())
		case binlog.KindCommit:
			p.obs.heard(ev.Time)
			p.tracker.End(ev.Pos)
			last = ev.Pos
			if err := paid.flush(ctx); err != nil {
				return last, err
			}
		case binlog.KindRows:
			p.obs.heard(ev.Time)
			p.obs.m.BinlogEvents.WithLabelValues(ev.Action.String()).Add(float64(len(ev.Rows)))
			if !checked {
				if err := p.checkColumns(ev); err != nil {
					return last, err
				}
				checked = true
			}
			for _, r := range ev.Rows {
				if !p.rule.transition(ev.Action, r.Before, r.After) {
					continue
				}
				key, ok := r.After.Text(p.conf().Orders.Key)
				if !ok {
					continue
				}
				p.stats.Detected.Add(1)
				p.obs.m.Detected.Inc()
				j := job{key: key, at: paidAt(ev.Time, time.Now()), done: p.ackFunc(p.tracker.Add())}
				if err := paid.add(ctx, j, Event{Type: EventPaid, Order: key, Time: ev.Time}); err != nil {
					return last, err
				}
			}
		}
	}
}

// checkColumns makes a typo in orders.key / paid / when fail loudly instead of matching nothing.
func (p *Pipeline) checkColumns(ev binlog.Event) error {
	if len(ev.Rows) == 0 {
		return nil
	}
	im := ev.Rows[0].After
	if im.Empty() {
		im = ev.Rows[0].Before
	}
	cols := []string{p.conf().Orders.Key, p.conf().Orders.Paid.Column}
	for _, c := range p.conf().Orders.When {
		cols = append(cols, c.Column)
	}
	for _, c := range cols {
		if !im.Has(c) {
			return fmt.Errorf("%w: column %q is not in %s", errConfig, c, p.conf().Orders.Table)
		}
	}
	return nil
}

// work takes jobs until stop is closed. A job is acknowledged to the checkpoint only once its
// order is settled; an order that cannot even be parked (Redis down) is retried here.
func (p *Pipeline) work(ctx context.Context, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		select {
		case <-stop:
			return
		case j := <-p.jobs:
			owner := p.ownerToken() // one token for the job: a retry is not blocked by its own lease
			for attempt := 0; ; attempt++ {
				err := p.process(ctx, j, owner)
				if err == nil {
					if j.done != nil {
						j.done()
					}
					break
				}
				if ctx.Err() != nil {
					return // not acked: the checkpoint stays before it and it is replayed
				}
				p.log.Error("order not settled; trying again", "order", j.key, "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(min(time.Duration(attempt+1)*time.Second, 10*time.Second)):
				}
			}
		}
	}
}

// aliveTTL bounds how long the orders of a killed process stay claimed.
const aliveTTL = 3 * time.Second

func (p *Pipeline) aliveLoop(ctx context.Context) {
	tick(ctx, aliveTTL/5, func() {
		if err := p.store.Alive(ctx, p.owner, aliveTTL); err != nil && ctx.Err() == nil {
			p.log.Warn("cannot mark the process alive in redis", "err", err)
		}
	})
}

// errLeaderLost: another process took the binlog reader's lease; this one stops (and, run by a
// supervisor, comes back as a standby).
var errLeaderLost = errors.New("leader lease lost to another process")

// lead blocks until this process holds the binlog reader's lease (standby until then) and
// returns its fencing token; 0 when ctx ends first.
func (p *Pipeline) lead(ctx context.Context) (int64, error) {
	ttl := p.conf().State.LeaderTTL
	standby := false
	for {
		tok, err := p.store.Lead(ctx, p.owner, ttl)
		switch {
		case err == nil && tok > 0:
			if standby {
				p.log.Info("took over the binlog reader's lease", "token", tok)
			}
			return tok, nil
		case err != nil && ctx.Err() == nil:
			p.log.Warn("leader lease unreadable", "err", err)
		case err == nil && !standby:
			standby = true
			p.log.Info("standby: another process tails this shop's binlog")
		}
		select {
		case <-ctx.Done():
			return 0, nil
		case <-time.After(min(ttl/4, 500*time.Millisecond)):
		}
	}
}

// keepLead renews the lease; when it is lost (or cannot be renewed for a whole TTL, so it may
// have lapsed), it stops the reader.
func (p *Pipeline) keepLead(stop context.CancelCauseFunc) func(context.Context) {
	return func(ctx context.Context) { p.keepLeadUntil(ctx, stop) }
}

func (p *Pipeline) keepLeadUntil(ctx context.Context, stop context.CancelCauseFunc) {
	ttl := p.conf().State.LeaderTTL
	renewed := time.Now()
	tick(ctx, ttl/3, func() {
		tok, err := p.store.Lead(ctx, p.owner, ttl)
		switch {
		case err == nil && tok == p.token.Load():
			renewed = time.Now()
		case err == nil:
			p.log.Error("leader lease lost: stopping the binlog reader", "token", p.token.Load(), "now", tok)
			stop(errLeaderLost)
		case time.Since(renewed) > ttl && ctx.Err() == nil:
			p.log.Error("leader lease not renewed for a whole TTL: stopping the binlog reader", "err", err)
			stop(errLeaderLost)
		}
	})
}

func (p *Pipeline) checkpointLoop(ctx context.Context) {
	tick(ctx, p.every, func() {
		if err := p.saveCheckpoint(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("checkpoint not saved", "err", err)
		}
		p.refresh(ctx)
	})
}

// tick calls fn every d until ctx is done.
func tick(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

func (p *Pipeline) saveCheckpoint(ctx context.Context) error {
	pos, ok := p.tracker.Watermark()
	if !ok || pos == p.saved {
		return nil
	}
	if err := p.store.SaveCheckpointFenced(ctx, state.Checkpoint{File: pos.File, Pos: pos.Pos, GTID: pos.GTID}, p.token.Load()); err != nil {
		return err
	}
	p.saved = pos
	p.obs.lastMove.Store(time.Now().UnixNano())
	cp := pos.String()
	p.obs.checkpoint.Store(&cp)
	return nil
}

// retryLoop feeds due retries to the workers. They are not tied to a binlog transaction: they
// were settled (parked) when scheduled.
func (p *Pipeline) retryLoop(ctx context.Context) {
	every := max(min(p.conf().Retry.Interval/4, 500*time.Millisecond), 50*time.Millisecond)
	tick(ctx, every, func() {
		// Taken entries are postponed, not removed, so a crash before they settle only delays
		// them; by a little, since a second hand-out to a live worker just finds it busy.
		keys, err := p.store.TakeDue(ctx, 256, 2*aliveTTL)
		if err != nil {
			if ctx.Err() == nil {
				p.log.Warn("retry schedule unreadable", "err", err)
			}
			return
		}
		for _, k := range keys {
			if p.enqueue(ctx, job{key: k}) != nil {
				return
			}
		}
	})
}

func (p *Pipeline) ownerToken() string {
	return p.owner + ":" + strconv.FormatUint(p.seq.Add(1), 10)
}
