package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shipsync/shipsync/sources/kafka"
	"github.com/shipsync/shipsync/sync/checkpoint"
	"github.com/shipsync/shipsync/sync/loop"
	"github.com/shipsync/shipsync/sync/ship"
	"github.com/shipsync/shipsync/sync/tail"
)

// Split mode (DESIGN.md §2): a reader publishes paid orders to Kafka, workers consume them.

// OrdersOutlet is the reader's side: the paid-order topic (sinks/kafka.Producer). acked is
// called once the brokers acknowledged the message (acks=all); only then does the checkpoint
// move past its transaction. Close flushes what is queued.
type OrdersOutlet interface {
	SendAcked(ctx context.Context, key string, value []byte, acked func()) error
	Close(ctx context.Context) error
}

// OrdersInbox is the worker's side: one member of the topic's consumer group
// (sources/kafka.Consumer). Commit(partition, offset) marks everything up to offset done.
type OrdersInbox interface {
	Fetch(ctx context.Context) (kafka.Message, error)
	Commit(ctx context.Context, partition int, offset int64) error
	Close() error
}

// PaidOrder is a message of the paid-order topic, keyed by order key. Schema versions the shape:
// fields may be added, never renamed or removed, within a version.
type PaidOrder struct {
	Schema int    `json:"schema"`
	Order  string `json:"order"`
	Table  string `json:"table"`
	// PaidAt is when the binlog event that made the order paid was written; zero for orders
	// found by the backfill query.
	PaidAt time.Time `json:"paid_at,omitzero"`
	// Action is "cancel" for an order that turned cancelled (orders.cancelled); empty: paid.
	Action string `json:"action,omitempty"`
}

// paidOrderSchema is the version readers write for paid orders, cancelSchema for cancellations
// (Action "cancel"): a worker older than cancellations refuses schema 2 as not understood,
// rather than take a cancellation for a paid order. Workers accept both.
const (
	paidOrderSchema = 1
	cancelSchema    = 2
)

// actionCancel marks a message of the paid-order topic as a cancellation.
const actionCancel = "cancel"

// publisher is the tail's sink in mode reader: it sends each paid order to the topic, and its
// transaction is acknowledged when the brokers are.
type publisher struct{ p *Pipeline }

func (pb publisher) Take(ctx context.Context, o tail.Order) error {
	p := pb.p
	po := PaidOrder{Schema: paidOrderSchema, Order: o.Key, Table: p.conf().Orders.Table, PaidAt: o.PaidAt}
	if o.Cancel {
		po.Schema, po.Action = cancelSchema, actionCancel
	}
	b, err := json.Marshal(po)
	if err != nil {
		return err
	}
	return p.orders.SendAcked(ctx, o.Key, b, func() {
		p.obs.m.OrdersTopic.WithLabelValues("published").Inc()
		o.Ack()
	})
}

// flushOrders waits (up to workers.drain_timeout) for the brokers to acknowledge what the reader
// published, so that the final checkpoint covers it.
func (p *Pipeline) flushOrders(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.conf().Workers.DrainTimeout)
	defer cancel()
	if err := p.orders.Close(cctx); err != nil {
		p.log.Warn("paid orders not acknowledged by Kafka at shutdown; the checkpoint stays before them "+
			"and they are published again on restart", "err", err)
	}
}

// runWorker is mode worker: consume the paid-order topic, ship each order with the same code as
// mode all, and commit a partition's offsets only up to the last message settled before them.
func (p *Pipeline) runWorker(ctx context.Context) error {
	shipCtx, stopShip := context.WithCancel(ctx)
	defer stopShip()
	shipped := loop.Go(shipCtx, func(ctx context.Context) { _ = p.ship.Run(ctx) })
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	parts := &partitionTrackers{m: map[int]*partitionTracker{}}
	loops := []<-chan struct{}{loop.Go(readCtx, p.parcel.Run), loop.Go(readCtx, p.out.Run),
		loop.Go(readCtx, func(ctx context.Context) { loop.Tick(ctx, p.every, func() { p.commitSettled(ctx, parts) }) })}
	readErr := p.consume(readCtx, parts)
	stopReading()
	stopShip()
	<-shipped
	waitAll(loops)
	p.out.Flush(ctx, 5*time.Second)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	p.commitSettled(cctx, parts)
	if err := p.inbox.Close(); err != nil {
		p.log.Warn("kafka consumer not closed cleanly", "err", err)
	}
	if ctx.Err() != nil {
		return nil
	}
	return readErr
}

// partitionTrackers follow, per partition, which fetched messages are settled: a message is
// one transaction of a checkpoint.Tracker whose position is its offset.
type partitionTrackers struct {
	mu sync.Mutex
	m  map[int]*partitionTracker
}

type partitionTracker struct {
	t         *checkpoint.Tracker[int64]
	committed int64 // highest offset committed, -1 before the first
	fetched   int64 // offset of the last message fetched, -1 before the first
}

func (pt *partitionTrackers) get(partition int) *partitionTracker {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	t, ok := pt.m[partition]
	if !ok {
		t = &partitionTracker{t: checkpoint.New[int64](), committed: -1, fetched: -1}
		pt.m[partition] = t
	}
	return t
}

// consume fetches paid orders and hands them to the workers until ctx ends.
func (p *Pipeline) consume(ctx context.Context, parts *partitionTrackers) error {
	backoff := 100 * time.Millisecond
	for {
		m, err := p.inbox.Fetch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			p.obs.streamUp.Store(false)
			p.log.Warn("kafka consumer interrupted; fetching again", "err", err, "in", backoff)
			if loop.Sleep(ctx, backoff) != nil {
				return nil
			}
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		p.obs.streamUp.Store(true)
		t := parts.get(m.Partition)
		if t.fetched >= 0 && m.Offset != t.fetched+1 {
			// A new assignment starts at the group's committed offset: behind (a replay) or
			// ahead (another member shipped the messages between) of what this one fetched.
			p.log.Debug("partition repositioned", "partition", m.Partition, "after", t.fetched, "at", m.Offset)
		}
		t.fetched = m.Offset
		key, at, cancel, err := decodePaidOrder(m)
		if err != nil {
			// Nothing to ship and nothing to wait for: counted, logged, passed over.
			p.obs.m.OrdersTopic.WithLabelValues("malformed").Inc()
			p.log.Error("paid-order message not understood; skipped", "partition", m.Partition, "offset", m.Offset, "err", err)
			t.t.End(m.Offset)
			continue
		}
		p.obs.m.OrdersTopic.WithLabelValues("consumed").Inc()
		seq := t.t.Add()
		t.t.End(m.Offset)
		ack := func() { t.t.Ack(seq) }
		if cancel {
			if err := p.parcel.EnqueueCancel(ctx, key, ack); err != nil {
				return nil
			}
			continue
		}
		if err := p.ship.Enqueue(ctx, ship.Job{Key: key, PaidAt: at, Ack: ack}); err != nil {
			return nil
		}
	}
}

// decodePaidOrder reads a message's order key (the record key; the value's order must agree)
// and paid time.
func decodePaidOrder(m kafka.Message) (key string, paidAt time.Time, cancel bool, err error) {
	var po PaidOrder
	if err := json.Unmarshal(m.Value, &po); err != nil {
		return "", time.Time{}, false, fmt.Errorf("value is not a paid-order JSON: %w", err)
	}
	switch {
	case po.Schema != paidOrderSchema && po.Schema != cancelSchema:
		return "", time.Time{}, false, fmt.Errorf("schema %d, this worker reads %d and %d (upgrade it)", po.Schema, paidOrderSchema, cancelSchema)
	case (po.Schema == cancelSchema) != (po.Action == actionCancel):
		return "", time.Time{}, false, fmt.Errorf("schema %d with action %q: a cancellation is schema %d with action %q", po.Schema, po.Action, cancelSchema, actionCancel)
	case po.Order == "":
		return "", time.Time{}, false, errors.New("no order key")
	case string(m.Key) != po.Order:
		return "", time.Time{}, false, fmt.Errorf("record key %q and order %q differ", m.Key, po.Order)
	}
	return po.Order, po.PaidAt, po.Action == actionCancel, nil
}

// commitSettled commits, per partition, the offset below which every fetched message is settled.
func (p *Pipeline) commitSettled(ctx context.Context, parts *partitionTrackers) {
	parts.mu.Lock()
	todo := map[int]*partitionTracker{}
	for n, t := range parts.m {
		todo[n] = t
	}
	parts.mu.Unlock()
	for n, t := range todo {
		off, ok := t.t.Watermark()
		if !ok || off <= t.committed {
			continue
		}
		if err := p.inbox.Commit(ctx, n, off); err != nil {
			if ctx.Err() == nil {
				p.log.Warn("offsets not committed; they are committed with the next ones", "partition", n, "err", err)
			}
			continue
		}
		t.committed = off
		p.log.Debug("offsets committed", "partition", n, "through", off)
		p.obs.lastMove.Store(time.Now().UnixNano())
	}
}
