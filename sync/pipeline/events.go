package pipeline

import (
	"context"
	"encoding/json"
	"time"
)

// Events is the lifecycle events outlet (sinks/kafka in production). Send queues the message and
// returns at once, blocking only while its queue is full (back-pressure, never a drop); delivery
// failures are retried and counted by the outlet. Safe for concurrent use.
type Events interface {
	Send(ctx context.Context, key string, value []byte) error
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

// emit publishes an event when an outlet is configured. A failure to queue (ctx ended) is logged:
// the order's own processing never waits on the outlet beyond its queue.
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
		err = p.events.Send(ctx, e.Order, b)
	}
	if err != nil {
		p.log.Warn("lifecycle event not queued", "order", e.Order, "type", e.Type, "err", err)
	}
}
