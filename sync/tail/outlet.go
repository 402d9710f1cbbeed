package tail

import (
	"context"
	"time"

	"github.com/shipsync/shipsync/sync/loop"
	"github.com/shipsync/shipsync/sync/outbox"
)

// batch is what one binlog transaction (or a slice of one, or of the backfill) made paid.
type batch struct {
	orders []Order
	events []outbox.Event
}

// batchMax bounds a batch, so a transaction that pays many orders is handed on in slices
// instead of held until its end.
const batchMax = 256

// outlet records the paid events of a batch in the outbox in one round trip and only then
// hands the batch's orders to the sink, on a goroutine of its own: the binlog reader waits for
// neither Redis nor the sink, and since an order moves on only after its paid event is
// recorded, none of its later events can overtake that one. A Redis outage delays the batch —
// the append is retried until it succeeds — and never drops an event. A batch still waiting
// when the reader stops is not acknowledged to the checkpoint: it is read again on restart.
// Without events, orders go to the sink straight from the reader. A nil outlet (dry run)
// only counts them.
type outlet struct {
	t    *Tail
	in   chan batch
	done chan struct{}
}

// startOutlet runs the outlet until close.
func (t *Tail) startOutlet(ctx context.Context) *outlet {
	o := &outlet{t: t}
	if t.o.Events == nil || isNilOutbox(t.o.Events) {
		return o
	}
	o.in, o.done = make(chan batch, 64), make(chan struct{})
	go func() {
		defer close(o.done)
		for b := range o.in {
			if ctx.Err() != nil || o.record(ctx, b.events) != nil {
				continue // stopping: not acknowledged, so replayed
			}
			for _, ord := range b.orders {
				if t.o.Sink.Take(ctx, ord) != nil {
					break
				}
			}
		}
	}()
	return o
}

func isNilOutbox(a Announcer) bool {
	ob, ok := a.(*outbox.Outbox)
	return ok && ob == nil
}

// record appends the events, retrying with backoff until it works or ctx ends.
func (o *outlet) record(ctx context.Context, events []outbox.Event) error {
	pause := 100 * time.Millisecond
	for {
		err := o.t.o.Events.Record(ctx, events...)
		if err == nil {
			return nil
		}
		o.t.log.Warn("paid events not recorded; retrying", "events", len(events), "in", pause, "err", err)
		if err := loop.Sleep(ctx, pause); err != nil {
			return err
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// close waits for what was handed over to be recorded and passed on (or given up, when ctx
// ended).
func (o *outlet) close() {
	if o == nil || o.in == nil {
		return
	}
	close(o.in)
	<-o.done
}

// sender collects one reader's paid orders into batches for the outlet. Used by one goroutine.
func (o *outlet) sender() *sender { return &sender{o: o} }

type sender struct {
	o     *outlet
	batch batch
}

// add takes one paid order; at is the binlog time of its event (zero: now).
func (s *sender) add(ctx context.Context, ord Order, at time.Time) error {
	switch {
	case s.o == nil: // a dry run only counts it
		ord.Ack()
		return nil
	case s.o.in == nil:
		return s.o.t.o.Sink.Take(ctx, ord)
	}
	s.batch.orders = append(s.batch.orders, ord)
	if !ord.Cancel { // its cancelled event is recorded once the carrier has cancelled the waybill
		s.batch.events = append(s.batch.events, outbox.Event{Type: outbox.Paid, Order: ord.Key, Time: at})
	}
	if len(s.batch.orders) >= batchMax {
		return s.flush(ctx)
	}
	return nil
}

// flush hands the collected batch to the outlet: at a transaction's end, when the batch is
// full, and when the reader stops.
func (s *sender) flush(ctx context.Context) error {
	if s.o == nil || s.o.in == nil || len(s.batch.orders) == 0 {
		return nil
	}
	select {
	case s.o.in <- s.batch:
		s.batch = batch{}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
