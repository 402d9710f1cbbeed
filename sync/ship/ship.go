package ship

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shipsync/shipsync/sinks/shopdb"
	"github.com/shipsync/shipsync/sync/carrier"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/loop"
	"github.com/shipsync/shipsync/sync/metrics"
	"github.com/shipsync/shipsync/sync/outbox"
	"github.com/shipsync/shipsync/sync/state"
	"github.com/shipsync/shipsync/sync/statuspage"
)

// Job carries one paid order to the ship stage. Ack, when not nil, acknowledges it to its
// source (the binlog checkpoint, the Kafka offset) and is called once the order is settled;
// orders from the retry schedule have none (they were settled when parked).
type Job struct {
	Key    string
	PaidAt time.Time // when the binlog event that made it paid was written; zero for retries
	Ack    func()
	// Cancel: the order turned cancelled; the stage's Cancels handle it, not a batch.
	Cancel bool
}

// Claims is the orders' records in Redis (sync/state). ClaimMany takes each order for owner
// for lease in one round trip; Settle records each claimed order's one outcome, in one round
// trip. Both answer per order: one order's failure is not the others'. Safe for concurrent use.
type Claims interface {
	ClaimMany(ctx context.Context, keys []string, owner string, lease time.Duration) []state.Claim
	Settle(ctx context.Context, s []state.Settlement) []state.SettleResult
}

// Waybills records, per order and in one round trip per call, the carrier about to be asked
// (which pins the order to it) and the waybill it answered. An error is that order's: its
// lease was lost, or Redis failed.
type Waybills interface {
	SubmittingMany(ctx context.Context, s []state.Submit) []error
	RecordWaybills(ctx context.Context, w []state.WaybillRecord) []error
}

// Retries hands out due entries of the retry schedule, postponing each by lease.
type Retries interface {
	TakeDue(ctx context.Context, limit int, lease time.Duration) ([]string, error)
}

// Store is what the stage keeps in Redis.
type Store interface {
	Claims
	Waybills
	Retries
}

// Shop reads orders and writes their waybills back (sinks/shopdb). Orders and ItemsOf read
// many orders (one statement per batch with a :keys query); a key without a row is absent,
// and a row that cannot be used is that order's error. The returned error means the statement
// itself failed. WriteWaybills writes a batch in one transaction, or fails whole with an error
// for which shopdb.StatementFailed tells whether one by one may still succeed.
type Shop interface {
	Orders(ctx context.Context, keys []string) (map[string]shopdb.OrderResult, error)
	ItemsOf(ctx context.Context, keys []string) (map[string]shopdb.ItemsResult, error)
	HasItemsQuery() bool
	WriteWaybills(ctx context.Context, batch []map[string]any) ([]shopdb.WaybillResult, error)
}

// Announcer records lifecycle events in the outbox (sync/outbox) in one round trip; a nil
// *outbox.Outbox records nothing.
type Announcer interface {
	Record(ctx context.Context, events ...outbox.Event) error
}

// Settings are the configuration and the carriers in force; a reload replaces them, and a batch
// reads them once.
type Settings func() (*config.Config, carrier.Set)

// Options are the parts of the stage built outside it.
type Options struct {
	Store    Store
	Shop     Shop
	Events   Announcer
	Settings Settings
	Metrics  *metrics.Metrics
	Log      *slog.Logger
	// Owner names this process in lease tokens ("<owner>:<n>"); its liveness key (state.Alive)
	// lets other processes take its orders over once it is gone.
	Owner string
	// Shipped is told of each order that got its waybill, for the status page; may be nil.
	Shipped func(statuspage.OrderRow)
	// AliveTTL is how long a killed process's orders stay claimed (default 3 s).
	AliveTTL time.Duration
}

// Stage ships orders. Enqueue hands it jobs; Run works them until its context ends.
type Stage struct {
	o    Options
	log  *slog.Logger
	m    *metrics.Metrics
	jobs chan Job
	seq  atomic.Uint64
}

// New builds the stage; queue bounds the jobs waiting (workers.queue). It does no I/O.
func New(o Options, queue int) *Stage {
	if o.AliveTTL <= 0 {
		o.AliveTTL = 3 * time.Second
	}
	if o.Owner == "" {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		o.Owner = hex.EncodeToString(b)
	}
	if o.Shipped == nil {
		o.Shipped = func(statuspage.OrderRow) {}
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	return &Stage{o: o, log: o.Log.With("component", "ship"), m: o.Metrics, jobs: make(chan Job, max(queue, 1))}
}

// Enqueue hands a job to the stage, waiting while its queue is full.
func (s *Stage) Enqueue(ctx context.Context, j Job) error {
	select {
	case s.jobs <- j:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Queued is how many jobs wait for a batch.
func (s *Stage) Queued() int { return len(s.jobs) }

// Run takes batches of jobs until ctx ends, with workers.batches batches in flight, and feeds
// the due retries to itself. Then it drains: no new job is taken, and the batches held finish
// within workers.drain_timeout; after that their calls are cancelled, and orders not settled
// by then are not acknowledged (their source replays them).
func (s *Stage) Run(ctx context.Context) error {
	cfg, _ := s.o.Settings()
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var wg sync.WaitGroup
	for range cfg.Workers.Batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.take(ctx, work)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.feedRetries(ctx)
	}()
	<-ctx.Done()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(cfg.Workers.DrainTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.log.Warn("drain timeout: abandoning orders in flight; they are replayed on restart",
			"timeout", cfg.Workers.DrainTimeout)
		cancel()
		<-done
	}
	return nil
}

// take gathers batches — whatever is waiting, up to workers.batch, never waiting for a batch to
// fill — and ships them, until stop ends.
func (s *Stage) take(stop, work context.Context) {
	for {
		var first Job
		// A stop wins over waiting jobs: a select with both ready picks at random.
		if stop.Err() != nil {
			return
		}
		select {
		case <-stop.Done():
			return
		case first = <-s.jobs:
		}
		if stop.Err() != nil {
			// Not ours any more: left unacknowledged, it is replayed by its source (a retry stays
			// in the schedule); back in the queue when there is room, for the queue's count.
			select {
			case s.jobs <- first:
			default:
			}
			return
		}
		cfg, _ := s.o.Settings()
		batch := []Job{first}
	gather:
		for len(batch) < cfg.Workers.Batch && stop.Err() == nil {
			select {
			case j := <-s.jobs:
				batch = append(batch, j)
			default:
				break gather
			}
		}
		s.m.Batches.Observe(float64(len(batch)))
		s.settleAll(work, batch)
	}
}

// settleAll ships a batch and tries again, with the same owner token (so the orders' own
// leases do not keep them out), what could not even be settled — Redis unreachable — until it
// is, or until ctx ends (then those jobs stay unacknowledged and are replayed).
func (s *Stage) settleAll(ctx context.Context, batch []Job) {
	owner := s.o.Owner + ":" + strconv.FormatUint(s.seq.Add(1), 10)
	for attempt := 0; len(batch) > 0; attempt++ {
		batch = s.ship(ctx, owner, batch)
		if len(batch) == 0 || ctx.Err() != nil {
			return
		}
		s.log.Error("orders not settled; trying again", "orders", len(batch), "first", batch[0].Key)
		if loop.Sleep(ctx, min(time.Duration(attempt+1)*time.Second, 10*time.Second)) != nil {
			return
		}
	}
}

// feedRetries hands due retries to the stage. They are not tied to a binlog transaction: they
// were settled (parked) when scheduled.
func (s *Stage) feedRetries(ctx context.Context) {
	cfg, _ := s.o.Settings()
	every := max(min(cfg.Retry.Interval/4, 500*time.Millisecond), 50*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Taken entries are postponed, not removed, so a crash before they settle only delays
		// them; by a little, since a second hand-out to a live worker just finds it busy.
		keys, err := s.o.Store.TakeDue(ctx, 256, 2*s.o.AliveTTL)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("retry schedule unreadable", "err", err)
			}
			continue
		}
		for _, k := range keys {
			if s.Enqueue(ctx, Job{Key: k}) != nil {
				return
			}
		}
	}
}
