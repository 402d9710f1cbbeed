package parcel

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/shipsync/shipsync/sources/webhook"
	"github.com/shipsync/shipsync/sync/carrier"
	"github.com/shipsync/shipsync/sync/config"
	"github.com/shipsync/shipsync/sync/metrics"
	"github.com/shipsync/shipsync/sync/outbox"
	"github.com/shipsync/shipsync/sync/state"
)

// Records are the orders' records (sync/state). Lock serialises the status updates of one order
// across processes (waiting up to wait; the lock lapses after ttl); Get reads a record;
// SetStatus stores the parcel's status and moves it in the watch and poll schedules. The caller
// holds the order's lock for SetStatus.
type Records interface {
	Lock(ctx context.Context, key string, ttl, wait time.Duration) (unlock func(), err error)
	Get(ctx context.Context, key string) (state.Record, bool, error)
	SetStatus(ctx context.Context, key string, ps state.ParcelStatus) error
}

// Index finds the order a courier's waybill belongs to (legacy: carrier names whose entries of
// the old index are looked up too).
type Index interface {
	OrderByWaybill(ctx context.Context, shipperCode, waybill string, legacy ...string) (string, bool, error)
}

// Watch is the no-pickup watch: due entries, postponed or done.
type Watch interface {
	DuePickups(ctx context.Context, now time.Time, limit int) ([]string, error)
	PostponePickup(ctx context.Context, key string, due time.Time) error
	DonePickup(ctx context.Context, key string) error
}

// Polls is the poll schedule: due waybills (postponed by postpone while polled), the next poll,
// and the end of polling for an order.
type Polls interface {
	DuePolls(ctx context.Context, limit int, postpone time.Duration) ([]string, error)
	SchedulePoll(ctx context.Context, key string, due time.Time) error
	DonePoll(ctx context.Context, key string) error
}

// PollCounts count failed polls in a row, for the backoff.
type PollCounts interface {
	PollFailed(ctx context.Context, key string) (int, error)
	PollSucceeded(ctx context.Context, key string) error
}

// Orphans are what the stage stops watching or reports: parcels whose news has nowhere to go,
// and paid orders stuck without a waybill.
type Orphans interface {
	ForgetParcel(ctx context.Context, key string) error
	StuckOrders(ctx context.Context, olderThan time.Time, limit int) ([]state.Record, error)
}

// Store is what the stage keeps in Redis.
type Store interface {
	Records
	Cancellations
	Index
	Watch
	Polls
	PollCounts
	Orphans
}

// Shop writes a canonical status's statements into the shop (sinks/shopdb); false when the
// status has none configured.
type Shop interface {
	WriteStatus(ctx context.Context, status string, values map[string]any) (bool, error)
}

// Announcer records lifecycle events, logging a failure (sync/outbox; a nil *outbox.Outbox
// records nothing).
type Announcer interface {
	Emit(ctx context.Context, events ...outbox.Event)
}

// Settings are the configuration and the carriers in force.
type Settings func() (*config.Config, carrier.Set)

// Stage applies parcel statuses. Apply is safe for concurrent use; Run runs the watchdog and
// the poller.
type Stage struct {
	cancels  chan cancelJob
	store    Store
	shop     Shop
	events   Announcer
	settings Settings
	m        *metrics.Metrics
	log      *slog.Logger
}

// New builds the stage; it does no I/O. A nil events records no events.
func New(store Store, shop Shop, events Announcer, settings Settings, m *metrics.Metrics, log *slog.Logger) *Stage {
	if events == nil {
		events = (*outbox.Outbox)(nil) // records nothing
	}
	return &Stage{cancels: make(chan cancelJob, 256), store: store, shop: shop, events: events, settings: settings, m: m, log: log.With("component", "parcel")}
}

var _ webhook.Applier = (*Stage)(nil)

// Run runs the watchdog, the poller and the cancellation workers until ctx ends, and returns
// once they all have stopped.
func (s *Stage) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { s.poller(ctx) })
	for range cancelWorkers {
		wg.Go(func() { s.cancelLoop(ctx) })
	}
	s.watchdog(ctx)
	wg.Wait()
}

func (s *Stage) conf() *config.Config { c, _ := s.settings(); return c }

// pollInterval: carriers that push are polled only when silent; the others every poll_every.
func pollInterval(cfg *config.Config, name string) time.Duration {
	if c, ok := cfg.Carrier(name); ok && !c.Pushes() {
		return c.PollEvery
	}
	return cfg.Watchdog.SilentAfter
}
