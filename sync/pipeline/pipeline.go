package pipeline

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/shipsync/shipsync/sinks/shopdb"
	"github.com/shipsync/shipsync/sources/webhook"
	"github.com/shipsync/shipsync/sync/carrier"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/loop"
	"github.com/shipsync/shipsync/sync/metrics"
	"github.com/shipsync/shipsync/sync/outbox"
	"github.com/shipsync/shipsync/sync/parcel"
	"github.com/shipsync/shipsync/sync/ship"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/sync/tail"
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
	// SampleEvery is how often the console's history is sampled (default 10 s, its finest
	// step; a test samples more often, and the samples of one step add up).
	SampleEvery time.Duration
	// Metrics to record into; a fresh set when nil.
	Metrics *metrics.Metrics
	// Events receives lifecycle events; none when nil.
	Events Events
	// Orders is the paid-order topic a reader publishes to (required in mode reader).
	Orders OrdersOutlet
	// Inbox is the paid-order topic a worker consumes (required in mode worker).
	Inbox OrdersInbox
}

// Events is the lifecycle events outlet (sinks/kafka in production); see sync/outbox.
type Events = outbox.Outlet

// Event is one lifecycle change, as published.
type Event = outbox.Event

// Event types, as published.
const (
	EventPaid           = outbox.Paid
	EventWaybillCreated = outbox.WaybillCreated
	EventStatusChanged  = outbox.StatusChanged
	EventException      = outbox.Exception
	EventDeadLettered   = outbox.DeadLettered
	EventConflict       = outbox.Conflict
)

// ErrCheckpointPurged means the saved binlog position is no longer on the server.
var ErrCheckpointPurged = tail.ErrCheckpointPurged

// Pipeline composes the stages for the configured mode (DESIGN.md §1): mode all runs the tail,
// the ship stage, the parcel stage and the outbox in one process; mode reader the tail, which
// publishes paid orders to Kafka; mode worker consumes them into the ship stage and runs the
// parcel stage. It owns no rule of its own: it wires the stages, holds the settings a reload
// replaces, and keeps what the status page and readiness read.
type Pipeline struct {
	live   atomic.Pointer[settings] // replaced whole by Reload
	log    *slog.Logger
	meta   *sql.DB
	shop   *shopdb.DB
	store  *state.Store
	owner  string
	every  time.Duration
	sample time.Duration
	dryRun bool
	obs    *observer
	out    *outbox.Outbox
	tail   *tail.Tail
	ship   *ship.Stage
	parcel *parcel.Stage
	orders OrdersOutlet
	inbox  OrdersInbox
}

// settings are what a reload replaces at once: the configuration and the carriers built from
// it. Readers take one snapshot and never see half of a reload.
type settings struct {
	cfg      *config.Config
	carriers carrier.Set
}

// conf is the configuration in force.
func (p *Pipeline) conf() *config.Config { return p.live.Load().cfg }

// current is the configuration and carriers in force, for the stages.
func (p *Pipeline) current() (*config.Config, carrier.Set) {
	s := p.live.Load()
	return s.cfg, s.carriers
}

// New builds a pipeline; it does no I/O.
func New(o Options) (*Pipeline, error) {
	cfg := o.Config
	m := o.Metrics
	if m == nil {
		m = metrics.New()
	}
	switch {
	case cfg.Mode == config.ModeReader && o.Orders == nil && !o.DryRun:
		return nil, errors.New("mode reader: no paid-order outlet (kafka)")
	case cfg.Mode == config.ModeWorker && o.Inbox == nil && !o.DryRun:
		return nil, errors.New("mode worker: no paid-order inbox (kafka)")
	}
	p := &Pipeline{log: o.Log.With("component", "pipeline"), meta: o.Meta, shop: o.Shop, store: o.Store, owner: randomID(),
		every: o.CheckpointEvery, dryRun: o.DryRun, obs: newObserver(m), orders: o.Orders, inbox: o.Inbox}
	if p.every <= 0 {
		p.every = time.Second
	}
	if p.sample = o.SampleEvery; p.sample <= 0 {
		p.sample = state.Fine.Step
	}
	set := carrier.Set{}
	for _, c := range cfg.Carriers {
		cl, ok := o.Carriers[c.Name]
		if !ok {
			return nil, fmt.Errorf("carrier %s: no client", c.Name)
		}
		set[c.Name] = p.protect(c, cl)
	}
	if _, ok := set[cfg.Routing.Default]; !ok {
		return nil, fmt.Errorf("routing.default %q is not a configured carrier", cfg.Routing.Default)
	}
	p.live.Store(&settings{cfg: cfg, carriers: set})
	labels := metrics.Labels{Statuses: config.Statuses()}
	for _, c := range cfg.Carriers {
		labels.Carriers = append(labels.Carriers, c.Name)
	}
	for _, o := range webhook.Outcomes {
		labels.PushOutcomes = append(labels.PushOutcomes, string(o))
	}
	m.Init(labels)

	if !o.DryRun {
		p.out = outbox.New(o.Store, o.Events, p.owner, o.Log, m.EventsFailed)
	}
	p.ship = ship.New(ship.Options{Store: o.Store, Shop: o.Shop, Events: p.out, Settings: p.current, Metrics: m,
		Log: o.Log, Owner: p.owner, Shipped: p.obs.remember, AliveTTL: aliveTTL}, cfg.Workers.Queue)
	p.parcel = parcel.New(o.Store, o.Shop, p.out, p.current, m, o.Log)
	var sink tail.Sink = shipSink{p.ship, p.parcel}
	if cfg.Mode == config.ModeReader {
		sink = publisher{p}
	}
	p.tail = tail.New(tail.Options{Config: cfg, Meta: o.Meta, Store: o.Store, Backfill: o.Shop, Events: p.out,
		Sink: sink, Observer: p.obs, Metrics: m, Log: o.Log, Owner: p.owner, Recover: o.Recover, DryRun: o.DryRun,
		CheckpointEvery: p.every, Leading: p.leading})
	return p, nil
}

// protect puts a carrier's client behind its protections, observed for the metrics and the
// status page.
func (p *Pipeline) protect(c config.Carrier, cl Carrier) *carrier.Carrier {
	return carrier.New(c, cl, p.obs.carrierCall, func(name string, open bool) {
		p.obs.m.CircuitOpen.WithLabelValues(name).Set(b2f(open))
	})
}

// shipSink hands the tail's paid orders to the ship stage and its cancellations to the parcel
// stage (mode all).
type shipSink struct {
	s *ship.Stage
	p *parcel.Stage
}

func (k shipSink) Take(ctx context.Context, o tail.Order) error {
	if o.Cancel {
		return k.p.EnqueueCancel(ctx, o.Key, o.Ack)
	}
	return k.s.Enqueue(ctx, ship.Job(o))
}

func randomID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// aliveTTL bounds how long the orders of a killed process stay claimed.
const aliveTTL = 3 * time.Second

// Run runs the configured mode until ctx is done (DESIGN.md §2). On the way out it stops
// reading, lets the ship stage finish what it holds (up to workers.drain_timeout) and saves the
// checkpoint (or commits the consumer's offsets).
func (p *Pipeline) Run(ctx context.Context) error {
	if p.dryRun {
		refreshing := loop.Go(ctx, p.refreshLoop)
		defer func() { <-refreshing }()
		return p.tail.Run(ctx)
	}
	if err := p.store.Alive(ctx, p.owner, aliveTTL); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	// A carrier an operator paused stays paused from the first order on.
	if err := p.syncPaused(ctx); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	// Alive while waiting as a standby too, and until the last batch is done, drain included.
	aliveCtx, stopAlive := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAlive()
	go p.aliveLoop(aliveCtx)
	refreshing := loop.Go(aliveCtx, p.refreshLoop)
	sampling := loop.Go(aliveCtx, p.sampleLoop)
	defer func() { stopAlive(); <-refreshing; <-sampling }()
	if p.conf().Mode == config.ModeWorker {
		return p.runWorker(ctx)
	}
	return p.tail.Run(ctx)
}

// leading starts what runs while this process tails the binlog (tail.Options.Leading): in mode
// all the ship and parcel stages and the outbox, in mode reader the outbox. The drain it
// returns stops them in order — the ship stage first, with its drain — once reading stopped.
func (p *Pipeline) leading(ctx context.Context) (drain func()) {
	bg, stopBg := context.WithCancel(ctx)
	var stages []<-chan struct{}
	stages = append(stages, loop.Go(bg, p.out.Run))
	if p.conf().Mode == config.ModeReader {
		return func() {
			p.flushOrders(ctx)
			stopBg()
			waitAll(stages)
			p.out.Flush(ctx, 5*time.Second)
		}
	}
	stages = append(stages, loop.Go(bg, p.parcel.Run))
	shipCtx, stopShip := context.WithCancel(ctx)
	shipped := loop.Go(shipCtx, func(ctx context.Context) { _ = p.ship.Run(ctx) })
	return func() {
		stopShip()
		<-shipped
		stopBg()
		waitAll(stages)
		p.out.Flush(ctx, 5*time.Second)
	}
}

func waitAll(chs []<-chan struct{}) {
	for _, c := range chs {
		<-c
	}
}

func (p *Pipeline) aliveLoop(ctx context.Context) {
	loop.Tick(ctx, aliveTTL/5, func() {
		if err := p.store.Alive(ctx, p.owner, aliveTTL); err != nil && ctx.Err() == nil {
			p.log.Warn("cannot mark the process alive in redis", "err", err)
		}
	})
}

func (p *Pipeline) refreshLoop(ctx context.Context) {
	loop.Tick(ctx, p.every, func() { p.refresh(ctx) })
}

var _ webhook.Applier = (*Pipeline)(nil)

// Apply applies one status update for a carrier's waybill (sync/parcel).
func (p *Pipeline) Apply(ctx context.Context, carrierName string, u webhook.Update) (webhook.Outcome, error) {
	return p.parcel.Apply(ctx, carrierName, u)
}

// pushDecoder returns the push format of a configured carrier that pushes, as configured now.
func (p *Pipeline) pushDecoder(name string) (webhook.Decoder, bool) {
	_, set := p.current()
	c, ok := set[name]
	if !ok {
		return nil, false
	}
	return c.Decoder()
}

// PushHandler is the receiver of carriers' pushes, POST /push/{carrier}.
func (p *Pipeline) PushHandler() *webhook.Handler {
	allow, _ := webhook.ParseAllow(p.conf().HTTP.Allow) // validated with the config
	proxies, _ := webhook.ParseAllow(p.conf().HTTP.TrustedProxies)
	return webhook.New(webhook.Config{MaxBody: p.conf().HTTP.MaxBody, Allow: allow, TrustedProxies: proxies}, p.pushDecoder, p,
		func(carrierName string, o webhook.Outcome) {
			p.obs.m.Pushes.WithLabelValues(carrierName, string(o)).Inc()
		}, p.log.With("component", "webhook"))
}
