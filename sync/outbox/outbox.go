package outbox

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shipsync/shipsync/sync/state"
)

// Outlet is where events go (sinks/kafka in production). SendAcked queues the message and
// returns at once, blocking only while its queue is full; acked is called once the brokers
// acknowledged it. Delivery failures are retried and counted by the outlet. Safe for
// concurrent use.
type Outlet interface {
	SendAcked(ctx context.Context, key string, value []byte, acked func()) error
}

// Store is the outbox stream (sync/state). Append records entries in one round trip; Read
// hands out up to count entries to consumer (waiting up to block when none, block < 0 not at
// all), taking over entries another consumer has held for longer than stale; Ack deletes.
type Store interface {
	AppendOutboxMany(ctx context.Context, entries []state.OutboxEntry) error
	ReadOutbox(ctx context.Context, consumer string, count int, block, stale time.Duration) ([]state.OutboxEntry, error)
	AckOutbox(ctx context.Context, ids ...string) error
}

// Event types.
const (
	Paid           = "paid"
	WaybillCreated = "waybill_created"
	StatusChanged  = "status_changed"
	Exception      = "exception"
	DeadLettered   = "dead_lettered"
	Conflict       = "conflict"
	Cancelled      = "cancelled" // the waybill was cancelled at the carrier (orders.cancelled, waybill cancel)
)

// Event is one lifecycle change, as published (JSON, keyed by order key). Schema versions the
// shape: fields may be added, never renamed or removed, within a version.
type Event struct {
	Schema    int       `json:"schema"`
	Type      string    `json:"type"`
	Order     string    `json:"order"`
	OrderCode string    `json:"order_code,omitempty"`
	Carrier   string    `json:"carrier,omitempty"`
	Waybill   string    `json:"waybill,omitempty"`
	Status    string    `json:"status,omitempty"`
	Exception bool      `json:"exception,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Time      time.Time `json:"time"`
}

// Entry is the event as the stream keeps it (schema and time filled in).
func Entry(e Event) (state.OutboxEntry, error) {
	e.Schema = 1
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	b, err := json.Marshal(e)
	return state.OutboxEntry{Key: e.Order, Value: b}, err
}

// Outbox records and forwards events. A nil *Outbox (no outlet configured) records nothing.
type Outbox struct {
	store  Store
	outlet Outlet
	owner  string // this process, as the stream's consumer
	log    *slog.Logger
	failed prometheus.Counter
}

// New returns the outbox of a process that forwards to outlet; nil when outlet is nil, so
// that stages record nothing when no events are configured.
func New(store Store, outlet Outlet, owner string, log *slog.Logger, failed prometheus.Counter) *Outbox {
	if outlet == nil {
		return nil
	}
	return &Outbox{store: store, outlet: outlet, owner: owner, log: log.With("component", "outbox"), failed: failed}
}

// Record appends events to the outbox in one round trip. Its error is the caller's to decide
// on: the ship stage records before the change it announces and does not make the change
// without it; the status path logs and goes on (see Emit).
func (o *Outbox) Record(ctx context.Context, events ...Event) error {
	if o == nil || len(events) == 0 {
		return nil
	}
	entries := make([]state.OutboxEntry, 0, len(events))
	for _, e := range events {
		en, err := Entry(e)
		if err != nil {
			return err
		}
		entries = append(entries, en)
	}
	if err := o.store.AppendOutboxMany(ctx, entries); err != nil {
		o.failed.Add(float64(len(entries)))
		return err
	}
	return nil
}

// Emit records events and, when that fails, logs it: for changes that go on without their
// announcement rather than wait for Redis (the failure is counted).
func (o *Outbox) Emit(ctx context.Context, events ...Event) {
	if err := o.Record(ctx, events...); err != nil {
		for _, e := range events {
			o.log.Error("lifecycle event not recorded", "order", e.Order, "type", e.Type, "err", err)
		}
	}
}

// Forwarding: how many entries per batch, and when a batch held by another process counts as
// abandoned (that process died or stalled) and is taken over.
const (
	forwardBatch = 256
	forwardStale = 10 * time.Second
)

// Run forwards events from the outbox to the outlet until ctx ends.
func (o *Outbox) Run(ctx context.Context) {
	if o == nil {
		return
	}
	for ctx.Err() == nil {
		if _, err := o.forward(ctx, time.Second); err != nil && ctx.Err() == nil {
			o.log.Warn("lifecycle events outbox unreadable", "err", err)
			t := time.NewTimer(time.Second)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}
}

// Flush forwards what is left at shutdown, for up to d.
func (o *Outbox) Flush(ctx context.Context, d time.Duration) {
	if o == nil {
		return
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d)
	defer cancel()
	for {
		n, err := o.forward(fctx, -1)
		if err != nil || n == 0 {
			return
		}
	}
}

// forward hands one batch of the outbox to the outlet and deletes what the brokers
// acknowledged; what they did not stays pending and is forwarded again (at least once).
// block < 0 does not wait for entries.
func (o *Outbox) forward(ctx context.Context, block time.Duration) (int, error) {
	entries, err := o.store.ReadOutbox(ctx, o.owner, forwardBatch, block, forwardStale)
	if err != nil || len(entries) == 0 {
		return 0, err
	}
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	for _, e := range entries {
		wg.Add(1)
		id := e.ID
		err = o.outlet.SendAcked(ctx, e.Key, e.Value, func() {
			mu.Lock()
			acked = append(acked, id)
			mu.Unlock()
			wg.Done()
		})
		if err != nil {
			wg.Done()
			break
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	mu.Lock()
	ids := slices.Clone(acked)
	mu.Unlock()
	if aerr := o.store.AckOutbox(context.WithoutCancel(ctx), ids...); aerr != nil {
		return len(ids), aerr
	}
	return len(ids), err
}
