package pipeline

import (
	"context"
	"encoding/json"
	"time"

	"github.com/shipsync/shipsync/sync/state"
)

// paidBatch is what one binlog transaction (or a slice of one, or of the backfill) made paid.
type paidBatch struct {
	jobs   []job
	events []state.OutboxEntry
}

// paidBatchMax bounds a batch, so a transaction that pays many orders is handed on in slices
// instead of held until its end.
const paidBatchMax = 256

// paidOutlet records the paid events of a batch in the outbox in one round trip and only then
// hands the batch's orders on (dispatch), on a goroutine of its own: the binlog reader waits
// for neither Redis nor the workers, and since an order moves on only after its paid event is
// recorded, none of its later events can overtake that one. A Redis outage delays the batch —
// the append is retried until it succeeds — and never drops an event. A batch still waiting
// when the reader stops is not acknowledged to the checkpoint: it is read again on restart.
type paidOutlet struct {
	p    *Pipeline
	in   chan paidBatch
	done chan struct{}
}

// startPaidOutlet runs the outlet until close; nil when no events outlet is configured (the
// orders are then dispatched straight from the reader).
func (p *Pipeline) startPaidOutlet(ctx context.Context) *paidOutlet {
	if p.events == nil || p.dryRun {
		return nil
	}
	o := &paidOutlet{p: p, in: make(chan paidBatch, 64), done: make(chan struct{})}
	go func() {
		defer close(o.done)
		for b := range o.in {
			if ctx.Err() != nil || o.record(ctx, b.events) != nil {
				continue // stopping: not acknowledged, so replayed
			}
			for _, j := range b.jobs {
				if p.dispatch(ctx, j) != nil {
					break
				}
			}
		}
	}()
	return o
}

// record appends the events, retrying with backoff until it works or ctx ends.
func (o *paidOutlet) record(ctx context.Context, events []state.OutboxEntry) error {
	pause := 100 * time.Millisecond
	for {
		err := o.p.store.AppendOutboxMany(ctx, events)
		if err == nil {
			return nil
		}
		o.p.obs.m.EventsFailed.Add(float64(len(events)))
		o.p.log.Warn("paid events not recorded; retrying", "events", len(events), "in", pause, "err", err)
		if err := sleep(ctx, pause); err != nil {
			return err
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// close waits for what was handed over to be recorded and dispatched (or given up, when ctx
// ended).
func (o *paidOutlet) close() {
	if o == nil {
		return
	}
	close(o.in)
	<-o.done
}

// paidSender collects one reader's paid orders into batches for the outlet, or dispatches
// each at once when there is no outlet. Used by one goroutine.
type paidSender struct {
	p     *Pipeline
	o     *paidOutlet // nil: no events outlet
	batch paidBatch
}

// add takes one paid order and the event announcing it.
func (s *paidSender) add(ctx context.Context, j job, e Event) error {
	if s.o == nil {
		return s.p.dispatch(ctx, j)
	}
	e.Schema = 1
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	s.batch.jobs = append(s.batch.jobs, j)
	s.batch.events = append(s.batch.events, state.OutboxEntry{Key: e.Order, Value: b})
	if len(s.batch.jobs) >= paidBatchMax {
		return s.flush(ctx)
	}
	return nil
}

// flush hands the collected batch to the outlet: at a transaction's end, when the batch is
// full, and when the reader stops.
func (s *paidSender) flush(ctx context.Context) error {
	if s.o == nil || len(s.batch.jobs) == 0 {
		return nil
	}
	select {
	case s.o.in <- s.batch:
		s.batch = paidBatch{}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
