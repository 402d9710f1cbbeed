package pipeline

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"
)

// Events is the lifecycle events outlet (sinks/kafka in production). SendAcked queues the
// message and returns at once, blocking only while its queue is full; acked is called once the
// brokers acknowledged it. Delivery failures are retried and counted by the outlet. Safe for
// concurrent use.
//
// The pipeline never hands events to it directly: emit appends them to the Redis outbox
// (sync/state), in the order's path, and the forwarder moves them to the outlet and deletes
// them once acknowledged, so a process killed with events in flight loses none.
type Events interface {
	SendAcked(ctx context.Context, key string, value []byte, acked func()) error
}

// Event types.
const (
	EventPaid           = "paid"
	EventWaybillCreated = "waybill_created"
	EventStatusChanged  = "status_changed"
	EventException      = "exception"
	EventDeadLettered   = "dead_lettered"
	EventConflict       = "conflict"
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

// emit appends an event to the outbox when an outlet is configured. A failure (Redis down) is
// logged and counted: the order's own processing does not wait for it.
func (p *Pipeline) emit(ctx context.Context, e Event) {
	if p.events == nil {
		return
	}
	e.Schema = 1
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	b, err := json.Marshal(e)
	if err == nil {
		err = p.store.AppendOutbox(ctx, e.Order, b)
	}
	if err != nil {
		p.obs.m.EventsFailed.Inc()
		p.log.Error("lifecycle event not recorded", "order", e.Order, "type", e.Type, "err", err)
	}
}

// Outbox forwarding: how many entries per batch, and when a batch held by another process
// counts as abandoned (that process died or stalled) and is taken over.
const (
	forwardBatch = 256
	forwardStale = 10 * time.Second
)

// forwardEvents moves events from the outbox to the outlet until ctx ends.
func (p *Pipeline) forwardEvents(ctx context.Context) {
	for ctx.Err() == nil {
		if _, err := p.forwardOnce(ctx, time.Second); err != nil && ctx.Err() == nil {
			p.log.Warn("lifecycle events outbox unreadable", "err", err)
			_ = sleep(ctx, time.Second)
		}
	}
}

// flushEvents forwards what is left in the outbox at shutdown, for up to d.
func (p *Pipeline) flushEvents(ctx context.Context, d time.Duration) {
	if p.events == nil {
		return
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d)
	defer cancel()
	for {
		n, err := p.forwardOnce(fctx, -1)
		if err != nil || n == 0 {
			return
		}
	}
}

// forwardOnce hands one batch of the outbox to the outlet and deletes what the brokers
// acknowledged; what they did not stays pending and is forwarded again (at least once).
// block < 0 does not wait for entries.
func (p *Pipeline) forwardOnce(ctx context.Context, block time.Duration) (int, error) {
	entries, err := p.store.ReadOutbox(ctx, p.owner, forwardBatch, block, forwardStale)
	if err != nil || len(entries) == 0 {
		return 0, err
	}
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	for _, e := range entries {
		wg.Add(1)
		id := e.ID
		err = p.events.SendAcked(ctx, e.Key, e.Value, func() {
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
	if aerr := p.store.AckOutbox(context.WithoutCancel(ctx), ids...); aerr != nil {
		return len(ids), aerr
	}
	return len(ids), err
}
