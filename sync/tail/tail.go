package tail

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/shipsync/shipsync/sources/binlog"
	"github.com/shipsync/shipsync/sync/checkpoint"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/loop"
	"github.com/shipsync/shipsync/sync/metrics"
	"github.com/shipsync/shipsync/sync/outbox"
	"github.com/shipsync/shipsync/sync/state"
)

// Order is a paid order on its way out of the tail. Ack acknowledges it to the checkpoint and
// must be called once it is settled downstream (shipped or durably parked), or published and
// acknowledged by Kafka.
type Order struct {
	Key    string
	PaidAt time.Time // when the binlog event that made it paid was written; zero for the backfill
	Ack    func()
	// Cancel: the order turned cancelled (orders.cancelled); its waybill, if any, is cancelled.
	Cancel bool
}

// Sink takes paid orders: the ship stage (mode all) or the paid-order topic (mode reader). It
// may block while it is full; an error means ctx ended.
type Sink interface {
	Take(ctx context.Context, o Order) error
}

// Checkpoints are the saved binlog position (sync/state). Save is fenced by the leader lease's
// token: a process that lost the lease cannot overwrite its successor's position.
type Checkpoints interface {
	LoadCheckpoint(ctx context.Context) (state.Checkpoint, bool, error)
	DeleteCheckpoint(ctx context.Context) error
	SaveCheckpointFenced(ctx context.Context, c state.Checkpoint, token int64) error
}

// Lease is the leader lease over the shop's binlog: Lead takes or renews it for owner and
// returns its fencing token (0: another process holds it); Resign gives it up.
type Lease interface {
	Lead(ctx context.Context, owner string, ttl time.Duration) (int64, error)
	Resign(ctx context.Context, owner string) error
}

// Store is what the tail keeps in Redis.
type Store interface {
	Checkpoints
	Lease
}

// Backfill lists the keys of paid but unshipped orders (orders.backfill_query).
type Backfill interface {
	Backfill(ctx context.Context) ([]string, error)
}

// Announcer records the paid events in the outbox in one round trip before their orders move
// on; a nil *outbox.Outbox records nothing.
type Announcer interface {
	Record(ctx context.Context, events ...outbox.Event) error
}

// Observer hears what the status page and readiness show: binlog event times (or now, for a
// heartbeat), the stream going up and down, and each checkpoint saved.
type Observer interface {
	Heard(t time.Time)
	StreamUp(up bool)
	Saved(pos binlog.Position)
}

// Options are the parts of the tail built outside it.
type Options struct {
	Config   *config.Config // shop, orders and state: what only a restart changes
	Meta     *sql.DB        // the shop connection pool, for binlog metadata and positions
	Store    Store
	Backfill Backfill
	Events   Announcer // nil or a nil *outbox.Outbox: no paid events
	Sink     Sink
	Observer Observer
	Metrics  *metrics.Metrics
	Log      *slog.Logger
	Owner    string // this process, in the leader lease
	Recover  bool   // restart from the current position and backfill (DESIGN.md §2)
	// DryRun detects paid orders and counts them, and does nothing else: no lease, no
	// checkpoint, no events; the sink is not called.
	DryRun bool
	// CheckpointEvery is how often the settled position is saved (default 1s).
	CheckpointEvery time.Duration
	// Leading is called once this process holds the lease, before reading starts, with a
	// context that lasts until the final checkpoint is saved; the drain it returns is called
	// once reading has stopped and must return when everything handed to the sink is settled
	// (or given up): only then is the final checkpoint saved. May be nil.
	Leading func(ctx context.Context) (drain func())
}

// Tail is the detection stage.
type Tail struct {
	o       Options
	log     *slog.Logger
	m       *metrics.Metrics
	rule    rule
	tracker *checkpoint.Tracker[binlog.Position]
	token   int64           // the leader lease's fencing token while tailing; set before the loops start
	saved   binlog.Position // last checkpoint written; only the checkpoint loop and Run's end touch it
}

// ErrCheckpointPurged means the saved binlog position is no longer on the server.
var ErrCheckpointPurged = errors.New("checkpoint purged from the server")

// errLeaderLost: another process took the binlog reader's lease; this one stops (and, run by a
// supervisor, comes back as a standby).
var errLeaderLost = errors.New("leader lease lost to another process")

// New builds the tail; it does no I/O.
func New(o Options) *Tail {
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = time.Second
	}
	if o.Leading == nil {
		o.Leading = func(context.Context) func() { return func() {} }
	}
	return &Tail{o: o, log: o.Log.With("component", "tail"), m: o.Metrics,
		rule:    rule{paid: o.Config.Orders.Paid, when: o.Config.Orders.When, cancelled: o.Config.Orders.Cancelled},
		tracker: checkpoint.New[binlog.Position]()}
}

// Pending is how many transactions are held back from the checkpoint.
func (t *Tail) Pending() int { return t.tracker.Pending() }

// Run tails the binlog until ctx ends or the lease is lost: it waits as a standby until it
// holds the lease, starts at the checkpoint (or, first start and --recover, at the current
// position with the backfill), and on the way out stops reading, drains (Options.Leading) and
// saves the final checkpoint.
func (t *Tail) Run(ctx context.Context) error {
	if t.o.DryRun {
		return t.runDry(ctx)
	}
	token, err := t.lead(ctx)
	if err != nil || token == 0 {
		return err // 0: stopped while standing by
	}
	t.token = token
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := t.o.Store.Resign(rctx, t.o.Owner); err != nil {
			t.log.Warn("leader lease not given up; a standby takes over when it expires", "err", err)
		}
	}()
	start, backfill, err := t.startPosition(ctx)
	if err != nil {
		return err
	}
	// The loops stop with the reader, whether ctx ended, the reader failed or the lease was lost.
	readCtx, stopReading := context.WithCancelCause(ctx)
	defer stopReading(nil)
	// The lease is renewed until the final checkpoint is saved, through the drain: a drain longer
	// than the lease must not hand the binlog to a standby and fence that save.
	leadCtx, stopLead := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLead()
	leading := loop.Go(leadCtx, func(ctx context.Context) { t.keepLead(ctx, stopReading) })
	saving := loop.Go(readCtx, t.checkpointLoop)
	drain := t.o.Leading(leadCtx)

	out := t.startOutlet(readCtx)
	var readErr error
	if backfill {
		readErr = t.backfill(readCtx, start, out)
	}
	if readErr == nil {
		t.m.Leader.Set(1)
		readErr = t.read(readCtx, start, out)
		t.m.Leader.Set(0)
	}
	stopReading(nil)
	out.close()
	if cause := context.Cause(readCtx); errors.Is(cause, errLeaderLost) {
		readErr = cause
	}
	drain()
	<-saving
	saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := t.saveCheckpoint(saveCtx); err != nil {
		t.log.Error("final checkpoint not saved", "err", err)
	}
	stopLead()
	<-leading
	if ctx.Err() != nil {
		return nil
	}
	return readErr
}

// runDry tails the binlog from where the daemon would and counts paid orders (Options.DryRun).
func (t *Tail) runDry(ctx context.Context) error {
	start, ok, err := t.o.Store.LoadCheckpoint(ctx)
	if err != nil {
		return err
	}
	from := binlog.Position{File: start.File, Pos: start.Pos, GTID: start.GTID}
	if !ok || t.o.Recover {
		if from, err = binlog.CurrentPosition(ctx, t.o.Meta); err != nil {
			return err
		}
	}
	t.log.Info("dry run: detecting paid orders only; no claim, carrier call, write-back or checkpoint",
		"file", from.File, "pos", from.Pos)
	return t.read(ctx, from, nil)
}

// startPosition decides where the stream starts: the checkpoint, or (first start, --recover) the
// current position with a backfill.
func (t *Tail) startPosition(ctx context.Context) (binlog.Position, bool, error) {
	if t.o.Recover {
		if err := t.o.Store.DeleteCheckpoint(ctx); err != nil {
			return binlog.Position{}, false, err
		}
	}
	cp, ok, err := t.o.Store.LoadCheckpoint(ctx)
	if err != nil {
		return binlog.Position{}, false, err
	}
	if ok {
		has, err := binlog.HasFile(ctx, t.o.Meta, cp.File)
		if err != nil {
			return binlog.Position{}, false, err
		}
		if !has {
			return binlog.Position{}, false, fmt.Errorf("%w: the saved position %s:%d is no longer on the server "+
				"(binlog expired or purged while shipsync was stopped); restart with --recover to resume at the "+
				"current position and run orders.backfill_query, which ships every order still paid and unshipped",
				ErrCheckpointPurged, cp.File, cp.Pos)
		}
		t.log.Info("resuming at checkpoint", "file", cp.File, "pos", cp.Pos, "gtid", cp.GTID)
		return binlog.Position{File: cp.File, Pos: cp.Pos, GTID: cp.GTID}, false, nil
	}
	pos, err := binlog.CurrentPosition(ctx, t.o.Meta)
	if err != nil {
		return binlog.Position{}, false, err
	}
	t.log.Info("no checkpoint: starting at the current position with a backfill", "file", pos.File, "pos", pos.Pos)
	return pos, true, nil
}

// backfill queues the backfill query's keys as one pseudo-transaction ending at the start
// position, so the checkpoint is first saved once all of them are settled.
func (t *Tail) backfill(ctx context.Context, start binlog.Position, out *outlet) error {
	keys, err := t.o.Backfill.Backfill(ctx)
	if err != nil {
		return err
	}
	t.log.Info("backfill", "orders", len(keys))
	b := out.sender()
	for _, k := range keys {
		t.m.Detected.Inc()
		if err := b.add(ctx, Order{Key: k, Ack: t.ackFunc(t.tracker.Add())}, time.Time{}); err != nil {
			return err
		}
	}
	t.tracker.End(start)
	return b.flush(ctx)
}

// ackFunc acknowledges binlog transaction seq's order to the checkpoint.
func (t *Tail) ackFunc(seq uint64) func() { return func() { t.tracker.Ack(seq) } }

func (t *Tail) checkpointLoop(ctx context.Context) {
	loop.Tick(ctx, t.o.CheckpointEvery, func() {
		if err := t.saveCheckpoint(ctx); err != nil && ctx.Err() == nil {
			t.log.Warn("checkpoint not saved", "err", err)
		}
	})
}

func (t *Tail) saveCheckpoint(ctx context.Context) error {
	pos, ok := t.tracker.Watermark()
	if !ok || pos == t.saved {
		return nil
	}
	if err := t.o.Store.SaveCheckpointFenced(ctx, state.Checkpoint{File: pos.File, Pos: pos.Pos, GTID: pos.GTID}, t.token); err != nil {
		return err
	}
	t.saved = pos
	t.o.Observer.Saved(pos)
	return nil
}
